"""`segmentation rollback`: every publication keeps the one it replaces in schema
`analytics_previous`; rollback swaps it back atomically and records it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.publish import PublishError, last_published_row_count, publish, rollback
from test_publish import TABLES, column_types, digest, leftovers, make_work_db, publication, query

SEGMENTATION = str(Path(sys.executable).with_name("segmentation"))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SEGMENTATION, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def two_publications(tmp_path):
    """run-1 (100 accounts, good), then run-2 (60 accounts, the bad one that passed the gate)."""
    warehouse = tmp_path / "warehouse" / "segments.duckdb"
    good = make_work_db(tmp_path / "good.duckdb", 100, quarantined=3, run_id="run-1")
    publish(good, warehouse, TABLES, publication("run-1"))
    bad = make_work_db(tmp_path / "bad.duckdb", 60, quarantined=9, run_id="run-2")
    publish(bad, warehouse, TABLES, publication("run-2", as_of_date="2025-03-02"))
    return warehouse, good, bad


def test_each_publication_keeps_the_previous_one(two_publications):
    warehouse, good, _ = two_publications
    assert query(warehouse, "SELECT count(*) FROM analytics.segmented_accounts") == [(60,)]
    assert query(warehouse, "SELECT count(*) FROM analytics_previous.segmented_accounts") == [(100,)]
    assert column_types(warehouse, "analytics_previous", "segmented_accounts") == column_types(
        good, "main_marts", "segmented_accounts"
    )
    assert query(warehouse, "SELECT run_id FROM analytics_previous.publications") == [("run-1",)]
    # one level only: the previous warehouse's own previous schema is not carried along
    tables = query(warehouse, "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL")
    assert {s for s, _ in tables} == {"analytics", "analytics_previous"}


def test_rollback_command_restores_the_previous_publication(two_publications):
    warehouse, good, _ = two_publications
    result = cli("rollback", "--warehouse", str(warehouse), "--reason", "wrong FX file")
    assert result.returncode == 0, result.stderr
    assert "restored run run-1" in result.stdout and "in place of run run-2" in result.stdout

    assert query(warehouse, "SELECT * FROM analytics.segmented_accounts ORDER BY account_id") == query(
        good, "SELECT * FROM main_marts.segmented_accounts ORDER BY account_id"
    )
    assert column_types(warehouse, "analytics", "segmented_accounts") == column_types(
        good, "main_marts", "segmented_accounts"
    )
    assert query(warehouse, "SELECT count(*) FROM analytics.quarantine") == [(3,)]
    rows = query(warehouse, "SELECT run_id, as_of_date::VARCHAR, rows_published, rows_quarantined, check_results "
                            "FROM analytics.publications ORDER BY published_at")
    assert [r[:4] for r in rows] == [
        ("run-1", "2025-03-01", 100, 3), ("run-2", "2025-03-02", 60, 9), ("run-1", "2025-03-01", 100, 3)
    ]
    note = json.loads(rows[-1][4])[0]
    assert note["name"] == "rollback" and note["passed"] is True
    assert "wrong FX file" in note["message"]
    assert note["examples"] == [{"rolled_back_run_id": "run-2", "restored_run_id": "run-1", "reason": "wrong FX file"}]
    assert last_published_row_count(warehouse) == 100  # the row-count gate compares with what is live
    # the bad publication is kept in its turn
    assert query(warehouse, "SELECT count(*) FROM analytics_previous.segmented_accounts") == [(60,)]
    assert leftovers(warehouse.parent) == []


def test_a_second_rollback_undoes_the_first(two_publications):
    warehouse, _, bad = two_publications
    rollback(warehouse)
    undone = rollback(warehouse, reason="it was fine after all")
    assert (undone.restored_run_id, undone.replaced_run_id, undone.restored_rows) == ("run-2", "run-1", 60)
    assert query(warehouse, "SELECT * FROM analytics.segmented_accounts ORDER BY account_id") == query(
        bad, "SELECT * FROM main_marts.segmented_accounts ORDER BY account_id"
    )
    assert [r for (r,) in query(warehouse, "SELECT run_id FROM analytics.publications ORDER BY published_at")] == [
        "run-1", "run-2", "run-1", "run-2"
    ]


def test_the_next_publication_after_a_rollback(two_publications, tmp_path):
    warehouse, _, _ = two_publications
    rollback(warehouse)
    fixed = make_work_db(tmp_path / "fixed.duckdb", 101, run_id="run-3")
    publish(fixed, warehouse, TABLES, publication("run-3", as_of_date="2025-03-02"))
    assert last_published_row_count(warehouse) == 101
    assert query(warehouse, "SELECT count(*) FROM analytics_previous.segmented_accounts") == [(100,)]
    assert len(query(warehouse, "SELECT * FROM analytics.publications")) == 4


def test_nothing_to_roll_back_is_refused_and_changes_nothing(tmp_path):
    warehouse = tmp_path / "w" / "segments.duckdb"
    result = cli("rollback", "--warehouse", str(warehouse))
    assert result.returncode == 1 and "no warehouse" in result.stderr

    publish(make_work_db(tmp_path / "only.duckdb", 10), warehouse, TABLES, publication())
    before = digest(warehouse)
    result = cli("rollback", "--warehouse", str(warehouse))
    assert result.returncode == 1 and "no previous publication" in result.stderr
    assert digest(warehouse) == before
    assert leftovers(warehouse.parent) == []


def test_rollback_waits_for_no_one_while_a_publication_holds_the_lock(two_publications):
    import fcntl

    warehouse, _, _ = two_publications
    before = digest(warehouse)
    with open(warehouse.parent / f".{warehouse.name}.publish.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with pytest.raises(PublishError, match="another run is publishing"):
            rollback(warehouse)
    assert digest(warehouse) == before


def test_a_failed_rollback_leaves_the_warehouse_as_it_was(two_publications, monkeypatch):
    import pipeline.publish as publish_module

    warehouse, _, _ = two_publications
    before = digest(warehouse)
    calls = []

    def failing_copy(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(*args, **kwargs)

    original = publish_module._copy_table
    monkeypatch.setattr(publish_module, "_copy_table", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        rollback(warehouse)
    assert digest(warehouse) == before
    assert leftovers(warehouse.parent) == []
    assert last_published_row_count(warehouse) == 60


HISTORY_COLUMNS = "account_id VARCHAR NOT NULL, dimension VARCHAR NOT NULL, segment_value VARCHAR, valid_from DATE NOT NULL, valid_to DATE"


def _with_history(work_db: Path, rows: list[tuple]) -> Path:
    con = duckdb.connect(str(work_db))
    try:
        con.execute(f"CREATE TABLE main_marts.segment_history ({HISTORY_COLUMNS})")
        con.executemany("INSERT INTO main_marts.segment_history VALUES (?, ?, ?, ?, ?)", rows)
    finally:
        con.close()
    return work_db


def _history(db: Path, relation: str) -> list[tuple]:
    return query(db, f"SELECT * FROM {relation} ORDER BY ALL")


@pytest.mark.parametrize("second_night", ["next-day", "rerun-of-the-same-day"])
def test_the_replaced_history_is_restored_exactly(tmp_path, second_night):
    """After a night that only adds to the history, the replaced history is derived from
    the new one (a view, no second copy); after a rerun of the same day it is a copy.
    Either way it reads, and a rollback restores, exactly the history it replaced."""
    d1, d2 = date(2025, 3, 1), date(2025, 3, 2)
    first_rows = [
        ("A-1", "value_tier", "low", date(2025, 1, 1), date(2025, 2, 1)),
        ("A-1", "value_tier", "high", date(2025, 2, 1), None),
        ("A-2", "value_tier", "low", d1, None),
        ("A-3", "value_tier", "high", date(2025, 1, 1), None),
    ]
    day = d2 if second_night == "next-day" else d1
    second_rows = [  # A-2 moved on the second night, A-3 left, A-4 arrived
        first_rows[0], first_rows[1],
        ("A-2", "value_tier", "low", d1, day), ("A-2", "value_tier", "high", day, None),
        ("A-3", "value_tier", "high", date(2025, 1, 1), day),
        ("A-4", "value_tier", "low", day, None),
    ]
    if second_night != "next-day":  # a rerun of d1 rebuilds d1: A-2 opens at d1 with its new value
        second_rows = [first_rows[0], first_rows[1], ("A-2", "value_tier", "high", d1, None),
                       ("A-3", "value_tier", "high", date(2025, 1, 1), d1), ("A-4", "value_tier", "low", d1, None)]
    tables = {**TABLES, "segment_history": "main_marts.segment_history"}
    warehouse = tmp_path / "warehouse" / "segments.duckdb"
    first = _with_history(make_work_db(tmp_path / "first.duckdb", 10, run_id="run-1"), first_rows)
    publish(first, warehouse, tables, publication("run-1", as_of_date=d1))
    second = _with_history(make_work_db(tmp_path / "second.duckdb", 10, run_id="run-2"), second_rows)
    publish(second, warehouse, tables, publication("run-2", as_of_date=day))

    views = query(warehouse, "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal")
    assert views == ([("analytics_previous", "segment_history")] if second_night == "next-day" else [])
    assert _history(warehouse, "analytics_previous.segment_history") == sorted(first_rows, key=str)
    assert _history(warehouse, "analytics.segment_history") == sorted(second_rows, key=str)

    rollback(warehouse, reason="test")
    assert _history(warehouse, "analytics.segment_history") == sorted(first_rows, key=str)
    assert column_types(warehouse, "analytics", "segment_history") == column_types(
        first, "main_marts", "segment_history")
    assert _history(warehouse, "analytics_previous.segment_history") == sorted(second_rows, key=str)
    rollback(warehouse, reason="undo")
    assert _history(warehouse, "analytics.segment_history") == sorted(second_rows, key=str)
