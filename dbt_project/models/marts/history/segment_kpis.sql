{#- Per dimension and segment: accounts, revenue (revenue_12m), revenue per account,
    share of revenue, retention rate (accounts with revenue in the previous 12 months
    that also have revenue in the last 12, over those with revenue in the previous
    12), average days late, the dimension's to_be_defined share, and the share of
    accounts against the previous publication. Every declared segment (and
    to_be_defined) has a row, with 0 accounts when it is empty; the Pareto figure is
    the share_of_revenue of pareto_class A. -#}
{%- set declared_pairs = [] %}
{%- for dimension in segment_dimensions() %}
    {%- for segment in cfg('dimensions.' ~ dimension ~ '.segments') + ['to_be_defined'] %}
        {%- do declared_pairs.append((dimension, segment)) %}
    {%- endfor %}
{%- endfor %}
with accounts as (
    select account_id, revenue_12m, avg_days_late
    from {{ ref('segmented_accounts') }}
),

prior_revenue as (
    select * from {{ ref('int_accounts__revenue_prior_window') }}
),

current_segments as (
    select * from {{ ref('int_history__current_segments') }}
),


measured as (
    select
        current_segments.dimension,
        current_segments.segment_value as segment,
        count(*) as accounts,
        sum(accounts.revenue_12m) as revenue,
        count(case when prior_revenue.revenue_prior_12m > 0 then 1 end) as accounts_with_prior_revenue,
        count(case when prior_revenue.revenue_prior_12m > 0 and accounts.revenue_12m > 0 then 1 end)
            as accounts_retained,
        avg(accounts.avg_days_late) as avg_days_late
    from current_segments
    inner join accounts
        on current_segments.account_id = accounts.account_id
    left join prior_revenue
        on current_segments.account_id = prior_revenue.account_id
    group by current_segments.dimension, current_segments.segment_value
),

-- the value each account held before D (history rows still open then)
previous as (
    select dimension, segment_value as segment, count(*) as previous_accounts
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_from < {{ as_of_date() }}
      and (valid_to is null or valid_to >= {{ as_of_date() }})
    group by dimension, segment_value
),

declared (dimension, segment) as (
    {%- if declared_pairs %}
    values
    {%- for dimension, segment in declared_pairs %}
        ({{ sql_string(dimension) }}, {{ sql_string(segment) }}){{ ',' if not loop.last }}
    {%- endfor %}
    {%- else %}
    select cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_string() }}) where false
    {%- endif %}
),

segments as (
    select dimension, segment from declared
    union
    select dimension, segment from measured
    union
    select dimension, segment from previous
),

totals as (
    select
        count(*) as accounts,
        sum(revenue_12m) as revenue
    from accounts
),

previous_totals as (
    select dimension, sum(previous_accounts) as previous_accounts
    from previous
    group by dimension
),

history_started as (
    select count(*) > 0 as has_history
    from {{ ref('stg_warehouse__segment_history') }}
    where valid_from < {{ as_of_date() }}
),

to_be_defined as (
    select dimension, sum(case when segment = 'to_be_defined' then accounts else 0 end) as accounts
    from measured
    group by dimension
),

kpis as (
    select
        segments.dimension,
        segments.segment,
        coalesce(measured.accounts, 0) as accounts,
        coalesce(measured.revenue, 0) as revenue,
        measured.accounts_with_prior_revenue,
        measured.accounts_retained,
        measured.avg_days_late,
        totals.accounts as total_accounts,
        totals.revenue as total_revenue,
        coalesce(to_be_defined.accounts, 0) as to_be_defined_accounts,
        case when history_started.has_history then coalesce(previous.previous_accounts, 0) end as previous_accounts,
        previous_totals.previous_accounts as previous_total_accounts
    from segments
    cross join totals
    cross join history_started
    left join measured
        on segments.dimension = measured.dimension and segments.segment = measured.segment
    left join previous
        on segments.dimension = previous.dimension and segments.segment = previous.segment
    left join previous_totals
        on segments.dimension = previous_totals.dimension
    left join to_be_defined
        on segments.dimension = to_be_defined.dimension
)

select
    {{ as_of_date() }} as as_of_date,
    cast(dimension as {{ dbt.type_string() }}) as dimension,
    cast(segment as {{ dbt.type_string() }}) as segment,
    cast(accounts as bigint) as accounts,
    cast(case when total_accounts > 0 then cast(accounts as double) / total_accounts end as double)
        as share_of_accounts,
    cast(revenue as decimal(18, 2)) as revenue,
    cast(case when accounts > 0 then {{ round_double("cast(revenue as double) / accounts", 2) }} end as decimal(18, 2)) as revenue_per_account,
    cast(case when total_revenue <> 0 then cast(revenue as double) / cast(total_revenue as double) end as double)
        as share_of_revenue,
    cast(case when accounts_with_prior_revenue > 0
              then cast(accounts_retained as double) / accounts_with_prior_revenue end as double) as retention_rate,
    cast({{ round_double("avg_days_late", 2) }} as decimal(10, 2)) as avg_days_late,
    cast(case when total_accounts > 0 then cast(to_be_defined_accounts as double) / total_accounts end as double)
        as share_to_be_defined,
    cast(previous_accounts as bigint) as previous_accounts,
    cast(case when previous_total_accounts > 0
              then cast(previous_accounts as double) / previous_total_accounts
              when previous_accounts is not null then 0 end as double) as previous_share_of_accounts,
    cast(case when previous_accounts is not null and total_accounts > 0
              then cast(accounts as double) / total_accounts
                   - coalesce(cast(previous_accounts as double) / nullif(previous_total_accounts, 0), 0)
         end as double) as share_of_accounts_change,
    {{ run_var('run_id') }} as run_id
from kpis
