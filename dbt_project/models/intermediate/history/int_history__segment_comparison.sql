{#- Each (account, dimension) of this run that differs from the history as it stood
    before D: the open value before D (history rows from D on belong to dates being
    rebuilt and are ignored) and this run's value, the comparison and, for a new
    value, its cause. Unchanged pairs are not listed: the history keeps their open
    row as it is.

    comparison: changed | new (no open value before) | left (the account is no
    longer published). Values are compared null-safe: a value that becomes null, or
    stops being null, has changed.
    change_cause of a new value, first rule that holds:
      initial         the history starts with this run (nothing before D);
      new_account     the account had no open value before D;
      override        an override sets a value it did not set before;
      override_ended  an override no longer applies;
      ruleset_change  the ruleset_version differs from the previous publication's
                      (the rules changed this night: the move may be theirs, not the data's);
      data            the inputs moved the account.

    The pairs that moved are found on values and flags alone; only they are read
    again with their reasons and history columns. -#}
{#- Written out at each use, not as shared CTEs: DuckDB materialises a CTE read twice
    with all its columns (23 M rows with their reasons at a million accounts), where
    each use needs a few columns or a few rows. -#}
{%- set previous_open -%}
    select *
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_from < {{ as_of_date() }}
      and (valid_to is null or valid_to >= {{ as_of_date() }})
{%- endset -%}
{%- set current_segments -%}
    select * from {{ ref('int_history__current_segments') }}
{%- endset %}

with history_started as (
    select count(*) > 0 as has_history
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_from < {{ as_of_date() }}
),

previous_publication as (
    select * from {{ ref('int_history__previous_publication') }}
),

moved_pairs as (
    -- values and override flags only: carrying the reasons and the history columns
    -- through this join of 23 M rows on each side at a million accounts cost five times as much
    select
        coalesce(current_segments.account_id, previous_open.account_id) as account_id,
        coalesce(current_segments.dimension, previous_open.dimension) as dimension
    from ({{ current_segments }}) as current_segments
    full outer join ({{ previous_open }}) as previous_open
        on current_segments.account_id = previous_open.account_id
        and current_segments.dimension = previous_open.dimension
    where current_segments.account_id is null
       or previous_open.account_id is null
       or current_segments.segment_value is distinct from previous_open.segment_value
       or current_segments.is_override <> previous_open.is_override
),

moved_current as (
    select current_segments.*
    from ({{ current_segments }}) as current_segments
    inner join moved_pairs
        on current_segments.account_id = moved_pairs.account_id
        and current_segments.dimension = moved_pairs.dimension
),

moved_previous as (
    select previous_open.*
    from ({{ previous_open }}) as previous_open
    inner join moved_pairs
        on previous_open.account_id = moved_pairs.account_id
        and previous_open.dimension = moved_pairs.dimension
),

compared as (
    select
        coalesce(moved_current.account_id, moved_previous.account_id) as account_id,
        coalesce(moved_current.dimension, moved_previous.dimension) as dimension,
        moved_previous.segment_value as previous_value,
        moved_previous.reason as previous_reason,
        moved_previous.is_override as previous_is_override,
        moved_previous.change_cause as previous_change_cause,
        moved_previous.ruleset_version as previous_row_ruleset_version,
        moved_previous.valid_from as previous_valid_from,
        moved_previous.run_id as previous_run_id,
        moved_current.segment_value,
        moved_current.reason,
        moved_current.is_override,
        case
            when moved_previous.account_id is null then 'new'
            when moved_current.account_id is null then 'left'
            when moved_previous.segment_value is distinct from moved_current.segment_value
                or moved_previous.is_override <> moved_current.is_override then 'changed'
            else 'unchanged'
        end as comparison
    from moved_current
    full outer join moved_previous
        on moved_current.account_id = moved_previous.account_id
        and moved_current.dimension = moved_previous.dimension
)

select
    compared.*,
    case
        when compared.comparison = 'left' then null
        when not history_started.has_history then 'initial'
        when compared.comparison = 'new' then 'new_account'
        when compared.is_override then 'override'
        when compared.previous_is_override then 'override_ended'
        when previous_publication.ruleset_version is not null
            and previous_publication.ruleset_version <> {{ run_var('ruleset_version') }} then 'ruleset_change'
        else 'data'
    end as change_cause,
    history_started.has_history,
    previous_publication.as_of_date as previous_as_of_date
from compared
cross join history_started
left join previous_publication
    on true
where compared.comparison <> 'unchanged'
