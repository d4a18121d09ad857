{{ config(meta={'dagster': {'ref': {'name': 'segment_history'}}}) }}
{#- The rows of one account and dimension follow each other without overlap: each
    row starts on or after the end of the row before it, and only the last can be open. -#}
with ordered as (
    select
        account_id,
        dimension,
        valid_from,
        valid_to,
        lead(valid_from) over (partition by account_id, dimension order by valid_from) as next_valid_from
    from {{ ref('segment_history') }}
)

select *
from ordered
where (valid_to is not null and valid_to <= valid_from)
   or (next_valid_from is not null and (valid_to is null or valid_to > next_valid_from))
