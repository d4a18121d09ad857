{#- What moved since the previous publication, per account and dimension: from and to
    (from null: a new account; to null: an account no longer published). Empty on the
    first publication, which has nothing to compare with. -#}
select
    {{ as_of_date() }} as as_of_date,
    cast(previous_as_of_date as date) as previous_as_of_date,
    cast(account_id as varchar) as account_id,
    cast(dimension as varchar) as dimension,
    cast(previous_value as varchar) as from_segment,
    cast(segment_value as varchar) as to_segment,
    cast(coalesce(change_cause, 'account_left') as varchar) as change_cause,
    cast(reason as varchar) as reason,
    {{ run_var('run_id') }} as run_id
from {{ ref('int_history__segment_comparison') }}
where comparison <> 'unchanged'
  and has_history
