{#- The published table: one row per active, non-quarantined account as of D, with
    every dimension, the metrics the rules use, a reason per dimension, and the run's
    identity. Column names and types are an enforced contract (_marts__models.yml). -#}
{%- set dimensions = [
    'party_type', 'tenure', 'market', 'value_tier', 'pareto_class', 'lifecycle_stage',
    'region', 'industry_vertical', 'size_tier',
] -%}

with accounts as (
    select * from {{ ref('int_accounts__enriched') }}
),

profile as (
    select * from {{ ref('int_segments__profile') }}
),

lifecycle as (
    select * from {{ ref('int_segments__lifecycle') }}
),

-- applied after every dimension is computed; they feed no other rule
overrides as (
    select
        account_id,
        {%- for dimension in dimensions %}
        max(case when dimension = {{ sql_string(dimension) }} then segment end) as {{ dimension }}_override,
        max(case when dimension = {{ sql_string(dimension) }}
                 then concat('override: ', segment, ' by ', coalesce(owner, 'unknown owner'),
                             coalesce(concat(' (', reason, ')'), '')) end) as {{ dimension }}_override_reason
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_overrides__evaluated') }}
    where status = 'applied'
    group by account_id
),

computed as (
    select
        accounts.*,
        {%- for dimension in dimensions %}
        {{ dimension }},
        {{ dimension }}_reason,
        overrides.{{ dimension }}_override,
        overrides.{{ dimension }}_override_reason
        {{- ',' if not loop.last }}
        {%- endfor %}
    from accounts
    inner join profile
        on accounts.account_id = profile.account_id
    inner join lifecycle
        on accounts.account_id = lifecycle.account_id
    left join overrides
        on accounts.account_id = overrides.account_id
)

select
    cast(computed.account_id as varchar) as account_id,
    cast(computed.account_name as varchar) as account_name,
    {{ as_of_date() }} as as_of_date,
    cast(computed.country_code as varchar) as country_code,
    cast(computed.owner_id as varchar) as owner_id,

    cast(coalesce(party_type_override, party_type) as varchar) as party_type,
    cast(coalesce(tenure_override, tenure) as varchar) as tenure,
    cast(coalesce(market_override, market) as varchar) as market,
    cast(coalesce(value_tier_override, value_tier) as varchar) as value_tier,
    cast(coalesce(pareto_class_override, pareto_class) as varchar) as pareto_class,
    cast(coalesce(lifecycle_stage_override, lifecycle_stage) as varchar) as lifecycle_stage,
    cast(coalesce(region_override, region) as varchar) as region,
    cast(coalesce(industry_vertical_override, industry_vertical) as varchar) as industry_vertical,
    cast(coalesce(size_tier_override, size_tier) as varchar) as size_tier,

    cast(computed.revenue_12m as decimal(18, 2)) as revenue_12m,
    cast(computed.margin_12m as decimal(18, 2)) as margin_12m,
    cast(computed.margin_pct_12m as decimal(10, 4)) as margin_pct_12m,
    computed.first_invoice_date,
    computed.last_invoice_date,

    cast(json_object(
        {%- for dimension in dimensions %}
        {{ sql_string(dimension) }},
            case when {{ dimension }}_override is null then {{ dimension }}_reason
                 else concat({{ dimension }}_override_reason, '; computed: ', {{ dimension }}, ' (', {{ dimension }}_reason, ')')
            end{{ ',' if not loop.last }}
        {%- endfor %}
    ) as varchar) as segment_reasons,
    cast(list_filter([
        {%- for dimension in dimensions %}
        case when {{ dimension }}_override is not null then {{ sql_string(dimension) }} end{{ ',' if not loop.last }}
        {%- endfor %}
    ], lambda dimension: dimension is not null) as varchar[]) as overridden_dimensions,
    {{ run_var('ruleset_version') }} as ruleset_version,
    {{ run_var('run_id') }} as run_id
from computed
