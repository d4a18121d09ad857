{#- The conservation ledger: per entity, how many rows of the merged input state
    were used, excluded by a named rule, or quarantined. Every merged row is in
    exactly one outcome (tested against the staging row counts). -#}
with outcomes as (
{%- for model, staging_model, source_name, entity, _key in validated_entities() %}
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
    cast(source as {{ dbt.type_string() }}) as source,
    cast(entity as {{ dbt.type_string() }}) as entity,
    cast(outcome as {{ dbt.type_string() }}) as outcome,
    cast(reason as {{ dbt.type_string() }}) as reason,
    count(*) as row_count,
    max(merged_rows) as merged_rows
from outcomes
group by source, entity, outcome, reason
