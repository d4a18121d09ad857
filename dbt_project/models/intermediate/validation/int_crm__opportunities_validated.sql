{#- Opportunities with their quarantine reason or exclusion, and the FX rate at the
    as-of date (a missing currency is the base currency). -#}
{%- set checks = [
    ('invalid_value', 'opportunities.invalid_columns is not null', 'opportunities.invalid_columns'),
    ('missing_mandatory_field', 'opportunities.missing_columns is not null', 'opportunities.missing_columns'),
    ('unknown_account', 'account_ids.account_id is null', 'opportunities.account_id'),
    ('account_quarantined', 'account_ids.is_quarantined', 'opportunities.account_id'),
    ('missing_fx_rate', 'rates.rate_to_base is null', 'opportunities.currency'),
    ('duplicate_key', 'opportunities.is_duplicate_key', none),
] -%}

with opportunities as (
    select
        {{ star_replace(ref('stg_crm__opportunities'), {'currency': "coalesce(currency, " ~ cfg_string('general.base_currency') ~ ")"}) }}
    from {{ ref('stg_crm__opportunities') }}
),

account_ids as (
    select * from {{ ref('int_crm__account_ids') }}
),

rates as (
    select * from {{ ref('int_finance__fx_rates_at_as_of') }}
),

decided as (
    select
        opportunities.*,
        rates.rate_to_base,
        account_ids.exclusion_reason as account_exclusion_reason,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from opportunities
    left join account_ids
        on opportunities.account_id = account_ids.account_id
    left join rates
        on opportunities.currency = rates.currency
)

select
    {{ star_except(['account_exclusion_reason']) }},
    case when quarantine_reason is null then account_exclusion_reason end as exclusion_reason
from decided
