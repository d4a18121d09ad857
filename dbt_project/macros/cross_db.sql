{#- Engine-specific expressions behind adapter.dispatch, so that the models stay the
    same on every adapter: the default implementation is DuckDB's. -#}

{#- The string value of a top-level key of a JSON object held as text. -#}
{% macro json_get_string(json_text, key) -%}
    {{ return(adapter.dispatch('json_get_string', 'segmentation')(json_text, key)) }}
{%- endmacro %}

{% macro default__json_get_string(json_text, key) -%}
    json_extract_string({{ json_text }}, {{ sql_string('$.' ~ key) }})
{%- endmacro %}


{#- Whether a list of strings holds a value. -#}
{% macro list_has(list_expression, value_expression) -%}
    {{ return(adapter.dispatch('list_has', 'segmentation')(list_expression, value_expression)) }}
{%- endmacro %}

{% macro default__list_has(list_expression, value_expression) -%}
    coalesce(list_contains({{ list_expression }}, {{ value_expression }}), false)
{%- endmacro %}
