{{ config(meta={'dagster': {'ref': {'name': 'segmented_accounts'}}}) }}
-- Every row of the accounts snapshot is published, counted as closed, or quarantined.
with snapshot as (
    select count(*) as snapshot_rows from {{ ref('stg_crm__accounts') }}
),

published as (
    select count(*) as published_rows from {{ ref('segmented_accounts') }}
),

ledger as (
    select
        sum(case when outcome = 'excluded' and reason = 'closed_account' then row_count else 0 end) as closed_rows,
        sum(case when outcome = 'quarantined' then row_count else 0 end) as quarantined_rows
    from {{ ref('input_row_outcomes') }}
    where source = 'crm' and entity = 'accounts'
)

select *
from snapshot, published, ledger
where snapshot_rows <> published_rows + coalesce(closed_rows, 0) + coalesce(quarantined_rows, 0)
