{%- set typed = {
    'stage': ['prospecting', 'qualification', 'proposal', 'negotiation', 'closed_won', 'closed_lost'],
    'amount': 'number',
    'close_date': 'date',
} -%}

with source as (
    select * from {{ source('crm', 'opportunities') }}
)

select
    {{ text_value('opportunity_id') }} as opportunity_id,
    {{ text_value('account_id') }} as account_id,
    {{ parse_as('stage', typed['stage']) }} as stage,
    {{ parse_as('amount', typed['amount']) }} as amount,
    upper({{ text_value('currency') }}) as currency,
    {{ parse_as('close_date', typed['close_date']) }} as close_date,
    {{ text_value('product_line') }} as product_line,

    {{ unparsable_columns(typed) }} as invalid_columns,
    {{ missing_columns(['opportunity_id', 'account_id', 'stage']) }} as missing_columns,
    {{ is_duplicate_key(['opportunity_id']) }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from source
