{#- A model holding long text (segmented_accounts: segment_reasons, about 1.7 KB of
    JSON per account) is written with zstd on DuckDB: at a million accounts its text
    was written three times faster and took a seventh of the space of DuckDB's default
    choice (dictionary + FSST). Only for such models: reading zstd back is slower, and
    forcing it on every model gained nothing overall. The publication keeps a column's
    zstd (pipeline/publish.py, _copy_table). -#}
{% macro long_text_storage_config() -%}
    {{ return(adapter.dispatch('long_text_storage_config', 'segmentation')()) }}
{%- endmacro %}

{% macro duckdb__long_text_storage_config() -%}
    {{ config(
        pre_hook="set force_compression = 'zstd'",
        post_hook="set force_compression = 'auto'",
    ) }}
{%- endmacro %}

{% macro default__long_text_storage_config() -%}
{%- endmacro %}
