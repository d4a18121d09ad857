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
from dataclasses import asdict
from typing import Any

from data_checks.segmented_accounts import (
    DEFAULT_KEY_COLUMN,
    DEFAULT_MAX_EXAMPLES,
    IN_SET,
    NOT_NULL,
    DataCheckError,
    ExpectationOutcome,
    SuiteResult,
    _outcome_from_ge,
    _plan,
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
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    if not spark.catalog.tableExists(relation):
        raise DataCheckError(f"table {relation} does not exist in the Spark catalog")
    frame = spark.table(relation)
    columns = frame.columns
    row_count = frame.count()
    planned = _plan(mandatory_columns, declared_segments, key_column)
    outcomes: dict[int, ExpectationOutcome] = {}
    runnable = []
    for index, item in enumerate(planned):
        if item.column in columns:
            runnable.append((index, item))
        else:
            outcomes[index] = ExpectationOutcome(
                item.name, item.expectation, item.column, False, error=f"column {item.column!r} is not in {relation}"
            )
    if runnable:
        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
        asset = context.data_sources.add_spark(name="spark").add_dataframe_asset(name=relation.replace(".", "__"))
        batch = asset.add_batch_definition_whole_dataframe("whole_table").get_batch(
            batch_parameters={"dataframe": frame}
        )
        suite = gx.ExpectationSuite(name=relation)
        for _, item in runnable:
            if item.expectation == NOT_NULL:
                suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column=item.column))
            elif item.expectation == IN_SET:
                suite.add_expectation(gxe.ExpectColumnValuesToBeInSet(column=item.column, value_set=list(item.value_set)))
            else:
                suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column=item.column))
        result_format: dict[str, Any] = {
            "result_format": "SUMMARY",
            "partial_unexpected_count": max_examples,
            "return_unexpected_index_query": False,
        }
        if key_column in columns:
            result_format["unexpected_index_column_names"] = [key_column]
        suite_result = batch.validate(suite, result_format=result_format)
        by_key = {(r.expectation_config.type, r.expectation_config.kwargs.get("column")): r for r in suite_result.results}
        for index, item in runnable:
            outcome = _outcome_from_ge(item, by_key[(item.expectation, item.column)], key_column, max_examples)
            if not outcome.success and outcome.error is None and outcome.unexpected_count and not outcome.examples \
                    and key_column in columns:
                examples = _fallback_examples(frame, item, key_column, max_examples)
                outcome = ExpectationOutcome(**{
                    **asdict(outcome), "examples": examples,
                    "example_keys": list(dict.fromkeys(e["key"] for e in examples)),
                    "unexpected_values": outcome.unexpected_values or list(dict.fromkeys(e["value"] for e in examples)),
                })
            outcomes[index] = outcome
    ordered = [outcomes[i] for i in range(len(planned))]
    return SuiteResult(success=all(o.success for o in ordered), table=relation, row_count=row_count, expectations=ordered)
