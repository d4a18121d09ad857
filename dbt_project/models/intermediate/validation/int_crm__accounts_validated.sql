{#- Every row of the accounts snapshot with its quarantine reason (first that
    applies, rules order) or, when valid, its exclusion (closed accounts are counted,
    not published). -#}
{%- set checks = [
    ('invalid_value', 'accounts.invalid_columns is not null', 'accounts.invalid_columns'),
    ('missing_mandatory_field', 'accounts.missing_columns is not null', 'accounts.missing_columns'),
    ('unknown_country_code', 'countries.country_code is null', 'accounts.country_code'),
    ('created_after_as_of', 'accounts.created_date > ' ~ as_of_date(), 'cast(accounts.created_date as ' ~ dbt.type_string() ~ ')'),
    ('duplicate_key', 'accounts.is_duplicate_key', none),
] -%}

with accounts as (
    select * from {{ ref('stg_crm__accounts') }}
),

countries as (
    select * from {{ ref('stg_reference__iso_countries') }}
),

decided as (
    select
        accounts.*,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from accounts
    left join countries
        on accounts.country_code = countries.country_code
)

select
    *,
    case when quarantine_reason is null and status = 'closed' then 'closed_account' end as exclusion_reason
from decided
