{#- Incremental nights for the delta feeds (finance invoices, lines, payments).

    Their staging models hold the merged, typed state as an incremental table keyed
    like the feed. The pipeline (pipeline/incremental.py) decides before dbt runs:
    when every file the table was built from is still loaded unchanged and the dbt
    project is the same, dbt runs incrementally and `raw.incremental_new_files`
    names the files loaded since; otherwise it runs with --full-refresh. An
    incremental build merges again every key that occurs in a new file, from all of
    that key's versions, and replaces those keys (delete+insert); rows of new files
    without a complete key are added. That is what a full build gives, key by key. -#}

{% macro delta_state_config(key_columns) -%}
    {{ return(adapter.dispatch('delta_state_config', 'segmentation')(key_columns)) }}
{%- endmacro %}

{% macro default__delta_state_config(key_columns) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=key_columns,
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#- dbt-spark has no delete+insert (its merge needs Delta or Iceberg tables): the
    state is rebuilt every night there. -#}
{% macro spark__delta_state_config(key_columns) -%}
    {{ config(materialized='table') }}
{%- endmacro %}


{#- The raw rows to merge: all of them in a full build; in an incremental one the
    versions of the keys that occur in a new file, and the new rows without a complete key. -#}
{% macro delta_rows_to_merge(relation, key_columns) -%}
    {%- if is_incremental() -%}
    {%- if execute and adapter.get_relation(database=this.database, schema='raw', identifier='incremental_new_files') is none -%}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ " exists and would be updated in place, but raw.incremental_new_files is missing: "
            ~ "run through the pipeline (segmentation run), or run dbt with --full-refresh") }}
    {%- endif %}
    (
        with new_rows as (
            select *
            from {{ relation }}
            where _file_name in (
                select relative_path
                from raw.incremental_new_files
                where entity = {{ sql_string(relation.identifier) }}
            )
        ),

        changed_keys as (
            select distinct
                {% for key in key_columns %}{{ text_value(key) }} as _changed_key_{{ loop.index }}{{ ', ' if not loop.last }}{% endfor %}
            from new_rows
            where {% for key in key_columns %}{{ text_value(key) }} is not null{{ ' and ' if not loop.last }}{% endfor %}
        )

        select all_versions.*
        from {{ relation }} as all_versions
        inner join changed_keys
            on {% for key in key_columns %}{{ text_value('all_versions.' ~ key) }} = changed_keys._changed_key_{{ loop.index }}{{ ' and ' if not loop.last }}{% endfor %}
        union all
        select *
        from new_rows
        where {% for key in key_columns %}{{ text_value(key) }} is null{{ ' or ' if not loop.last }}{% endfor %}
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}
