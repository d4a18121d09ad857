{#- Receivables per published account, from the payment allocation: open_ar and
    overdue_ar (open amounts converted at D, rounded once to 2 decimals),
    max_days_overdue (0 when none), the evaluated invoices with avg_days_late (2
    decimals) and on_time_rate (4 decimals), disputes_12m, open_disputes, the oldest
    overdue invoice, and typical_pay_day. -#}
with accounts as (
    select account_id from {{ ref('int_accounts__enriched') }}
),

invoices as (
    select * from {{ ref('int_credit__invoice_allocation') }}
),

receivables as (
    select
        account_id,
        {{ round_double("sum(outstanding_base)", 2) }} as open_ar,
        {{ round_double("sum(case when is_overdue then outstanding_base end)", 2) }} as overdue_ar,
        max(days_overdue) as max_days_overdue,
        count(case when is_evaluated then 1 end) as evaluated_invoices,
        {{ round_double("avg(case when is_evaluated then days_late end)", 2) }} as avg_days_late,
        {{ round_double("count(case when is_evaluated and is_paid_on_time then 1 end) / nullif(count(case when is_evaluated then 1 end), 0)", 4) }} as on_time_rate,
        count(case when is_dispute_12m then 1 end) as disputes_12m,
        count(case when is_open_dispute then 1 end) as open_disputes
    from invoices
    group by account_id
),

oldest_overdue as (
    select account_id, invoice_id as oldest_overdue_invoice_id, due_date as oldest_overdue_due_date
    from invoices
    where is_overdue
    qualify row_number() over (partition by account_id order by due_date asc, invoice_id asc) = 1
),

pay_days as (
    select account_id, typical_pay_day
    from {{ ref('int_credit__pay_days') }}
)

select
    accounts.account_id,
    coalesce(receivables.open_ar, 0) as open_ar,
    coalesce(receivables.overdue_ar, 0) as overdue_ar,
    coalesce(receivables.max_days_overdue, 0) as max_days_overdue,
    coalesce(receivables.evaluated_invoices, 0) as evaluated_invoices,
    receivables.avg_days_late,
    receivables.on_time_rate,
    coalesce(receivables.disputes_12m, 0) as disputes_12m,
    coalesce(receivables.open_disputes, 0) as open_disputes,
    oldest_overdue.oldest_overdue_invoice_id,
    oldest_overdue.oldest_overdue_due_date,
    pay_days.typical_pay_day
from accounts
left join receivables
    on accounts.account_id = receivables.account_id
left join oldest_overdue
    on accounts.account_id = oldest_overdue.account_id
left join pay_days
    on accounts.account_id = pay_days.account_id
