{#- The published table: one row per active, non-quarantined account as of D, with
    every dimension, the metrics the rules use, a reason per dimension, and the run's
    identity. Column names and types are an enforced contract (_marts__models.yml).

    Each family model (intermediate/segments/int_segments__<family>) gives, per
    account, its dimensions with a `<dimension>_reason` each. Overrides are applied
    here, after every dimension is computed, and feed no other rule. -#}
{{ long_text_storage_config() }}
{%- set families = [
    'int_segments__profile', 'int_segments__lifecycle', 'int_segments__commercial',
    'int_segments__credit', 'int_segments__fit',
] -%}
{#- The overridable segment dimensions, in the published column order, and the
    attributes with a reason that are not overridable (macros/dimensions.sql). -#}
{%- set dimensions = segment_dimensions() -%}
{%- set attributes = segment_attributes() -%}

with accounts as (
    select * from {{ ref('int_accounts__enriched') }}
),

overrides as (
    select
        account_id,
        {%- for dimension in dimensions %}
        max(case when dimension = {{ sql_string(dimension) }} then segment end) as {{ dimension }}_override,
        max(case when dimension = {{ sql_string(dimension) }}
                 then concat_ws('', 'override: ', segment, ' by ', coalesce(owner, 'unknown owner'),
                             coalesce(concat_ws('', ' (', reason, ')'), '')) end) as {{ dimension }}_override_reason
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_overrides__evaluated') }}
    where status = 'applied'
    group by account_id
),

computed as (
    select
        accounts.*,
        {%- for family in families %}
        {{ star_except(['account_id'], family) }},
        {%- endfor %}
        {{ star_except(['account_id'], 'overrides') }}
    from accounts
    {%- for family in families %}
    inner join {{ ref(family) }} as {{ family }}
        on accounts.account_id = {{ family }}.account_id
    {%- endfor %}
    left join overrides
        on accounts.account_id = overrides.account_id
)

select
    cast(account_id as {{ dbt.type_string() }}) as account_id,
    cast(account_name as {{ dbt.type_string() }}) as account_name,
    {{ as_of_date() }} as as_of_date,
    cast(country_code as {{ dbt.type_string() }}) as country_code,
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,

    {%- for dimension in dimensions %}
    cast(coalesce({{ dimension }}_override, {{ dimension }}) as {{ dbt.type_string() }}) as {{ dimension }},
    {%- endfor %}
    cast(primary_product_line as {{ dbt.type_string() }}) as primary_product_line,
    cast(early_payment_discount as boolean) as early_payment_discount,
    cast(credit_hold as boolean) as credit_hold,

    cast(revenue_12m as decimal(18, 2)) as revenue_12m,
    cast(margin_12m as decimal(18, 2)) as margin_12m,
    cast(margin_pct_12m as decimal(10, 4)) as margin_pct_12m,
    first_invoice_date,
    last_invoice_date,
    -- typed as published by int_segments__credit (the enforced contract checks them)
    open_ar,
    overdue_ar,
    max_days_overdue,
    avg_days_late,
    on_time_rate,
    typical_pay_day,
    disputes_12m,
    open_disputes,
    bureau_score,
    insolvency_flag,
    risk_score,
    credit_limit_utilisation,
    group_open_ar,
    cast(icp_score as integer) as icp_score,
    cast(potential_value as decimal(18, 2)) as potential_value,

    {%- set reason_pairs = [] %}
    {%- for dimension in dimensions %}
    {%- do reason_pairs.append((dimension,
        'case when ' ~ dimension ~ '_override is null then ' ~ dimension ~ '_reason'
        ~ " else concat_ws('', " ~ dimension ~ "_override_reason, '; computed: ', " ~ dimension ~ ", ' (', " ~ dimension ~ "_reason, ')') end")) %}
    {%- endfor %}
    {%- for attribute in attributes %}
    {%- do reason_pairs.append((attribute, attribute ~ '_reason')) %}
    {%- endfor %}
    {{ json_object_text(reason_pairs) }} as segment_reasons,
    {%- set overridden = [] %}
    {%- for dimension in dimensions %}
    {%- do overridden.append('case when ' ~ dimension ~ '_override is not null then ' ~ sql_string(dimension) ~ ' end') %}
    {%- endfor %}
    {{ non_null_string_list(overridden) }} as overridden_dimensions,
    {{ run_var('ruleset_version') }} as ruleset_version,
    {{ run_var('run_id') }} as run_id
from computed
