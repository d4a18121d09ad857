{#- Where sales should focus: icp_score and icp_fit (Ideal Customer Profile with
    restrictions), potential_value and potential_tier (the peer benchmark, kept apart
    from lifecycle), buying_readiness. Criteria, lists and thresholds: configuration
    (scores.icp, scores.potential, dimensions.icp_fit / potential_tier / buying_readiness). -#}
{%- set criteria = cfg('scores.icp.criteria') or [] -%}
{%- set fit = 'dimensions.icp_fit' -%}
{%- set potential = 'dimensions.potential_tier' -%}
{%- set min_peers = cfg_number('scores.potential.min_peers') -%}

with accounts as (
    select
        enriched.account_id,
        enriched.country_code,
        enriched.revenue_12m,
        profile.industry_vertical,
        profile.size_tier,
        profile.region,
        commercial.sales_channel_group,
        credit.payment_behaviour,
        credit.insolvency_flag
    from {{ ref('int_accounts__enriched') }} as enriched
    inner join {{ ref('int_segments__profile') }} as profile on enriched.account_id = profile.account_id
    inner join {{ ref('int_segments__commercial') }} as commercial on enriched.account_id = commercial.account_id
    inner join {{ ref('int_segments__credit') }} as credit on enriched.account_id = credit.account_id
),

scored as (
    select
        *,
        0
        {%- for criterion in criteria %}
        + case when {{ criterion['dimension'] }} in {{ sql_string_list(criterion['values']) }}
               then {{ criterion['points'] }} else 0 end
        {%- endfor %} as icp_score,
        concat_ws('; '
        {%- for criterion in criteria %},
            case when {{ criterion['dimension'] }} in {{ sql_string_list(criterion['values']) }}
                 then concat_ws('', '+{{ criterion['points'] }} {{ criterion['dimension'] }} ', {{ criterion['dimension'] }})
                 else concat_ws('', '+0 {{ criterion['dimension'] }} ', {{ criterion['dimension'] }},
                             ' not in {{ criterion['values'] | join(", ") }}')
            end
        {%- endfor %}
        ) as icp_criteria
    from accounts
),

-- peers: published accounts with revenue_12m > 0 (a to_be_defined vertical is a group like any other)
peers as (
    select size_tier, industry_vertical, revenue_12m
    from accounts
    where revenue_12m > 0 and size_tier <> 'to_be_defined'
),

group_benchmarks as (
    select
        size_tier,
        industry_vertical,
        count(*) as peers,
        {{ quantile_cont('revenue_12m', cfg_number('scores.potential.percentile')) }} as benchmark
    from peers
    group by size_tier, industry_vertical
),

size_benchmarks as (
    select
        size_tier,
        count(*) as peers,
        {{ quantile_cont('revenue_12m', cfg_number('scores.potential.percentile')) }} as benchmark
    from peers
    group by size_tier
),

benchmarked as (
    select
        scored.*,
        case
            when scored.size_tier = 'to_be_defined' then null
            when group_benchmarks.peers >= {{ min_peers }} then group_benchmarks.benchmark
            when size_benchmarks.peers >= {{ min_peers }} then size_benchmarks.benchmark
        end as benchmark,
        case
            when scored.size_tier = 'to_be_defined' then 'missing: size_tier'
            when group_benchmarks.peers >= {{ min_peers }}
                then concat_ws('', 'benchmark of ', group_benchmarks.peers, ' peers in ', scored.size_tier, ' / ', scored.industry_vertical)
            when size_benchmarks.peers >= {{ min_peers }}
                then concat_ws('', 'benchmark of ', size_benchmarks.peers, ' peers in ', scored.size_tier,
                            ' (fewer than {{ min_peers }} in ', scored.size_tier, ' / ', scored.industry_vertical, ')')
            else concat_ws('', 'no benchmark: fewer than {{ min_peers }} peers with revenue in ', scored.size_tier)
        end as benchmark_reason,
        coalesce(opportunities.open_opportunities, 0) as open_opportunities,
        coalesce(opportunities.hot_opportunities, 0) as hot_opportunities,
        coalesce(opportunities.open_amount_base, 0) as open_amount_base
    from scored
    left join group_benchmarks
        on scored.size_tier = group_benchmarks.size_tier
        and scored.industry_vertical = group_benchmarks.industry_vertical
    left join size_benchmarks
        on scored.size_tier = size_benchmarks.size_tier
    left join {{ ref('int_accounts__open_opportunities') }} as opportunities
        on scored.account_id = opportunities.account_id
),

valued as (
    select
        *,
        case when benchmark is not null then
            {{ round_double("greatest(0, benchmark - greatest(revenue_12m, 0)) + open_amount_base", 2) }}
        end as potential_value
    from benchmarked
)

select
    account_id,
    icp_score,
    case
        when insolvency_flag then 'excluded'
        when industry_vertical in {{ cfg_string_list(fit ~ '.excluded_verticals') }} then 'excluded'
        when country_code in {{ cfg_string_list(fit ~ '.excluded_countries') }} then 'excluded'
        when industry_vertical = 'to_be_defined' or size_tier = 'to_be_defined' then 'to_be_defined'
        when icp_score >= {{ cfg_number(fit ~ '.ideal_min_score') }} then 'ideal'
        when icp_score >= {{ cfg_number(fit ~ '.good_min_score') }} then 'good'
        when icp_score >= {{ cfg_number(fit ~ '.fair_min_score') }} then 'fair'
        else 'poor'
    end as icp_fit,
    concat_ws('', 
        case
            when insolvency_flag then 'excluded: insolvency_flag'
            when industry_vertical in {{ cfg_string_list(fit ~ '.excluded_verticals') }}
                then concat_ws('', 'excluded: vertical ', industry_vertical)
            when country_code in {{ cfg_string_list(fit ~ '.excluded_countries') }}
                then concat_ws('', 'excluded: country ', country_code)
            when industry_vertical = 'to_be_defined' or size_tier = 'to_be_defined'
                then concat_ws('', 'missing: ', concat_ws(', ',
                    case when industry_vertical = 'to_be_defined' then 'industry_vertical' end,
                    case when size_tier = 'to_be_defined' then 'size_tier' end))
            else concat_ws('', 'icp_score ', icp_score)
        end,
        ' | ', icp_criteria
    ) as icp_fit_reason,

    potential_value,
    case
        when potential_value is null then 'to_be_defined'
        when potential_value >= {{ cfg_number(potential ~ '.high_min_value') }} then 'high'
        when potential_value >= {{ cfg_number(potential ~ '.medium_min_value') }} then 'medium'
        when potential_value > 0 then 'low'
        else 'none'
    end as potential_tier,
    case
        when potential_value is null then benchmark_reason
        else concat_ws('', 'potential_value ', cast(potential_value as decimal(18, 2)), ': ', benchmark_reason,
                    ' at ', cast({{ round_double("benchmark", 2) }} as decimal(18, 2)), ', revenue_12m ',
                    cast(revenue_12m as decimal(18, 2)), ', open opportunities ',
                    cast({{ round_double("open_amount_base", 2) }} as decimal(18, 2)))
    end as potential_tier_reason,

    case
        when hot_opportunities > 0 then 'hot'
        when open_opportunities > 0 then 'warm'
        else 'cold'
    end as buying_readiness,
    case
        when hot_opportunities > 0 then concat_ws('', hot_opportunities, ' open opportunity(ies) in a hot stage closing within the window')
        when open_opportunities > 0 then concat_ws('', open_opportunities, ' open opportunity(ies)')
        else 'no open opportunity'
    end as buying_readiness_reason
from valued
