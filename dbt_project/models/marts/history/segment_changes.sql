{#- What moved since the previous publication, per account and dimension: from and to
    (from null: a new account; to null: an account no longer published). Empty on the
    first publication, which has nothing to compare with. -#}
select
    {{ as_of_date() }} as as_of_date,
    cast(previous_as_of_date as date) as previous_as_of_date,
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(dimension as {{ dbt.type_string() }}) as dimension,
    cast(previous_value as {{ dbt.type_string() }}) as from_segment,
    cast(segment_value as {{ dbt.type_string() }}) as to_segment,
    cast(coalesce(change_cause, 'account_left') as {{ dbt.type_string() }}) as change_cause,
    cast(reason as {{ dbt.type_string() }}) as reason,
    {{ run_var('run_id') }} as run_id
from {{ ref('int_history__segment_comparison') }}
where comparison <> 'unchanged'
  and has_history
