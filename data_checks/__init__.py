"""Data-quality suites of the publish gate (great-expectations, imported lazily)."""

from data_checks.segmented_accounts import (
    DataCheckError,
    ExpectationOutcome,
    SuiteResult,
    validate_segmented_accounts,
)

__all__ = ["DataCheckError", "ExpectationOutcome", "SuiteResult", "validate_segmented_accounts"]
