{#- Typing of raw extract values (every raw column is text, as delivered).

    Each staging model declares its typed columns once, as {column: type}, and uses
    `parse_as` for the value and `unparsable_columns` for the quarantine check, so a
    column's type is written in one place. A value that is present (not empty after
    trimming) but does not parse is an `invalid_value`; an empty one is null.

    Types: text, number, integer, date (exactly YYYY-MM-DD: a timestamp in a date
    column is an invalid value), timestamp_date (the UTC date of an ISO 8601
    timestamp with or without offset), boolean (true/false/1/0/yes/no, any case), or
    a list of allowed values (an enumeration, compared trimmed and case-insensitively,
    published lower-case). -#}

{% macro text_value(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}


{% macro parse_as(column, type) -%}
    {%- set value = text_value(column) -%}
    {%- if type is string and type == 'text' -%}
        {{ value }}
    {%- elif type is string and type == 'number' -%}
        case when {{ regexp_full_match(value, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?') }}
             then try_cast({{ value }} as double) end
    {%- elif type is string and type == 'integer' -%}
        case when {{ regexp_full_match(value, '[+-]?[0-9]{1,18}([.]0*)?') }}
             then try_cast(try_cast({{ value }} as double) as bigint) end
    {%- elif type is string and type == 'date' -%}
        case when {{ regexp_full_match(value, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
             then try_cast({{ value }} as date) end
    {%- elif type is string and type == 'timestamp_date' -%}
        {{ timestamp_text_to_date(value) }}
    {%- elif type is string and type == 'boolean' -%}
        case when lower({{ value }}) in ('true', '1', 'yes') then true
             when lower({{ value }}) in ('false', '0', 'no') then false end
    {%- elif type is sequence and type is not string -%}
        case when lower({{ value }}) in {{ sql_string_list(type) }} then lower({{ value }}) end
    {%- else -%}
        {{ exceptions.raise_compiler_error("parse_as: unknown type " ~ type ~ " for column " ~ column) }}
    {%- endif -%}
{%- endmacro %}


{#- Comma-separated names of the columns whose present value does not parse, or null. -#}
{% macro unparsable_columns(typed_columns) -%}
    nullif(concat_ws(', '
    {%- for column, type in typed_columns.items() %},
        case when {{ text_value(column) }} is not null and ({{ parse_as(column, type) }}) is null
             then {{ sql_string(column) }} end
    {%- endfor %}
    ), '')
{%- endmacro %}


{#- Comma-separated names of the given columns that are empty, or null. -#}
{% macro missing_columns(columns) -%}
    nullif(concat_ws(', '
    {%- for column in columns %},
        case when {{ text_value(column) }} is null then {{ sql_string(column) }} end
    {%- endfor %}
    ), '')
{%- endmacro %}


{#- Delta feeds: keep, per key, the rows of the newest file that holds the key
    (older versions are superseded, not part of the merged state). Rows without a
    complete key cannot be merged and are all kept (they are quarantined later).
    `_newest_key_copies` is how often the newest file holds the key: more than once
    is a duplicate key (`delta_duplicate_key`).

    One hash aggregate per key gives its newest file and, when all its rows are in
    that one file (nearly every key), its copies; only the keys held by several files
    are counted again, in their newest file. Aggregates, not window functions: a
    window partitioned by a text key costs several times as much on tens of millions
    of rows, and a second aggregate per (key, file) cost a tenth of the model.

    In an incremental build (macros/incremental.sql) only the keys of the files
    loaded since the last build are merged again, from every version of those keys:
    that small set is a CTE, read three times (a full build reads the raw table itself). -#}
{% macro newest_delta_rows(relation, key_columns) -%}
    {%- set versions = delta_rows_to_merge(relation, key_columns) -%}
    {%- set keys_match -%}
        {% for key in key_columns %}{{ text_value('versions.' ~ key) }} = newest._key_{{ loop.index }}{{ ' and ' if not loop.last }}{% endfor %}
    {%- endset -%}
    with
    {%- if is_incremental() %}
    changed_versions as {{ versions }},
    {%- set versions = 'changed_versions' %}
    {%- endif %}
    newest as (
        select
            {% for key in key_columns %}{{ text_value(key) }} as _key_{{ loop.index }}, {% endfor %}
            max(_extract_date) as _extract_date,
            case when min(_extract_date) = max(_extract_date) then count(*) end as _copies
        from {{ versions }} as complete_keys
        where {% for key in key_columns %}{{ text_value(key) }} is not null{{ ' and ' if not loop.last }}{% endfor %}
        group by {% for key in key_columns %}_key_{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}
    ),

    copies_of_keys_in_several_files as (
        select
            {% for key in key_columns %}newest._key_{{ loop.index }}, {% endfor %}
            count(*) as _copies
        from {{ versions }} as versions
        inner join newest
            on {{ keys_match }}
            and versions._extract_date = newest._extract_date
        where newest._copies is null
        group by {% for key in key_columns %}newest._key_{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}
    )

    select versions.*, coalesce(newest._copies, several_files._copies) as _newest_key_copies
    from {{ versions }} as versions
    left join newest
        on {{ keys_match }}
    left join copies_of_keys_in_several_files as several_files
        on {% for key in key_columns %}newest._key_{{ loop.index }} = several_files._key_{{ loop.index }}{{ ' and ' if not loop.last }}{% endfor %}
    where versions._extract_date = newest._extract_date
       {%- for key in key_columns %}
       or {{ text_value('versions.' ~ key) }} is null
       {%- endfor %}
{%- endmacro %}


{#- true when the (complete) key occurs more than once in the newest file holding it;
    reads the `_newest_key_copies` of `newest_delta_rows`. -#}
{% macro delta_duplicate_key() -%}
    coalesce(_newest_key_copies > 1, false)
{%- endmacro %}


{#- true when the (complete) key occurs more than once in a snapshot. -#}
{% macro is_duplicate_key(key_columns) -%}
    (
        {% for key in key_columns %}{{ text_value(key) }} is not null and {% endfor %}
        count(*) over (partition by {% for key in key_columns %}{{ text_value(key) }}{{ ', ' if not loop.last }}{% endfor %}) > 1
    )
{%- endmacro %}


{#- Quarantine decisions. `checks` is the entity's ordered list of
    (reason_code, condition, detail) where detail is an expression naming the
    columns concerned (or none). The first reason that applies is the row's reason;
    the detail lists every reason that applies, with its columns. -#}
{% macro first_reason(checks) -%}
    case
    {%- for check in checks %}
        when {{ check[1] }} then {{ sql_string(check[0]) }}
    {%- endfor %}
    end
{%- endmacro %}


{% macro reason_details(checks) -%}
    nullif(concat_ws('; '
    {%- for check in checks %},
        case when {{ check[1] }} then
            {%- if check[2] %} concat_ws('', {{ sql_string(check[0] ~ ': ') }}, {{ check[2] }})
            {%- else %} {{ sql_string(check[0]) }}
            {%- endif %}
        end
    {%- endfor %}
    ), '')
{%- endmacro %}
