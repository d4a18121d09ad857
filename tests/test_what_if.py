"""`segmentation what-if`: a candidate configuration computed on the inputs of the
latest publication, compared per dimension with the published table, nothing published.

One real published run on small demo data is shared by the module; the what-ifs are
real Dagster + dbt builds in the scratch folder beside the warehouse."""

import hashlib
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.config import load_config
from pipeline.settings import RunPaths
from pipeline.what_if import (
    EXTRA_DIMENSIONS,
    LANDING_CHANGED,
    Publication,
    _compare,
    _landing_changes,
    run_what_if,
    scratch_dir,
)

SEGMENTATION = str(Path(sys.executable).with_name("segmentation"))
AS_OF = "2026-11-22"
OLD_HIGH, NEW_HIGH = 100000, 20000
DIMENSIONS = [*load_config().declared_segments(), *EXTRA_DIMENSIONS]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SEGMENTATION, *args], capture_output=True, text=True, timeout=900)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def query(path: Path, sql: str, params=()) -> list[tuple]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql, list(params)).fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Demo extracts for 200 accounts, published by `segmentation run`."""
    root = tmp_path_factory.mktemp("what_if")
    landing, warehouse = root / "landing", root / "warehouse" / "segments.duckdb"
    made = cli("demo-data", "--out", str(landing), "--accounts", "200", "--as-of", AS_OF)
    assert made.returncode == 0, made.stderr
    run = cli("run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", AS_OF)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    return root, landing, warehouse


@pytest.fixture(scope="module")
def threshold_what_if(published):
    """What-if with value_tier.high_min_revenue halved (in process, for the structured result)."""
    root, landing, warehouse = published
    candidate = root / "candidate.yml"
    candidate.write_text(f"dimensions:\n  value_tier:\n    high_min_revenue: {NEW_HIGH}\n")
    before = sha256(warehouse)
    result = run_what_if(RunPaths.resolve(landing, warehouse), candidate)
    return result, before


def test_moves_are_exactly_the_accounts_between_the_old_and_the_new_threshold(published, threshold_what_if):
    _, _, warehouse = published
    result, _ = threshold_what_if
    expected = [
        account for (account,) in query(
            warehouse,
            """select account_id from analytics.segmented_accounts
               where revenue_12m >= ? and revenue_12m < ? and not list_contains(overridden_dimensions, 'value_tier')
               order by account_id""",
            [NEW_HIGH, OLD_HIGH],
        )
    ]
    assert expected, "the demo data should have accounts between the two thresholds"
    assert query(
        warehouse,
        f"select distinct value_tier from analytics.segmented_accounts where account_id in ({', '.join('?' * len(expected))})",
        expected,
    ) == [("medium",)]
    value_tier = [m for m in result.moves if m["dimension"] == "value_tier"]
    assert value_tier == [{
        "dimension": "value_tier", "from_segment": "medium", "to_segment": "high",
        "accounts": len(expected), "examples": expected[:3],
    }]


def test_only_dimensions_that_use_value_tier_move(published, threshold_what_if):
    """service_level uses value_tier (high value -> the high_value_level) when there is no
    contracted level and the account is not key; nothing else depends on it."""
    _, _, warehouse = published
    result, _ = threshold_what_if
    promoted = [
        account for (account,) in query(
            warehouse,
            """select account_id from analytics.segmented_accounts
               where revenue_12m >= ? and revenue_12m < ?
                 and not list_contains(overridden_dimensions, 'value_tier')
                 and not list_contains(overridden_dimensions, 'service_level')
                 and (segment_reasons::json ->> 'service_level') like 'default%'
                 and size_tier <> 'enterprise'
               order by account_id""",
            [NEW_HIGH, OLD_HIGH],
        )
    ]
    assert promoted, "the demo data should have accounts that service_level promotes"
    service_level = [m for m in result.moves if m["dimension"] == "service_level"]
    assert service_level == [{
        "dimension": "service_level", "from_segment": "standard", "to_segment": "silver",
        "accounts": len(promoted), "examples": promoted[:3],
    }]
    assert {m["dimension"] for m in result.moves} <= {"value_tier", "service_level"}

    accounts = query(warehouse, "select count(*) from analytics.segmented_accounts")[0][0]
    assert result.accounts_compared == accounts
    assert result.totals == {dimension: accounts for dimension in DIMENSIONS}
    assert result.not_compared == {}
    assert result.only_published == (0, []) and result.only_candidate == (0, [])


def test_what_if_records_the_rulesets_and_no_landing_change(published, threshold_what_if):
    _, _, warehouse = published
    result, _ = threshold_what_if
    published_version, as_of = query(
        warehouse, "select ruleset_version, as_of_date from analytics.publications order by published_at desc limit 1"
    )[0]
    assert result.as_of == as_of == date.fromisoformat(AS_OF)
    assert result.published_ruleset == published_version
    assert result.candidate_ruleset != published_version
    assert result.landing_changes == []
    summary = result.summary()
    assert f"value_tier: {result.moved('value_tier')} of {result.accounts_compared} accounts would move" in summary
    assert "  medium -> high: " in summary
    assert LANDING_CHANGED not in summary


def test_the_warehouse_is_byte_identical_and_nothing_is_published(published, threshold_what_if):
    _, _, warehouse = published
    result, before = threshold_what_if
    assert sha256(warehouse) == before
    assert query(warehouse, "select count(*) from analytics.publications") == [(1,)]
    # the candidate was built beside the warehouse, in its own scratch folder
    assert result.scratch_work_db.is_file()
    assert result.scratch_work_db.is_relative_to(scratch_dir(warehouse))
    assert not list(warehouse.parent.glob(".segments.duckdb.publish-*"))


def test_the_report_is_written(published, threshold_what_if):
    _, _, warehouse = published
    result, _ = threshold_what_if
    assert result.report_error is None
    report = result.report_path
    assert report is not None and report.is_file()
    assert report.parent == warehouse.parent / "segments.reports"
    assert re.fullmatch(rf"what-if_{AS_OF}_\d{{8}}T\d{{6}}(-\d+)?\.html", report.name)
    html = report.read_text(encoding="utf-8")
    assert "value_tier" in html and result.candidate_ruleset in html


def test_cli_candidate_equal_to_the_defaults_moves_nothing(published, threshold_what_if):
    root, landing, warehouse = published
    before = sha256(warehouse)
    candidate = root / "defaults.yml"
    candidate.write_text(f"dimensions:\n  value_tier:\n    high_min_revenue: {OLD_HIGH}\n")
    result = cli("what-if", "--config", str(candidate), "--landing", str(landing), "--warehouse", str(warehouse))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "(the same rules)" in result.stdout
    assert "would move" not in result.stdout
    no_moves = next(line for line in result.stdout.splitlines() if line.startswith("no moves: "))
    assert no_moves.removeprefix("no moves: ").split(", ") == DIMENSIONS
    report = re.search(r"^report: (.+)$", result.stdout, re.M)
    assert report and Path(report.group(1)).is_file()
    assert sha256(warehouse) == before


def test_cli_invalid_candidate_exits_2_naming_the_key_before_running(published, tmp_path):
    _, landing, warehouse = published
    candidate = tmp_path / "bad.yml"
    candidate.write_text("dimensions:\n  value_tier:\n    high_min_revenue: lots\n")
    before = sha256(warehouse)
    result = cli("what-if", "--config", str(candidate), "--landing", str(landing), "--warehouse", str(warehouse))
    assert result.returncode == 2
    assert "dimensions.value_tier.high_min_revenue" in result.stderr
    assert "> segmentation_dbt_models" not in result.stderr  # nothing ran
    assert sha256(warehouse) == before


def test_cli_failed_candidate_build_exits_1(published, tmp_path):
    """The landing folder lost its extracts since the publication: the candidate cannot
    be built; nothing is compared, the warehouse is untouched."""
    _, _, warehouse = published
    broken = tmp_path / "landing"
    broken.mkdir()
    candidate = tmp_path / "candidate.yml"
    candidate.write_text(f"dimensions:\n  value_tier:\n    high_min_revenue: {NEW_HIGH}\n")
    before = sha256(warehouse)
    result = cli("what-if", "--config", str(candidate), "--landing", str(broken), "--warehouse", str(warehouse))
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    assert "the candidate build failed" in result.stderr and "crm__accounts" in result.stderr
    assert result.stdout == ""
    assert sha256(warehouse) == before


def test_cli_without_a_publication_exits_2(tmp_path):
    candidate = tmp_path / "candidate.yml"
    candidate.write_text("dimensions:\n  value_tier:\n    high_min_revenue: 50000\n")
    (tmp_path / "landing").mkdir()
    result = cli("what-if", "--config", str(candidate), "--landing", str(tmp_path / "landing"),
                 "--warehouse", str(tmp_path / "wh" / "segments.duckdb"))
    assert result.returncode == 2
    assert "no warehouse" in result.stderr
    assert not (tmp_path / "wh").exists()


# ---------------------------------------------------------------- the comparison's SQL on small real tables


def _accounts_db(path: Path, schema: str, rows: list[tuple]) -> None:
    conn = duckdb.connect(str(path))
    try:
        conn.execute(f"create schema {schema}")
        conn.execute(f"create table {schema}.segmented_accounts (account_id varchar, value_tier varchar, credit_hold boolean)")
        conn.executemany(f"insert into {schema}.segmented_accounts values (?, ?, ?)", rows)
    finally:
        conn.close()


def test_compare_counts_moves_examples_and_accounts_on_one_side(tmp_path):
    _accounts_db(tmp_path / "published.duckdb", "analytics", [
        ("A5", "medium", False), ("A1", "medium", False), ("A3", "medium", True), ("A2", "low", None),
        ("A4", "high", False), ("A9", "low", False),
    ])
    _accounts_db(tmp_path / "candidate.duckdb", "main_marts", [
        ("A5", "high", False), ("A1", "high", False), ("A3", "high", True), ("A2", "low", True),
        ("A4", "high", False), ("B1", "low", False),
    ])
    con = duckdb.connect()
    con.execute(f"attach '{tmp_path / 'published.duckdb'}' as published (read_only)")
    con.execute(f"attach '{tmp_path / 'candidate.duckdb'}' as candidate (read_only)")
    out = _compare(con, "main_marts.segmented_accounts", ["value_tier", "tenure", "credit_hold"], examples_per_move=2)
    assert out["moves"] == [
        {"dimension": "value_tier", "from_segment": "medium", "to_segment": "high", "accounts": 3, "examples": ["A1", "A3"]},
        {"dimension": "credit_hold", "from_segment": "(null)", "to_segment": "true", "accounts": 1, "examples": ["A2"]},
    ]
    assert out["accounts"] == 5
    assert out["totals"] == {"value_tier": 5, "credit_hold": 5}
    assert out["not_compared"] == {"tenure": "no such column in the publication and the candidate"}
    assert out["only_published"] == (1, ["A9"]) and out["only_candidate"] == (1, ["B1"])


def test_landing_changes_name_new_missing_and_changed_files():
    con = duckdb.connect()
    con.execute("attach ':memory:' as candidate")
    con.execute("create schema candidate.audit")
    con.execute("create table candidate.audit.loaded_files (run_id varchar, entity varchar, file varchar)")
    loaded = [("crm__accounts", "crm/accounts/2026-11-22.csv", "a" * 64),
              ("finance__invoices", "finance/invoices/2026-11-22.csv", "c" * 64),
              ("finance__invoices", "finance/invoices/2026-11-23.csv", "d" * 64)]
    con.executemany("insert into candidate.audit.loaded_files values ('r1', ?, ?)",
                    [(entity, json.dumps({"path": path, "sha256": sha})) for entity, path, sha in loaded])
    publication = Publication("p1", date(2026, 11, 22), "v", None, [
        {"entity": "crm__accounts", "path": "crm/accounts/2026-11-22.csv", "sha256": "a" * 64},
        {"entity": "finance__invoices", "path": "finance/invoices/2026-11-22.csv", "sha256": "b" * 64},
        {"entity": "finance__payments", "path": "finance/payments/2026-11-22.csv", "sha256": "e" * 64},
        {"entity": "crm__contacts", "path": "crm/contacts/2026-11-22.csv", "sha256": "f" * 64},  # not built
    ])
    entities = {"crm__accounts", "finance__invoices", "finance__payments"}
    assert _landing_changes(con, "r1", publication, entities) == [
        "1 file(s) new or newly selected (e.g. finance/invoices/2026-11-23.csv)",
        "1 file(s) no longer read (e.g. finance/payments/2026-11-22.csv)",
        "1 file(s) changed content (e.g. finance/invoices/2026-11-22.csv)",
    ]
    same = Publication("p1", date(2026, 11, 22), "v", None, [
        {"entity": entity, "path": path, "sha256": sha} for entity, path, sha in loaded
    ])
    assert _landing_changes(con, "r1", same, entities) == []
