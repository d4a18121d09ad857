select
    account_id,
    dimension,
    segment_value,
    reason,
    is_override,
    change_cause,
    ruleset_version,
    valid_from,
    valid_to,
    run_id
from {{ source('warehouse', 'segment_history') }}
