{#- Payment allocation: one row per valid invoice of type `invoice` (not void, dated
    on or before D, not quarantined, of an active account) with its paid date or its
    open amount at D. Credit notes are never open items and settle nothing.

    The settlement (payments dated on or before D, paid date, open or not) is the
    per-invoice incremental table int_credit__invoice_settlement; this view adds
    what depends on D itself, in one scan every night: the outstanding amount
    total_amount - payments converted at D, overdue, days past due, evaluated for
    lateness, days late, disputes at D. -#}
{{ config(materialized='view') }}

with settlement as (
    select * from {{ ref('int_credit__invoice_settlement') }}
),

rates_at_as_of as (
    select currency, rate_to_base
    from {{ ref('int_finance__fx_rates_at_as_of') }}
),

allocated as (
    select
        settlement.*,
        rates_at_as_of.rate_to_base as rate_at_as_of,
        {{ credit_days_before_as_of('settlement.due_date') }} as days_past_due
    from settlement
    left join rates_at_as_of
        on settlement.currency = rates_at_as_of.currency
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
