{#- One row per account_id present in the accounts snapshot: what an invoice,
    opportunity or contact pointing at it needs to know (unknown, quarantined,
    closed or published). -#}
select
    account_id,
    bool_and(quarantine_reason is not null) as is_quarantined,
    bool_or(quarantine_reason is null and exclusion_reason is not null) as is_excluded,
    max(exclusion_reason) as exclusion_reason
from {{ ref('int_crm__accounts_validated') }}
where account_id is not null
group by account_id
