{#- Type-2 history of every dimension of every account: valid_from inclusive,
    valid_to exclusive, null while current. Built from the published history and this
    run: rows that ended before D are kept, the rows open before D are closed at D when
    the value changed or the account left (int_history__segment_comparison lists
    only what moved), and every new value opens a row at D. Rows
    from D on are rebuilt, so a rerun of D or a backfill of an older date gives the
    history that running the dates in order gives. -#}
with history_before as (
    select *
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_from < {{ as_of_date() }}
),

comparison as (
    select * from {{ ref('int_history__segment_comparison') }}
),

closed_at_d as (
    -- the (account, dimension) pairs whose open row ends at D
    select account_id, dimension
    from comparison
    where comparison in ('changed', 'left')
),

kept_rows as (
    -- rows that ended before D as they are; a row still open before D ends at D when
    -- its value moved or the account left, and is open otherwise
    select
        history_before.account_id,
        history_before.dimension,
        history_before.segment_value,
        history_before.reason,
        history_before.is_override,
        history_before.change_cause,
        history_before.ruleset_version,
        history_before.valid_from,
        case
            when history_before.valid_to < {{ as_of_date() }} then history_before.valid_to
            when closed_at_d.account_id is not null then {{ as_of_date() }}
        end as valid_to,
        history_before.run_id
    from history_before
    left join closed_at_d
        on history_before.account_id = closed_at_d.account_id
        and history_before.dimension = closed_at_d.dimension
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
    select * from kept_rows
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
