{%- set checks = [
    ('invalid_value', 'reports.invalid_columns is not null or (reports.country_code is not null and countries.country_code is null)',
        "concat_ws(', ', reports.invalid_columns, case when countries.country_code is null then 'country_code' end)"),
    ('missing_mandatory_field', 'reports.missing_columns is not null', 'reports.missing_columns'),
    ('duplicate_key', 'reports.is_duplicate_key', none),
] -%}

with reports as (
    select * from {{ ref('stg_bureau__company_scores') }}
),

countries as (
    select * from {{ ref('stg_reference__iso_countries') }}
),

decided as (
    select
        reports.*,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from reports
    left join countries
        on reports.country_code = countries.country_code
)

select
    *,
    case when quarantine_reason is null and report_date > {{ as_of_date() }}
         then 'dated_after_as_of' end as exclusion_reason
from decided
