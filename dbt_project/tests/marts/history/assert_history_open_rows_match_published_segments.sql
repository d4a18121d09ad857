{{ config(meta={'dagster': {'ref': {'name': 'segment_history'}}}) }}
{#- Every published account has exactly one open history row per tracked dimension,
    holding its published value, and no other account has an open row. -#}
with open_rows as (
    -- an aggregate, not a window over 23 M rows at a million accounts: two open
    -- copies fail the test whatever value is shown
    select account_id, dimension, min(segment_value) as segment_value, count(*) as open_copies
    from {{ ref('segment_history') }}
    where valid_to is null
    group by account_id, dimension
),

published as (
    select account_id, dimension, segment_value
    from {{ ref('int_history__current_segments') }}
)

select
    coalesce(published.account_id, open_rows.account_id) as account_id,
    coalesce(published.dimension, open_rows.dimension) as dimension,
    published.segment_value as published_value,
    open_rows.segment_value as open_value,
    open_rows.open_copies
from published
full outer join open_rows
    on published.account_id = open_rows.account_id
    and published.dimension = open_rows.dimension
where published.account_id is null
   or open_rows.account_id is null
   or published.segment_value is distinct from open_rows.segment_value
   or open_rows.open_copies > 1
