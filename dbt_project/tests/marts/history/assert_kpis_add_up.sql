{{ config(meta={'dagster': {'ref': {'name': 'segment_kpis'}}}) }}
{#- For every dimension, the accounts per segment sum to the published row count and
    the revenue shares to 100 % (when there is revenue at all). -#}
with published as (
    select count(*) as accounts, sum(revenue_12m) as revenue from {{ ref('segmented_accounts') }}
),

per_dimension as (
    select
        dimension,
        sum(accounts) as accounts,
        sum(share_of_revenue) as share_of_revenue
    from {{ ref('segment_kpis') }}
    group by dimension
)

select per_dimension.*, published.accounts as published_accounts
from per_dimension
cross join published
where per_dimension.accounts <> published.accounts
   or (published.revenue <> 0 and abs(per_dimension.share_of_revenue - 1) > 0.000001)
