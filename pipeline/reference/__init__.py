"""An independent pandas implementation of the segmentation rules.

It reads the landing folder directly (no DuckDB, no dbt) and is used to cross-check
the published `analytics.segmented_accounts`, `analytics.account_product_lines` and
`analytics.collections_worklist` cell by cell, and as the "what a pandas user would
write instead" reference of the benchmark.

    from pipeline.reference import compute_reference, compute_segmented_accounts
    frame = compute_segmented_accounts(landing_dir, as_of)
    tables = compute_reference(landing_dir, as_of)  # all three tables in one pass
"""

from pipeline.reference.pandas_rules import (
    DIMENSIONS,
    PRODUCT_LINE_COLUMNS,
    REFERENCE_COLUMNS,
    WORKLIST_COLUMNS,
    compute_account_product_lines,
    compute_collections_worklist,
    compute_reference,
    compute_segmented_accounts,
)

__all__ = [
    "DIMENSIONS",
    "PRODUCT_LINE_COLUMNS",
    "REFERENCE_COLUMNS",
    "WORKLIST_COLUMNS",
    "compute_account_product_lines",
    "compute_collections_worklist",
    "compute_reference",
    "compute_segmented_accounts",
]
