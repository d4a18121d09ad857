{#- The bureau report of each published account. Quarantined reports and reports
    dated after D never take part. When the account has a duns_number and some report
    has the same one (compared as strings, leading zeros kept), the candidates are
    those reports; else the reports with the same normalised registration_number
    (upper case, whitespace, dots and dashes removed) and the same country_code. The
    match is the newest candidate (ties: greatest bureau_ref). It is stale, and treated
    as absent, when D - report_date > credit.bureau_stale_after_days; a stale DUNS
    match does not fall back to a registration match. The recommended limit is
    converted at D from limit_currency (empty: the base currency). -#}
with accounts as (
    select
        published.account_id,
        crm.country_code,
        crm.duns_number,
        nullif({{ regexp_replace_all('upper(crm.registration_number)', '[\\s.\\-]', '') }}, '') as registration_key
    from {{ ref('int_accounts__enriched') }} as published
    inner join {{ ref('int_crm__accounts_validated') }} as crm
        on published.account_id = crm.account_id
        and crm.quarantine_reason is null
        and crm.exclusion_reason is null
),

reports as (
    select
        bureau_ref,
        duns_number,
        nullif({{ regexp_replace_all('upper(registration_number)', '[\\s.\\-]', '') }}, '') as registration_key,
        country_code,
        credit_score,
        recommended_limit,
        coalesce(limit_currency, {{ cfg_string('general.base_currency') }}) as limit_currency,
        insolvency_flag,
        report_date
    from {{ ref('int_bureau__company_scores_validated') }}
    where quarantine_reason is null
      and report_date <= {{ as_of_date() }}
),

duns_candidates as (
    select accounts.account_id, 'duns_number' as matched_on, reports.*
    from accounts
    inner join reports
        on accounts.duns_number = reports.duns_number
),

registration_candidates as (
    select accounts.account_id, 'registration_number' as matched_on, reports.*
    from accounts
    inner join reports
        on accounts.registration_key = reports.registration_key
        and accounts.country_code = reports.country_code
    where accounts.account_id not in (select account_id from duns_candidates)
),

matched as (
    select *
    from (
        select * from duns_candidates
        union all
        select * from registration_candidates
    ) as candidates
    qualify row_number() over (partition by account_id order by report_date desc, bureau_ref desc) = 1
),

rates_at_as_of as (
    select currency, rate_to_base
    from {{ ref('int_finance__fx_rates_at_as_of') }}
),

judged as (
    select
        matched.*,
        {{ credit_days_before_as_of('matched.report_date') }} as report_age_days,
        {{ credit_days_before_as_of('matched.report_date') }} > {{ cfg_number('credit.bureau_stale_after_days') }} as is_stale,
        rates_at_as_of.rate_to_base as limit_rate_at_as_of
    from matched
    left join rates_at_as_of
        on matched.limit_currency = rates_at_as_of.currency
)

select
    accounts.account_id,
    judged.bureau_ref,
    judged.matched_on,
    judged.report_date,
    judged.report_age_days,
    coalesce(judged.is_stale, false) as is_stale,
    -- a stale report is treated as absent
    case when not judged.is_stale then judged.bureau_ref end as current_bureau_ref,
    case when not judged.is_stale then judged.credit_score end as bureau_score,
    coalesce(not judged.is_stale and judged.insolvency_flag, false) as insolvency_flag,
    case when not judged.is_stale and judged.recommended_limit > 0
         then judged.recommended_limit * judged.limit_rate_at_as_of end as recommended_limit_base,
    case
        when judged.bureau_ref is null then 'no_bureau_match'
        when judged.is_stale then concat_ws('', 'stale_bureau_report: ', judged.bureau_ref, ' of ', judged.report_date,
                                         ' is ', judged.report_age_days, ' days old > ',
                                         {{ cfg_number('credit.bureau_stale_after_days') }})
        else concat_ws('', 'bureau_ref ', judged.bureau_ref, ' by ', judged.matched_on, ' of ', judged.report_date)
    end as bureau_reason
from accounts
left join judged
    on accounts.account_id = judged.account_id
