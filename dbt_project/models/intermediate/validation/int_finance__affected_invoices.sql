{#- The invoices whose per-invoice rows an incremental night recomputes (see
    macros/incremental.sql): the validated invoices, invoice ids, lines, payments
    and the allocation's settlement delete and rebuild the rows of these invoice_ids
    (plus, always, their rows without an invoice_id). One row per invoice_id:
      staging       a row of a new invoices or invoice-lines file; any version of a
                    payment_id occurring in a new payments file (its previous
                    invoice and its new one);
      account       the invoice's account has another int_crm__account_ids row than
                    at the last build (raw.incremental_account_ids): appeared,
                    disappeared, (un)quarantined, other exclusion reason;
      fx            the invoice's currency has other usable FX rates than at the
                    last build (raw.incremental_fx_rates);
      as_of         the invoice, or one of its payments, is dated in (the last
                    build's D, D]: dated_after_as_of no longer applies to it.
    Empty in a full build (--full-refresh, or when the per-invoice tables do not
    exist yet) and on engines without incremental per-invoice models (Spark). -#}
{%- set compute = execute and not flags.FULL_REFRESH and target.type == 'duckdb'
    and adapter.get_relation(database=this.database, schema=this.schema, identifier='int_finance__invoices_validated') is not none -%}
{%- if compute -%}
{%- for table in ['incremental_new_files', 'incremental_build', 'incremental_account_ids', 'incremental_fx_rates'] -%}
{%- if adapter.get_relation(database=this.database, schema='raw', identifier=table) is none -%}
    {{ exceptions.raise_compiler_error(
        "the per-invoice models would be updated in place, but raw." ~ table ~ " is missing: "
        ~ "run through the pipeline (segmentation run), or run dbt with --full-refresh") }}
{%- endif -%}
{%- endfor -%}
{%- endif %}
-- depends_on: {{ ref('stg_finance__invoices') }}
-- depends_on: {{ ref('stg_finance__payments') }}
-- depends_on: {{ ref('int_crm__account_ids') }}
-- depends_on: {{ ref('int_finance__fx_rates_validated') }}
{% if not compute %}
select cast(null as {{ dbt.type_string() }}) as invoice_id, cast(null as {{ dbt.type_string() }}) as reason
where 1 = 0
{%- else %}
{%- set invoices = source('finance', 'invoices') -%}
{%- set lines = source('finance', 'invoice_lines') -%}
{%- set payments = source('finance', 'payments') %}
with new_files as (
    select entity, relative_path from raw.incremental_new_files
),

new_payment_rows as (
    select {{ text_value('payment_id') }} as payment_id, {{ text_value('invoice_id') }} as invoice_id
    from {{ payments }}
    where _file_name in (select relative_path from new_files where entity = {{ sql_string(payments.identifier) }})
),

changed_accounts as (
    select coalesce(current_ids.account_id, previous_ids.account_id) as account_id
    from {{ ref('int_crm__account_ids') }} as current_ids
    full outer join raw.incremental_account_ids as previous_ids
        on current_ids.account_id = previous_ids.account_id
    where current_ids.account_id is null
       or previous_ids.account_id is null
       or current_ids.is_quarantined is distinct from previous_ids.is_quarantined
       or current_ids.is_excluded is distinct from previous_ids.is_excluded
       or current_ids.exclusion_reason is distinct from previous_ids.exclusion_reason
),

current_rates as (
    select currency, rate_date, cast(rate_to_base as double) as rate_to_base
    from {{ ref('int_finance__fx_rates_validated') }}
    where quarantine_reason is null
),

previous_rates as (
    select currency, rate_date, cast(rate_to_base as double) as rate_to_base
    from raw.incremental_fx_rates
),

changed_currencies as (
    select currency from (select * from current_rates except select * from previous_rates)
    union
    select currency from (select * from previous_rates except select * from current_rates)
),

as_of_window as (
    -- (last build's D, D]; an unknown last D (the planner then builds in full) takes every date
    select
        coalesce(max(previous_as_of_date), cast('0001-01-01' as date)) as after_date,
        max({{ as_of_date() }}) as up_to_date
    from raw.incremental_build
),

affected as (
    select {{ text_value('invoice_id') }} as invoice_id, 'staging' as reason
    from {{ invoices }}
    where _file_name in (select relative_path from new_files where entity = {{ sql_string(invoices.identifier) }})
    union all
    select {{ text_value('invoice_id') }}, 'staging'
    from {{ lines }}
    where _file_name in (select relative_path from new_files where entity = {{ sql_string(lines.identifier) }})
    union all
    select invoice_id, 'staging'
    from new_payment_rows
    union all
    -- every version of a re-sent payment: the invoice it pointed at before
    select {{ text_value('invoice_id') }}, 'staging'
    from {{ payments }}
    where {{ text_value('payment_id') }} in (select payment_id from new_payment_rows where payment_id is not null)
    union all
    select invoice_id, 'account'
    from {{ ref('stg_finance__invoices') }}
    where account_id in (select account_id from changed_accounts)
    union all
    select invoice_id, 'fx'
    from {{ ref('stg_finance__invoices') }}
    where currency in (select currency from changed_currencies)
    union all
    select invoice_id, 'as_of'
    from {{ ref('stg_finance__invoices') }}, as_of_window
    where invoice_date > as_of_window.after_date and invoice_date <= as_of_window.up_to_date
    union all
    select invoice_id, 'as_of'
    from {{ ref('stg_finance__payments') }}, as_of_window
    where payment_date > as_of_window.after_date and payment_date <= as_of_window.up_to_date
)

select invoice_id, min(reason) as reason
from affected
where invoice_id is not null
group by invoice_id
{%- endif %}
