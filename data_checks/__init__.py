"""Data-quality suites of the publish gate (great-expectations, imported lazily)."""

from data_checks.segmented_accounts import (
    DataCheckError,
    ExpectationOutcome,
    SuiteResult,
    preload_great_expectations,
    validate_segmented_accounts,
)

__all__ = [
    "DataCheckError", "ExpectationOutcome", "SuiteResult", "preload_great_expectations", "validate_segmented_accounts",
]
