{#- Who the account is: party_type, market, region, industry_vertical, size_tier.
    Each dimension comes with a machine-readable reason (`<rule>: <deciding values>`
    or `missing: <inputs>`). Thresholds, maps and word lists: configuration
    (dimensions.<name> in pipeline/config/segmentation.yml). -#}
{%- set vertical = 'dimensions.industry_vertical' -%}
{%- set size = 'dimensions.size_tier' -%}

with accounts as (
    select
        *,
        -- a valid NAICS code: 2-6 digits whose first two are a sector
        case when {{ regexp_full_match('industry_code', '[0-9]{2,6}') }}
              and left(industry_code, 2) in {{ cfg_string_list(vertical ~ '.naics_sectors') }}
             then left(industry_code, 2) end as naics_sector,
        -- the words of the free-text industry: maximal runs of Unicode letters
        {{ regexp_extract_all('lower(industry)', '\\p{L}+') }} as industry_words
    from {{ ref('int_accounts__enriched') }}
),

keyword_matches as (
    select
        account_id,
        naics_sector,
        {%- set keyword_lists = cfg(vertical ~ '.industry_keywords') or [] %}
        case
        {%- for keywords in keyword_lists %}
            when {{ list_length(list_intersect('industry_words', sql_string_array(keywords['words']))) }} > 0
                then {{ sql_string(keywords['vertical']) }}
        {%- endfor %}
        end as keyword_vertical,
        case
        {%- for keywords in keyword_lists %}
            when {{ list_length(list_intersect('industry_words', sql_string_array(keywords['words']))) }} > 0
                then {{ list_min_string(list_intersect('industry_words', sql_string_array(keywords['words']))) }}
        {%- endfor %}
        end as keyword
    from accounts
)

select
    accounts.account_id,

    coalesce(accounts.account_type, 'to_be_defined') as party_type,
    case when accounts.account_type is not null then concat_ws('', 'account_type: ', accounts.account_type)
         else 'missing: account_type' end as party_type_reason,

    case when accounts.country_code = {{ cfg_string('general.home_country') }} then 'domestic'
         else 'international' end as market,
    concat_ws('', 'country ', accounts.country_code,
           case when accounts.country_code = {{ cfg_string('general.home_country') }} then ' = ' else ' <> ' end,
           'home country ', {{ cfg_string('general.home_country') }}) as market_reason,

    {{ cfg_map_case('accounts.country_code', 'dimensions.region.countries', cfg_string('dimensions.region.fallback')) }} as region,
    concat_ws('', 'country ', accounts.country_code) as region_reason,

    case
        when keyword_matches.naics_sector is not null then
            {{ cfg_map_case('keyword_matches.naics_sector', vertical ~ '.naics_sector_verticals', cfg_string(vertical ~ '.fallback')) }}
        when keyword_matches.keyword_vertical is not null then keyword_matches.keyword_vertical
        when accounts.industry is not null then {{ cfg_string(vertical ~ '.fallback') }}
        else 'to_be_defined'
    end as industry_vertical,
    case
        when keyword_matches.naics_sector is not null
            then concat_ws('', 'industry_code ', accounts.industry_code, ' sector ', keyword_matches.naics_sector)
        when keyword_matches.keyword_vertical is not null
            then concat_ws('', 'industry word "', keyword_matches.keyword, '"',
                        case when accounts.industry_code is not null then ' (industry_code not a NAICS code)' else '' end)
        when accounts.industry is not null
            then 'industry text matches no keyword'
        when accounts.industry_code is not null
            then concat_ws('', 'missing: valid industry_code (', accounts.industry_code, ' is not a NAICS code), industry')
        else 'missing: industry_code, industry'
    end as industry_vertical_reason,

    case
        when accounts.account_type = 'individual' then 'consumer'
        when accounts.employee_count >= {{ cfg_number(size ~ '.min_employees.enterprise') }} then 'enterprise'
        when accounts.employee_count >= {{ cfg_number(size ~ '.min_employees.mid_market') }} then 'mid_market'
        when accounts.employee_count >= {{ cfg_number(size ~ '.min_employees.small') }} then 'small'
        when accounts.employee_count is not null then 'micro'
        when accounts.annual_revenue_base >= {{ cfg_number(size ~ '.min_annual_revenue.enterprise') }} then 'enterprise'
        when accounts.annual_revenue_base >= {{ cfg_number(size ~ '.min_annual_revenue.mid_market') }} then 'mid_market'
        when accounts.annual_revenue_base >= {{ cfg_number(size ~ '.min_annual_revenue.small') }} then 'small'
        when accounts.annual_revenue_base is not null then 'micro'
        else 'to_be_defined'
    end as size_tier,
    case
        when accounts.account_type = 'individual' then 'account_type: individual'
        when accounts.employee_count is not null then concat_ws('', 'employee_count ', accounts.employee_count)
        when accounts.annual_revenue_base is not null
            then concat_ws('', 'annual_revenue ', cast({{ round_double("accounts.annual_revenue_base", 2) }} as decimal(18, 2)), ' ', {{ cfg_string('general.base_currency') }},
                        ' (employee_count missing)')
        when accounts.annual_revenue is not null
            then concat_ws('', 'missing: employee_count; annual_revenue has no ', accounts.annual_revenue_currency, ' rate at as-of date')
        else 'missing: employee_count, annual_revenue'
    end as size_tier_reason
from accounts
inner join keyword_matches
    on accounts.account_id = keyword_matches.account_id
