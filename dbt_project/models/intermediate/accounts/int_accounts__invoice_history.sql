{#- First and last invoice dates over the valid invoices of type `invoice` (credit
    notes do not make a customer). -#}
select
    account_id,
    min(invoice_date) as first_invoice_date,
    max(invoice_date) as last_invoice_date
from {{ ref('int_finance__invoices_validated') }}
where quarantine_reason is null
  and exclusion_reason is null
  and invoice_type = 'invoice'
group by account_id
