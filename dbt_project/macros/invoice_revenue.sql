{#- Revenue and margin of every valid invoice line (not void, dated on or before D,
    not quarantined, of a published account) dated between `min_days_ago` (included)
    and `max_days_ago` (excluded) before D, in the base currency at full precision.
    Credit-note lines are negative and count; a null cost counts 0. -#}
{% macro invoice_line_revenue(min_days_ago, max_days_ago) -%}
    select
        invoices.account_id,
        lines.product_line,
        lines.net_amount * invoices.rate_to_base as revenue_base,
        (lines.net_amount - coalesce(lines.cost_amount, 0)) * invoices.rate_to_base as margin_base
    from {{ ref('int_finance__invoice_lines_validated') }} as lines
    inner join {{ ref('int_finance__invoices_validated') }} as invoices
        on lines.invoice_id = invoices.invoice_id
    where lines.quarantine_reason is null
      and lines.exclusion_reason is null
      and invoices.quarantine_reason is null
      and invoices.exclusion_reason is null
      and {{ dbt.datediff('invoices.invoice_date', as_of_date(), 'day') }} >= {{ min_days_ago }}
      and {{ dbt.datediff('invoices.invoice_date', as_of_date(), 'day') }} < {{ max_days_ago }}
{%- endmacro %}
