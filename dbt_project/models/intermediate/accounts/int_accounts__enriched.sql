{#- The published population (valid, active accounts of the snapshot) with every
    metric the segment rules read, rounded as the rules say (half away from zero)
    so that thresholds, ranks and ratios use the published values. -#}
with accounts as (
    select *
    from {{ ref('int_crm__accounts_validated') }}
    where quarantine_reason is null and exclusion_reason is null
),

revenue as (
    select
        account_id,
        {{ round_double("sum(revenue_base)", 2) }} as revenue_12m,
        {{ round_double("sum(margin_base)", 2) }} as margin_12m
    from {{ ref('int_account_product_lines_12m') }}
    group by account_id
),

invoice_history as (
    select * from {{ ref('int_accounts__invoice_history') }}
),

rates_at_as_of as (
    select * from {{ ref('int_finance__fx_rates_at_as_of') }}
),

metrics as (
    select
        accounts.account_id,
        accounts.account_name,
        accounts.account_type,
        accounts.country_code,
        accounts.owner_id,
        accounts.industry_code,
        accounts.industry,
        accounts.employee_count,
        -- annual_revenue at D in the base currency; no rate reads as missing
        accounts.annual_revenue * rates_at_as_of.rate_to_base as annual_revenue_base,
        coalesce(accounts.currency, {{ cfg_string('general.base_currency') }}) as annual_revenue_currency,
        accounts.annual_revenue,
        accounts.is_strategic,
        accounts.sales_channel,
        accounts.service_level as contracted_service_level,
        coalesce(revenue.revenue_12m, 0) as revenue_12m,
        coalesce(revenue.margin_12m, 0) as margin_12m,
        invoice_history.first_invoice_date,
        invoice_history.last_invoice_date
    from accounts
    left join revenue
        on accounts.account_id = revenue.account_id
    left join invoice_history
        on accounts.account_id = invoice_history.account_id
    left join rates_at_as_of
        on coalesce(accounts.currency, {{ cfg_string('general.base_currency') }}) = rates_at_as_of.currency
)

select
    *,
    case when revenue_12m > 0 then {{ round_double("margin_12m / revenue_12m", 4) }} end as margin_pct_12m
from metrics
