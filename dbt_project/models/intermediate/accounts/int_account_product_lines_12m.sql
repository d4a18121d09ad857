{#- Revenue and margin per account and product line over the 12-month window, in
    the base currency at full precision (rounded once, where the metric is published).
    Lines of valid invoices only (not void, dated on or before D, not quarantined,
    of a published account); credit-note lines are negative and count. -#}
with invoices as (
    select invoice_id, account_id, invoice_date, rate_to_base
    from {{ ref('int_finance__invoices_validated') }}
    where quarantine_reason is null
      and exclusion_reason is null
      and {{ dbt.datediff('invoice_date', as_of_date(), 'day') }} < {{ cfg_number('general.window_days') }}
),

lines as (
    select invoice_id, product_line, net_amount, cost_amount
    from {{ ref('int_finance__invoice_lines_validated') }}
    where quarantine_reason is null and exclusion_reason is null
)

select
    invoices.account_id,
    lines.product_line,
    sum(lines.net_amount * invoices.rate_to_base) as revenue_base,
    -- a null cost counts 0
    sum((lines.net_amount - coalesce(lines.cost_amount, 0)) * invoices.rate_to_base) as margin_base
from lines
inner join invoices
    on lines.invoice_id = invoices.invoice_id
group by invoices.account_id, lines.product_line
