{#- Credit management per published account (issue 4): the receivable metrics, the
    bureau, risk_score and the credit dimensions payment_behaviour, risk_profile,
    credit_hold, dunning_strategy and collector_level, each with a machine-readable
    reason (`<rule>: <deciding values>` or `missing: <input>`). Rules in order from
    the rules document; thresholds, lists and weights from configuration
    (dimensions.<name>, scores.risk, credit). Every rule reads the rounded metric. -#}
{%- set behaviour = 'dimensions.payment_behaviour' -%}
{%- set profile_cfg = 'dimensions.risk_profile' -%}
{%- set risk = 'scores.risk' -%}
{%- set w_external = cfg_share(risk ~ '.weights.external') -%}
{%- set w_internal = cfg_share(risk ~ '.weights.internal') -%}
{%- set w_industry = cfg_share(risk ~ '.weights.industry') -%}
{%- set w_region = cfg_share(risk ~ '.weights.region') -%}

with metrics as (
    select
        -- exact decimals of the published (rounded) values
        {{ star_replace(ref('int_credit__account_metrics'), {
            'open_ar': 'cast(open_ar as decimal(18, 2))',
            'overdue_ar': 'cast(overdue_ar as decimal(18, 2))',
            'avg_days_late': 'cast(avg_days_late as decimal(10, 2))',
            'on_time_rate': 'cast(on_time_rate as decimal(10, 4))',
        }) }}
    from {{ ref('int_credit__account_metrics') }}
),

bureau as (
    select * from {{ ref('int_credit__bureau_match') }}
),

groups as (
    select account_id, group_open_ar from {{ ref('int_credit__groups') }}
),

lifecycle as (
    select account_id, lifecycle_stage from {{ ref('int_segments__lifecycle') }}
),

profile as (
    select account_id, industry_vertical, region from {{ ref('int_segments__profile') }}
),

behaviour as (
    select
        metrics.*,
        case
            when metrics.max_days_overdue > {{ cfg_number(behaviour ~ '.defaulting_above_days_overdue') }} then 'defaulting'
            when metrics.evaluated_invoices = 0 then 'to_be_defined'
            when metrics.avg_days_late <= {{ cfg_number(behaviour ~ '.prompt_max_avg_days_late') }}
             and metrics.on_time_rate >= {{ cfg_share(behaviour ~ '.prompt_min_on_time_rate') }} then 'prompt'
            when metrics.avg_days_late <= {{ cfg_number(behaviour ~ '.slow_max_avg_days_late') }} then 'slow'
            else 'very_slow'
        end as payment_behaviour
    from metrics
),

components as (
    select
        behaviour.*,
        bureau.current_bureau_ref,
        bureau.bureau_score,
        bureau.insolvency_flag,
        bureau.recommended_limit_base,
        bureau.bureau_reason,
        lifecycle.lifecycle_stage,
        profile.industry_vertical,
        profile.region,
        groups.group_open_ar,
        -- external = 100 - bureau_score; internal = min(100, factor x avg_days_late), 100 when defaulting
        100 - {{ credit_money('bureau.bureau_score') }} as external_risk,
        case
            when behaviour.payment_behaviour = 'defaulting' then 100
            -- (least() would skip a null: no evaluated invoice leaves the component missing)
            when behaviour.avg_days_late is not null
                then least(100, {{ cfg_number(risk ~ '.internal_days_late_factor') }} * behaviour.avg_days_late)
        end as internal_risk,
        case profile.industry_vertical
        {%- for vertical in (cfg(risk ~ '.industry') or {}) %}
            when {{ sql_string(vertical) }} then {{ cfg_number(risk ~ '.industry.' ~ vertical) }}
        {%- endfor %}
        end as industry_risk,
        case profile.region
        {%- for region in (cfg(risk ~ '.region') or {}) %}
            when {{ sql_string(region) }} then {{ cfg_number(risk ~ '.region.' ~ region) }}
        {%- endfor %}
        end as region_risk
    from behaviour
    left join bureau
        on behaviour.account_id = bureau.account_id
    left join lifecycle
        on behaviour.account_id = lifecycle.account_id
    left join profile
        on behaviour.account_id = profile.account_id
    left join groups
        on behaviour.account_id = groups.account_id
),

weighted as (
    select
        *,
        -- a missing external or internal component passes its weight to the other
        case when internal_risk is null then {{ w_external }} + {{ w_internal }} else {{ w_external }} end as external_weight,
        case when external_risk is null then {{ w_internal }} + {{ w_external }} else {{ w_internal }} end as internal_weight
    from components
),

scored as (
    select
        *,
        case when external_risk is not null or internal_risk is not null then
            round(
                coalesce(external_risk * external_weight, 0)
                + coalesce(internal_risk * internal_weight, 0)
                + industry_risk * {{ w_industry }}
                + region_risk * {{ w_region }},
                1
            )
        end as risk_score
    from weighted
),

profiled as (
    select
        *,
        case
            when insolvency_flag then 'very_high'
            when risk_score is null then 'to_be_defined'
            when risk_score < {{ cfg_number(profile_cfg ~ '.low_below') }} then 'low'
            when risk_score < {{ cfg_number(profile_cfg ~ '.medium_below') }} then 'medium'
            when risk_score < {{ cfg_number(profile_cfg ~ '.high_below') }} then 'high'
            else 'very_high'
        end as risk_profile,
        insolvency_flag as hold_insolvency,
        disputes_12m >= {{ cfg_number('credit.credit_hold_min_disputes_12m') }} and open_ar > 0 as hold_disputes,
        max_days_overdue > {{ cfg_number('credit.credit_hold_above_days_overdue') }} as hold_overdue
    from scored
),

held as (
    select
        *,
        hold_insolvency or hold_disputes or hold_overdue as credit_hold,
        risk_profile in {{ cfg_string_list('dimensions.dunning_strategy.escalate_risk_profiles') }} as is_escalation_risk,
        risk_profile in {{ cfg_string_list('dimensions.collector_level.senior_risk_profiles') }} as is_senior_risk,
        overdue_ar >= {{ cfg_number('dimensions.collector_level.senior_min_overdue_ar') }} as is_senior_amount
    from profiled
),

decided as (
    select
        *,
        case
            when overdue_ar <= 0 then 'none'
            when credit_hold or coalesce(is_escalation_risk, false) then 'escalate'
            when lifecycle_stage = 'key' then 'personal'
            when typical_pay_day is not null then 'wait_for_pay_day'
            else 'standard'
        end as dunning_strategy,
        case
            when overdue_ar <= 0 then 'none'
            when is_senior_amount or coalesce(is_senior_risk, false) or lifecycle_stage = 'key' or credit_hold then 'senior'
            else 'junior'
        end as collector_level
    from held
)

select
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(open_ar as decimal(18, 2)) as open_ar,
    cast(overdue_ar as decimal(18, 2)) as overdue_ar,
    cast(max_days_overdue as integer) as max_days_overdue,
    cast(avg_days_late as decimal(10, 2)) as avg_days_late,
    cast(on_time_rate as decimal(10, 4)) as on_time_rate,
    cast(typical_pay_day as integer) as typical_pay_day,
    cast(disputes_12m as integer) as disputes_12m,
    cast(open_disputes as integer) as open_disputes,
    cast(bureau_score as double) as bureau_score,
    cast(insolvency_flag as boolean) as insolvency_flag,
    cast(risk_score as decimal(5, 1)) as risk_score,
    -- open_ar / the bureau's recommended limit at D; null without a positive limit or a rate
    cast(case when recommended_limit_base > 0
              then {{ round_double("cast(open_ar as double) / recommended_limit_base", 4) }} end as decimal(10, 4)) as credit_limit_utilisation,
    cast(group_open_ar as decimal(18, 2)) as group_open_ar,
    cast(oldest_overdue_invoice_id as {{ dbt.type_string() }}) as oldest_overdue_invoice_id,
    cast(oldest_overdue_due_date as date) as oldest_overdue_due_date,

    cast(payment_behaviour as {{ dbt.type_string() }}) as payment_behaviour,
    cast(case payment_behaviour
        when 'defaulting' then concat_ws('', 'defaulting: max_days_overdue ', max_days_overdue, ' > ',
                                      {{ cfg_number(behaviour ~ '.defaulting_above_days_overdue') }})
        when 'to_be_defined' then 'missing: evaluated invoice (none due in the 12-month window and paid or past due)'
        when 'prompt' then concat_ws('', 'prompt: avg_days_late ', avg_days_late, ' <= ', {{ cfg_number(behaviour ~ '.prompt_max_avg_days_late') }},
                                  ', on_time_rate ', on_time_rate, ' >= ', {{ cfg_number(behaviour ~ '.prompt_min_on_time_rate') }})
        when 'slow' then concat_ws('', 'slow: avg_days_late ', avg_days_late, ' <= ', {{ cfg_number(behaviour ~ '.slow_max_avg_days_late') }},
                                case when avg_days_late <= {{ cfg_number(behaviour ~ '.prompt_max_avg_days_late') }}
                                     then concat_ws('', ', on_time_rate ', on_time_rate, ' < ', {{ cfg_number(behaviour ~ '.prompt_min_on_time_rate') }})
                                     else '' end)
        else concat_ws('', 'very_slow: avg_days_late ', avg_days_late, ' > ', {{ cfg_number(behaviour ~ '.slow_max_avg_days_late') }})
    end as {{ dbt.type_string() }}) as payment_behaviour_reason,

    cast(risk_profile as {{ dbt.type_string() }}) as risk_profile,
    cast(case
        when insolvency_flag then concat_ws('', 'very_high: insolvency_flag (bureau_ref ', current_bureau_ref, ')')
        when risk_score is null then concat_ws('', 'missing: bureau_score (',
            case when current_bureau_ref is null then bureau_reason
                 else concat_ws('', 'bureau_ref ', current_bureau_ref, ' has no credit_score') end,
            '), avg_days_late (no evaluated invoice)')
        else concat_ws('', risk_profile, ': risk_score ', cast(risk_score as decimal(5, 1)),
            case risk_profile
                when 'low' then concat_ws('', ' < ', {{ cfg_number(profile_cfg ~ '.low_below') }})
                when 'medium' then concat_ws('', ' < ', {{ cfg_number(profile_cfg ~ '.medium_below') }})
                when 'high' then concat_ws('', ' < ', {{ cfg_number(profile_cfg ~ '.high_below') }})
                else concat_ws('', ' >= ', {{ cfg_number(profile_cfg ~ '.high_below') }})
            end,
            ' (external ',
            case when external_risk is null
                 then concat_ws('', 'missing: ', case when current_bureau_ref is null then bureau_reason
                                               else concat_ws('', 'bureau_ref ', current_bureau_ref, ' has no credit_score') end)
                 else concat_ws('', cast(external_risk as double), ' x ', cast(external_weight as double)) end,
            ', internal ',
            case when internal_risk is null then 'missing: no evaluated invoice'
                 else concat_ws('', cast(internal_risk as double), ' x ', cast(internal_weight as double)) end,
            ', industry ', cast(industry_risk as double), ' x ', cast({{ w_industry }} as double),
            ', region ', cast(region_risk as double), ' x ', cast({{ w_region }} as double), ')')
    end as {{ dbt.type_string() }}) as risk_profile_reason,

    cast(credit_hold as boolean) as credit_hold,
    cast(case
        when credit_hold then concat_ws('', 'hold: ', concat_ws(', ',
            case when hold_insolvency then 'insolvency_flag' end,
            case when hold_disputes then concat_ws('', 'disputes_12m ', disputes_12m, ' >= ',
                                                {{ cfg_number('credit.credit_hold_min_disputes_12m') }},
                                                ' with open_ar ', open_ar, ' > 0') end,
            case when hold_overdue then concat_ws('', 'max_days_overdue ', max_days_overdue, ' > ',
                                               {{ cfg_number('credit.credit_hold_above_days_overdue') }}) end))
        else concat_ws('', 'no_hold: no insolvency_flag, disputes_12m ', disputes_12m, ' with open_ar ', open_ar,
                    ', max_days_overdue ', max_days_overdue, ' <= ', {{ cfg_number('credit.credit_hold_above_days_overdue') }})
    end as {{ dbt.type_string() }}) as credit_hold_reason,

    cast(dunning_strategy as {{ dbt.type_string() }}) as dunning_strategy,
    cast(case dunning_strategy
        when 'none' then concat_ws('', 'none: overdue_ar ', overdue_ar, ' <= 0')
        when 'escalate' then concat_ws('', 'escalate: ', concat_ws(', ',
            case when credit_hold then 'credit_hold' end,
            case when is_escalation_risk then concat_ws('', 'risk_profile ', risk_profile) end))
        when 'personal' then 'personal: lifecycle_stage key'
        when 'wait_for_pay_day' then concat_ws('', 'wait_for_pay_day: typical_pay_day ', typical_pay_day)
        else concat_ws('', 'standard: overdue_ar ', overdue_ar, ', no credit_hold, risk_profile ', risk_profile,
                    ', lifecycle_stage ', coalesce(lifecycle_stage, 'unknown'), ', no typical_pay_day')
    end as {{ dbt.type_string() }}) as dunning_strategy_reason,

    cast(collector_level as {{ dbt.type_string() }}) as collector_level,
    cast(case collector_level
        when 'none' then concat_ws('', 'none: overdue_ar ', overdue_ar, ' <= 0')
        when 'senior' then concat_ws('', 'senior: ', concat_ws(', ',
            case when is_senior_amount then concat_ws('', 'overdue_ar ', overdue_ar, ' >= ',
                                                   {{ cfg_number('dimensions.collector_level.senior_min_overdue_ar') }}) end,
            case when is_senior_risk then concat_ws('', 'risk_profile ', risk_profile) end,
            case when lifecycle_stage = 'key' then 'lifecycle_stage key' end,
            case when credit_hold then 'credit_hold' end))
        else concat_ws('', 'junior: overdue_ar ', overdue_ar, ' < ', {{ cfg_number('dimensions.collector_level.senior_min_overdue_ar') }},
                    ', risk_profile ', risk_profile, ', lifecycle_stage ', coalesce(lifecycle_stage, 'unknown'), ', no credit_hold')
    end as {{ dbt.type_string() }}) as collector_level_reason
from decided
