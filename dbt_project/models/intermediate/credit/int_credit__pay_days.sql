{#- typical_pay_day: one row per account with at least one payment on its valid
    invoices of type `invoice` dated in (D - credit.pay_day_lookback_days, D].
    One count per payment row; the day of month is capped at
    credit.pay_day_month_end_cap (28: the 28th to the 31st are one month-end day).
    With at least credit.pay_day_min_distinct_dates distinct payment dates, m is the
    most frequent capped day (ties: the smallest); when at least
    credit.pay_day_min_share of the payments have a capped day d with
    |d - m| <= credit.pay_day_tolerance_days (not circular), typical_pay_day = m. -#}
with invoices as (
    select invoice_id, account_id
    from {{ ref('int_finance__invoices_validated') }}
    where quarantine_reason is null
      and exclusion_reason is null
      and invoice_type = 'invoice'
),

payments as (
    select
        invoices.account_id,
        payments.payment_id,
        payments.payment_date,
        least(extract(day from payments.payment_date), {{ cfg_number('credit.pay_day_month_end_cap') }}) as pay_day
    from {{ ref('int_finance__payments_validated') }} as payments
    inner join invoices
        on payments.invoice_id = invoices.invoice_id
    where payments.quarantine_reason is null
      and payments.exclusion_reason is null
      and {{ credit_in_window('payments.payment_date', cfg_number('credit.pay_day_lookback_days')) }}
),

per_day as (
    select account_id, pay_day, count(*) as day_payments
    from payments
    group by account_id, pay_day
),

modal as (
    select account_id, pay_day as modal_pay_day, day_payments as modal_payments
    from per_day
    qualify row_number() over (partition by account_id order by day_payments desc, pay_day asc) = 1
),

summary as (
    select
        payments.account_id,
        count(*) as payments,
        count(distinct payments.payment_date) as distinct_payment_dates,
        any_value(modal.modal_pay_day) as modal_pay_day,
        count(case when abs(payments.pay_day - modal.modal_pay_day) <= {{ cfg_number('credit.pay_day_tolerance_days') }}
                   then 1 end) as payments_near_mode
    from payments
    inner join modal
        on payments.account_id = modal.account_id
    group by payments.account_id
)

select
    account_id,
    payments,
    distinct_payment_dates,
    modal_pay_day,
    payments_near_mode,
    case
        when distinct_payment_dates >= {{ cfg_number('credit.pay_day_min_distinct_dates') }}
         -- exact decimal share: 4 of 5 is 80 %
         and payments_near_mode >= {{ cfg_share('credit.pay_day_min_share') }} * payments
            then cast(modal_pay_day as integer)
    end as typical_pay_day
from summary
