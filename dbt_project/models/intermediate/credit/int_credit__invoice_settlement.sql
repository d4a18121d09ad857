{#- Payment allocation, the part that depends on D only through which invoices and
    payments are dated on or before D: one row per valid invoice of type `invoice`
    (not void, dated on or before D, not quarantined, of an active account) with the
    payments allocated to it and its paid date. Credit notes are never open items
    and settle nothing. int_credit__invoice_allocation adds, every night, what
    depends on D itself (overdue, evaluated, disputes, outstanding at D's rate).

    An invoice is paid on the first date on which the cumulative payments dated on or
    before D reach total_amount x (1 - early_payment_discount_pct / 100) -
    credit.payment_tolerance; otherwise it is open with outstanding total_amount -
    payments (converted at D in int_credit__invoice_allocation). Payments in another currency than the invoice's are
    quarantined upstream (payment_currency_mismatch) and never reach this model.
    Amounts are compared as exact decimals.

    Incremental per invoice (macros/incremental.sql): an invoice's row depends only
    on its validated row and its validated payments, so an incremental night
    recomputes the rows of int_finance__affected_invoices (which holds every invoice
    or payment newly dated on or before D). -#}
{{ invoice_state_config() }}
-- depends_on: {{ ref('int_finance__affected_invoices') }}
with invoices as (
    select
        invoice_id,
        account_id,
        invoice_date,
        due_date,
        currency,
        {{ credit_money('total_amount') }} as total_amount,
        early_payment_discount_pct,
        dispute_opened_at,
        dispute_resolved_at,
        -- what settles the invoice: the total less the early-payment discount, less the tolerance
        {{ credit_money('total_amount') }}
            * (1 - 0.01 * {{ credit_money('early_payment_discount_pct') }})
            - {{ cfg_number('credit.payment_tolerance') }} as settlement_amount
    from {{ ref('int_finance__invoices_validated') }}
    where quarantine_reason is null
      and exclusion_reason is null
      and invoice_type = 'invoice'
      and {{ affected_invoices_only('invoice_id') }}
),

payments_per_date as (
    -- valid payments only: quarantined ones (wrong currency, ...) and those dated after D are out
    select
        invoice_id,
        payment_date,
        sum({{ credit_money('amount') }}) as amount
    from {{ ref('int_finance__payments_validated') }}
    where quarantine_reason is null
      and exclusion_reason is null
      and {{ affected_invoices_only('invoice_id') }}
    group by invoice_id, payment_date
),

cumulative as (
    select
        payments_per_date.invoice_id,
        payments_per_date.payment_date,
        sum(payments_per_date.amount) over (
            partition by payments_per_date.invoice_id
            order by payments_per_date.payment_date
            rows between unbounded preceding and current row
        ) as cumulative_amount
    from payments_per_date
),

settled as (
    select
        invoices.invoice_id,
        max(cumulative.cumulative_amount) as paid_amount,
        min(case when cumulative.cumulative_amount >= invoices.settlement_amount
                 then cumulative.payment_date end) as paid_date
    from invoices
    inner join cumulative
        on invoices.invoice_id = cumulative.invoice_id
    group by invoices.invoice_id
)

select
    invoices.invoice_id,
    invoices.account_id,
    invoices.invoice_date,
    invoices.due_date,
    invoices.currency,
    invoices.total_amount,
    invoices.early_payment_discount_pct,
    invoices.settlement_amount,
    coalesce(settled.paid_amount, 0) as paid_amount,
    settled.paid_date,
    settled.paid_date is null as is_open,
    invoices.dispute_opened_at,
    invoices.dispute_resolved_at
from invoices
left join settled
    on invoices.invoice_id = settled.invoice_id
