{#- Manual overrides as delivered; their validity is decided in the marts, against
    the declared segments and the published accounts. -#}
{%- set typed = {'valid_until': 'date'} -%}

with source as (
    select * from {{ source('manual', 'overrides') }}
)

select
    {{ text_value('account_id') }} as account_id,
    lower({{ text_value('dimension') }}) as dimension,
    {{ text_value('segment') }} as segment,
    {{ text_value('reason') }} as reason,
    {{ text_value('owner') }} as owner,
    {{ parse_as('valid_until', typed['valid_until']) }} as valid_until,
    {{ unparsable_columns(typed) }} as invalid_columns,
    _file_name,
    _row_number
from source
