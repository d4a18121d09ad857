{#- Where the account stands commercially: tenure, value_tier, pareto_class,
    lifecycle_stage. Rules, in order, from the rules document; thresholds from
    configuration (dimensions.<name>). Ranks and thresholds use the rounded
    revenue_12m. -#}
{%- set value = 'dimensions.value_tier' -%}
{%- set pareto = 'dimensions.pareto_class' -%}
{%- set lifecycle = 'dimensions.lifecycle_stage' -%}

with accounts as (
    select
        account_id,
        is_strategic,
        revenue_12m,
        first_invoice_date,
        last_invoice_date,
        {{ dbt.datediff('first_invoice_date', as_of_date(), 'day') }} as days_since_first_invoice,
        {{ dbt.datediff('last_invoice_date', as_of_date(), 'day') }} as days_since_last_invoice
    from {{ ref('int_accounts__enriched') }}
),

ranked as (
    select
        *,
        case when revenue_12m > 0 then
            row_number() over (
                partition by revenue_12m > 0
                order by revenue_12m desc, account_id asc
            )
        end as revenue_rank,
        count(case when revenue_12m > 0 then 1 end) over () as ranked_accounts
    from accounts
),

classed as (
    select
        *,
        -- exact decimal shares: ceil(0.2 * n) must not suffer binary rounding
        cast(ceil({{ cfg_share(pareto ~ '.a_max_rank_share') }} * ranked_accounts) as bigint) as a_max_rank,
        cast(ceil({{ cfg_share(pareto ~ '.b_max_rank_share') }} * ranked_accounts) as bigint) as b_max_rank
    from ranked
),

segmented as (
    select
        *,
        case
            when first_invoice_date is null then 'prospect'
            when days_since_first_invoice < {{ cfg_number('dimensions.tenure.new_within_days') }} then 'new'
            else 'existing'
        end as tenure,
        case
            when revenue_12m >= {{ cfg_number(value ~ '.high_min_revenue') }} then 'high'
            when revenue_12m >= {{ cfg_number(value ~ '.medium_min_revenue') }} then 'medium'
            when revenue_12m > 0 then 'low'
            else 'none'
        end as value_tier,
        case
            when revenue_rank is null then 'none'
            when revenue_rank <= a_max_rank then 'A'
            when revenue_rank <= b_max_rank then 'B'
            else 'C'
        end as pareto_class
    from classed
)

select
    account_id,

    tenure,
    case tenure
        when 'prospect' then 'prospect: no valid invoice'
        else concat_ws('', tenure, ': first_invoice_date ', first_invoice_date, ' is ', days_since_first_invoice,
                    ' days ago', case when tenure = 'new' then ' < ' else ' >= ' end,
                    {{ cfg_number('dimensions.tenure.new_within_days') }})
    end as tenure_reason,

    value_tier,
    concat_ws('', value_tier, ': revenue_12m ', cast(revenue_12m as decimal(18, 2)),
        case value_tier
            when 'high' then concat_ws('', ' >= ', {{ cfg_number(value ~ '.high_min_revenue') }})
            when 'medium' then concat_ws('', ' >= ', {{ cfg_number(value ~ '.medium_min_revenue') }})
            when 'low' then ' > 0'
            else ' <= 0'
        end) as value_tier_reason,

    pareto_class,
    case
        when pareto_class = 'none' then concat_ws('', 'none: revenue_12m ', cast(revenue_12m as decimal(18, 2)), ' <= 0')
        else concat_ws('', pareto_class, ': rank ', revenue_rank, ' of ', ranked_accounts,
                    case pareto_class
                        when 'A' then concat_ws('', ' <= ', a_max_rank)
                        when 'B' then concat_ws('', ' <= ', b_max_rank)
                        else concat_ws('', ' > ', b_max_rank)
                    end)
    end as pareto_class_reason,

    case
        when first_invoice_date is null then 'prospect'
        when days_since_last_invoice >= {{ cfg_number(lifecycle ~ '.dormant_after_days') }} then 'dormant'
        when is_strategic or pareto_class = 'A' then 'key'
        when days_since_first_invoice < {{ cfg_number(lifecycle ~ '.new_within_days') }} then 'new'
        else 'existing'
    end as lifecycle_stage,
    case
        when first_invoice_date is null then 'prospect: no valid invoice'
        when days_since_last_invoice >= {{ cfg_number(lifecycle ~ '.dormant_after_days') }}
            then concat_ws('', 'dormant: last_invoice ', days_since_last_invoice, ' days ago >= ',
                        {{ cfg_number(lifecycle ~ '.dormant_after_days') }})
        when is_strategic then 'key: is_strategic'
        when pareto_class = 'A' then 'key: pareto_class A'
        when days_since_first_invoice < {{ cfg_number(lifecycle ~ '.new_within_days') }}
            then concat_ws('', 'new: first_invoice ', days_since_first_invoice, ' days ago < ',
                        {{ cfg_number(lifecycle ~ '.new_within_days') }})
        else concat_ws('', 'existing: first_invoice ', days_since_first_invoice, ' days ago, last_invoice ',
                    days_since_last_invoice, ' days ago')
    end as lifecycle_stage_reason
from segmented
