{#- Contacts snapshot. Personal data: only validated and counted, never published. -#}
{%- set typed = {'is_primary': 'boolean'} -%}

with source as (
    select * from {{ source('crm', 'contacts') }}
)

select
    {{ text_value('contact_id') }} as contact_id,
    {{ text_value('account_id') }} as account_id,
    {{ text_value('role') }} as role,
    {{ parse_as('is_primary', typed['is_primary']) }} as is_primary,

    {{ unparsable_columns(typed) }} as invalid_columns,
    {{ missing_columns(['contact_id', 'account_id']) }} as missing_columns,
    {{ is_duplicate_key(['contact_id']) }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from source
