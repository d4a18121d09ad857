{#- Invoices and credit notes: the merged delta state (newest version of each
    invoice_id), typed, with the row-level quarantine evidence. The invoice `status`
    only tells `void`; paid or open is computed from payments. -#}
{%- set typed = {
    'invoice_type': ['invoice', 'credit_note'],
    'invoice_date': 'date',
    'due_date': 'date',
    'total_amount': 'number',
    'status': ['open', 'paid', 'void'],
    'payment_terms_days': 'integer',
    'early_payment_discount_pct': 'number',
    'disputed': 'boolean',
    'dispute_opened_at': 'date',
    'dispute_resolved_at': 'date',
} -%}

{%- set delta_key = ['invoice_id'] -%}
{{ delta_state_config(delta_key) }}

with merged as (
    {{ newest_delta_rows(source('finance', 'invoices'), delta_key) }}
)

select
    {{ text_value('invoice_id') }} as invoice_id,
    {{ text_value('account_id') }} as account_id,
    coalesce({{ parse_as('invoice_type', typed['invoice_type']) }}, 'invoice') as invoice_type,
    {{ parse_as('invoice_date', typed['invoice_date']) }} as invoice_date,
    {{ parse_as('due_date', typed['due_date']) }} as due_date,
    upper({{ text_value('currency') }}) as currency,
    {{ parse_as('total_amount', typed['total_amount']) }} as total_amount,
    {{ parse_as('status', typed['status']) }} as status,
    coalesce({{ parse_as('status', typed['status']) }} = 'void', false) as is_void,
    {{ parse_as('payment_terms_days', typed['payment_terms_days']) }} as payment_terms_days,
    coalesce({{ parse_as('early_payment_discount_pct', typed['early_payment_discount_pct']) }}, 0) as early_payment_discount_pct,
    coalesce({{ parse_as('disputed', typed['disputed']) }}, false) as disputed,
    {{ parse_as('dispute_opened_at', typed['dispute_opened_at']) }} as dispute_opened_at,
    {{ parse_as('dispute_resolved_at', typed['dispute_resolved_at']) }} as dispute_resolved_at,

    {{ unparsable_columns(typed) }} as invalid_columns,
    nullif(concat_ws(', ',
        {{ missing_columns(['invoice_id', 'account_id', 'invoice_date', 'currency', 'total_amount']) }},
        -- due_date is mandatory for invoices only, not for credit notes
        case when coalesce({{ parse_as('invoice_type', typed['invoice_type']) }}, 'invoice') = 'invoice'
              and {{ text_value('due_date') }} is null then 'due_date' end
    ), '') as missing_columns,
    {{ delta_duplicate_key() }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from merged
