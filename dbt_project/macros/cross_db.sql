{#- Engine-specific expressions behind adapter.dispatch, so that the models stay the
    same on every adapter: the default implementation is DuckDB's. -#}

{#- The string value of a top-level key of a JSON object held as text. -#}
{% macro json_get_string(json_text, key) -%}
    {{ return(adapter.dispatch('json_get_string', 'segmentation')(json_text, key)) }}
{%- endmacro %}

{% macro default__json_get_string(json_text, key) -%}
    json_extract_string({{ json_text }}, {{ sql_string('$.' ~ key) }})
{%- endmacro %}

{% macro spark__json_get_string(json_text, key) -%}
    get_json_object({{ json_text }}, {{ sql_string('$.' ~ key) }})
{%- endmacro %}


{#- Whether a list of strings holds a value. -#}
{% macro list_has(list_expression, value_expression) -%}
    {{ return(adapter.dispatch('list_has', 'segmentation')(list_expression, value_expression)) }}
{%- endmacro %}

{% macro default__list_has(list_expression, value_expression) -%}
    coalesce(list_contains({{ list_expression }}, {{ value_expression }}), false)
{%- endmacro %}

{% macro spark__list_has(list_expression, value_expression) -%}
    coalesce(array_contains({{ list_expression }}, {{ value_expression }}), false)
{%- endmacro %}


{#- The string values of several top-level keys of a JSON object held as text, as a
    list in the order of `keys` (the text is parsed once). -#}
{% macro json_get_strings(json_text, keys) -%}
    {{ return(adapter.dispatch('json_get_strings', 'segmentation')(json_text, keys)) }}
{%- endmacro %}

{% macro default__json_get_strings(json_text, keys) -%}
    json_extract_string({{ json_text }}, [{% for key in keys %}{{ sql_string('$.' ~ key) }}{{ ', ' if not loop.last }}{% endfor %}])
{%- endmacro %}

{% macro spark__json_get_strings(json_text, keys) -%}
    array({% for key in keys %}get_json_object({{ json_text }}, {{ sql_string('$.' ~ key) }}){{ ', ' if not loop.last }}{% endfor %})
{%- endmacro %}


{#- The element of a list at a 1-based position. -#}
{% macro list_element(list_expression, position) -%}
    {{ return(adapter.dispatch('list_element', 'segmentation')(list_expression, position)) }}
{%- endmacro %}

{% macro default__list_element(list_expression, position) -%}
    {{ list_expression }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_element(list_expression, position) -%}
    element_at({{ list_expression }}, {{ position }})
{%- endmacro %}




{#- A regular expression as a string literal. DuckDB's literals keep backslashes
    as they are; Spark's literals read a backslash as an escape, so it is doubled. -#}
{% macro regex_literal(pattern) -%}
    {{ return(adapter.dispatch('regex_literal', 'segmentation')(pattern)) }}
{%- endmacro %}

{% macro default__regex_literal(pattern) -%}
    {{ sql_string(pattern) }}
{%- endmacro %}

{% macro spark__regex_literal(pattern) -%}
    {{ sql_string(pattern | replace('\\', '\\\\')) }}
{%- endmacro %}


{#- Whether the whole text matches the pattern (null for null text). RE2 on DuckDB,
    java.util.regex on Spark: keep patterns to the common subset. Spark anchors with
    \z, not $ (java's $ also matches before a final line break). -#}
{% macro regexp_full_match(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_full_match', 'segmentation')(text, pattern)) }}
{%- endmacro %}

{% macro default__regexp_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, {{ regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__regexp_full_match(text, pattern) -%}
    ({{ text }} rlike {{ regex_literal('^(?:' ~ pattern ~ ')\\z') }})
{%- endmacro %}


{#- Every match of the pattern replaced (DuckDB needs the 'g' option). -#}
{% macro regexp_replace_all(text, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'segmentation')(text, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ regex_literal(pattern) }}, {{ sql_string(replacement) }}, 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(text, pattern, replacement) -%}
    regexp_replace({{ text }}, {{ regex_literal(pattern) }}, {{ sql_string(replacement) }})
{%- endmacro %}


{#- The list of every (whole) match of the pattern. -#}
{% macro regexp_extract_all(text, pattern) -%}
    {{ return(adapter.dispatch('regexp_extract_all', 'segmentation')(text, pattern)) }}
{%- endmacro %}

{% macro default__regexp_extract_all(text, pattern) -%}
    regexp_extract_all({{ text }}, {{ regex_literal(pattern) }})
{%- endmacro %}

{% macro spark__regexp_extract_all(text, pattern) -%}
    regexp_extract_all({{ text }}, {{ regex_literal(pattern) }}, 0)
{%- endmacro %}


{#- The UTC date of an ISO 8601 timestamp text (with or without offset); null when
    it does not parse. The session time zone is UTC on both engines (profiles.yml). -#}
{% macro timestamp_text_to_date(text) -%}
    {{ return(adapter.dispatch('timestamp_text_to_date', 'segmentation')(text)) }}
{%- endmacro %}

{% macro default__timestamp_text_to_date(text) -%}
    cast(try_cast({{ text }} as timestamptz) as date)
{%- endmacro %}

{% macro spark__timestamp_text_to_date(text) -%}
    to_date(try_cast({{ text }} as timestamp))
{%- endmacro %}


{#- `*` without some columns, optionally qualified (`relation.*`). -#}
{% macro star_except(columns, qualifier=none) -%}
    {{ return(adapter.dispatch('star_except', 'segmentation')(columns, qualifier)) }}
{%- endmacro %}

{% macro default__star_except(columns, qualifier) -%}
    {{ qualifier ~ '.' if qualifier }}* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns, qualifier) -%}
    {{ qualifier ~ '.' if qualifier }}* except ({{ columns | join(', ') }})
{%- endmacro %}


{#- `*` of a relation with some columns replaced in place: {column: expression}.
    Spark has no `* replace`: the relation's columns are listed (at run time). -#}
{% macro star_replace(relation, replacements) -%}
    {{ return(adapter.dispatch('star_replace', 'segmentation')(relation, replacements)) }}
{%- endmacro %}

{% macro default__star_replace(relation, replacements) -%}
    * replace (
    {%- for column, expression in replacements.items() %}
        {{ expression }} as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{% macro spark__star_replace(relation, replacements) -%}
    {%- set columns = adapter.get_columns_in_relation(relation) if execute else [] -%}
    {%- if columns | length == 0 -%}
    {#- parse time, or a unit test (ref() is a fixture CTE, not a relation): the
        replaced columns move to the end -#}
    * except ({{ replacements.keys() | join(', ') }}),
    {%- for column, expression in replacements.items() %}
        {{ expression }} as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    {%- else -%}
    {%- for column in columns %}
        {{ replacements[column.name] ~ ' as ' ~ column.name if column.name in replacements else column.name }}{{ ',' if not loop.last }}
    {%- endfor %}
    {%- endif -%}
{%- endmacro %}


{#- ASOF left join: each row of `left_relation` (the name it has in the FROM clause)
    gets the row of `right_relation` with the same `by` value and the greatest
    `right_date` <= `left_date`. Spark has no ASOF join: the greatest date is found
    per distinct (by, date) of the left side and joined back. Assumes (by,
    right_date) is unique on the right side (as DuckDB picks one row otherwise). -#}
{% macro asof_left_join(left_relation, right_relation, alias, left_by, right_by, left_date, right_date) -%}
    {{ return(adapter.dispatch('asof_left_join', 'segmentation')(left_relation, right_relation, alias, left_by, right_by, left_date, right_date)) }}
{%- endmacro %}

{#- The as-of match is made once per distinct (by, date) of the left side, then joined
    back on equality: an ASOF join sorts its whole left side (16 M invoices at a million
    accounts, for a few thousand rates), the distinct keys are a few thousand rows. -#}
{% macro default__asof_left_join(left_relation, right_relation, alias, left_by, right_by, left_date, right_date) -%}
    left join (
        select keys._asof_by, keys._asof_at, matched.*
        from (select distinct {{ left_by }} as _asof_by, {{ left_date }} as _asof_at from {{ left_relation }}) as keys
        asof left join {{ right_relation }} as matched
            on keys._asof_by = matched.{{ right_by }}
            and keys._asof_at >= matched.{{ right_date }}
    ) as {{ alias }}
        on {{ left_relation }}.{{ left_by }} = {{ alias }}._asof_by
        and {{ left_relation }}.{{ left_date }} = {{ alias }}._asof_at
{%- endmacro %}

{% macro spark__asof_left_join(left_relation, right_relation, alias, left_by, right_by, left_date, right_date) -%}
    left join (
        select keys._asof_by, keys._asof_at, max(candidates.{{ right_date }}) as _asof_date
        from (select distinct {{ left_by }} as _asof_by, {{ left_date }} as _asof_at from {{ left_relation }}) as keys
        inner join {{ right_relation }} as candidates
            on keys._asof_by = candidates.{{ right_by }}
            and keys._asof_at >= candidates.{{ right_date }}
        group by keys._asof_by, keys._asof_at
    ) as {{ alias }}_asof
        on {{ left_relation }}.{{ left_by }} = {{ alias }}_asof._asof_by
        and {{ left_relation }}.{{ left_date }} = {{ alias }}_asof._asof_at
    left join {{ right_relation }} as {{ alias }}
        on {{ alias }}_asof._asof_by = {{ alias }}.{{ right_by }}
        and {{ alias }}_asof._asof_date = {{ alias }}.{{ right_date }}
{%- endmacro %}


{#- A list of quoted string literals as a list value. -#}
{% macro string_list_value(values) -%}
    {{ return(adapter.dispatch('string_list_value', 'segmentation')(values)) }}
{%- endmacro %}

{% macro default__string_list_value(values) -%}
    [{%- for value in values -%}{{ sql_string(value) }}{{ ', ' if not loop.last }}{%- endfor -%}]
{%- endmacro %}

{% macro spark__string_list_value(values) -%}
    array({%- for value in values -%}{{ sql_string(value) }}{{ ', ' if not loop.last }}{%- endfor -%})
{%- endmacro %}


{#- The distinct elements two lists share. -#}
{% macro list_intersect(left, right) -%}
    {{ return(adapter.dispatch('list_intersect', 'segmentation')(left, right)) }}
{%- endmacro %}

{% macro default__list_intersect(left, right) -%}
    list_intersect({{ left }}, {{ right }})
{%- endmacro %}

{% macro spark__list_intersect(left, right) -%}
    array_intersect({{ left }}, {{ right }})
{%- endmacro %}


{#- The number of elements of a list. -#}
{% macro list_length(list_expression) -%}
    {{ return(adapter.dispatch('list_length', 'segmentation')(list_expression)) }}
{%- endmacro %}

{% macro default__list_length(list_expression) -%}
    len({{ list_expression }})
{%- endmacro %}

{% macro spark__list_length(list_expression) -%}
    size({{ list_expression }})
{%- endmacro %}


{#- The smallest element of a list of strings (null when empty). -#}
{% macro list_min_string(list_expression) -%}
    {{ return(adapter.dispatch('list_min_string', 'segmentation')(list_expression)) }}
{%- endmacro %}

{% macro default__list_min_string(list_expression) -%}
    list_sort({{ list_expression }})[1]
{%- endmacro %}

{% macro spark__list_min_string(list_expression) -%}
    element_at(array_sort({{ list_expression }}), 1)
{%- endmacro %}


{#- The non-null values of some string expressions, as a list (in order). -#}
{% macro non_null_string_list(expressions) -%}
    {{ return(adapter.dispatch('non_null_string_list', 'segmentation')(expressions)) }}
{%- endmacro %}

{% macro default__non_null_string_list(expressions) -%}
    cast(list_filter([{{ expressions | join(', ') }}], lambda x: x is not null) as varchar[])
{%- endmacro %}

{% macro spark__non_null_string_list(expressions) -%}
    cast(filter(array({{ expressions | join(', ') }}), x -> x is not null) as array<string>)
{%- endmacro %}


{#- A JSON object (as text) of (key, expression) pairs, keys in order, null values kept. -#}
{% macro json_object_text(pairs) -%}
    {{ return(adapter.dispatch('json_object_text', 'segmentation')(pairs)) }}
{%- endmacro %}

{% macro default__json_object_text(pairs) -%}
    cast(json_object(
    {%- for key, expression in pairs %}
        {{ sql_string(key) }}, {{ expression }}{{ ',' if not loop.last }}
    {%- endfor %}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__json_object_text(pairs) -%}
    to_json(named_struct(
    {%- for key, expression in pairs %}
        {{ sql_string(key) }}, {{ expression }}{{ ',' if not loop.last }}
    {%- endfor %}
    ), map('ignoreNullFields', 'false'))
{%- endmacro %}


{#- The continuous quantile (linear interpolation) of an aggregate. -#}
{% macro quantile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('quantile_cont', 'segmentation')(expression, fraction)) }}
{%- endmacro %}

{% macro default__quantile_cont(expression, fraction) -%}
    quantile_cont({{ expression }}, {{ fraction }})
{%- endmacro %}

{% macro spark__quantile_cont(expression, fraction) -%}
    percentile({{ expression }}, {{ fraction }})
{%- endmacro %}


{#- round() of a DOUBLE, as DuckDB does it: round(x * 10^n) / 10^n, half away from
    zero on the binary value. Spark's round(double) rounds the shortest decimal
    representation instead (round(2.675, 2) is 2.68 there, 2.67 on DuckDB). -#}
{% macro round_double(expression, places) -%}
    {{ return(adapter.dispatch('round_double', 'segmentation')(expression, places)) }}
{%- endmacro %}

{% macro default__round_double(expression, places) -%}
    round({{ expression }}, {{ places }})
{%- endmacro %}

{% macro spark__round_double(expression, places) -%}
    (round(cast({{ expression }} as double) * 1e{{ places }}, 0) / 1e{{ places }})
{%- endmacro %}
