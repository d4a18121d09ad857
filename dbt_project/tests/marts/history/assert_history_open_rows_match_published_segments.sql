{{ config(meta={'dagster': {'ref': {'name': 'segment_history'}}}) }}
{#- Every published account has exactly one open history row per tracked dimension,
    holding its published value, and no other account has an open row.

    No aggregate per (account, dimension) over 23 M rows at a million accounts: every
    open row must match a published pair and every published pair an open row, and
    then as many open rows as published pairs means none is open twice (a pair open
    twice is listed with open_copies = null). -#}
{%- set open_rows -%}
    select account_id, dimension, segment_value
    from {{ ref('segment_history') }}
    where valid_to is null
{%- endset -%}
{%- set published -%}
    select account_id, dimension, segment_value
    from {{ ref('int_history__current_segments') }}
{%- endset %}

with unmatched as (
    select
        coalesce(published.account_id, open_rows.account_id) as account_id,
        coalesce(published.dimension, open_rows.dimension) as dimension,
        published.segment_value as published_value,
        open_rows.segment_value as open_value,
        case when open_rows.account_id is not null then 1 end as open_copies
    from ({{ published }}) as published
    full outer join ({{ open_rows }}) as open_rows
        on published.account_id = open_rows.account_id
        and published.dimension = open_rows.dimension
    where published.account_id is null
       or open_rows.account_id is null
       or published.segment_value is distinct from open_rows.segment_value
),

counts as (
    select
        (select count(*) from ({{ open_rows }}) as open_rows) as open_rows,
        (select count(*) from ({{ published }}) as published) as published_pairs
)

select account_id, dimension, published_value, open_value, open_copies
from unmatched
union all
select
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_string() }}),
    cast(null as {{ dbt.type_string() }}),
    cast(null as integer)
from counts
where open_rows <> published_pairs
