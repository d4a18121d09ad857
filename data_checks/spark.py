"""The publish gate's great-expectations suite on a Spark table (target `spark`).

The same suite as data_checks/segmented_accounts.py (same plan: mandatory and
dimension columns non-null, dimensions in their declared segments or to_be_defined,
account_id unique; same outcome objects and messages), run on great-expectations'
Spark datasource: the table is handed over as a Spark DataFrame and every metric is a
Spark job, so the rows are validated where they live and never collected to the
driver (at cluster scale as in local mode). Chosen over re-writing the checks as
Spark SQL so that both engines are audited by one suite definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from data_checks.segmented_accounts import (
    DEFAULT_KEY_COLUMN,
    DEFAULT_MAX_EXAMPLES,
    IN_SET,
    NOT_NULL,
    DataCheckError,
    SuiteResult,
    _plan,
    ephemeral_context,
    run_suite,
    validate_batch,
)


def _fallback_examples(frame, planned, key_column: str, limit: int) -> list[dict[str, Any]]:
    from pyspark.sql import functions as F

    key, col = F.col(key_column), F.col(planned.column)
    if planned.expectation == NOT_NULL:
        rows = frame.where(col.isNull())
    elif planned.expectation == IN_SET:
        rows = frame.where(col.isNotNull() & ~col.cast("string").isin(list(planned.value_set)))
    else:
        duplicated = frame.groupBy(key_column).count().where("count > 1").select(key_column)
        rows = frame.join(duplicated, key_column)
    picked = rows.select(key.alias("k"), col.alias("v")).orderBy(F.col("k").asc_nulls_last()).limit(limit).collect()
    return [{"key": r["k"], "value": r["v"]} for r in picked]


def validate_segmented_accounts_spark(
    spark,
    relation: str,
    mandatory_columns: Sequence[str],
    declared_segments: Mapping[str, Sequence[str]],
    *,
    key_column: str = DEFAULT_KEY_COLUMN,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> SuiteResult:
    """Run the suite on the Spark table `relation` (`database.table`)."""
    if not spark.catalog.tableExists(relation):
        raise DataCheckError(f"table {relation} does not exist in the Spark catalog")
    frame = spark.table(relation)
    columns = frame.columns
    row_count = frame.count()

    def run_great_expectations(items, key):
        asset = ephemeral_context().data_sources.add_spark(name="spark").add_dataframe_asset(
            name=relation.replace(".", "__")
        )
        batch = asset.add_batch_definition_whole_dataframe("whole_table").get_batch(
            batch_parameters={"dataframe": frame}
        )
        return validate_batch(batch, relation, items, key, max_examples)

    ordered = run_suite(
        _plan(mandatory_columns, declared_segments, key_column), columns, relation, key_column, max_examples,
        run_great_expectations=run_great_expectations,
        fallback_examples=lambda item: _fallback_examples(frame, item, key_column, max_examples),
    )
    return SuiteResult(success=all(o.success for o in ordered), table=relation, row_count=row_count, expectations=ordered)
