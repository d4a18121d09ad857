{#- Payment allocation: one row per valid invoice of type `invoice` (not void, dated
    on or before D, not quarantined, of an active account) with its paid date or its
    open amount at D. Credit notes are never open items and settle nothing.

    An invoice is paid on the first date on which the cumulative payments dated on or
    before D reach total_amount x (1 - early_payment_discount_pct / 100) -
    credit.payment_tolerance; otherwise it is open with outstanding total_amount -
    payments, converted at D. Payments in another currency than the invoice's are
    quarantined upstream (payment_currency_mismatch) and never reach this model.
    Amounts are compared as exact decimals. -#}
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
),

rates_at_as_of as (
    select currency, rate_to_base
    from {{ ref('int_finance__fx_rates_at_as_of') }}
),

allocated as (
    select
        invoices.*,
        coalesce(settled.paid_amount, 0) as paid_amount,
        settled.paid_date,
        settled.paid_date is null as is_open,
        rates_at_as_of.rate_to_base as rate_at_as_of,
        {{ credit_days_before_as_of('invoices.due_date') }} as days_past_due
    from invoices
    left join settled
        on invoices.invoice_id = settled.invoice_id
    left join rates_at_as_of
        on invoices.currency = rates_at_as_of.currency
)

select
    invoice_id,
    account_id,
    invoice_date,
    due_date,
    currency,
    total_amount,
    early_payment_discount_pct,
    settlement_amount,
    paid_amount,
    paid_date,
    is_open,
    case when is_open then total_amount - paid_amount end as outstanding_amount,
    -- converted at D, full precision (rounded once per account)
    case when is_open then cast(total_amount - paid_amount as double) * rate_at_as_of end as outstanding_base,
    is_open and due_date < {{ as_of_date() }} as is_overdue,
    case when is_open and due_date < {{ as_of_date() }} then days_past_due end as days_overdue,

    -- evaluated: due in the 12-month window, and paid or past due
    (
        {{ credit_in_window('due_date', cfg_number('general.window_days')) }}
        and (not is_open or due_date < {{ as_of_date() }})
    ) as is_evaluated,
    case
        when not is_open then greatest(0, {{ dbt.datediff('due_date', 'paid_date', 'day') }})
        when due_date < {{ as_of_date() }} then days_past_due
    end as days_late,
    not is_open and paid_date <= due_date as is_paid_on_time,

    dispute_opened_at,
    dispute_resolved_at,
    coalesce({{ credit_in_window('dispute_opened_at', cfg_number('general.window_days')) }}, false) as is_dispute_12m,
    coalesce(
        dispute_opened_at <= {{ as_of_date() }}
        and (dispute_resolved_at is null or dispute_resolved_at > {{ as_of_date() }}),
        false
    ) as is_open_dispute
from allocated
