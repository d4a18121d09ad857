{#- How the account buys: sales_channel_group, service_level, primary_product_line,
    product_mix, payment_terms_bucket and early_payment_discount, each with a reason.
    Maps and thresholds: configuration (dimensions.<name>). -#}
{%- set channel = 'dimensions.sales_channel_group' -%}
{%- set service = 'dimensions.service_level' -%}
{%- set terms = 'dimensions.payment_terms_bucket.max_terms_days' -%}

with accounts as (
    select
        account_id,
        sales_channel,
        contracted_service_level,
        -- trimmed, lower case, each run of spaces and/or hyphens one underscore
        {{ regexp_replace_all('lower(sales_channel)', '[ -]+', '_') }} as sales_channel_value
    from {{ ref('int_accounts__enriched') }}
),

lifecycle as (
    select account_id, lifecycle_stage, value_tier from {{ ref('int_segments__lifecycle') }}
),

profile as (
    select account_id, size_tier from {{ ref('int_segments__profile') }}
),

-- money is compared rounded, as published: ties are ties to the cent
product_lines as (
    select account_id, product_line, {{ round_double("revenue_base", 2) }} as revenue
    from {{ ref('int_account_product_lines_12m') }}
),

product_summary as (
    select
        account_id,
        count(case when revenue > 0 then 1 end) as lines_with_revenue
    from product_lines
    group by account_id
),

-- the largest revenue in the window, ties alphabetical
primary_line as (
    select account_id, product_line as primary_product_line, revenue as primary_revenue
    from product_lines
    where revenue > 0
    qualify row_number() over (partition by account_id order by revenue desc, product_line asc) = 1
),

latest_invoice as (
    select * from {{ ref('int_accounts__latest_invoice') }}
),

combined as (
    select
        accounts.*,
        lifecycle.lifecycle_stage,
        lifecycle.value_tier,
        profile.size_tier,
        coalesce(product_summary.lines_with_revenue, 0) as lines_with_revenue,
        primary_line.primary_product_line,
        primary_line.primary_revenue,
        latest_invoice.invoice_id as latest_invoice_id,
        latest_invoice.payment_terms_days,
        latest_invoice.early_payment_discount_pct
    from accounts
    inner join lifecycle on accounts.account_id = lifecycle.account_id
    inner join profile on accounts.account_id = profile.account_id
    left join product_summary on accounts.account_id = product_summary.account_id
    left join primary_line on accounts.account_id = primary_line.account_id
    left join latest_invoice on accounts.account_id = latest_invoice.account_id
)

select
    account_id,

    {{ cfg_map_case('sales_channel_value', channel ~ '.channels', "'to_be_defined'") }} as sales_channel_group,
    case
        when sales_channel is null then 'missing: sales_channel'
        when ({{ cfg_map_case('sales_channel_value', channel ~ '.channels') }}) is null
            then concat_ws('', 'unknown sales_channel "', sales_channel, '"')
        else concat_ws('', 'sales_channel "', sales_channel, '" (', sales_channel_value, ')')
    end as sales_channel_group_reason,

    case
        when contracted_service_level is not null then contracted_service_level
        when lifecycle_stage = 'key' then {{ cfg_string(service ~ '.key_account_level') }}
        when value_tier = 'high' or size_tier = 'enterprise' then {{ cfg_string(service ~ '.high_value_level') }}
        else {{ cfg_string(service ~ '.default_level') }}
    end as service_level,
    case
        when contracted_service_level is not null then concat_ws('', 'contracted: ', contracted_service_level)
        when lifecycle_stage = 'key' then 'lifecycle_stage key'
        when value_tier = 'high' then 'value_tier high'
        when size_tier = 'enterprise' then 'size_tier enterprise'
        else 'default (no contracted level, not key, not high value or enterprise)'
    end as service_level_reason,

    coalesce(primary_product_line, 'none') as primary_product_line,
    case when primary_product_line is null then 'none: no product line with revenue in the window'
         else concat_ws('', 'largest revenue in the window: ', cast(primary_revenue as decimal(18, 2)))
    end as primary_product_line_reason,

    case
        when lines_with_revenue = 0 then 'none'
        when lines_with_revenue = 1 then 'single_line'
        else 'multi_line'
    end as product_mix,
    concat_ws('', lines_with_revenue, ' product line(s) with revenue in the window') as product_mix_reason,

    case
        when latest_invoice_id is null or payment_terms_days is null then 'to_be_defined'
        when payment_terms_days <= {{ cfg_number(terms ~ '.immediate') }} then 'immediate'
        when payment_terms_days <= {{ cfg_number(terms ~ '.net_30') }} then 'net_30'
        when payment_terms_days <= {{ cfg_number(terms ~ '.net_60') }} then 'net_60'
        else 'net_90_plus'
    end as payment_terms_bucket,
    case
        when latest_invoice_id is null then 'missing: no valid invoice'
        when payment_terms_days is null then concat_ws('', 'missing: payment_terms_days on invoice ', latest_invoice_id)
        else concat_ws('', 'payment_terms_days ', payment_terms_days, ' on invoice ', latest_invoice_id)
    end as payment_terms_bucket_reason,

    coalesce(early_payment_discount_pct > 0, false) as early_payment_discount,
    case when latest_invoice_id is null then 'no valid invoice'
         else concat_ws('', 'early_payment_discount_pct ', early_payment_discount_pct, ' on invoice ', latest_invoice_id)
    end as early_payment_discount_reason
from combined
