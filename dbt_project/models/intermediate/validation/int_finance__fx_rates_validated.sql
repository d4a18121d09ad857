{%- set checks = [
    ('invalid_value', 'invalid_columns is not null', 'invalid_columns'),
    ('missing_mandatory_field', 'missing_columns is not null', 'missing_columns'),
    ('duplicate_key', 'is_duplicate_key', none),
] -%}

with rates as (
    select * from {{ ref('stg_finance__fx_rates') }}
),

decided as (
    select
        *,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from rates
)

select
    *,
    -- a rate dated after the as-of date converts nothing of this run
    case when quarantine_reason is null and rate_date > {{ as_of_date() }}
         then 'dated_after_as_of' end as exclusion_reason
from decided
