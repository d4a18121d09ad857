{#- The most recent valid invoice of type `invoice` per account (latest invoice_date,
    ties: greatest invoice_id): its terms decide payment_terms_bucket. -#}
select
    account_id,
    invoice_id,
    invoice_date,
    payment_terms_days,
    early_payment_discount_pct
from {{ ref('int_finance__invoices_validated') }}
where quarantine_reason is null
  and exclusion_reason is null
  and invoice_type = 'invoice'
qualify row_number() over (partition by account_id order by invoice_date desc, invoice_id desc) = 1
