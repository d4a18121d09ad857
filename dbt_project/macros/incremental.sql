{#- Incremental nights for the delta feeds (finance invoices, lines, payments).

    Their staging models hold the merged, typed state as an incremental table keyed
    like the feed. The pipeline (pipeline/incremental.py) decides before dbt runs:
    when every file the table was built from is still loaded unchanged, the dbt
    project is the same and the as-of date D did not move backwards, dbt runs
    incrementally and `raw.incremental_new_files` names the files loaded since;
    otherwise it runs with --full-refresh. An incremental build merges again every
    key that occurs in a new file, from all of that key's versions, and replaces
    those keys (delete+insert); rows of new files without a complete key are added.
    That is what a full build gives, key by key.

    Per-invoice models. The validated invoices, invoice ids, lines, payments and the
    allocation's settlement (int_credit__invoice_settlement) are incremental tables
    grouped by invoice_id (`invoice_state_config`): on an incremental night they
    delete and recompute the rows of the *affected invoices* only
    (`affected_invoices_only`), and always the rows without an invoice_id. The
    affected set is written once, by int_finance__affected_invoices: every invoice_id
      1. of a row of a new invoice or invoice-line file, or of any version of a
         payment_id occurring in a new payments file (a payment re-sent against
         another invoice affects the old and the new invoice);
      2. of an invoice whose account's row of int_crm__account_ids (unknown,
         quarantined, exclusion reason) differs from the last build's
         (raw.incremental_account_ids, copied by the pipeline after each build);
      3. of an invoice in a currency whose usable FX rates differ from the last
         build's (raw.incremental_fx_rates);
      4. of an invoice or payment dated in (last build's D, D] (dated_after_as_of,
         and which payments settle).
    Everything else that depends on D (days past due, overdue, evaluated, disputes,
    outstanding amount at D's rate) is computed every night by the view
    int_credit__invoice_allocation over the settlement. -#}

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



{#- The per-invoice models: one group of rows per invoice_id. A full build builds
    the table; an incremental one first deletes the groups of the affected invoices
    and the rows without an invoice_id (pre-hook), then appends what the model
    recomputes for them (`affected_invoices_only`). Deleting by the affected set,
    rather than by the keys recomputed, also removes a group that has no row left
    (a payment moved to another invoice). -#}
{% macro invoice_state_config(invoice_column='invoice_id') -%}
    {{ return(adapter.dispatch('invoice_state_config', 'segmentation')(invoice_column)) }}
{%- endmacro %}

{% macro default__invoice_state_config(invoice_column) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where " ~ invoice_column ~ " is null or "
            ~ invoice_column ~ " in (select invoice_id from {{ ref('int_finance__affected_invoices') }}){% endif %}",
    ) }}
{%- endmacro %}

{% macro spark__invoice_state_config(invoice_column) -%}
    {{ config(materialized='table') }}
{%- endmacro %}


{#- A condition keeping, on an incremental night, the rows of the affected invoices
    and those without an invoice_id; `true` in a full build. -#}
{% macro affected_invoices_only(invoice_column) -%}
    {%- if is_incremental() -%}
    ({{ invoice_column }} is null or {{ invoice_column }} in (select invoice_id from {{ ref('int_finance__affected_invoices') }}))
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
