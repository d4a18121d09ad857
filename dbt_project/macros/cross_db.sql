{#- Engine-specific expressions behind adapter.dispatch, so that the models stay the
    same on every adapter: the default implementation is DuckDB's. -#}

{#- Whether a list of strings holds a value. -#}
{% macro list_has(list_expression, value_expression) -%}
    {{ return(adapter.dispatch('list_has', 'segmentation')(list_expression, value_expression)) }}
{%- endmacro %}

{% macro default__list_has(list_expression, value_expression) -%}
    coalesce(list_contains({{ list_expression }}, {{ value_expression }}), false)
{%- endmacro %}


{#- The string values of several top-level keys of a JSON object held as text, as a
    list in the order of `keys` (the text is parsed once). -#}
{% macro json_get_strings(json_text, keys) -%}
    {{ return(adapter.dispatch('json_get_strings', 'segmentation')(json_text, keys)) }}
{%- endmacro %}

{% macro default__json_get_strings(json_text, keys) -%}
    json_extract_string({{ json_text }}, [{% for key in keys %}{{ sql_string('$.' ~ key) }}{{ ', ' if not loop.last }}{% endfor %}])
{%- endmacro %}


{#- The element of a list at a 1-based position. -#}
{% macro list_element(list_expression, position) -%}
    {{ return(adapter.dispatch('list_element', 'segmentation')(list_expression, position)) }}
{%- endmacro %}

{% macro default__list_element(list_expression, position) -%}
    {{ list_expression }}[{{ position }}]
{%- endmacro %}
