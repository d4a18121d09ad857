{#- group_open_ar: the exposure over the account's group. The group is named by the
    account's trimmed parent_account_id, or by its own account_id when it has none;
    its members are the published account bearing that id and every published
    account whose parent it is (one level, not transitive; a closed or missing parent
    adds nothing). Sums the published (rounded) open_ar. -#}
with accounts as (
    select
        published.account_id,
        crm.parent_account_id,
        coalesce(crm.parent_account_id, published.account_id) as group_account_id
    from {{ ref('int_accounts__enriched') }} as published
    inner join {{ ref('int_crm__accounts_validated') }} as crm
        on published.account_id = crm.account_id
        and crm.quarantine_reason is null
        and crm.exclusion_reason is null
),

-- the members of every group id: the account bearing it and its children. Two
-- equality joins, not one join on `a or b`, which DuckDB can only run as a nested
-- loop (quadratic in accounts).
group_members as (
    select account_id as group_account_id, account_id as member_account_id
    from accounts
    union
    select parent_account_id as group_account_id, account_id as member_account_id
    from accounts
    where parent_account_id is not null
),

metrics as (
    select account_id, open_ar
    from {{ ref('int_credit__account_metrics') }}
)

select
    accounts.account_id,
    accounts.group_account_id,
    count(*) as group_members,
    {{ round_double("sum(metrics.open_ar)", 2) }} as group_open_ar
from accounts
inner join group_members
    on group_members.group_account_id = accounts.group_account_id
inner join metrics
    on group_members.member_account_id = metrics.account_id
group by accounts.account_id, accounts.group_account_id
