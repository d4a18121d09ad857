{#- Each (account, dimension) of this run against the history as it stood before D:
    the open value before D (history rows from D on belong to dates being rebuilt and
    are ignored) and this run's value, the comparison and, for a new value, its cause.

    comparison: unchanged | changed | new (no open value before) | left (the account
    is no longer published).
    change_cause of a new value, first rule that holds:
      initial         the history starts with this run (nothing before D);
      new_account     the account had no open value before D;
      override        an override sets a value it did not set before;
      override_ended  an override no longer applies;
      ruleset_change  the ruleset_version differs from the previous publication's
                      (the rules changed this night: the move may be theirs, not the data's);
      data            the inputs moved the account. -#}
with history_before as (
    select *
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_from < {{ as_of_date() }}
),

previous_open as (
    select *
    from history_before
    where valid_to is null or valid_to >= {{ as_of_date() }}
),

history_started as (
    select count(*) > 0 as has_history from history_before
),

previous_publication as (
    select * from {{ ref('int_history__previous_publication') }}
),

current_segments as (
    select * from {{ ref('int_history__current_segments') }}
),

compared as (
    select
        coalesce(current_segments.account_id, previous_open.account_id) as account_id,
        coalesce(current_segments.dimension, previous_open.dimension) as dimension,
        previous_open.segment_value as previous_value,
        previous_open.reason as previous_reason,
        previous_open.is_override as previous_is_override,
        previous_open.change_cause as previous_change_cause,
        previous_open.ruleset_version as previous_row_ruleset_version,
        previous_open.valid_from as previous_valid_from,
        previous_open.run_id as previous_run_id,
        current_segments.segment_value,
        current_segments.reason,
        current_segments.is_override,
        case
            when previous_open.account_id is null then 'new'
            when current_segments.account_id is null then 'left'
            when previous_open.segment_value <> current_segments.segment_value
                or previous_open.is_override <> current_segments.is_override then 'changed'
            else 'unchanged'
        end as comparison
    from current_segments
    full outer join previous_open
        on current_segments.account_id = previous_open.account_id
        and current_segments.dimension = previous_open.dimension
)

select
    compared.*,
    case
        when compared.comparison in ('unchanged', 'left') then null
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
