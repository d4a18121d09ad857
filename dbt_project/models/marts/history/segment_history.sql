{#- Type-2 history of every dimension of every account: valid_from inclusive,
    valid_to exclusive, null while current. Built from the published history and this
    run: rows that ended before D are kept, the rows open before D are closed at D when
    the value changed or the account left, and every new value opens a row at D. Rows
    from D on are rebuilt, so a rerun of D or a backfill of an older date gives the
    history that running the dates in order gives. -#}
with closed_before as (
    -- the staging model's column order is the history's: the union below relies on it
    select *
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_to < {{ as_of_date() }}
),

comparison as (
    select * from {{ ref('int_history__segment_comparison') }}
),

previous_rows as (
    select
        account_id,
        dimension,
        previous_value as segment_value,
        previous_reason as reason,
        previous_is_override as is_override,
        previous_change_cause as change_cause,
        previous_row_ruleset_version as ruleset_version,
        previous_valid_from as valid_from,
        case when comparison in ('changed', 'left') then {{ as_of_date() }} end as valid_to,
        previous_run_id as run_id
    from comparison
    where comparison <> 'new'
),

new_rows as (
    select
        account_id,
        dimension,
        segment_value,
        reason,
        is_override,
        change_cause,
        {{ run_var('ruleset_version') }} as ruleset_version,
        {{ as_of_date() }} as valid_from,
        cast(null as date) as valid_to,
        {{ run_var('run_id') }} as run_id
    from comparison
    where comparison in ('new', 'changed')
),

history as (
    select * from closed_before
    union all
    select * from previous_rows
    union all
    select * from new_rows
)

select
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(dimension as {{ dbt.type_string() }}) as dimension,
    cast(segment_value as {{ dbt.type_string() }}) as segment_value,
    cast(reason as {{ dbt.type_string() }}) as reason,
    cast(is_override as boolean) as is_override,
    cast(change_cause as {{ dbt.type_string() }}) as change_cause,
    cast(ruleset_version as {{ dbt.type_string() }}) as ruleset_version,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    cast(run_id as {{ dbt.type_string() }}) as run_id
from history
