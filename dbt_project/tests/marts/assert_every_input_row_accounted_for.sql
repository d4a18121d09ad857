-- Conservation, per entity: used + excluded + quarantined = rows of the merged state.
select source, entity, sum(row_count) as accounted_rows, max(merged_rows) as merged_rows
from {{ ref('input_row_outcomes') }}
group by source, entity
having sum(row_count) <> max(merged_rows)
