{#- Revenue per account in the window before the 12-month window (the previous 12
    months): the retention rate of analytics.segment_kpis compares the two. -#}
with prior_lines as (
    {{ invoice_line_revenue(cfg_number('general.window_days'), '2 * ' ~ cfg_number('general.window_days')) }}
)

select
    account_id,
    {{ round_double("sum(revenue_base)", 2) }} as revenue_prior_12m
from prior_lines
group by account_id
