{%- set checks = [
    ('invalid_value', 'contacts.invalid_columns is not null', 'contacts.invalid_columns'),
    ('missing_mandatory_field', 'contacts.missing_columns is not null', 'contacts.missing_columns'),
    ('unknown_account', 'account_ids.account_id is null', 'contacts.account_id'),
    ('account_quarantined', 'account_ids.is_quarantined', 'contacts.account_id'),
    ('duplicate_key', 'contacts.is_duplicate_key', none),
] -%}

with contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

account_ids as (
    select * from {{ ref('int_crm__account_ids') }}
),

decided as (
    select
        contacts.*,
        account_ids.exclusion_reason as account_exclusion_reason,
        {{ first_reason(checks) }} as quarantine_reason,
        {{ reason_details(checks) }} as quarantine_detail
    from contacts
    left join account_ids
        on contacts.account_id = account_ids.account_id
)

select
    {{ star_except(['account_exclusion_reason']) }},
    case when quarantine_reason is null then account_exclusion_reason end as exclusion_reason
from decided
