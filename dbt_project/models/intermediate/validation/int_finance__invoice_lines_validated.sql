{#- Invoice lines with their quarantine reason or exclusion (their invoice's,
    prefixed `invoice_`). Incremental per invoice (macros/incremental.sql): a line's
    row depends only on its staging row and its invoice's int_finance__invoice_ids
    row, so an incremental night recomputes the lines of the affected invoices (the
    invoice_id is part of the line key) and those without an invoice_id. -#}
{{ invoice_state_config() }}
-- depends_on: {{ ref('int_finance__affected_invoices') }}
{% set checks = [
    ('invalid_value', 'lines.invalid_columns is not null', 'lines.invalid_columns'),
    ('unknown_invoice', 'invoice_ids.invoice_id is null', 'lines.invoice_id'),
    ('invoice_quarantined', 'invoice_ids.is_quarantined', 'lines.invoice_id'),
    ('missing_mandatory_field', 'lines.missing_columns is not null', 'lines.missing_columns'),
    ('duplicate_key', 'lines.is_duplicate_key', none),
] -%}

with lines as (
    select * from {{ ref('stg_finance__invoice_lines') }}
    where {{ affected_invoices_only('invoice_id') }}
),

invoice_ids as (
    select * from {{ ref('int_finance__invoice_ids') }}
),

decided as (
    select
        lines.*,
        invoice_ids.exclusion_reason as invoice_exclusion_reason,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from lines
    left join invoice_ids
        on lines.invoice_id = invoice_ids.invoice_id
)

select
    {{ star_except(['invoice_exclusion_reason']) }},
    case when quarantine_reason is null and invoice_exclusion_reason is not null
         then concat_ws('', 'invoice_', invoice_exclusion_reason) end as exclusion_reason
from decided
