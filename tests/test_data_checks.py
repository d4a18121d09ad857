"""The great-expectations suite of the published accounts table, on real DuckDB files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from data_checks import DataCheckError, SuiteResult, validate_segmented_accounts
from pipeline.config.rules import TO_BE_DEFINED, load_config

SCHEMA = "main_marts"
MANDATORY = ["account_id", "account_name", "as_of_date", "country_code"]
DECLARED = {
    "party_type": ["business", "individual"],
    "value_tier": ["high", "medium", "low", "none"],
}


def _create(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    con.execute(
        f"""CREATE TABLE {SCHEMA}.{table} (
                account_id VARCHAR, account_name VARCHAR, as_of_date DATE, country_code VARCHAR,
                owner_id VARCHAR, party_type VARCHAR, value_tier VARCHAR, revenue_12m DECIMAL(18,2))"""
    )
    con.executemany(f"INSERT INTO {SCHEMA}.{table} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _clean_rows(n: int = 40) -> list[tuple]:
    tiers = ["high", "medium", "low", "none", TO_BE_DEFINED]
    return [
        (
            f"A-{i}",
            f"Account {i}",
            "2025-03-01",
            "NL",
            None,  # owner_id is not mandatory: nulls are fine
            "business" if i % 2 else TO_BE_DEFINED,
            tiers[i % len(tiers)],
            1000 + i,
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def work_db(tmp_path_factory) -> Path:
    """One working db holding a clean table and one broken copy per failure mode."""
    path = tmp_path_factory.mktemp("checks") / "work.duckdb"
    con = duckdb.connect(str(path))
    con.execute(f"CREATE SCHEMA {SCHEMA}")

    _create(con, "clean", _clean_rows())

    rows = _clean_rows()
    rows[3] = (rows[3][0], None, *rows[3][2:])  # A-3 without account_name
    _create(con, "null_name", rows)

    rows = _clean_rows()
    rows[17] = (*rows[17][:6], "gigantic", rows[17][7])  # A-17 in an undeclared tier
    _create(con, "undeclared", rows)

    rows = _clean_rows()
    rows[9] = ("A-5", *rows[9][1:])  # A-5 twice
    _create(con, "duplicate", rows)

    rows = _clean_rows()
    rows[4] = (*rows[4][:5], None, *rows[4][6:])  # A-4 with a null dimension
    _create(con, "null_dimension", rows)

    con.execute(
        f"""CREATE TABLE {SCHEMA}.wrong_type AS
            SELECT account_id, account_name, as_of_date, country_code, party_type, 3 AS value_tier
            FROM {SCHEMA}.clean"""
    )

    # Every dimension of the real configuration, set to its first declared segment.
    declared = load_config().declared_segments()
    columns = ", ".join(f"'{segments[0]}' AS {name}" for name, segments in declared.items())
    con.execute(
        f"""CREATE TABLE {SCHEMA}.all_dimensions AS
            SELECT 'A-' || i AS account_id, 'Account ' || i AS account_name,
                   DATE '2025-03-01' AS as_of_date, 'NL' AS country_code, {columns}
            FROM range(25) t(i)"""
    )
    con.close()
    return path


def _validate(work_db: Path, table: str) -> SuiteResult:
    return validate_segmented_accounts(work_db, SCHEMA, table, MANDATORY, DECLARED)


def _only_failure(result: SuiteResult):
    assert not result.success
    assert len(result.failures) == 1, result.summary()
    return result.failures[0]


def test_clean_table_passes(work_db):
    result = _validate(work_db, "clean")

    assert result.success, result.summary()
    assert result.row_count == 40
    assert result.messages() == []
    names = [e.name for e in result.expectations]
    # Built from the arguments: mandatory and dimension columns non-null, dimensions in
    # their declared set (to_be_defined included), the key unique.
    assert names == [
        "account_id not null",
        "account_name not null",
        "as_of_date not null",
        "country_code not null",
        "party_type not null",
        "value_tier not null",
        "party_type in declared set",
        "value_tier in declared set",
        "account_id unique",
    ]
    assert all(e.unexpected_count == 0 for e in result.expectations)


def test_every_dimension_of_the_real_configuration(work_db):
    declared = load_config().declared_segments()
    result = validate_segmented_accounts(work_db, SCHEMA, "all_dimensions", MANDATORY, declared)

    assert result.success, result.summary()
    in_set = {e.column for e in result.expectations if e.expectation == "expect_column_values_to_be_in_set"}
    assert in_set == set(declared)


def test_null_in_mandatory_column_names_column_and_account(work_db):
    failure = _only_failure(_validate(work_db, "null_name"))

    assert failure.column == "account_name"
    assert failure.expectation == "expect_column_values_to_not_be_null"
    assert failure.unexpected_count == 1
    assert failure.example_keys == ["A-3"]
    assert failure.message() == "failed: account_name not null: 1 row, e.g. account A-3"


def test_undeclared_segment_value_is_reported_with_value_and_account(work_db):
    failure = _only_failure(_validate(work_db, "undeclared"))

    assert failure.column == "value_tier"
    assert failure.unexpected_count == 1
    assert failure.unexpected_values == ["gigantic"]
    assert failure.example_keys == ["A-17"]
    assert failure.message() == "failed: value_tier in declared set: 1 row, e.g. account A-17 value 'gigantic'"


def test_duplicated_account_id_fails(work_db):
    failure = _only_failure(_validate(work_db, "duplicate"))

    assert failure.name == "account_id unique"
    assert failure.unexpected_count == 2
    assert failure.example_keys == ["A-5"]
    assert "e.g. account A-5 (duplicated)" in failure.message()


def test_null_dimension_fails_even_if_not_listed_as_mandatory(work_db):
    failure = _only_failure(_validate(work_db, "null_dimension"))

    assert failure.name == "party_type not null"
    assert failure.example_keys == ["A-4"]


def test_result_is_json_serialisable(work_db):
    result = _validate(work_db, "undeclared")

    data = json.loads(json.dumps(result.to_dict()))
    assert data["success"] is False
    assert data["table"] == "main_marts.undeclared"
    failed = [e for e in data["expectations"] if not e["success"]]
    assert failed == [
        {
            "name": "value_tier in declared set",
            "expectation": "expect_column_values_to_be_in_set",
            "column": "value_tier",
            "success": False,
            "unexpected_count": 1,
            "unexpected_values": ["gigantic"],
            "example_keys": ["A-17"],
            "examples": [{"key": "A-17", "value": "gigantic"}],
            "error": None,
            "message": "failed: value_tier in declared set: 1 row, e.g. account A-17 value 'gigantic'",
        }
    ]
    assert json.loads(result.to_json()) == data


def test_missing_column_fails_its_expectation(work_db):
    result = validate_segmented_accounts(
        work_db, SCHEMA, "clean", [*MANDATORY, "no_such_column"], DECLARED
    )

    failure = _only_failure(result)
    assert failure.column == "no_such_column"
    assert "is not in main_marts.clean" in failure.message()


def test_expectation_that_cannot_run_fails_with_the_error(work_db):
    failure = _only_failure(_validate(work_db, "wrong_type"))

    assert failure.name == "value_tier in declared set"
    assert failure.error is not None and "Conversion Error" in failure.error
    assert failure.message().startswith("failed: value_tier in declared set: could not be evaluated: ")
    assert "\n" not in failure.message()


def test_missing_table_or_file_raises(work_db, tmp_path):
    with pytest.raises(DataCheckError, match="main_marts.nope does not exist"):
        validate_segmented_accounts(work_db, SCHEMA, "nope", MANDATORY, DECLARED)
    with pytest.raises(DataCheckError, match="does not exist"):
        validate_segmented_accounts(tmp_path / "absent.duckdb", SCHEMA, "clean", MANDATORY, DECLARED)


def test_reads_the_file_read_only_and_writes_nothing(work_db, tmp_path, monkeypatch):
    """Another process holds the db open read-only: a read-write open would fail."""
    monkeypatch.chdir(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys
                con = duckdb.connect({str(work_db)!r}, read_only=True)
                con.execute("SELECT count(*) FROM {SCHEMA}.clean").fetchall()
                print("ready", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = _validate(work_db, "clean")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert result.success
    assert list(tmp_path.iterdir()) == []  # no gx/ folder, no stores
    assert not Path(f"{work_db}.wal").exists()


def test_importing_the_package_does_not_import_great_expectations():
    code = "import sys, data_checks; assert 'great_expectations' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_direct_example_query_matches_great_expectations(work_db):
    """The DuckDB fallback used when great-expectations returns no offending rows."""
    from data_checks.segmented_accounts import IN_SET, NOT_NULL, UNIQUE, _fallback_examples, _Planned

    def examples(table, planned):
        return _fallback_examples(work_db, SCHEMA, table, planned, "account_id", 5)

    assert examples("null_name", _Planned("", NOT_NULL, "account_name")) == [{"key": "A-3", "value": None}]
    in_set = _Planned("", IN_SET, "value_tier", ("high", "medium", "low", "none", TO_BE_DEFINED))
    assert examples("undeclared", in_set) == [{"key": "A-17", "value": "gigantic"}]
    assert examples("duplicate", _Planned("", UNIQUE, "account_id")) == [
        {"key": "A-5", "value": "A-5"},
        {"key": "A-5", "value": "A-5"},
    ]
    assert examples("clean", in_set) == []
