{#- Exchange rates: one unit of `currency` in the base currency, per rate_date. -#}
{%- set typed = {'rate_date': 'date', 'rate_to_base': 'number'} -%}

with source as (
    select * from {{ source('finance', 'fx_rates') }}
)

select
    upper({{ text_value('currency') }}) as currency,
    {{ parse_as('rate_date', typed['rate_date']) }} as rate_date,
    {{ parse_as('rate_to_base', typed['rate_to_base']) }} as rate_to_base,

    nullif(concat_ws(', ',
        {{ unparsable_columns(typed) }},
        case when {{ parse_as('rate_to_base', typed['rate_to_base']) }} <= 0 then 'rate_to_base' end
    ), '') as invalid_columns,
    {{ missing_columns(['currency', 'rate_date', 'rate_to_base']) }} as missing_columns,
    -- the key compared as normalised values: 'usd' and 'USD' on one date are one key
    (
        {{ text_value('currency') }} is not null and {{ text_value('rate_date') }} is not null
        and count(*) over (partition by upper({{ text_value('currency') }}), {{ text_value('rate_date') }}) > 1
    ) as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from source
