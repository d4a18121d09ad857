{#- Every input row rejected by this run, once, with its first reason code and the
    detail of every reason that applied. Nothing is dropped without a row here. -#}
{%- set entities = [
    ('int_crm__accounts_validated', 'crm', 'accounts', 'account_id'),
    ('int_crm__contacts_validated', 'crm', 'contacts', 'contact_id'),
    ('int_crm__opportunities_validated', 'crm', 'opportunities', 'opportunity_id'),
    ('int_finance__invoices_validated', 'finance', 'invoices', 'invoice_id'),
    ('int_finance__invoice_lines_validated', 'finance', 'invoice_lines', "concat_ws('/', invoice_id, line_number)"),
    ('int_finance__payments_validated', 'finance', 'payments', 'payment_id'),
    ('int_finance__fx_rates_validated', 'finance', 'fx_rates', "concat_ws('/', currency, cast(rate_date as varchar))"),
    ('int_bureau__company_scores_validated', 'bureau', 'company_scores', 'bureau_ref'),
] -%}

{%- for model, source_name, entity, key in entities %}
select
    cast({{ sql_string(source_name) }} as varchar) as source,
    cast({{ sql_string(entity) }} as varchar) as entity,
    cast({{ key }} as varchar) as record_key,
    cast(quarantine_reason as varchar) as reason_code,
    cast(quarantine_detail as varchar) as reason_detail,
    cast(_file_name as varchar) as file_name,
    cast(_row_number as bigint) as row_number,
    {{ as_of_date() }} as as_of_date,
    {{ run_var('run_id') }} as run_id
from {{ ref(model) }}
where quarantine_reason is not null
{{ 'union all' if not loop.last }}
{%- endfor %}
