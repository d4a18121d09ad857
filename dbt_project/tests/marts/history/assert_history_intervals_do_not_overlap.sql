{{ config(meta={'dagster': {'ref': {'name': 'segment_history'}}}) }}
{#- The rows of one account and dimension follow each other without overlap: each
    row starts on or after the end of the row before it, and only the last can be open
    (so no two rows start on the same day either).

    Only rows still open on D are compared: rows that ended before D are kept as
    published (and checked) on earlier nights, and a row rebuilt tonight starts on or
    after D, so it can only overlap a row that is still open on D. Of those, the rows
    opened or closed from D on, and the open rows of the pairs closed from D on:
    a pair with only open rows from before D has one (or it fails
    assert_history_open_rows_match_published_segments), so windowing all 23 M open
    rows at a million accounts would only repeat that test. -#}
with closed_from_d as (
    select distinct account_id, dimension
    from {{ ref('segment_history') }}
    where valid_to >= {{ as_of_date() }}
),

on_d as (
    select account_id, dimension, valid_from, valid_to
    from {{ ref('segment_history') }}
    where valid_from >= {{ as_of_date() }} or valid_to >= {{ as_of_date() }}
    union all
    select history.account_id, history.dimension, history.valid_from, history.valid_to
    from {{ ref('segment_history') }} as history
    inner join closed_from_d
        on history.account_id = closed_from_d.account_id
        and history.dimension = closed_from_d.dimension
    where history.valid_to is null
      and history.valid_from < {{ as_of_date() }}
),

ordered as (
    select
        account_id,
        dimension,
        valid_from,
        valid_to,
        lead(valid_from) over (partition by account_id, dimension order by valid_from) as next_valid_from
    from on_d
)

select *
from ordered
where (valid_to is not null and valid_to <= valid_from)
   or (next_valid_from is not null and (valid_to is null or valid_to > next_valid_from))
