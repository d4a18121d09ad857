{#- Payments with their quarantine reason or exclusion. A payment belongs to its
    invoice's account and must be in its invoice's currency.

    Incremental per invoice (macros/incremental.sql): a payment's row depends only
    on its staging row, its invoice's int_finance__invoice_ids row and whether it is
    dated after D. An incremental night recomputes the payments of the affected
    invoices, which include the invoice a re-sent payment pointed at before, and
    those without an invoice_id. -#}
{{ invoice_state_config() }}
-- depends_on: {{ ref('int_finance__affected_invoices') }}
{% set checks = [
    ('invalid_value', 'payments.invalid_columns is not null', 'payments.invalid_columns'),
    ('unknown_invoice', 'invoice_ids.invoice_id is null', 'payments.invoice_id'),
    ('invoice_quarantined', 'invoice_ids.is_quarantined', 'payments.invoice_id'),
    ('missing_mandatory_field', 'payments.missing_columns is not null', 'payments.missing_columns'),
    ('duplicate_key', 'payments.is_duplicate_key', none),
    ('payment_currency_mismatch', 'payments.currency <> invoice_ids.currency',
        "concat_ws('', payments.currency, ' vs invoice ', invoice_ids.currency)"),
] -%}

with payments as (
    select * from {{ ref('stg_finance__payments') }}
    where {{ affected_invoices_only('invoice_id') }}
),

invoice_ids as (
    select * from {{ ref('int_finance__invoice_ids') }}
),

decided as (
    select
        payments.*,
        invoice_ids.exclusion_reason as invoice_exclusion_reason,
        invoice_ids.invoice_type,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from payments
    left join invoice_ids
        on payments.invoice_id = invoice_ids.invoice_id
)

select
    {{ star_except(['invoice_exclusion_reason', 'invoice_type']) }},
    case
        when quarantine_reason is not null then null
        when invoice_exclusion_reason is not null then concat_ws('', 'invoice_', invoice_exclusion_reason)
        when payment_date > {{ as_of_date() }} then 'dated_after_as_of'
        -- credit notes are never open items and settle nothing
        when invoice_type = 'credit_note' then 'paid_on_credit_note'
    end as exclusion_reason
from decided
