{#- Every input row rejected by this run, once, with its first reason code and the
    detail of every reason that applied. Nothing is dropped without a row here. -#}
{%- for model, _staging_model, source_name, entity, key in validated_entities() %}
select
    cast({{ sql_string(source_name) }} as {{ dbt.type_string() }}) as source,
    cast({{ sql_string(entity) }} as {{ dbt.type_string() }}) as entity,
    cast({{ key }} as {{ dbt.type_string() }}) as record_key,
    cast(quarantine_reason as {{ dbt.type_string() }}) as reason_code,
    cast(quarantine_detail as {{ dbt.type_string() }}) as reason_detail,
    cast(_file_name as {{ dbt.type_string() }}) as file_name,
    cast(_row_number as bigint) as row_number,
    {{ as_of_date() }} as as_of_date,
    {{ run_var('run_id') }} as run_id
from {{ ref(model) }}
where quarantine_reason is not null
{{ 'union all' if not loop.last }}
{%- endfor %}
