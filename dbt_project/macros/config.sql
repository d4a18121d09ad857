{#- The configuration reaches SQL only through these macros.

    The pipeline validates pipeline/config/segmentation.yml (types, ranges, segment
    names as identifiers, country codes against the ISO list) and passes it as the
    var `segmentation`. Values are rendered as quoted literals or checked numbers,
    never pasted as free text. A key that does not exist fails the compilation with
    its name, so a typo in a model cannot silently read as null.

    While dbt only parses the project (no vars yet), the macros render `null`. -#}

{% macro cfg(path) -%}
    {%- set root = var('segmentation', none) -%}
    {%- if root is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("var 'segmentation' is missing: run the models through the pipeline, which passes the validated configuration") }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set ns = namespace(node=root) -%}
    {%- for part in path.split('.') -%}
        {%- if ns.node is mapping and part in ns.node -%}
            {%- set ns.node = ns.node[part] -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("configuration key '" ~ path ~ "' does not exist") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(ns.node) }}
{%- endmacro %}


{#- A configuration number, rendered as a numeric literal. -#}
{% macro cfg_number(path) -%}
    {%- set value = cfg(path) -%}
    {%- if value is none -%}null
    {%- elif value is number and value is not boolean -%}{{ value }}
    {%- else -%}{{ exceptions.raise_compiler_error("configuration key '" ~ path ~ "' is not a number") }}
    {%- endif -%}
{%- endmacro %}


{#- A configuration share (0..1), rendered as an exact decimal so that, e.g.,
    ceil(0.2 * 15) is 3 and not 4 as binary floating point would give. -#}
{% macro cfg_share(path) -%}
    {%- set value = cfg(path) -%}
    {%- if value is none -%}null
    {%- else -%}cast({{ sql_string(value | string) }} as decimal(12, 8))
    {%- endif -%}
{%- endmacro %}


{#- A configuration string, rendered as a quoted literal. -#}
{% macro cfg_string(path) -%}
    {%- set value = cfg(path) -%}
    {{- 'null' if value is none else sql_string(value) -}}
{%- endmacro %}


{#- A configuration list, rendered as a parenthesised list of quoted literals for `in`. -#}
{% macro cfg_string_list(path) -%}
    {{- sql_string_list(cfg(path) or []) -}}
{%- endmacro %}


{% macro sql_string(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}


{% macro sql_string_list(values) -%}
    {%- if values | length == 0 -%}(null)
    {%- else -%}({%- for value in values -%}{{ sql_string(value) }}{{ ', ' if not loop.last }}{%- endfor -%})
    {%- endif -%}
{%- endmacro %}


{#- A mapping {segment: [value, ...]} rendered as `case <expr> when 'v' then 'segment' ... else <fallback> end`. -#}
{% macro cfg_map_case(expression, path, fallback='null') -%}
    {%- set mapping = cfg(path) or {} -%}
    case {{ expression }}
    {%- for segment, values in mapping.items() %}
        {%- for value in values %}
        when {{ sql_string(value) }} then {{ sql_string(segment) }}
        {%- endfor %}
    {%- endfor %}
        else {{ fallback }}
    end
{%- endmacro %}


{#- The run's parameters. A nightly run writes them into raw.run_context (one row)
    before dbt starts, so that the compiled project, and with it dbt's partial-parsing
    cache, stays the same from night to night (--vars carries only the configuration).
    A var given explicitly (unit tests, `segmentation docs`) is rendered as a literal. -#}
{% macro run_context(column) -%}
    (select {{ column }} from raw.run_context)
{%- endmacro %}


{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if value is none -%}
        {{ run_context('as_of_date') }}
    {%- elif modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value | string) -%}
        cast({{ sql_string(value) }} as date)
    {%- else -%}
        {{ exceptions.raise_compiler_error("var 'as_of_date' is not a YYYY-MM-DD date: " ~ value) }}
    {%- endif -%}
{%- endmacro %}


{% macro run_var(name) -%}
    {%- if name not in ('run_id', 'ruleset_version') -%}
        {{ exceptions.raise_compiler_error("unknown run parameter '" ~ name ~ "'") }}
    {%- endif -%}
    {%- set value = var(name, none) -%}
    {{- run_context(name) if value is none else sql_string(value) -}}
{%- endmacro %}


{#- A list of quoted literals as a SQL list value: ['a', 'b']. -#}
{% macro sql_string_array(values) -%}
    {{- string_list_value(values) -}}
{%- endmacro %}
