{#- Revenue and margin per account and product line over the 12-month window, in
    the base currency at full precision (rounded once, where the metric is published). -#}
with window_lines as (
    {{ invoice_line_revenue(0, cfg_number('general.window_days')) }}
)

select
    account_id,
    product_line,
    sum(revenue_base) as revenue_base,
    sum(margin_base) as margin_base
from window_lines
group by account_id, product_line
