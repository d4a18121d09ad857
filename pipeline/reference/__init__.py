"""An independent pandas implementation of the segmentation rules.

It reads the landing folder directly (no DuckDB, no dbt) and is used to cross-check
the published `analytics.segmented_accounts` cell by cell, and as the "what a pandas
user would write instead" reference of the benchmark.

    from pipeline.reference import compute_segmented_accounts
    frame = compute_segmented_accounts(landing_dir, as_of)
"""

from pipeline.reference.pandas_rules import REFERENCE_COLUMNS, compute_segmented_accounts

__all__ = ["REFERENCE_COLUMNS", "compute_segmented_accounts"]
