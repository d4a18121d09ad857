{#- Each owner's published accounts per lifecycle stage and value tier against the
    sales capacity of the configuration (capacity.default, or capacity.owners.<id>),
    overloaded when either limit is exceeded. Accounts without an owner form one row
    with owner_id null, to which no capacity applies. -#}
{%- set lifecycle_stages = (cfg('dimensions.lifecycle_stage.segments') or []) + ['to_be_defined'] %}
{%- set value_tiers = (cfg('dimensions.value_tier.segments') or []) + ['to_be_defined'] %}
{%- set owner_capacity = cfg('capacity.owners') or {} %}
with accounts as (
    select owner_id, lifecycle_stage, value_tier, revenue_12m
    from {{ ref('segmented_accounts') }}
),

portfolios as (
    select
        owner_id,
        count(*) as accounts,
        count(case when lifecycle_stage = {{ cfg_string('capacity.key_account_stage') }} then 1 end) as key_accounts,
        sum(revenue_12m) as revenue_12m,
        {%- for stage in lifecycle_stages %}
        count(case when lifecycle_stage = {{ sql_string(stage) }} then 1 end) as lifecycle_{{ stage }},
        {%- endfor %}
        {%- for tier in value_tiers %}
        count(case when value_tier = {{ sql_string(tier) }} then 1 end) as value_tier_{{ tier }}{{ ',' if not loop.last }}
        {%- endfor %}
    from accounts
    group by owner_id
),

with_capacity as (
    select
        portfolios.*,
        case
            when owner_id is null then null
            {%- for owner, capacity in owner_capacity.items() %}
            when owner_id = {{ sql_string(owner) }} then {{ capacity['max_accounts'] | int }}
            {%- endfor %}
            else {{ cfg_number('capacity.default.max_accounts') }}
        end as max_accounts,
        case
            when owner_id is null then null
            {%- for owner, capacity in owner_capacity.items() %}
            when owner_id = {{ sql_string(owner) }} then {{ capacity['max_key_accounts'] | int }}
            {%- endfor %}
            else {{ cfg_number('capacity.default.max_key_accounts') }}
        end as max_key_accounts
    from portfolios
)

select
    cast(owner_id as {{ dbt.type_string() }}) as owner_id,
    cast(accounts as bigint) as accounts,
    cast(key_accounts as bigint) as key_accounts,
    cast(max_accounts as integer) as max_accounts,
    cast(max_key_accounts as integer) as max_key_accounts,
    coalesce(accounts > max_accounts or key_accounts > max_key_accounts, false) as is_overloaded,
    cast(nullif(concat_ws('; ',
        case when accounts > max_accounts
             then concat_ws('', cast(accounts as {{ dbt.type_string() }}), ' accounts, capacity ', cast(max_accounts as {{ dbt.type_string() }})) end,
        case when key_accounts > max_key_accounts
             then concat_ws('', cast(key_accounts as {{ dbt.type_string() }}), ' key accounts, capacity ', cast(max_key_accounts as {{ dbt.type_string() }})) end
    ), '') as {{ dbt.type_string() }}) as overload_reason,
    cast(revenue_12m as decimal(18, 2)) as revenue_12m,
    {%- for stage in lifecycle_stages %}
    cast(lifecycle_{{ stage }} as bigint) as lifecycle_{{ stage }},
    {%- endfor %}
    {%- for tier in value_tiers %}
    cast(value_tier_{{ tier }} as bigint) as value_tier_{{ tier }},
    {%- endfor %}
    {{ as_of_date() }} as as_of_date,
    {{ run_var('run_id') }} as run_id
from with_capacity
