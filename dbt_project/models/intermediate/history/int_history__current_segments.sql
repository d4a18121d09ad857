{#- This run's segments as (account, dimension) rows: the value, its reason and
    whether an override set it. Booleans read 'true' / 'false'. The reasons are read
    from segment_reasons in one pass per account (parsing the JSON once per dimension
    cost six times as much). -#}
{%- set dimensions = tracked_dimensions() -%}
with published as (
    select
        account_id,
        {%- for dimension in dimensions %}
        cast({{ dimension }} as {{ dbt.type_string() }}) as {{ dimension }},
        {%- endfor %}
        {{ json_get_strings('segment_reasons', dimensions) }} as reasons,
        overridden_dimensions
    from {{ ref('segmented_accounts') }}
)
{%- for dimension in dimensions %}

select
    account_id,
    cast({{ sql_string(dimension) }} as {{ dbt.type_string() }}) as dimension,
    {{ dimension }} as segment_value,
    {{ list_element('reasons', loop.index) }} as reason,
    {{ list_has('overridden_dimensions', sql_string(dimension)) }} as is_override
from published
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- if dimensions | length == 0 %}
{#- parse time, before the configuration is known -#}
select
    cast(null as {{ dbt.type_string() }}) as account_id,
    cast(null as {{ dbt.type_string() }}) as dimension,
    cast(null as {{ dbt.type_string() }}) as segment_value,
    cast(null as {{ dbt.type_string() }}) as reason,
    cast(null as boolean) as is_override
from published
where false
{%- endif %}
