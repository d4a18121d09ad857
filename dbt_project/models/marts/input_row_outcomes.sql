{#- The conservation ledger: per entity, how many rows of the merged input state
    were used, excluded by a named rule, or quarantined. Every merged row is in
    exactly one outcome (tested against the staging row counts). -#}
{%- set entities = [
    ('int_crm__accounts_validated', 'stg_crm__accounts', 'crm', 'accounts'),
    ('int_crm__contacts_validated', 'stg_crm__contacts', 'crm', 'contacts'),
    ('int_crm__opportunities_validated', 'stg_crm__opportunities', 'crm', 'opportunities'),
    ('int_finance__invoices_validated', 'stg_finance__invoices', 'finance', 'invoices'),
    ('int_finance__invoice_lines_validated', 'stg_finance__invoice_lines', 'finance', 'invoice_lines'),
    ('int_finance__payments_validated', 'stg_finance__payments', 'finance', 'payments'),
    ('int_finance__fx_rates_validated', 'stg_finance__fx_rates', 'finance', 'fx_rates'),
    ('int_bureau__company_scores_validated', 'stg_bureau__company_scores', 'bureau', 'company_scores'),
] -%}

with outcomes as (
{%- for model, staging_model, source_name, entity in entities %}
    select
        {{ sql_string(source_name) }} as source,
        {{ sql_string(entity) }} as entity,
        case when quarantine_reason is not null then 'quarantined'
             when exclusion_reason is not null then 'excluded'
             else 'used' end as outcome,
        coalesce(quarantine_reason, exclusion_reason) as reason,
        (select count(*) from {{ ref(staging_model) }}) as merged_rows
    from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
{%- endfor %}
)

select
    cast(source as varchar) as source,
    cast(entity as varchar) as entity,
    cast(outcome as varchar) as outcome,
    cast(reason as varchar) as reason,
    count(*) as row_count,
    max(merged_rows) as merged_rows
from outcomes
group by source, entity, outcome, reason
