{#- Credit bureau reports. The unknown-country check needs the ISO list and is made
    in int_bureau__company_scores_validated. -#}
{%- set typed = {
    'credit_score': 'number',
    'recommended_limit': 'number',
    'payment_index': 'number',
    'insolvency_flag': 'boolean',
    'report_date': 'date',
} -%}

with source as (
    select * from {{ source('bureau', 'company_scores') }}
)

select
    {{ text_value('bureau_ref') }} as bureau_ref,
    {{ text_value('duns_number') }} as duns_number,
    {{ text_value('registration_number') }} as registration_number,
    upper({{ text_value('country_code') }}) as country_code,
    {{ parse_as('credit_score', typed['credit_score']) }} as credit_score,
    {{ text_value('rating') }} as rating,
    {{ parse_as('recommended_limit', typed['recommended_limit']) }} as recommended_limit,
    upper({{ text_value('limit_currency') }}) as limit_currency,
    {{ parse_as('payment_index', typed['payment_index']) }} as payment_index,
    coalesce({{ parse_as('insolvency_flag', typed['insolvency_flag']) }}, false) as insolvency_flag,
    {{ parse_as('report_date', typed['report_date']) }} as report_date,

    nullif(concat_ws(', ',
        {{ unparsable_columns(typed) }},
        case when not {{ parse_as('credit_score', typed['credit_score']) }} between 0 and 100 then 'credit_score' end,
        case when not {{ parse_as('payment_index', typed['payment_index']) }} between 0 and 100 then 'payment_index' end
    ), '') as invalid_columns,
    {{ missing_columns(['bureau_ref', 'country_code', 'report_date']) }} as missing_columns,
    {{ is_duplicate_key(['bureau_ref']) }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from source
