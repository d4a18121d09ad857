{%- set typed = {'quantity': 'number', 'net_amount': 'number', 'cost_amount': 'number'} -%}

{%- set delta_key = ['invoice_id', 'line_number'] -%}
{{ delta_state_config(delta_key) }}

with merged as (
    {{ newest_delta_rows(source('finance', 'invoice_lines'), delta_key) }}
)

select
    {{ text_value('invoice_id') }} as invoice_id,
    {{ text_value('line_number') }} as line_number,
    {{ text_value('product_line') }} as product_line,
    {{ parse_as('quantity', typed['quantity']) }} as quantity,
    {{ parse_as('net_amount', typed['net_amount']) }} as net_amount,
    {{ parse_as('cost_amount', typed['cost_amount']) }} as cost_amount,

    {{ unparsable_columns(typed) }} as invalid_columns,
    {{ missing_columns(['invoice_id', 'line_number', 'product_line', 'net_amount']) }} as missing_columns,
    {{ delta_duplicate_key() }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from merged
