{#- The publication this run follows: the latest as-of date before D (a rerun of D,
    or a backfill of an older date, follows the one before it, never itself). At
    most one row; none on the first publication. -#}
with ranked as (
    select
        run_id,
        as_of_date,
        ruleset_version,
        row_number() over (order by as_of_date desc, published_at desc) as recency
    from {{ ref('stg_warehouse__publications') }}
    where as_of_date < {{ as_of_date() }}
)

select run_id, as_of_date, ruleset_version
from ranked
where recency = 1
