select
    run_id,
    as_of_date,
    ruleset_version,
    published_at
from {{ source('warehouse', 'publications') }}
