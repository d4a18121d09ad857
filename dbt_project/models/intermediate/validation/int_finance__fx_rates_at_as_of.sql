{#- One rate per currency for conversions "at D": the newest valid rate dated on or
    before the as-of date; the base currency's rate is 1. -#}
with usable_rates as (
    select currency, rate_date, rate_to_base
    from {{ ref('int_finance__fx_rates_validated') }}
    where quarantine_reason is null and exclusion_reason is null
),

newest as (
    select currency, rate_to_base
    from usable_rates
    qualify row_number() over (partition by currency order by rate_date desc) = 1
)

select currency, rate_to_base
from newest
where currency <> {{ cfg_string('general.base_currency') }}
union all
select {{ cfg_string('general.base_currency') }} as currency, 1.0 as rate_to_base
