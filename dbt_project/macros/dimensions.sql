{#- The published segment dimensions, once: the configuration's dimensions (in their
    declared order) followed by the attributes that carry a reason but are not
    overridable segments. History, changes and KPIs cover both. -#}

{% macro segment_dimensions() -%}
    {%- set dimensions = cfg('dimensions') if var('segmentation', none) is not none else none -%}
    {{- return((dimensions or {}).keys() | list) -}}
{%- endmacro %}


{% macro segment_attributes() -%}
    {{- return(['primary_product_line', 'early_payment_discount', 'credit_hold']) -}}
{%- endmacro %}


{% macro tracked_dimensions() -%}
    {{- return(segment_dimensions() + segment_attributes()) -}}
{%- endmacro %}
