{#- One row per invoice_id of the merged invoices: what a payment or an invoice line
    pointing at it needs to know (unknown, quarantined, excluded, its currency and
    type). Built once: both feeds read it (16 M invoices at a million accounts).
    Incremental per invoice: on an incremental night only the affected invoices'
    rows are recomputed (macros/incremental.sql). -#}
{{ invoice_state_config() }}
-- depends_on: {{ ref('int_finance__affected_invoices') }}
select
    invoice_id,
    bool_and(quarantine_reason is not null) as is_quarantined,
    max(exclusion_reason) as exclusion_reason,
    max(currency) as currency,
    max(invoice_type) as invoice_type
from {{ ref('int_finance__invoices_validated') }}
where invoice_id is not null
  and {{ affected_invoices_only('invoice_id') }}
group by invoice_id
