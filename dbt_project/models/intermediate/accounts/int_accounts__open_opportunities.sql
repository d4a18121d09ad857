{#- Open opportunities (stage not closed_won / closed_lost) per published account:
    their amount in the base currency at D, and whether one is hot (a configured
    stage with close_date between D and D + hot_within_days inclusive).

    The amounts are summed as decimals: a sum of doubles depends on the order in
    which parallel threads add them, and a total on a half cent then rounds either
    way from one run to the next (seen once at a million accounts, in a reason text). -#}
with opportunities as (
    select *
    from {{ ref('int_crm__opportunities_validated') }}
    where quarantine_reason is null
      and exclusion_reason is null
      and stage not in ('closed_won', 'closed_lost')
)

select
    account_id,
    count(*) as open_opportunities,
    cast(sum(cast(coalesce(amount, 0) * rate_to_base as decimal(38, 10))) as double) as open_amount_base,
    count(case when stage in {{ cfg_string_list('dimensions.buying_readiness.hot_stages') }}
                and {{ dbt.datediff(as_of_date(), 'close_date', 'day') }}
                    between 0 and {{ cfg_number('dimensions.buying_readiness.hot_within_days') }}
               then 1 end) as hot_opportunities
from opportunities
group by account_id
