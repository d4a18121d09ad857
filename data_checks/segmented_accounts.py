"""Great-expectations suite for the published accounts table (publish gate, check 1 and 2).

The suite is built from its arguments, never from a hard-coded column list:

- every mandatory column is non-null, and so is every dimension column (a dimension
  holds a declared segment or `to_be_defined`, never null);
- every dimension column holds one of its declared segments or `to_be_defined`;
- the key column (`account_id`) is unique.

It runs on great-expectations' SQL datasource (SQLAlchemy + duckdb-engine) directly
against the DuckDB file, opened read-only, so a table of a million rows is validated
in the database and never loaded into pandas.

Why the datasource is configured the way it is (great-expectations 1.24, duckdb 2.0,
duckdb-engine 0.17, SQLAlchemy 2.0): great-expectations runs each metric query as
`with engine.connect() as conn: result = conn.execute(query)` and fetches the rows
*after* the block, once the connection has been given back. Giving it back rolls the
SQLAlchemy transaction back, and a ROLLBACK on a DuckDB connection discards the
connection's pending result set, so every fetch returns `[]` and every metric fails
with `IndexError: list index out of range`. (great-expectations only keeps one
connection open for sqlite, SQL Server, BigQuery and Databricks.) A StaticPool or
`pool_size` alone does not help, because the rollback still runs. The fix here: one
read-only DuckDB connection per engine (StaticPool + `creator`) wrapped so that
begin/commit/rollback are no-ops, i.e. DuckDB's own autocommit. The connection only
reads, so there is nothing to roll back.

great_expectations is imported lazily inside `validate_segmented_accounts` (the import
takes seconds); an ephemeral context is used, so nothing is written to disk.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

TO_BE_DEFINED = "to_be_defined"
DEFAULT_KEY_COLUMN = "account_id"
DEFAULT_MAX_EXAMPLES = 5

NOT_NULL = "expect_column_values_to_not_be_null"
IN_SET = "expect_column_values_to_be_in_set"
UNIQUE = "expect_column_values_to_be_unique"


class DataCheckError(RuntimeError):
    """The suite could not run at all (missing database file or table)."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation, with a few offending rows when it failed."""

    name: str  # human label, e.g. "value_tier in declared set"
    expectation: str  # great-expectations type, e.g. "expect_column_values_to_be_in_set"
    column: str
    success: bool
    unexpected_count: int = 0
    # A few distinct offending values (None for a null).
    unexpected_values: list[Any] = field(default_factory=list)
    # A few key values (account_ids) of offending rows.
    example_keys: list[Any] = field(default_factory=list)
    # (key, value) pairs of offending rows, for messages.
    examples: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # set when the expectation could not be evaluated

    def message(self) -> str:
        """e.g. "failed: value_tier in declared set: 3 rows, e.g. account A-17 value 'gigantic'"."""
        if self.success:
            return f"passed: {self.name}"
        if self.error:
            return f"failed: {self.name}: could not be evaluated: {self.error}"
        rows = "1 row" if self.unexpected_count == 1 else f"{self.unexpected_count} rows"
        if not self.examples:
            return f"failed: {self.name}: {rows}"
        if self.expectation == IN_SET:
            shown = ", ".join(f"account {e['key']} value {e['value']!r}" for e in self.examples)
        else:
            keys = list(dict.fromkeys(str(e["key"]) for e in self.examples))
            shown = ("account " if len(keys) == 1 else "accounts ") + ", ".join(keys)
            if self.expectation == UNIQUE:
                shown += " (duplicated)"
        return f"failed: {self.name}: {rows}, e.g. {shown}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["message"] = self.message()
        return _jsonable(data)


@dataclass(frozen=True)
class SuiteResult:
    """The outcome of the whole suite on one table."""

    success: bool
    table: str  # schema.table
    row_count: int
    expectations: list[ExpectationOutcome]

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    def messages(self) -> list[str]:
        """One line per failed expectation (empty when the suite passed)."""
        return [e.message() for e in self.failures]

    def summary(self) -> str:
        passed = len(self.expectations) - len(self.failures)
        head = f"{self.table}: {passed}/{len(self.expectations)} expectations passed on {self.row_count} rows"
        return "\n".join([head, *self.messages()])

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "table": self.table,
            "row_count": self.row_count,
            "expectations": [e.to_dict() for e in self.expectations],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


@dataclass(frozen=True)
class _Planned:
    name: str
    expectation: str
    column: str
    value_set: tuple[str, ...] = ()


def _plan(
    mandatory_columns: Sequence[str], declared_segments: Mapping[str, Sequence[str]], key_column: str
) -> list[_Planned]:
    planned: list[_Planned] = []
    not_null = list(dict.fromkeys([*mandatory_columns, *declared_segments]))
    for column in not_null:
        planned.append(_Planned(f"{column} not null", NOT_NULL, column))
    for column, segments in declared_segments.items():
        values = tuple(dict.fromkeys([*segments, TO_BE_DEFINED]))
        planned.append(_Planned(f"{column} in declared set", IN_SET, column, values))
    planned.append(_Planned(f"{key_column} unique", UNIQUE, key_column))
    return planned


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _relation(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    # Fully qualified: a file named like the schema makes "schema.table" ambiguous.
    (catalog,) = con.execute("SELECT current_database()").fetchone()
    return f"{_quote(catalog)}.{_quote(schema)}.{_quote(table)}"


def _table_columns(db_path: Path, schema: str, table: str) -> tuple[list[str], int]:
    if not db_path.is_file():
        raise DataCheckError(f"database file {db_path} does not exist")
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        columns = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ? "
                "ORDER BY ordinal_position",
                [schema, table],
            ).fetchall()
        ]
        if not columns:
            raise DataCheckError(f"table {schema}.{table} does not exist in {db_path}")
        (row_count,) = con.execute(f"SELECT count(*) FROM {_relation(con, schema, table)}").fetchone()
        return columns, int(row_count)
    finally:
        con.close()


def _fallback_examples(
    db_path: Path, schema: str, table: str, planned: _Planned, key_column: str, limit: int
) -> list[dict[str, Any]]:
    """Offending rows queried directly, for when great-expectations did not return them."""
    key, col = _quote(key_column), _quote(planned.column)
    params: list[Any] = []
    if planned.expectation == NOT_NULL:
        where = f"{col} IS NULL"
    elif planned.expectation == IN_SET:
        where = f"{col} IS NOT NULL AND NOT list_contains(?::VARCHAR[], {col}::VARCHAR)"
        params.append(list(planned.value_set))
    else:
        where = f"{key} IN (SELECT {key} FROM rel GROUP BY 1 HAVING count(*) > 1)"
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        sql = (
            f"WITH rel AS (SELECT * FROM {_relation(con, schema, table)}) "
            f"SELECT {key}, {col} FROM rel WHERE {where} ORDER BY 1 NULLS LAST LIMIT ?"
        )
        return [{"key": k, "value": v} for k, v in con.execute(sql, [*params, limit]).fetchall()]
    finally:
        con.close()


def _outcome_from_ge(planned: _Planned, ge_result: Any, key_column: str, max_examples: int) -> ExpectationOutcome:
    exception_info = ge_result.exception_info or {}
    # For a suite, exception_info is keyed by metric id; for one expectation it is flat.
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    errors = [i.get("exception_message") for i in infos if isinstance(i, dict) and i.get("raised_exception")]
    if errors:
        first_line = (str(errors[0]).strip().splitlines() or ["unknown error"])[0]
        return ExpectationOutcome(planned.name, planned.expectation, planned.column, False, error=first_line)
    result = ge_result.result or {}
    examples: list[dict[str, Any]] = []
    for row in result.get("partial_unexpected_index_list") or []:
        if isinstance(row, dict) and key_column in row:
            examples.append({"key": row[key_column], "value": row.get(planned.column, row[key_column])})
    values = list(dict.fromkeys(result.get("partial_unexpected_list") or []))
    return ExpectationOutcome(
        name=planned.name,
        expectation=planned.expectation,
        column=planned.column,
        success=bool(ge_result.success),
        unexpected_count=int(result.get("unexpected_count") or 0),
        unexpected_values=values[:max_examples],
        example_keys=list(dict.fromkeys(e["key"] for e in examples))[:max_examples],
        examples=examples[:max_examples],
    )


@functools.cache
def _autocommit_connection_class() -> type:
    import duckdb_engine

    class AutocommitConnection(duckdb_engine.ConnectionWrapper):
        # DuckDB runs each statement in its own transaction. A SQLAlchemy-driven
        # ROLLBACK would discard the result great-expectations is about to fetch.
        def begin(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            pass

    return AutocommitConnection


class _ReadOnlyAutocommit:
    """Factory of duckdb-engine connections for great-expectations (see the module doc)."""

    def __init__(self, db_path: Path, schema: str):
        self.db_path = db_path
        self.schema = schema
        self.connections: list[duckdb.DuckDBPyConnection] = []

    def __call__(self):
        connection = duckdb.connect(str(self.db_path), read_only=True)
        self.connections.append(connection)
        # The table's schema is the connection's default one (great-expectations has
        # deprecated naming the schema on the table asset).
        (catalog,) = connection.execute("SELECT current_database()").fetchone()
        connection.execute(f"USE {_quote(catalog)}.{_quote(self.schema)}")
        return _autocommit_connection_class()(connection)

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.close()
            except duckdb.Error:
                pass
        self.connections.clear()


def validate_segmented_accounts(
    db_path: str | Path,
    schema: str,
    table: str,
    mandatory_columns: Sequence[str],
    declared_segments: Mapping[str, Sequence[str]],
    *,
    key_column: str = DEFAULT_KEY_COLUMN,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> SuiteResult:
    """Run the suite on `schema.table` of the DuckDB file `db_path` (opened read-only).

    `declared_segments` maps each dimension column to its declared segments
    (`SegmentationConfig.declared_segments()`); `to_be_defined` is always allowed.
    Raises DataCheckError when the file or the table does not exist. A column of the
    suite missing from the table fails its expectation (it does not raise).
    """
    db_path = Path(db_path)
    columns, row_count = _table_columns(db_path, schema, table)
    planned = _plan(mandatory_columns, declared_segments, key_column)

    ordered = run_suite(
        planned, columns, f"{schema}.{table}", key_column, max_examples,
        run_great_expectations=lambda items, key: _run_great_expectations(
            db_path, schema, table, items, key, max_examples
        ),
        fallback_examples=lambda item: _fallback_examples(db_path, schema, table, item, key_column, max_examples),
    )
    return SuiteResult(
        success=all(o.success for o in ordered),
        table=f"{schema}.{table}",
        row_count=row_count,
        expectations=ordered,
    )


def run_suite(
    planned: list[_Planned],
    columns: Sequence[str],
    relation: str,
    key_column: str,
    max_examples: int,
    run_great_expectations: Callable[[list[_Planned], str | None], list[Any]],
    fallback_examples: Callable[[_Planned], list[dict[str, Any]]],
) -> list[ExpectationOutcome]:
    """The outcome of every planned expectation, in plan order, whatever the engine:
    a column missing from the table fails its expectation; the others are run by
    `run_great_expectations(items, key column or None)` (results in the order of
    `items`), and a failure without examples gets them from `fallback_examples`."""
    outcomes: dict[int, ExpectationOutcome] = {}
    runnable: list[tuple[int, _Planned]] = []
    for index, item in enumerate(planned):
        if item.column in columns:
            runnable.append((index, item))
        else:
            outcomes[index] = ExpectationOutcome(
                item.name, item.expectation, item.column, False,
                error=f"column {item.column!r} is not in {relation}",
            )

    if runnable:
        ge_results = run_great_expectations(
            [item for _, item in runnable], key_column if key_column in columns else None
        )
        for (index, item), ge_result in zip(runnable, ge_results):
            outcome = _outcome_from_ge(item, ge_result, key_column, max_examples)
            if (
                not outcome.success
                and outcome.error is None
                and outcome.unexpected_count
                and not outcome.examples
                and key_column in columns
            ):
                examples = fallback_examples(item)
                outcome = ExpectationOutcome(
                    **{
                        **asdict(outcome),
                        "examples": examples,
                        "example_keys": list(dict.fromkeys(e["key"] for e in examples)),
                        "unexpected_values": outcome.unexpected_values
                        or list(dict.fromkeys(e["value"] for e in examples)),
                    }
                )
            outcomes[index] = outcome
    return [outcomes[i] for i in range(len(planned))]


def ephemeral_context() -> Any:
    """A great-expectations context in memory: no project folder, no analytics, no
    progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    return gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )


def validate_batch(batch: Any, suite_name: str, planned: list[_Planned], key_column: str | None, max_examples: int) -> list[Any]:
    """Validate `batch` against the planned expectations; the results in plan order."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    suite = gx.ExpectationSuite(name=suite_name)
    for item in planned:
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
    if key_column:
        result_format["unexpected_index_column_names"] = [key_column]
    suite_result = batch.validate(suite, result_format=result_format)
    by_key = {
        (r.expectation_config.type, r.expectation_config.kwargs.get("column")): r
        for r in suite_result.results
    }
    return [by_key[(item.expectation, item.column)] for item in planned]


def preload_great_expectations() -> None:
    """Import great-expectations ahead of the gate (about 5 s), e.g. in a thread while
    the process only waits for dbt; the gate then finds the modules loaded."""
    import great_expectations  # noqa: F401
    import great_expectations.expectations  # noqa: F401
    import sqlalchemy  # noqa: F401
    from great_expectations.data_context.types.base import DataContextConfig  # noqa: F401


def _run_great_expectations(
    db_path: Path,
    schema: str,
    table: str,
    planned: list[_Planned],
    key_column: str | None,
    max_examples: int,
) -> list[Any]:
    """The great-expectations results, in the order of `planned`."""
    import sqlalchemy

    context = ephemeral_context()
    connections = _ReadOnlyAutocommit(db_path, schema)
    datasource = context.data_sources.add_sql(
        name="work_db",
        # The URL only selects the dialect: `creator` opens the real (read-only) file.
        connection_string="duckdb:///:memory:",
        kwargs={"poolclass": sqlalchemy.pool.StaticPool, "creator": connections},
    )
    try:
        asset = datasource.add_table_asset(name=table, table_name=table)
        batch = asset.add_batch_definition_whole_table("whole_table").get_batch()
        return validate_batch(batch, f"{schema}.{table}", planned, key_column, max_examples)
    finally:
        # Release the file: close every DuckDB connection the engines were given.
        with contextlib.suppress(Exception):
            datasource.get_execution_engine().engine.dispose()
        connections.close()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
