{#- Payments: the merged delta state. A payment belongs to its invoice's account;
    its own account_id is informational. -#}
{%- set typed = {'payment_date': 'date', 'amount': 'number'} -%}

{%- set delta_key = ['payment_id'] -%}
{{ delta_state_config(delta_key) }}

with merged as (
    {{ newest_delta_rows(source('finance', 'payments'), delta_key) }}
)

select
    {{ text_value('payment_id') }} as payment_id,
    {{ text_value('invoice_id') }} as invoice_id,
    {{ text_value('account_id') }} as account_id,
    {{ parse_as('payment_date', typed['payment_date']) }} as payment_date,
    {{ parse_as('amount', typed['amount']) }} as amount,
    upper({{ text_value('currency') }}) as currency,

    {{ unparsable_columns(typed) }} as invalid_columns,
    {{ missing_columns(['payment_id', 'invoice_id', 'payment_date', 'amount', 'currency']) }} as missing_columns,
    {{ delta_duplicate_key() }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from merged
