"""The whole nightly job on Spark (dbt's `spark` target, Spark local mode) against the
same job on DuckDB, on one landing folder and as-of date: the published
segmented_accounts must be the same, column by column.

Real Spark (a JVM, local[2], small driver memory), real dbt-spark, real files: needs
Java 17 or 21 (scripts/install_java.sh installs it; without it the test fails and says so).
"""

import math
import os
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from pipeline.demo_data import generate_demo_data
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths

AS_OF = date(2026, 11, 22)
SPARK_ENV = {
    "SEGMENTATION_SPARK_MASTER": "local[2]",
    "SEGMENTATION_SPARK_DRIVER_MEMORY": "1g",
    "SEGMENTATION_SPARK_THREADS": "2",  # dbt threads: Spark plans one query per thread
    "SEGMENTATION_SPARK_WHOLE_STAGE_CODEGEN": "false",  # tiny data: Java compilation dominates
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from pipeline.spark.session import java_problem

    problem = java_problem()
    if problem:
        pytest.fail(f"tests/test_spark.py needs Java: {problem}", pytrace=False)
    root = tmp_path_factory.mktemp("spark")
    landing = root / "landing"
    generate_demo_data(landing, accounts=90, seed=5, as_of=AS_OF)
    duck = run_nightly_job(RunPaths.resolve(landing, root / "duckdb" / "segments.duckdb"), AS_OF, target="duckdb")
    assert duck.published, duck.summary()
    saved = {key: os.environ.get(key) for key in SPARK_ENV}
    os.environ.update(SPARK_ENV)
    try:
        spark = run_nightly_job(RunPaths.resolve(landing, root / "spark" / "segments.duckdb"), AS_OF, target="spark")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    assert spark.published, spark.summary()
    return duck, spark


@pytest.fixture(scope="module")
def spark_reads(runs):
    """What the tests read from the Spark catalog, in one Spark worker session (one JVM
    start), through the published views: analytics.segmented_accounts, .publications,
    and the layout of a few raw tables."""
    from pipeline.spark import worker
    from pipeline.spark.ingest import describe
    from pipeline.spark.publish import published_table

    try:
        return {
            "segmented_accounts": worker.call(published_table, "segmented_accounts"),
            "publications": worker.call(published_table, "publications"),
            **{f"raw.{name}": worker.call(describe, f"raw.{name}") for name in RAW_CHECKED},
        }
    finally:
        worker.shutdown()  # release the metastore


RAW_CHECKED = ("crm__accounts", "finance__invoices", "manual__overrides")


def _duckdb_rows(path, sql):
    conn = duckdb.connect(str(path), read_only=True)
    try:
        cursor = conn.execute(sql)
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        conn.close()


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, float) and isinstance(b, float)):
            return False
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    if type(a) is not type(b) and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
        return False  # e.g. a decimal on one side and an integer on the other
    if isinstance(a, (list, tuple)):
        return list(a) == list(b)
    return a == b  # strings, dates, booleans, integers, decimals: exactly


def test_spark_publishes_the_same_segmented_accounts_as_duckdb(runs, spark_reads):
    duck, spark = runs
    columns, duck_rows = _duckdb_rows(duck.paths.warehouse, "select * from analytics.segmented_accounts")
    spark_rows = spark_reads["segmented_accounts"]
    assert spark.published_rows == len(spark_rows) == len(duck_rows) == duck.published_rows > 0
    assert list(spark_rows[0]) == columns  # same columns, same order
    by_account = {row["account_id"]: row for row in spark_rows}
    assert len(by_account) == len(spark_rows)
    differences = []
    checked = {"decimal": 0, "double": 0}
    for values in duck_rows:
        expected = dict(zip(columns, values))
        actual = by_account[expected["account_id"]]
        for column in columns:
            if column == "run_id":
                continue
            checked["decimal"] += isinstance(expected[column], Decimal)
            checked["double"] += isinstance(expected[column], float)
            if not _same(expected[column], actual[column]):
                differences.append((expected["account_id"], column, expected[column], actual[column]))
    assert not differences, f"{len(differences)} differing values, e.g. {differences[:5]}"
    assert checked["decimal"] and checked["double"]  # both kinds of numbers were compared
    assert {row["run_id"] for row in spark_rows} == {spark.run_id}
    assert spark.quarantined == duck.quarantined and spark.excluded == duck.excluded


def test_spark_raw_tables_have_the_duckdb_layout(runs, spark_reads):
    from pipeline.config import load_entity_specs

    duck, _ = runs
    for spec in load_entity_specs():
        if spec.name not in RAW_CHECKED:
            continue
        columns, rows = _duckdb_rows(duck.paths.work_db, f"select * from raw.{spec.name}")
        described = spark_reads[f"raw.{spec.name}"]
        assert described["columns"] == columns
        assert described["types"] == ["string"] * len(spec.columns) + ["string", "date", "bigint"]
        assert described["rows"] == len(rows)


def test_spark_publication_is_a_view_swap_after_a_passing_gate(runs, spark_reads):
    from pipeline.spark.publish import run_database

    _, spark = runs
    publications = spark_reads["publications"]
    assert [p["run_id"] for p in publications] == [spark.run_id]
    assert publications[0]["rows_published"] == spark.published_rows
    assert '"segmented_accounts_suite"' in publications[0]["check_results"]
    conn = duckdb.connect(str(spark.paths.work_db), read_only=True)
    try:
        verdict = conn.execute("select passed from audit.gate_results where run_id = ?", [spark.run_id]).fetchall()
    finally:
        conn.close()
    assert verdict == [(True,)]
    staged = (spark.paths.spark_home / "warehouse" / f"{run_database(spark.run_id)}.db" / "segmented_accounts")
    assert staged.is_dir()  # analysts' views read the audited analytics_<run> tables
