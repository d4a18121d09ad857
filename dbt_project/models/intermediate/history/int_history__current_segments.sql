{#- This run's segments as (account, dimension) rows: the value, its reason and
    whether an override set it. Booleans read 'true' / 'false'. -#}
{%- for dimension in tracked_dimensions() %}
select
    account_id,
    cast({{ sql_string(dimension) }} as varchar) as dimension,
    cast({{ dimension }} as varchar) as segment_value,
    {{ json_get_string('segment_reasons', dimension) }} as reason,
    {{ list_has('overridden_dimensions', sql_string(dimension)) }} as is_override
from {{ ref('segmented_accounts') }}
{{ 'union all' if not loop.last }}
{%- endfor %}
{%- if tracked_dimensions() | length == 0 %}
{#- parse time, before the configuration is known -#}
select
    cast(null as varchar) as account_id,
    cast(null as varchar) as dimension,
    cast(null as varchar) as segment_value,
    cast(null as varchar) as reason,
    cast(null as boolean) as is_override
from {{ ref('segmented_accounts') }}
where false
{%- endif %}
