{#- Every invoice of the merged delta state with its quarantine reason or exclusion,
    and the FX rate of its invoice date (newest valid rate on or before it; the base
    currency's rate is 1).

    Incremental per invoice (macros/incremental.sql): on an incremental night only
    the rows of int_finance__affected_invoices (and those without an invoice_id)
    are recomputed: an invoice's row depends only on its staging row, its account's
    int_crm__account_ids row, its currency's usable rates and whether it is dated
    after D. -#}
{{ invoice_state_config() }}
-- depends_on: {{ ref('int_finance__affected_invoices') }}
{% set checks = [
    ('invalid_value', 'invoices.invalid_columns is not null', 'invoices.invalid_columns'),
    ('missing_mandatory_field', 'invoices.missing_columns is not null', 'invoices.missing_columns'),
    ('unknown_account', 'account_ids.account_id is null', 'invoices.account_id'),
    ('account_quarantined', 'account_ids.is_quarantined', 'invoices.account_id'),
    ('due_date_before_invoice_date', 'invoices.due_date < invoices.invoice_date', none),
    ('negative_total_on_invoice', "invoices.invoice_type = 'invoice' and invoices.total_amount < 0", none),
    ('missing_fx_rate', "invoices.currency <> " ~ cfg_string('general.base_currency') ~ " and rate_at_invoice_date.rate_to_base is null", 'invoices.currency'),
    ('duplicate_key', 'invoices.is_duplicate_key', none),
] -%}

with invoices as (
    select * from {{ ref('stg_finance__invoices') }}
    where {{ affected_invoices_only('invoice_id') }}
),

account_ids as (
    select * from {{ ref('int_crm__account_ids') }}
),

usable_rates as (
    select currency, rate_date, rate_to_base
    from {{ ref('int_finance__fx_rates_validated') }}
    where quarantine_reason is null
),

decided as (
    select
        invoices.*,
        case when invoices.currency = {{ cfg_string('general.base_currency') }} then 1.0
             else rate_at_invoice_date.rate_to_base end as rate_to_base,
        account_ids.exclusion_reason as account_exclusion_reason,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from invoices
    left join account_ids
        on invoices.account_id = account_ids.account_id
    {{ asof_left_join('invoices', 'usable_rates', 'rate_at_invoice_date',
                      'currency', 'currency', 'invoice_date', 'rate_date') }}
)

select
    {{ star_except(['account_exclusion_reason']) }},
    case
        when quarantine_reason is not null then null
        when is_void then 'void'
        when invoice_date > {{ as_of_date() }} then 'dated_after_as_of'
        when account_exclusion_reason is not null then account_exclusion_reason
    end as exclusion_reason
from decided
