-- The floor: the whole segmentation as one hand-written DuckDB script (issue 7).
--
-- It reads the landing folder once per entity (the snapshot / delta rules of the data
-- contract), applies the validation rules that decide which rows are used (a row the
-- pipeline quarantines is never used here either; there is no quarantine table) and
-- every rule of segmentation-rules.md, and writes `floor_segmented_accounts`: the
-- columns of analytics.segmented_accounts except `segment_reasons`, `ruleset_version`
-- and `run_id`. No orchestration, no checks, no quarantine table, no history, no
-- publication swap: it is the reference of what the hardware can do, timed by
-- `segmentation bench` against the pipeline.
--
-- Parameters: the variables below. Each run parameter keeps a value set before the
-- script runs (pipeline/bench/floor.py sets landing_dir, as_of, overrides_file and
-- iso_countries), else takes its default. The rule thresholds, maps and lists are the
-- DEFAULT configuration (pipeline/config/segmentation.yml) hard-coded here: the floor
-- does not read a --config file (tests/test_floor.py checks they are the defaults).
--
-- CSV dialect as pipeline/ingest reads it: header row, comma, RFC 4180 double quotes,
-- every column text, a UTF-8 BOM tolerated, column names trimmed, case-insensitive and
-- in any order, unknown columns ignored, an absent optional column null. Parquet
-- columns are read as their text form (VARCHAR), then typed by the same parsing rules
-- as CSV text. Unlike the pipeline, the floor does not refuse bad files (unreadable,
-- not UTF-8, two files of one entity and date, a required column missing, a header
-- name with a comma inside quotes): it assumes a landing folder the pipeline accepts.
--
-- Validation: only what decides whether a row is used. A row is used when none of its
-- quarantine reasons applies (rules order does not matter here) and no exclusion does
-- (void, dated after D, closed account, ...); a row whose account or invoice is not
-- used is not used either, which covers unknown_account, account_quarantined,
-- unknown_invoice and invoice_quarantined.

set TimeZone = 'UTC';

-- --- run parameters -------------------------------------------------------------------
set variable landing_dir = coalesce(getvariable('landing_dir'), 'data/landing');
set variable as_of = coalesce(getvariable('as_of'), current_date);
set variable overrides_file = coalesce(getvariable('overrides_file'), getvariable('landing_dir') || '/overrides.csv');
-- officially assigned ISO 3166-1 alpha-2 codes (floor.py passes pycountry's list)
set variable iso_countries = coalesce(getvariable('iso_countries'), [
    'AD','AE','AF','AG','AI','AL','AM','AO','AQ','AR','AS','AT','AU','AW','AX','AZ','BA','BB','BD','BE','BF','BG',
    'BH','BI','BJ','BL','BM','BN','BO','BQ','BR','BS','BT','BV','BW','BY','BZ','CA','CC','CD','CF','CG','CH','CI',
    'CK','CL','CM','CN','CO','CR','CU','CV','CW','CX','CY','CZ','DE','DJ','DK','DM','DO','DZ','EC','EE','EG','EH',
    'ER','ES','ET','FI','FJ','FK','FM','FO','FR','GA','GB','GD','GE','GF','GG','GH','GI','GL','GM','GN','GP','GQ',
    'GR','GS','GT','GU','GW','GY','HK','HM','HN','HR','HT','HU','ID','IE','IL','IM','IN','IO','IQ','IR','IS','IT',
    'JE','JM','JO','JP','KE','KG','KH','KI','KM','KN','KP','KR','KW','KY','KZ','LA','LB','LC','LI','LK','LR','LS',
    'LT','LU','LV','LY','MA','MC','MD','ME','MF','MG','MH','MK','ML','MM','MN','MO','MP','MQ','MR','MS','MT','MU',
    'MV','MW','MX','MY','MZ','NA','NC','NE','NF','NG','NI','NL','NO','NP','NR','NU','NZ','OM','PA','PE','PF','PG',
    'PH','PK','PL','PM','PN','PR','PS','PT','PW','PY','QA','RE','RO','RS','RU','RW','SA','SB','SC','SD','SE','SG',
    'SH','SI','SJ','SK','SL','SM','SN','SO','SR','SS','ST','SV','SX','SY','SZ','TC','TD','TF','TG','TH','TJ','TK',
    'TL','TM','TN','TO','TR','TT','TV','TW','TZ','UA','UG','UM','US','UY','UZ','VA','VC','VE','VG','VI','VN','VU',
    'WF','WS','YE','YT','ZA','ZM','ZW']);

-- --- the default configuration (pipeline/config/segmentation.yml) -----------------------
set variable base_currency = 'EUR';
set variable home_country = 'NL';
set variable window_days = 365;
set variable tenure_new_within_days = 180;
set variable value_high_min_revenue = 100000;
set variable value_medium_min_revenue = 10000;
set variable pareto_a_share = cast('0.2' as decimal(12, 8));
set variable pareto_b_share = cast('0.5' as decimal(12, 8));
set variable dormant_after_days = 365;
set variable lifecycle_new_within_days = 180;
set variable region_of_country = map {
    'NL': 'benelux', 'BE': 'benelux', 'LU': 'benelux',
    'AT': 'europe', 'BG': 'europe', 'HR': 'europe', 'CY': 'europe', 'CZ': 'europe', 'DK': 'europe', 'EE': 'europe',
    'FI': 'europe', 'FR': 'europe', 'DE': 'europe', 'GR': 'europe', 'HU': 'europe', 'IE': 'europe', 'IT': 'europe',
    'LV': 'europe', 'LT': 'europe', 'MT': 'europe', 'PL': 'europe', 'PT': 'europe', 'RO': 'europe', 'SK': 'europe',
    'SI': 'europe', 'ES': 'europe', 'SE': 'europe', 'IS': 'europe', 'LI': 'europe', 'NO': 'europe', 'GB': 'europe',
    'CH': 'europe',
    'US': 'north_america', 'CA': 'north_america', 'MX': 'north_america',
    'AU': 'apac', 'NZ': 'apac', 'JP': 'apac', 'CN': 'apac', 'IN': 'apac', 'SG': 'apac', 'KR': 'apac', 'HK': 'apac',
    'TW': 'apac', 'MY': 'apac', 'ID': 'apac', 'TH': 'apac', 'VN': 'apac', 'PH': 'apac'};
set variable region_fallback = 'rest_of_world';
set variable naics_sectors = ['11', '21', '22', '23', '31', '32', '33', '42', '44', '45', '48', '49', '51', '52', '53',
                              '54', '55', '56', '61', '62', '71', '72', '81', '92'];
set variable vertical_of_sector = map {
    '31': 'manufacturing', '32': 'manufacturing', '33': 'manufacturing',
    '52': 'financial_services', '53': 'financial_services', '62': 'healthcare', '51': 'technology', '54': 'technology'};
set variable vertical_fallback = 'other';
-- industry keyword lists, tried in this order
set variable words_manufacturing = ['manufacturing', 'manufacturer', 'manufacturers', 'industrial', 'factory'];
set variable words_financial_services = ['bank', 'banks', 'banking', 'insurance', 'insurer', 'financial', 'finance',
                                         'fintech'];
set variable words_healthcare = ['health', 'healthcare', 'hospital', 'hospitals', 'pharma', 'pharmaceutical',
                                 'pharmaceuticals', 'medical', 'biotech'];
set variable words_technology = ['software', 'technology', 'tech', 'telecom', 'telecommunications', 'saas', 'it'];
set variable size_min_employees_enterprise = 1000;
set variable size_min_employees_mid_market = 100;
set variable size_min_employees_small = 10;
set variable size_min_revenue_enterprise = 250000000;
set variable size_min_revenue_mid_market = 25000000;
set variable size_min_revenue_small = 2500000;
set variable channel_group_of = map {
    'direct': 'direct', 'field_sales': 'direct', 'inside_sales': 'direct', 'account_management': 'direct',
    'reseller': 'partner', 'distributor': 'partner', 'var': 'partner', 'oem': 'partner', 'partner': 'partner',
    'ecommerce': 'online', 'webshop': 'online', 'online': 'online', 'marketplace': 'online',
    'affiliate': 'affiliate', 'referral': 'affiliate'};
set variable key_account_level = 'gold';
set variable high_value_level = 'silver';
set variable default_level = 'standard';
set variable terms_immediate_max = 0;
set variable terms_net_30_max = 30;
set variable terms_net_60_max = 60;
set variable defaulting_above_days_overdue = 90;
set variable prompt_max_avg_days_late = 5;
set variable prompt_min_on_time_rate = cast('0.8' as decimal(12, 8));
set variable slow_max_avg_days_late = 30;
set variable risk_low_below = 25;
set variable risk_medium_below = 50;
set variable risk_high_below = 75;
set variable escalate_risk_profiles = ['high', 'very_high'];
set variable senior_min_overdue_ar = 50000;
set variable senior_risk_profiles = ['high', 'very_high'];
set variable icp_excluded_verticals = []::varchar[];
set variable icp_excluded_countries = []::varchar[];
set variable icp_ideal_min = 80;
set variable icp_good_min = 60;
set variable icp_fair_min = 40;
set variable potential_high_min = 100000;
set variable potential_medium_min = 20000;
set variable hot_stages = ['proposal', 'negotiation'];
set variable hot_within_days = 90;
set variable risk_w_external = cast('0.4' as decimal(12, 8));
set variable risk_w_internal = cast('0.4' as decimal(12, 8));
set variable risk_w_industry = cast('0.1' as decimal(12, 8));
set variable risk_w_region = cast('0.1' as decimal(12, 8));
set variable risk_days_late_factor = 2;
set variable risk_of_industry = map {'manufacturing': 40, 'financial_services': 30, 'healthcare': 20,
                                     'technology': 35, 'other': 50, 'to_be_defined': 50};
set variable risk_of_region = map {'benelux': 20, 'europe': 25, 'north_america': 25, 'apac': 35, 'rest_of_world': 60};
-- icp criteria: (values, points) per dimension
set variable icp_verticals = ['manufacturing', 'technology'];
set variable icp_vertical_points = 30;
set variable icp_sizes = ['mid_market', 'enterprise'];
set variable icp_size_points = 25;
set variable icp_regions = ['benelux', 'europe'];
set variable icp_region_points = 20;
set variable icp_channels = ['direct'];
set variable icp_channel_points = 10;
set variable icp_behaviours = ['prompt'];
set variable icp_behaviour_points = 15;
set variable potential_percentile = 0.75;
set variable potential_min_peers = 5;
set variable payment_tolerance = 0.01;
set variable hold_min_disputes_12m = 2;
set variable hold_above_days_overdue = 90;
set variable pay_day_lookback_days = 180;
set variable pay_day_month_end_cap = 28;
set variable pay_day_min_distinct_dates = 3;
set variable pay_day_min_share = cast('0.8' as decimal(12, 8));
set variable pay_day_tolerance_days = 1;
set variable bureau_stale_after_days = 365;
-- the overridable segment dimensions (published order) and their declared segments
set variable declared_segments = map {
    'party_type': ['business', 'individual'],
    'tenure': ['prospect', 'new', 'existing'],
    'market': ['domestic', 'international'],
    'value_tier': ['high', 'medium', 'low', 'none'],
    'pareto_class': ['A', 'B', 'C', 'none'],
    'lifecycle_stage': ['prospect', 'dormant', 'key', 'new', 'existing'],
    'region': ['benelux', 'europe', 'north_america', 'apac', 'rest_of_world'],
    'industry_vertical': ['manufacturing', 'financial_services', 'healthcare', 'technology', 'other'],
    'size_tier': ['consumer', 'enterprise', 'mid_market', 'small', 'micro'],
    'sales_channel_group': ['direct', 'partner', 'online', 'affiliate'],
    'service_level': ['platinum', 'gold', 'silver', 'standard'],
    'product_mix': ['none', 'single_line', 'multi_line'],
    'payment_terms_bucket': ['immediate', 'net_30', 'net_60', 'net_90_plus'],
    'payment_behaviour': ['prompt', 'slow', 'very_slow', 'defaulting'],
    'risk_profile': ['low', 'medium', 'high', 'very_high'],
    'dunning_strategy': ['none', 'escalate', 'personal', 'wait_for_pay_day', 'standard'],
    'collector_level': ['none', 'senior', 'junior'],
    'icp_fit': ['excluded', 'ideal', 'good', 'fair', 'poor'],
    'potential_tier': ['high', 'medium', 'low', 'none'],
    'buying_readiness': ['hot', 'warm', 'cold']};

-- --- parsing: the typing rules of the staging models (dbt_project/macros/parsing.sql) ----
-- every macro takes the trimmed text (empty -> null)
create or replace temp macro txt(x) as nullif(trim(x), '');
create or replace temp macro as_number(t) as
    case when regexp_full_match(t, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?') then try_cast(t as double) end;
create or replace temp macro as_integer(t) as
    case when regexp_full_match(t, '[+-]?[0-9]{1,18}([.]0*)?') then try_cast(try_cast(t as double) as bigint) end;
create or replace temp macro as_date(t) as
    case when regexp_full_match(t, '[0-9]{4}-[0-9]{2}-[0-9]{2}') then try_cast(t as date) end;
create or replace temp macro as_ts_date(t) as cast(try_cast(t as timestamptz) as date);
create or replace temp macro as_boolean(t) as
    case when lower(t) in ('true', '1', 'yes') then true when lower(t) in ('false', '0', 'no') then false end;
create or replace temp macro as_enum(t, allowed) as case when list_contains(allowed, lower(t)) then lower(t) end;
-- present but not parsable: an invalid value (quarantined)
create or replace temp macro bad(t, parsed) as t is not null and parsed is null;
create or replace temp macro days_before_as_of(d) as date_diff('day', d, getvariable('as_of'));
create or replace temp macro in_window(d, days) as days_before_as_of(d) >= 0 and days_before_as_of(d) < days;

-- --- which files: snapshot = the newest extract dated <= D, delta = every one <= D ------
create or replace temp table floor_files as
with found as (
    select file, regexp_extract(file, '([^/\\]+)[/\\]([^/\\]+)[/\\]([0-9]{4}-[0-9]{2}-[0-9]{2})\.(csv|parquet)$',
                                ['source', 'entity', 'day', 'ext'], 'i') as part
    from glob(getvariable('landing_dir') || '/*/*/*')
),
dated as (
    select part.source || '/' || part.entity as entity, lower(part.ext) as fmt,
           try_cast(part.day as date) as extract_date, file
    from found
    where part.day <> ''
)
select *
from dated
where extract_date <= getvariable('as_of')
qualify entity in ('finance/invoices', 'finance/invoice_lines', 'finance/payments')
     or extract_date = max(extract_date) over (partition by entity)
union all
-- the overrides file: not dated, read whole when it exists
select 'manual/overrides', case when ends_with(lower(file), '.parquet') then 'parquet' else 'csv' end, null, file
from glob(getvariable('overrides_file'));

-- The header of every CSV file, read first, so that the rows are read with the columns
-- named (auto_detect = false): DuckDB's sniffer on each of ~1 400 daily files costs
-- ten times the read itself. Names as the pipeline maps them: trimmed, case-insensitive
-- (a BOM and a CR dropped, simple quotes around a name removed).
set variable csv_files = (select list(file) from floor_files where fmt = 'csv');
create or replace temp table floor_csv_headers as
from query(case when len(coalesce(getvariable('csv_files'), [])) = 0
    then 'select null::varchar as file, null::varchar[] as names where false'
    else 'select filename as file,
                 list_transform(
                     string_split(replace(rtrim(split_part(content, chr(10), 1), chr(13)), chr(65279), ''''), '',''),
                     lambda name, i: coalesce(nullif(lower(trim(trim(name), ''"'')), ''''), ''column'' || i)) as names
          from read_text(getvariable(''csv_files''))'
end);

-- One entity's rows, every contract column as text plus `version` (the extract date of
-- the row's file as a day number: what orders the versions of a delta key), as a SQL
-- text run with query(): a null row naming every column (so an absent optional column
-- reads as null), one read_csv per distinct header (the dialect of
-- pipeline/ingest/loader.py), and the Parquet files, every column cast to its text form.
create or replace temp macro sql_string(s) as '''' || replace(s, '''', '''''') || '''';
create or replace temp macro sql_list(items) as '[' || array_to_string(list_transform(items, lambda s: sql_string(s)), ', ') || ']';
set variable null_row_sql = 'select ' || array_to_string(list_transform([
        'account_id', 'account_name', 'account_type', 'registration_number', 'duns_number', 'country_code',
        'industry_code', 'industry', 'employee_count', 'annual_revenue', 'currency', 'sales_channel', 'owner_id',
        'service_level', 'is_strategic', 'parent_account_id', 'status', 'created_at', 'opportunity_id', 'stage',
        'amount', 'close_date', 'invoice_id', 'invoice_type', 'invoice_date', 'due_date', 'total_amount',
        'payment_terms_days', 'early_payment_discount_pct', 'disputed', 'dispute_opened_at', 'dispute_resolved_at',
        'line_number', 'product_line', 'quantity', 'net_amount', 'cost_amount', 'payment_id', 'payment_date',
        'rate_date', 'rate_to_base', 'bureau_ref', 'credit_score', 'recommended_limit', 'limit_currency',
        'payment_index', 'insolvency_flag', 'report_date', 'dimension', 'segment', 'reason', 'owner', 'valid_until'],
        lambda c: 'null::varchar as ' || c), ', ') || ', null::integer as version where false';
set variable csv_options = 'header = true, auto_detect = false, delim = '','', quote = ''"'', escape = ''"'', '
    || 'encoding = ''utf-8'', strict_mode = true, null_padding = false, ignore_errors = false, '
    || 'allow_quoted_nulls = true, nullstr = '''', skip = 0, parallel = true';
create or replace temp macro day_number(d) as coalesce(date_diff('day', date '2000-01-01', d), 0);
create or replace temp macro versions_sql(days) as '[' || array_to_string(days, ', ') || '][file_index::bigint + 1]';
create or replace temp macro entity_sql(entity_name) as
    getvariable('null_row_sql')
    || coalesce((
        select string_agg(' union all by name select *, ' || versions_sql(days) || ' as version from read_csv('
                          || sql_list(files) || ', ' || getvariable('csv_options') || ', columns = {'
                          || array_to_string(list_transform(names, lambda n: sql_string(n) || ': ''VARCHAR'''), ', ')
                          || '})', '')
        from (
            select h.names, list(f.file order by f.file) as files, list(day_number(f.extract_date) order by f.file) as days
            from floor_files as f
            inner join floor_csv_headers as h on f.file = h.file
            where f.entity = entity_name
            group by h.names
        )), '')
    || coalesce((
        select ' union all by name select columns(*)::varchar, '
               || versions_sql(list(day_number(extract_date) order by file)) || ' as version from read_parquet('
               || sql_list(list(file order by file)) || ', union_by_name = true, binary_as_string = true)'
        from floor_files
        where entity = entity_name and fmt = 'parquet'
        having count(*) > 0), '');
set variable accounts_sql = entity_sql('crm/accounts');
set variable opportunities_sql = entity_sql('crm/opportunities');
set variable invoices_sql = entity_sql('finance/invoices');
set variable lines_sql = entity_sql('finance/invoice_lines');
set variable payments_sql = entity_sql('finance/payments');
set variable fx_sql = entity_sql('finance/fx_rates');
set variable bureau_sql = entity_sql('bureau/company_scores');
set variable overrides_sql = entity_sql('manual/overrides');

-- --- fx rates (snapshot): the usable rates, and the rate of each currency at D -----------
create or replace temp table floor_rates as
with raw as (
    select upper(txt(currency)) as currency, txt(rate_date) as rate_date_text, txt(rate_to_base) as rate_text
    from query(getvariable('fx_sql'))
),
typed as (
    select
        *, as_date(rate_date_text) as rate_date, as_number(rate_text) as rate_to_base,
        -- the key compared as normalised values ('usd' and 'USD' on one date are one key)
        count(*) over (partition by currency, rate_date_text) as copies
    from raw
)
select currency, rate_date, rate_to_base
from typed
where currency is not null and rate_date is not null and rate_to_base > 0
  and copies = 1;

create or replace temp table floor_rates_at_as_of as
select currency, arg_max(rate_to_base, rate_date) as rate_to_base
from floor_rates
where rate_date <= getvariable('as_of') and currency <> getvariable('base_currency')
group by currency
union all
select getvariable('base_currency'), 1.0;

-- --- accounts (snapshot): the published population ----------------------------------
create or replace temp table floor_accounts as
with raw as (
    select
        txt(account_id) as account_id, txt(account_name) as account_name, txt(account_type) as account_type,
        txt(registration_number) as registration_number, txt(duns_number) as duns_number,
        upper(txt(country_code)) as country_code, txt(industry_code) as industry_code, txt(industry) as industry,
        txt(employee_count) as employee_count, txt(annual_revenue) as annual_revenue,
        upper(txt(currency)) as currency, txt(sales_channel) as sales_channel, txt(owner_id) as owner_id,
        txt(service_level) as service_level, txt(is_strategic) as is_strategic,
        txt(parent_account_id) as parent_account_id, txt(status) as status, txt(created_at) as created_at
    from query(getvariable('accounts_sql'))
),
typed as (
    select
        *,
        as_integer(employee_count) as employee_count_v,
        as_number(annual_revenue) as annual_revenue_v,
        as_boolean(is_strategic) as is_strategic_v,
        as_enum(status, ['active', 'closed']) as status_v,
        as_ts_date(created_at) as created_date,
        -- a duplicated id: every copy of it is quarantined
        count(*) over (partition by account_id) as copies
    from raw
),
valid as (
    select *
    from typed
    where not (bad(employee_count, employee_count_v) or bad(annual_revenue, annual_revenue_v)
               or bad(is_strategic, is_strategic_v) or bad(status, status_v) or bad(created_at, created_date))
      and account_id is not null and account_name is not null and country_code is not null and created_at is not null
      and list_contains(getvariable('iso_countries'), country_code)
      and created_date <= getvariable('as_of')
      and copies = 1
)
select
    v.account_id,
    v.account_name,
    v.country_code,
    v.owner_id,
    as_enum(v.account_type, ['business', 'individual']) as account_type,
    v.duns_number,
    nullif(regexp_replace(upper(v.registration_number), '[\s.\-]', '', 'g'), '') as registration_key,
    v.industry_code,
    v.industry,
    case when v.employee_count_v >= 0 then v.employee_count_v end as employee_count,
    case when v.annual_revenue_v >= 0 then v.annual_revenue_v end * r.rate_to_base as annual_revenue_base,
    regexp_replace(lower(v.sales_channel), '[ -]+', '_', 'g') as sales_channel_value,
    as_enum(v.service_level, ['platinum', 'gold', 'silver', 'standard']) as contracted_service_level,
    coalesce(v.is_strategic_v, false) as is_strategic,
    v.parent_account_id,
    coalesce(v.parent_account_id, v.account_id) as group_account_id
from valid as v
left join floor_rates_at_as_of as r
    on coalesce(v.currency, getvariable('base_currency')) = r.currency
where coalesce(v.status_v, 'active') = 'active';

-- Duplicate keys are counted over every row of the (merged) state, quarantined or not:
-- a quarantined copy makes the other copy a duplicate too.

-- --- invoices (delta): the valid invoices of published accounts, dated <= D, not void ---
create or replace temp table floor_invoices as
with raw as (
    select
        txt(invoice_id) as invoice_id, txt(account_id) as account_id, txt(invoice_type) as invoice_type,
        txt(invoice_date) as invoice_date, txt(due_date) as due_date, upper(txt(currency)) as currency,
        txt(total_amount) as total_amount, txt(status) as status, txt(payment_terms_days) as payment_terms_days,
        txt(early_payment_discount_pct) as early_payment_discount_pct, txt(disputed) as disputed,
        txt(dispute_opened_at) as dispute_opened_at, txt(dispute_resolved_at) as dispute_resolved_at,
        version
    from query(getvariable('invoices_sql'))
),
newest as (
    -- per key, the newest file holding it, and how often it holds it: a key twice in that
    -- file quarantines every version; older versions are superseded
    select invoice_id, max(version) as version, arg_max(copies, version) as copies
    from (select invoice_id, version, count(*) as copies from raw where invoice_id is not null group by all)
    group by invoice_id
),
unique_keys as (
    select raw.*
    from raw
    inner join newest on raw.invoice_id = newest.invoice_id and raw.version = newest.version
    where newest.copies = 1
),
typed as (
    select
        *,
        as_enum(invoice_type, ['invoice', 'credit_note']) as invoice_type_v,
        as_date(invoice_date) as invoice_date_v,
        as_date(due_date) as due_date_v,
        as_number(total_amount) as total_amount_v,
        as_enum(status, ['open', 'paid', 'void']) as status_v,
        as_integer(payment_terms_days) as payment_terms_days_v,
        as_number(early_payment_discount_pct) as discount_v,
        as_boolean(disputed) as disputed_v,
        as_date(dispute_opened_at) as dispute_opened_at_v,
        as_date(dispute_resolved_at) as dispute_resolved_at_v
    from unique_keys
    where account_id in (select account_id from floor_accounts)
),
checked as (
    select
        invoice_id, account_id,
        coalesce(invoice_type_v, 'invoice') as invoice_type,
        invoice_date_v as invoice_date,
        due_date_v as due_date,
        currency,
        total_amount_v as total_amount,
        payment_terms_days_v as payment_terms_days,
        coalesce(discount_v, 0) as early_payment_discount_pct,
        dispute_opened_at_v as dispute_opened_at,
        dispute_resolved_at_v as dispute_resolved_at
    from typed
    where not (bad(invoice_type, invoice_type_v) or bad(invoice_date, invoice_date_v) or bad(due_date, due_date_v)
               or bad(total_amount, total_amount_v) or bad(status, status_v)
               or bad(payment_terms_days, payment_terms_days_v) or bad(early_payment_discount_pct, discount_v)
               or bad(disputed, disputed_v) or bad(dispute_opened_at, dispute_opened_at_v)
               or bad(dispute_resolved_at, dispute_resolved_at_v))
      and invoice_date is not null and currency is not null and total_amount is not null
      and not (coalesce(invoice_type_v, 'invoice') = 'invoice' and due_date is null)
      and not coalesce(due_date_v < invoice_date_v, false)
      and not (coalesce(invoice_type_v, 'invoice') = 'invoice' and total_amount_v < 0)
      -- excluded: void (status is used only for that), dated after D
      and not coalesce(status_v = 'void', false)
      and invoice_date_v <= getvariable('as_of')
)
select
    checked.*,
    case when checked.currency = getvariable('base_currency') then 1.0 else rates.rate_to_base end as rate_to_base
from checked
asof left join floor_rates as rates
    on checked.currency = rates.currency
    and checked.invoice_date >= rates.rate_date
-- no rate on or before the invoice date: missing_fx_rate
where checked.currency = getvariable('base_currency') or rates.rate_to_base is not null;

-- --- invoice lines (delta): revenue and margin per account and product line, 12 months --
create or replace temp table floor_product_lines as
with raw as (
    select
        txt(invoice_id) as invoice_id, txt(line_number) as line_number, txt(product_line) as product_line,
        txt(quantity) as quantity, txt(net_amount) as net_amount, txt(cost_amount) as cost_amount, version
    from query(getvariable('lines_sql'))
),
newest as (
    select invoice_id, line_number, max(version) as version, arg_max(copies, version) as copies
    from (select invoice_id, line_number, version, count(*) as copies from raw
          where invoice_id is not null and line_number is not null group by all)
    group by invoice_id, line_number
),
unique_keys as (
    select raw.*
    from raw
    inner join newest
        on raw.invoice_id = newest.invoice_id and raw.line_number = newest.line_number
        and raw.version = newest.version
    where newest.copies = 1
),
typed as (
    select
        invoice_id, product_line, quantity, net_amount, cost_amount,
        as_number(quantity) as quantity_v, as_number(net_amount) as net_amount_v, as_number(cost_amount) as cost_amount_v
    from unique_keys
)
select
    invoices.account_id,
    typed.product_line,
    sum(typed.net_amount_v * invoices.rate_to_base) as revenue_base,
    sum((typed.net_amount_v - coalesce(typed.cost_amount_v, 0)) * invoices.rate_to_base) as margin_base
from typed
inner join floor_invoices as invoices
    on typed.invoice_id = invoices.invoice_id
where not (bad(typed.quantity, typed.quantity_v) or bad(typed.net_amount, typed.net_amount_v)
           or bad(typed.cost_amount, typed.cost_amount_v))
  and typed.product_line is not null and typed.net_amount is not null
  and in_window(invoices.invoice_date, getvariable('window_days'))
group by all;

-- --- payments (delta): the valid payments, dated <= D, on invoices of type invoice ------
create or replace temp table floor_payments as
with raw as (
    select
        txt(payment_id) as payment_id, txt(invoice_id) as invoice_id, txt(payment_date) as payment_date,
        txt(amount) as amount, upper(txt(currency)) as currency, version
    from query(getvariable('payments_sql'))
),
newest as (
    select payment_id, max(version) as version, arg_max(copies, version) as copies
    from (select payment_id, version, count(*) as copies from raw where payment_id is not null group by all)
    group by payment_id
),
unique_keys as (
    select raw.*
    from raw
    inner join newest on raw.payment_id = newest.payment_id and raw.version = newest.version
    where newest.copies = 1
),
typed as (
    select *, as_date(payment_date) as payment_date_v, as_number(amount) as amount_v
    from unique_keys
)
select invoices.account_id, typed.invoice_id, typed.payment_date_v as payment_date, typed.amount_v as amount
from typed
inner join floor_invoices as invoices
    on typed.invoice_id = invoices.invoice_id
where not (bad(typed.payment_date, typed.payment_date_v) or bad(typed.amount, typed.amount_v))
  and typed.payment_date is not null and typed.amount is not null and typed.currency is not null
  and typed.currency = invoices.currency
  and invoices.invoice_type = 'invoice'
  and typed.payment_date_v <= getvariable('as_of');

-- --- receivables: payment allocation per invoice, then per account ----------------------
create or replace temp table floor_receivables as
with invoices as (
    select
        invoice_id, account_id, due_date, currency, dispute_opened_at, dispute_resolved_at,
        cast(total_amount as decimal(18, 6)) as total_amount,
        cast(total_amount as decimal(18, 6))
            * (1 - 0.01 * cast(early_payment_discount_pct as decimal(18, 6)))
            - getvariable('payment_tolerance') as settlement_amount
    from floor_invoices
    where invoice_type = 'invoice'
),
per_date as (
    select invoice_id, payment_date, sum(cast(amount as decimal(18, 6))) as amount
    from floor_payments
    group by invoice_id, payment_date
),
cumulative as (
    select invoice_id, payment_date,
           sum(amount) over (partition by invoice_id order by payment_date rows between unbounded preceding and current row)
               as cumulative_amount
    from per_date
),
settled as (
    select
        invoices.invoice_id,
        max(cumulative.cumulative_amount) as paid_amount,
        min(case when cumulative.cumulative_amount >= invoices.settlement_amount then cumulative.payment_date end)
            as paid_date
    from invoices
    inner join cumulative on invoices.invoice_id = cumulative.invoice_id
    group by invoices.invoice_id
),
allocated as (
    select
        invoices.account_id,
        invoices.due_date,
        invoices.dispute_opened_at,
        invoices.dispute_resolved_at,
        settled.paid_date,
        settled.paid_date is null as is_open,
        case when settled.paid_date is null
             then cast(invoices.total_amount - coalesce(settled.paid_amount, 0) as double) * rates.rate_to_base
        end as outstanding_base,
        days_before_as_of(invoices.due_date) as days_past_due
    from invoices
    left join settled on invoices.invoice_id = settled.invoice_id
    left join floor_rates_at_as_of as rates on invoices.currency = rates.currency
),
flagged as (
    select
        *,
        is_open and days_past_due > 0 as is_overdue,
        in_window(due_date, getvariable('window_days')) and (not is_open or days_past_due > 0) as is_evaluated,
        case when not is_open then greatest(0, date_diff('day', due_date, paid_date))
             when days_past_due > 0 then days_past_due end as days_late
    from allocated
)
select
    account_id,
    round(sum(outstanding_base), 2) as open_ar,
    round(sum(outstanding_base) filter (where is_overdue), 2) as overdue_ar,
    max(days_past_due) filter (where is_overdue) as max_days_overdue,
    count(*) filter (where is_evaluated) as evaluated_invoices,
    round(avg(days_late) filter (where is_evaluated), 2) as avg_days_late,
    round(count(*) filter (where is_evaluated and not is_open and paid_date <= due_date)
          / nullif(count(*) filter (where is_evaluated), 0), 4) as on_time_rate,
    count(*) filter (where coalesce(in_window(dispute_opened_at, getvariable('window_days')), false)) as disputes_12m,
    count(*) filter (where dispute_opened_at <= getvariable('as_of')
                       and (dispute_resolved_at is null or dispute_resolved_at > getvariable('as_of'))) as open_disputes
from flagged
group by account_id;

-- --- typical pay day ------------------------------------------------------------------
create or replace temp table floor_pay_days as
with payments as (
    select account_id, payment_date,
           least(extract(day from payment_date), getvariable('pay_day_month_end_cap')) as pay_day
    from floor_payments
    where in_window(payment_date, getvariable('pay_day_lookback_days'))
),
per_day as (
    select account_id, pay_day, count(*) as day_payments
    from payments
    group by all
),
modal as (
    -- the most frequent capped day, ties: the smallest
    select account_id, arg_max(pay_day, day_payments * 100 - pay_day) as modal_pay_day,
           cast(sum(day_payments) as bigint) as payments
    from per_day
    group by account_id
),
summary as (
    select
        modal.account_id, modal.modal_pay_day, modal.payments,
        sum(per_day.day_payments) filter (where abs(per_day.pay_day - modal.modal_pay_day)
                                                <= getvariable('pay_day_tolerance_days')) as payments_near_mode
    from modal
    inner join per_day on modal.account_id = per_day.account_id
    group by all
),
distinct_dates as (
    select account_id, count(distinct payment_date) as distinct_payment_dates
    from payments
    group by account_id
)
select
    summary.account_id,
    case when distinct_dates.distinct_payment_dates >= getvariable('pay_day_min_distinct_dates')
          and summary.payments_near_mode >= getvariable('pay_day_min_share') * summary.payments
         then cast(summary.modal_pay_day as integer) end as typical_pay_day
from summary
inner join distinct_dates on summary.account_id = distinct_dates.account_id;

-- --- bureau match -----------------------------------------------------------------------
create or replace temp table floor_bureau as
with raw as (
    select
        txt(bureau_ref) as bureau_ref, txt(duns_number) as duns_number, txt(registration_number) as registration_number,
        upper(txt(country_code)) as country_code, txt(credit_score) as credit_score,
        txt(recommended_limit) as recommended_limit, upper(txt(limit_currency)) as limit_currency,
        txt(payment_index) as payment_index, txt(insolvency_flag) as insolvency_flag, txt(report_date) as report_date
    from query(getvariable('bureau_sql'))
),
typed as (
    select
        *,
        as_number(credit_score) as credit_score_v, as_number(recommended_limit) as recommended_limit_v,
        as_number(payment_index) as payment_index_v, as_boolean(insolvency_flag) as insolvency_flag_v,
        as_date(report_date) as report_date_v,
        count(*) over (partition by bureau_ref) as copies
    from raw
),
reports as (
    select
        bureau_ref, duns_number,
        nullif(regexp_replace(upper(registration_number), '[\s.\-]', '', 'g'), '') as registration_key,
        country_code, credit_score_v as credit_score, recommended_limit_v as recommended_limit,
        coalesce(limit_currency, getvariable('base_currency')) as limit_currency,
        coalesce(insolvency_flag_v, false) as insolvency_flag, report_date_v as report_date
    from typed
    where not (bad(credit_score, credit_score_v) or bad(recommended_limit, recommended_limit_v)
               or bad(payment_index, payment_index_v) or bad(insolvency_flag, insolvency_flag_v)
               or bad(report_date, report_date_v)
               or not coalesce(credit_score_v between 0 and 100, true)
               or not coalesce(payment_index_v between 0 and 100, true)
               or (country_code is not null and not list_contains(getvariable('iso_countries'), country_code)))
      and bureau_ref is not null and country_code is not null and report_date is not null
      and copies = 1
),
usable as (
    select * from reports where report_date <= getvariable('as_of')
),
candidates as (
    select a.account_id, 1 as priority, u.*
    from floor_accounts as a
    inner join usable as u on a.duns_number = u.duns_number
    union all
    select a.account_id, 2 as priority, u.*
    from floor_accounts as a
    inner join usable as u on a.registration_key = u.registration_key and a.country_code = u.country_code
),
matched as (
    -- DUNS candidates first (a stale DUNS match does not fall back), then the newest
    select *
    from candidates
    qualify row_number() over (partition by account_id order by priority, report_date desc, bureau_ref desc) = 1
)
select
    m.account_id,
    case when not is_stale then m.credit_score end as bureau_score,
    coalesce(not is_stale and m.insolvency_flag, false) as insolvency_flag,
    case when not is_stale and m.recommended_limit > 0 then m.recommended_limit * rates.rate_to_base end
        as recommended_limit_base
from (select *, days_before_as_of(report_date) > getvariable('bureau_stale_after_days') as is_stale from matched) as m
left join floor_rates_at_as_of as rates on m.limit_currency = rates.currency;

-- --- opportunities (snapshot): open ones of published accounts --------------------------
create or replace temp table floor_opportunities as
with raw as (
    select
        txt(opportunity_id) as opportunity_id, txt(account_id) as account_id, txt(stage) as stage,
        txt(amount) as amount, coalesce(upper(txt(currency)), getvariable('base_currency')) as currency,
        txt(close_date) as close_date
    from query(getvariable('opportunities_sql'))
),
typed as (
    select
        *,
        as_enum(stage, ['prospecting', 'qualification', 'proposal', 'negotiation', 'closed_won', 'closed_lost'])
            as stage_v,
        as_number(amount) as amount_v, as_date(close_date) as close_date_v
    from raw
    qualify opportunity_id is null or count(*) over (partition by opportunity_id) = 1
)
select
    typed.account_id,
    count(*) as open_opportunities,
    sum(coalesce(typed.amount_v, 0) * rates.rate_to_base) as open_amount_base,
    count(*) filter (where list_contains(getvariable('hot_stages'), typed.stage_v)
                       and date_diff('day', getvariable('as_of'), typed.close_date_v)
                           between 0 and getvariable('hot_within_days')) as hot_opportunities
from typed
inner join floor_rates_at_as_of as rates on typed.currency = rates.currency
where not (bad(typed.stage, typed.stage_v) or bad(typed.amount, typed.amount_v) or bad(typed.close_date, typed.close_date_v))
  and typed.opportunity_id is not null and typed.stage is not null
  and typed.account_id in (select account_id from floor_accounts)
  and typed.stage_v not in ('closed_won', 'closed_lost')
group by typed.account_id;

-- --- the metrics and the dimensions, per published account -------------------------------
create or replace temp table floor_segments as
with invoice_history as (
    select
        account_id,
        min(invoice_date) as first_invoice_date,
        max(invoice_date) as last_invoice_date,
        -- the most recent invoice (latest invoice_date, ties: greatest invoice_id)
        first({'terms': payment_terms_days, 'discount': early_payment_discount_pct}
              order by invoice_date desc, invoice_id desc) as latest
    from floor_invoices
    where invoice_type = 'invoice'
    group by account_id
),
lines as (
    select account_id, product_line, round(revenue_base, 2) as revenue, revenue_base, margin_base
    from floor_product_lines
),
revenue as (
    select
        account_id,
        round(sum(revenue_base), 2) as revenue_12m,
        round(sum(margin_base), 2) as margin_12m,
        count(*) filter (where revenue > 0) as lines_with_revenue,
        -- the largest (rounded) revenue in the window, ties alphabetical
        first(product_line order by revenue desc, product_line asc) filter (where revenue > 0) as primary_product_line
    from lines
    group by account_id
),
metrics as (
    select
        a.*,
        coalesce(rv.revenue_12m, 0) as revenue_12m,
        coalesce(rv.margin_12m, 0) as margin_12m,
        coalesce(rv.lines_with_revenue, 0) as lines_with_revenue,
        rv.primary_product_line,
        h.first_invoice_date,
        h.last_invoice_date,
        h.latest is not null as has_invoice,
        h.latest.terms as payment_terms_days,
        h.latest.discount as early_payment_discount_pct,
        cast(coalesce(r.open_ar, 0) as decimal(18, 2)) as open_ar,
        cast(coalesce(r.overdue_ar, 0) as decimal(18, 2)) as overdue_ar,
        coalesce(r.max_days_overdue, 0) as max_days_overdue,
        coalesce(r.evaluated_invoices, 0) as evaluated_invoices,
        cast(r.avg_days_late as decimal(10, 2)) as avg_days_late,
        cast(r.on_time_rate as decimal(10, 4)) as on_time_rate,
        coalesce(r.disputes_12m, 0) as disputes_12m,
        coalesce(r.open_disputes, 0) as open_disputes,
        pd.typical_pay_day,
        b.bureau_score,
        coalesce(b.insolvency_flag, false) as insolvency_flag,
        b.recommended_limit_base,
        coalesce(o.open_opportunities, 0) as open_opportunities,
        coalesce(o.hot_opportunities, 0) as hot_opportunities,
        coalesce(o.open_amount_base, 0) as open_amount_base
    from floor_accounts as a
    left join revenue as rv on a.account_id = rv.account_id
    left join invoice_history as h on a.account_id = h.account_id
    left join floor_receivables as r on a.account_id = r.account_id
    left join floor_pay_days as pd on a.account_id = pd.account_id
    left join floor_bureau as b on a.account_id = b.account_id
    left join floor_opportunities as o on a.account_id = o.account_id
),
profile as (
    select
        *,
        case when revenue_12m > 0 then round(margin_12m / revenue_12m, 4) end as margin_pct_12m,
        regexp_extract_all(lower(industry), '\p{L}+') as industry_words,
        coalesce(account_type, 'to_be_defined') as party_type,
        case when country_code = getvariable('home_country') then 'domestic' else 'international' end as market,
        coalesce(getvariable('region_of_country')[country_code], getvariable('region_fallback')) as region,
        case
            when regexp_full_match(industry_code, '[0-9]{2,6}')
             and list_contains(getvariable('naics_sectors'), left(industry_code, 2))
                then coalesce(getvariable('vertical_of_sector')[left(industry_code, 2)], getvariable('vertical_fallback'))
            when industry is null then 'to_be_defined'
            -- the words of the free text: maximal runs of Unicode letters, whole-word equality
            when list_has_any(industry_words, getvariable('words_manufacturing')) then 'manufacturing'
            when list_has_any(industry_words, getvariable('words_financial_services')) then 'financial_services'
            when list_has_any(industry_words, getvariable('words_healthcare')) then 'healthcare'
            when list_has_any(industry_words, getvariable('words_technology')) then 'technology'
            else getvariable('vertical_fallback')
        end as industry_vertical,
        case
            when account_type = 'individual' then 'consumer'
            when employee_count >= getvariable('size_min_employees_enterprise') then 'enterprise'
            when employee_count >= getvariable('size_min_employees_mid_market') then 'mid_market'
            when employee_count >= getvariable('size_min_employees_small') then 'small'
            when employee_count is not null then 'micro'
            when annual_revenue_base >= getvariable('size_min_revenue_enterprise') then 'enterprise'
            when annual_revenue_base >= getvariable('size_min_revenue_mid_market') then 'mid_market'
            when annual_revenue_base >= getvariable('size_min_revenue_small') then 'small'
            when annual_revenue_base is not null then 'micro'
            else 'to_be_defined'
        end as size_tier,
        case
            when first_invoice_date is null then 'prospect'
            when days_before_as_of(first_invoice_date) < getvariable('tenure_new_within_days') then 'new'
            else 'existing'
        end as tenure,
        case
            when revenue_12m >= getvariable('value_high_min_revenue') then 'high'
            when revenue_12m >= getvariable('value_medium_min_revenue') then 'medium'
            when revenue_12m > 0 then 'low'
            else 'none'
        end as value_tier,
        case when revenue_12m > 0
             then row_number() over (partition by revenue_12m > 0 order by revenue_12m desc, account_id asc) end
            as revenue_rank,
        coalesce(getvariable('channel_group_of')[sales_channel_value], 'to_be_defined') as sales_channel_group,
        case
            when lines_with_revenue = 0 then 'none'
            when lines_with_revenue = 1 then 'single_line'
            else 'multi_line'
        end as product_mix,
        case
            when not has_invoice or payment_terms_days is null then 'to_be_defined'
            when payment_terms_days <= getvariable('terms_immediate_max') then 'immediate'
            when payment_terms_days <= getvariable('terms_net_30_max') then 'net_30'
            when payment_terms_days <= getvariable('terms_net_60_max') then 'net_60'
            else 'net_90_plus'
        end as payment_terms_bucket,
        coalesce(early_payment_discount_pct > 0, false) as early_payment_discount,
        case
            when max_days_overdue > getvariable('defaulting_above_days_overdue') then 'defaulting'
            when evaluated_invoices = 0 then 'to_be_defined'
            when avg_days_late <= getvariable('prompt_max_avg_days_late')
             and on_time_rate >= getvariable('prompt_min_on_time_rate') then 'prompt'
            when avg_days_late <= getvariable('slow_max_avg_days_late') then 'slow'
            else 'very_slow'
        end as payment_behaviour,
        case
            when revenue_12m > 0 and size_tier <> 'to_be_defined' then 1
        end as is_peer
    from metrics
),
lifecycle as (
    select
        *,
        case
            when revenue_rank is null then 'none'
            when revenue_rank <= ranked.a_max_rank then 'A'
            when revenue_rank <= ranked.b_max_rank then 'B'
            else 'C'
        end as pareto_class
    from profile
    cross join (
        -- n accounts with revenue: A up to rank ceil(0.2 n), B up to ceil(0.5 n) (exact decimal shares)
        select cast(ceil(getvariable('pareto_a_share') * count(*)) as bigint) as a_max_rank,
               cast(ceil(getvariable('pareto_b_share') * count(*)) as bigint) as b_max_rank
        from metrics
        where revenue_12m > 0
    ) as ranked
),
staged as (
    select
        *,
        case
            when first_invoice_date is null then 'prospect'
            when days_before_as_of(last_invoice_date) >= getvariable('dormant_after_days') then 'dormant'
            when is_strategic or pareto_class = 'A' then 'key'
            when days_before_as_of(first_invoice_date) < getvariable('lifecycle_new_within_days') then 'new'
            else 'existing'
        end as lifecycle_stage
    from lifecycle
),
risk as (
    select
        *,
        100 - cast(bureau_score as decimal(18, 6)) as external_risk,
        case
            when payment_behaviour = 'defaulting' then 100
            when avg_days_late is not null then least(100, getvariable('risk_days_late_factor') * avg_days_late)
        end as internal_risk,
        getvariable('risk_of_industry')[industry_vertical] as industry_risk,
        getvariable('risk_of_region')[region] as region_risk
    from staged
),
scored as (
    select
        *,
        case when external_risk is not null or internal_risk is not null then
            round(
                coalesce(external_risk * case when internal_risk is null
                                              then getvariable('risk_w_external') + getvariable('risk_w_internal')
                                              else getvariable('risk_w_external') end, 0)
                + coalesce(internal_risk * case when external_risk is null
                                                then getvariable('risk_w_internal') + getvariable('risk_w_external')
                                                else getvariable('risk_w_internal') end, 0)
                + industry_risk * getvariable('risk_w_industry')
                + region_risk * getvariable('risk_w_region'),
                1)
        end as risk_score,
        insolvency_flag
            or (disputes_12m >= getvariable('hold_min_disputes_12m') and open_ar > 0)
            or max_days_overdue > getvariable('hold_above_days_overdue') as credit_hold,
        case when list_contains(getvariable('icp_verticals'), industry_vertical) then getvariable('icp_vertical_points') else 0 end
        + case when list_contains(getvariable('icp_sizes'), size_tier) then getvariable('icp_size_points') else 0 end
        + case when list_contains(getvariable('icp_regions'), region) then getvariable('icp_region_points') else 0 end
        + case when list_contains(getvariable('icp_channels'), sales_channel_group) then getvariable('icp_channel_points') else 0 end
        + case when list_contains(getvariable('icp_behaviours'), payment_behaviour) then getvariable('icp_behaviour_points') else 0 end
            as icp_score
    from risk
),
profiled as (
    select
        *,
        case
            when insolvency_flag then 'very_high'
            when risk_score is null then 'to_be_defined'
            when risk_score < getvariable('risk_low_below') then 'low'
            when risk_score < getvariable('risk_medium_below') then 'medium'
            when risk_score < getvariable('risk_high_below') then 'high'
            else 'very_high'
        end as risk_profile
    from scored
),
group_benchmarks as (
    select size_tier, industry_vertical, count(*) as peers,
           quantile_cont(revenue_12m, getvariable('potential_percentile')) as benchmark
    from profile
    where is_peer = 1
    group by all
),
size_benchmarks as (
    select size_tier, count(*) as peers,
           quantile_cont(revenue_12m, getvariable('potential_percentile')) as benchmark
    from profile
    where is_peer = 1
    group by all
),
group_sums as (
    -- group_open_ar: the published account bearing the group's id and every account whose parent it is
    select group_id, sum(open_ar) as open_ar
    from (
        select account_id as group_id, open_ar from profiled
        union all
        select parent_account_id, open_ar from profiled
        where parent_account_id is not null and parent_account_id <> account_id
    )
    group by group_id
)
select
    p.*,
    case
        when p.overdue_ar <= 0 then 'none'
        when p.credit_hold or list_contains(getvariable('escalate_risk_profiles'), p.risk_profile) then 'escalate'
        when p.lifecycle_stage = 'key' then 'personal'
        when p.typical_pay_day is not null then 'wait_for_pay_day'
        else 'standard'
    end as dunning_strategy,
    case
        when p.overdue_ar <= 0 then 'none'
        when p.overdue_ar >= getvariable('senior_min_overdue_ar')
          or list_contains(getvariable('senior_risk_profiles'), p.risk_profile)
          or p.lifecycle_stage = 'key' or p.credit_hold then 'senior'
        else 'junior'
    end as collector_level,
    case
        when p.contracted_service_level is not null then p.contracted_service_level
        when p.lifecycle_stage = 'key' then getvariable('key_account_level')
        when p.value_tier = 'high' or p.size_tier = 'enterprise' then getvariable('high_value_level')
        else getvariable('default_level')
    end as service_level,
    case
        when p.insolvency_flag then 'excluded'
        when list_contains(getvariable('icp_excluded_verticals'), p.industry_vertical) then 'excluded'
        when list_contains(getvariable('icp_excluded_countries'), p.country_code) then 'excluded'
        when p.industry_vertical = 'to_be_defined' or p.size_tier = 'to_be_defined' then 'to_be_defined'
        when p.icp_score >= getvariable('icp_ideal_min') then 'ideal'
        when p.icp_score >= getvariable('icp_good_min') then 'good'
        when p.icp_score >= getvariable('icp_fair_min') then 'fair'
        else 'poor'
    end as icp_fit,
    case
        when p.size_tier = 'to_be_defined' then null
        when gb.peers >= getvariable('potential_min_peers') then gb.benchmark
        when sb.peers >= getvariable('potential_min_peers') then sb.benchmark
    end as peer_benchmark,
    case when peer_benchmark is not null then
        round(greatest(0, peer_benchmark - greatest(p.revenue_12m, 0)) + p.open_amount_base, 2)
    end as potential_value,
    case
        when p.hot_opportunities > 0 then 'hot'
        when p.open_opportunities > 0 then 'warm'
        else 'cold'
    end as buying_readiness,
    case when p.recommended_limit_base > 0
         then round(cast(p.open_ar as double) / p.recommended_limit_base, 4) end as credit_limit_utilisation,
    round(g.open_ar, 2) as group_open_ar
from profiled as p
left join group_benchmarks as gb on p.size_tier = gb.size_tier and p.industry_vertical = gb.industry_vertical
left join size_benchmarks as sb on p.size_tier = sb.size_tier
left join group_sums as g on p.group_account_id = g.group_id;

-- --- overrides: applied after every dimension is computed; they feed no other rule ------
create or replace temp table floor_overrides as
with raw as (
    select txt(account_id) as account_id, lower(txt(dimension)) as dimension, txt(segment) as segment,
           txt(valid_until) as valid_until
    from query(getvariable('overrides_sql'))
),
checked as (
    select
        raw.account_id, raw.dimension,
        -- the declared spelling of the segment (pareto class `A`)
        list_filter(getvariable('declared_segments')[raw.dimension], lambda s: lower(s) = lower(raw.segment))[1]
            as segment,
        as_date(raw.valid_until) as valid_until_v,
        raw.valid_until
    from raw
),
valid as (
    select *
    from checked
    where not bad(valid_until, valid_until_v)
      and account_id is not null and dimension is not null and segment is not null
      and account_id in (select account_id from floor_segments)
      and (valid_until_v is null or valid_until_v >= getvariable('as_of'))
    -- two or more otherwise valid rows for one account and dimension: all invalid
    qualify count(*) over (partition by account_id, dimension) = 1
)
select account_id, map_from_entries(list((dimension, segment))) as segments
from valid
group by account_id;

-- --- the table ---------------------------------------------------------------------------
create or replace table floor_segmented_accounts as
select
    s.account_id,
    s.account_name,
    getvariable('as_of') as as_of_date,
    s.country_code,
    s.owner_id,
    coalesce(o.segments['party_type'], s.party_type) as party_type,
    coalesce(o.segments['tenure'], s.tenure) as tenure,
    coalesce(o.segments['market'], s.market) as market,
    coalesce(o.segments['value_tier'], s.value_tier) as value_tier,
    coalesce(o.segments['pareto_class'], s.pareto_class) as pareto_class,
    coalesce(o.segments['lifecycle_stage'], s.lifecycle_stage) as lifecycle_stage,
    coalesce(o.segments['region'], s.region) as region,
    coalesce(o.segments['industry_vertical'], s.industry_vertical) as industry_vertical,
    coalesce(o.segments['size_tier'], s.size_tier) as size_tier,
    coalesce(o.segments['sales_channel_group'], s.sales_channel_group) as sales_channel_group,
    coalesce(o.segments['service_level'], s.service_level) as service_level,
    coalesce(o.segments['product_mix'], s.product_mix) as product_mix,
    coalesce(o.segments['payment_terms_bucket'], s.payment_terms_bucket) as payment_terms_bucket,
    coalesce(o.segments['payment_behaviour'], s.payment_behaviour) as payment_behaviour,
    coalesce(o.segments['risk_profile'], s.risk_profile) as risk_profile,
    coalesce(o.segments['dunning_strategy'], s.dunning_strategy) as dunning_strategy,
    coalesce(o.segments['collector_level'], s.collector_level) as collector_level,
    coalesce(o.segments['icp_fit'], s.icp_fit) as icp_fit,
    coalesce(o.segments['potential_tier'], case
        when s.potential_value is null then 'to_be_defined'
        when s.potential_value >= getvariable('potential_high_min') then 'high'
        when s.potential_value >= getvariable('potential_medium_min') then 'medium'
        when s.potential_value > 0 then 'low'
        else 'none'
    end) as potential_tier,
    coalesce(o.segments['buying_readiness'], s.buying_readiness) as buying_readiness,
    coalesce(s.primary_product_line, 'none') as primary_product_line,
    s.early_payment_discount,
    s.credit_hold,
    cast(s.revenue_12m as decimal(18, 2)) as revenue_12m,
    cast(s.margin_12m as decimal(18, 2)) as margin_12m,
    cast(s.margin_pct_12m as decimal(10, 4)) as margin_pct_12m,
    s.first_invoice_date,
    s.last_invoice_date,
    s.open_ar,
    s.overdue_ar,
    cast(s.max_days_overdue as integer) as max_days_overdue,
    s.avg_days_late,
    s.on_time_rate,
    s.typical_pay_day,
    cast(s.disputes_12m as integer) as disputes_12m,
    cast(s.open_disputes as integer) as open_disputes,
    cast(s.bureau_score as double) as bureau_score,
    s.insolvency_flag,
    cast(s.risk_score as decimal(5, 1)) as risk_score,
    cast(s.credit_limit_utilisation as decimal(10, 4)) as credit_limit_utilisation,
    cast(s.group_open_ar as decimal(18, 2)) as group_open_ar,
    cast(s.icp_score as integer) as icp_score,
    cast(s.potential_value as decimal(18, 2)) as potential_value,
    list_filter(map_keys(getvariable('declared_segments')), lambda d: o.segments[d] is not null) as overridden_dimensions
from floor_segments as s
left join floor_overrides as o on s.account_id = o.account_id;
