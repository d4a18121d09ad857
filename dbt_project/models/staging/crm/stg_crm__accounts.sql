{#- Accounts snapshot, typed and normalised, with the row-level quarantine evidence.
    Cross-entity and final quarantine decisions: int_crm__accounts_validated. -#}
{%- set typed = {
    'employee_count': 'integer',
    'annual_revenue': 'number',
    'is_strategic': 'boolean',
    'status': ['active', 'closed'],
    'created_at': 'timestamp_date',
} -%}

with source as (
    select * from {{ source('crm', 'accounts') }}
)

select
    {{ text_value('account_id') }} as account_id,
    {{ text_value('account_name') }} as account_name,
    -- an account_type or service_level outside its list reads as missing (rules, conventions)
    {{ parse_as('account_type', ['business', 'individual']) }} as account_type,
    {{ text_value('registration_number') }} as registration_number,
    {{ text_value('duns_number') }} as duns_number,
    upper({{ text_value('country_code') }}) as country_code,
    {{ text_value('region_code') }} as region_code,
    {{ text_value('industry_code') }} as industry_code,
    {{ text_value('industry') }} as industry,
    -- a negative employee_count or annual_revenue reads as missing
    case when {{ parse_as('employee_count', typed['employee_count']) }} >= 0
         then {{ parse_as('employee_count', typed['employee_count']) }} end as employee_count,
    case when {{ parse_as('annual_revenue', typed['annual_revenue']) }} >= 0
         then {{ parse_as('annual_revenue', typed['annual_revenue']) }} end as annual_revenue,
    upper({{ text_value('currency') }}) as currency,
    {{ text_value('sales_channel') }} as sales_channel,
    {{ text_value('owner_id') }} as owner_id,
    {{ parse_as('service_level', ['platinum', 'gold', 'silver', 'standard']) }} as service_level,
    coalesce({{ parse_as('is_strategic', typed['is_strategic']) }}, false) as is_strategic,
    {{ text_value('parent_account_id') }} as parent_account_id,
    coalesce({{ parse_as('status', typed['status']) }}, 'active') as status,
    {{ parse_as('created_at', typed['created_at']) }} as created_date,

    {{ unparsable_columns(typed) }} as invalid_columns,
    {{ missing_columns(['account_id', 'account_name', 'country_code', 'created_at']) }} as missing_columns,
    {{ is_duplicate_key(['account_id']) }} as is_duplicate_key,

    _file_name,
    _row_number,
    _extract_date
from source
