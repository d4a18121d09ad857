{#- The credit controllers' daily worklist (issue 4, item 6): one row per published
    account with overdue receivables, from the PUBLISHED values of
    segmented_accounts (overrides applied), with the oldest overdue invoice and the
    earliest date to act: the as-of date, except for wait_for_pay_day, where it is
    the day after the next occurrence of typical_pay_day on or after D (pay day
    credit.pay_day_month_end_cap, 28 by default, stands for the month's last day).
    work_order is the order a collector works it: earliest date to act, senior
    before junior, escalate / personal / standard / wait_for_pay_day, overdue amount
    descending, account_id. -#}
{#- Working order of the segments (issue 4); a value outside these lists (an
    override to `none`, say) sorts after them. -#}
{%- set collector_order = ['senior', 'junior'] -%}
{%- set dunning_order = ['escalate', 'personal', 'standard', 'wait_for_pay_day'] -%}

with published as (
    select *
    from {{ ref('segmented_accounts') }}
    where overdue_ar > 0
),

credit as (
    select account_id, oldest_overdue_invoice_id, oldest_overdue_due_date
    from {{ ref('int_segments__credit') }}
),

dated as (
    select
        published.*,
        credit.oldest_overdue_invoice_id,
        credit.oldest_overdue_due_date,
        case
            when published.dunning_strategy = 'wait_for_pay_day' and published.typical_pay_day is not null
                then {{ credit_day_after_next_pay_day('published.typical_pay_day', as_of_date(),
                                                      cfg_number('credit.pay_day_month_end_cap')) }}
            else {{ as_of_date() }}
        end as earliest_action_date,
        case published.collector_level
        {%- for level in collector_order %}
            when {{ sql_string(level) }} then {{ loop.index }}
        {%- endfor %}
            else {{ collector_order | length + 1 }}
        end as collector_rank,
        case published.dunning_strategy
        {%- for strategy in dunning_order %}
            when {{ sql_string(strategy) }} then {{ loop.index }}
        {%- endfor %}
            else {{ dunning_order | length + 1 }}
        end as dunning_rank
    from published
    left join credit
        on published.account_id = credit.account_id
)

select
    cast(row_number() over (
        order by earliest_action_date, collector_rank, dunning_rank, overdue_ar desc, account_id
    ) as integer) as work_order,
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(account_name as {{ dbt.type_string() }}) as account_name,
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    {{ as_of_date() }} as as_of_date,
    cast(earliest_action_date as date) as earliest_action_date,
    cast(collector_level as {{ dbt.type_string() }}) as collector_level,
    cast(dunning_strategy as {{ dbt.type_string() }}) as dunning_strategy,
    cast(overdue_ar as decimal(18, 2)) as overdue_ar,
    cast(open_ar as decimal(18, 2)) as open_ar,
    cast(max_days_overdue as integer) as max_days_overdue,
    cast(oldest_overdue_invoice_id as {{ dbt.type_string() }}) as oldest_overdue_invoice_id,
    cast(oldest_overdue_due_date as date) as oldest_overdue_due_date,
    cast(group_open_ar as decimal(18, 2)) as group_open_ar,
    cast(credit_hold as boolean) as credit_hold,
    cast(typical_pay_day as integer) as typical_pay_day,
    cast(risk_profile as {{ dbt.type_string() }}) as risk_profile,
    cast({{ json_get_string('segment_reasons', 'dunning_strategy') }} as {{ dbt.type_string() }}) as dunning_strategy_reason,
    cast({{ json_get_string('segment_reasons', 'collector_level') }} as {{ dbt.type_string() }}) as collector_level_reason,
    cast({{ json_get_string('segment_reasons', 'credit_hold') }} as {{ dbt.type_string() }}) as credit_hold_reason,
    cast(run_id as {{ dbt.type_string() }}) as run_id
from dated
