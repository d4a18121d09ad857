{#- The entities whose rows are validated, once: (validated model, staging model,
    source, entity, key expression). The quarantine table and the conservation
    ledger both read this list, so an entity cannot be in one and missing from the other. -#}
{% macro validated_entities() -%}
    {{ return([
        ('int_crm__accounts_validated', 'stg_crm__accounts', 'crm', 'accounts', 'account_id'),
        ('int_crm__contacts_validated', 'stg_crm__contacts', 'crm', 'contacts', 'contact_id'),
        ('int_crm__opportunities_validated', 'stg_crm__opportunities', 'crm', 'opportunities', 'opportunity_id'),
        ('int_finance__invoices_validated', 'stg_finance__invoices', 'finance', 'invoices', 'invoice_id'),
        ('int_finance__invoice_lines_validated', 'stg_finance__invoice_lines', 'finance', 'invoice_lines',
            "concat_ws('/', invoice_id, line_number)"),
        ('int_finance__payments_validated', 'stg_finance__payments', 'finance', 'payments', 'payment_id'),
        ('int_finance__fx_rates_validated', 'stg_finance__fx_rates', 'finance', 'fx_rates',
            "concat_ws('/', currency, cast(rate_date as " ~ dbt.type_string() ~ "))"),
        ('int_bureau__company_scores_validated', 'stg_bureau__company_scores', 'bureau', 'company_scores', 'bureau_ref'),
    ]) }}
{%- endmacro %}
