{{ config(meta={'dagster': {'ref': {'name': 'segment_history'}}}) }}
{#- The rows of one account and dimension follow each other without overlap: each
    row starts on or after the end of the row before it, and only the last can be open
    (so no two rows start on the same day either).

    Only rows still open on D are compared: rows that ended before D are kept as
    published (and checked) on earlier nights, and a row rebuilt tonight starts on or
    after D, so it can only overlap a row that is still open on D. -#}
with ordered as (
    select
        account_id,
        dimension,
        valid_from,
        valid_to,
        lead(valid_from) over (partition by account_id, dimension order by valid_from) as next_valid_from
    from {{ ref('segment_history') }}
    where valid_to is null or valid_to >= {{ as_of_date() }}
)

select *
from ordered
where (valid_to is not null and valid_to <= valid_from)
   or (next_valid_from is not null and (valid_to is null or valid_to > next_valid_from))
