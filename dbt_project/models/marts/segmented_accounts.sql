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
)

select
    cast(accounts.account_id as varchar) as account_id,
    cast(accounts.account_name as varchar) as account_name,
    {{ as_of_date() }} as as_of_date,
    cast(accounts.country_code as varchar) as country_code,
    cast(accounts.owner_id as varchar) as owner_id,

    cast(profile.party_type as varchar) as party_type,
    cast(lifecycle.tenure as varchar) as tenure,
    cast(profile.market as varchar) as market,
    cast(lifecycle.value_tier as varchar) as value_tier,
    cast(lifecycle.pareto_class as varchar) as pareto_class,
    cast(lifecycle.lifecycle_stage as varchar) as lifecycle_stage,
    cast(profile.region as varchar) as region,
    cast(profile.industry_vertical as varchar) as industry_vertical,
    cast(profile.size_tier as varchar) as size_tier,

    cast(accounts.revenue_12m as decimal(18, 2)) as revenue_12m,
    cast(accounts.margin_12m as decimal(18, 2)) as margin_12m,
    cast(accounts.margin_pct_12m as decimal(10, 4)) as margin_pct_12m,
    accounts.first_invoice_date,
    accounts.last_invoice_date,

    cast(json_object(
        {%- for dimension in dimensions %}
        {{ sql_string(dimension) }}, {{ dimension }}_reason{{ ',' if not loop.last }}
        {%- endfor %}
    ) as varchar) as segment_reasons,
    cast([] as varchar[]) as overridden_dimensions,
    {{ run_var('ruleset_version') }} as ruleset_version,
    {{ run_var('run_id') }} as run_id
from accounts
inner join profile
    on accounts.account_id = profile.account_id
inner join lifecycle
    on accounts.account_id = lifecycle.account_id
