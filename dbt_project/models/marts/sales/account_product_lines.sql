{#- Cross-sell basis: one row per published account and product line, with revenue
    and margin in the 12-month window (base currency, rounded once) and `adopted`
    (revenue in the window > 0). Every product line sold on a valid invoice up to D
    appears for every account, so the lines an account has not adopted are rows too. -#}
with accounts as (
    select account_id from {{ ref('int_accounts__enriched') }}
),

product_lines as (
    select distinct lines.product_line
    from {{ ref('int_finance__invoice_lines_validated') }} as lines
    where lines.quarantine_reason is null and lines.exclusion_reason is null
),

window_revenue as (
    select * from {{ ref('int_account_product_lines_12m') }}
)

select
    cast(accounts.account_id as {{ dbt.type_string() }}) as account_id,
    cast(product_lines.product_line as {{ dbt.type_string() }}) as product_line,
    {{ as_of_date() }} as as_of_date,
    cast({{ round_double("coalesce(window_revenue.revenue_base, 0)", 2) }} as decimal(18, 2)) as revenue_12m,
    cast({{ round_double("coalesce(window_revenue.margin_base, 0)", 2) }} as decimal(18, 2)) as margin_12m,
    coalesce({{ round_double("window_revenue.revenue_base", 2) }} > 0, false) as adopted,
    {{ run_var('run_id') }} as run_id
from accounts
cross join product_lines
left join window_revenue
    on accounts.account_id = window_revenue.account_id
    and product_lines.product_line = window_revenue.product_line
