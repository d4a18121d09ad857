"""Gate helpers, the audit marker and atomic publication, on real DuckDB files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipeline.publish import (
    CheckOutcome,
    PublishError,
    PublishRefused,
    assert_audited,
    last_published_row_count,
    publish,
    quarantine_share_check,
    record_audit,
    row_count_drop_check,
)

TABLES = {
    "segmented_accounts": "main_marts.segmented_accounts",
    "quarantine": "main_marts.quarantine",
}

ACCOUNT_COLUMNS = """
    account_id VARCHAR NOT NULL,
    account_name VARCHAR,
    as_of_date DATE,
    value_tier VARCHAR,
    credit_hold BOOLEAN,
    revenue_12m DECIMAL(18,2),
    avg_days_late DECIMAL(10,2),
    on_time_rate DECIMAL(10,4),
    risk_score DECIMAL(5,1),
    icp_score INTEGER,
    bureau_score DOUBLE,
    segment_reasons VARCHAR,
    overridden_dimensions VARCHAR[],
    computed_at TIMESTAMP
"""


def make_work_db(path: Path, accounts: int, quarantined: int = 2, run_id: str | None = "run-1") -> Path:
    """A working db like dbt leaves it; audited as passed for `run_id` unless None."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA main_marts")
    con.execute(f"CREATE TABLE main_marts.segmented_accounts ({ACCOUNT_COLUMNS})")
    con.execute(
        f"""INSERT INTO main_marts.segmented_accounts
            SELECT 'A-' || i, 'Account ' || i, DATE '2025-03-01',
                   ['high', 'low', 'to_be_defined'][i % 3 + 1], i % 7 = 0,
                   (i * 12.34)::DECIMAL(18,2), (i % 30)::DECIMAL(10,2), 0.9123::DECIMAL(10,4),
                   (i % 100)::DECIMAL(5,1), (i % 100)::INTEGER, i / 3.0,
                   '{{"value_tier": "revenue_12m>=10000"}}',
                   CASE WHEN i % 10 = 0 THEN ['value_tier'] ELSE [] END,
                   TIMESTAMP '2025-03-01 02:00:00'
            FROM range({accounts}) t(i)"""
    )
    con.execute(
        """CREATE TABLE main_marts.quarantine (
               source VARCHAR, entity VARCHAR, record_key VARCHAR, reason_code VARCHAR, run_id VARCHAR)"""
    )
    con.execute(
        f"""INSERT INTO main_marts.quarantine
            SELECT 'crm', 'accounts', 'Q-' || i, 'invalid_value', 'run-x' FROM range({quarantined}) t(i)"""
    )
    con.close()
    if run_id is not None:
        record_audit(path, run_id, True, [CheckOutcome("row_count_drop", True, "ok")])
    return path


def publication(run_id: str = "run-1", **extra) -> dict:
    return {
        "run_id": run_id,
        "as_of_date": date(2025, 3, 1),
        "ruleset_version": "abc123def456",
        "input_files": [{"path": "crm/accounts/2025-03-01.csv", "sha256": "00ff"}],
        "check_results": [CheckOutcome("quarantine_share", True, "2 of 100 accounts quarantined")],
        **extra,
    }


def column_types(db: Path, schema: str, table: str) -> list[tuple[str, str, bool]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            """SELECT column_name, data_type, is_nullable FROM duckdb_columns()
               WHERE schema_name = ? AND table_name = ? ORDER BY column_index""",
            [schema, table],
        ).fetchall()
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(directory: Path) -> list[str]:
    """Temp files and WALs: nothing of the kind may stay after a publication."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".wal") or ".publish-" in p.name)


@pytest.fixture
def warehouse(tmp_path) -> Path:
    return tmp_path / "warehouse" / "segments.duckdb"


# ------------------------------------------------------------------ gate helpers


@pytest.mark.parametrize(
    ("current", "previous", "passed"),
    [
        (85, 100, True),  # exactly 15 %
        (84, 100, False),
        (850_000, 1_000_000, True),
        (849_999, 1_000_000, False),
        (120, 100, True),  # growth
        (0, 0, True),
        (10, None, True),  # first publication
    ],
)
def test_row_count_drop_boundaries(current, previous, passed):
    outcome = row_count_drop_check(current, previous, 0.15, allowed=False)
    assert outcome.passed is passed, outcome.message
    assert outcome.name == "row_count_drop"


def test_row_count_drop_failure_message_and_override():
    failed = row_count_drop_check(84, 100, 0.15, allowed=False)
    assert "16.00 %" in failed.message and "15.00 %" in failed.message
    assert "--allow-row-drop" in failed.message
    assert failed.examples == [{"previous": 100, "current": 84}]

    allowed = row_count_drop_check(10, 100, 0.15, allowed=True)
    assert allowed.passed
    assert "accepted for this run" in allowed.message


@pytest.mark.parametrize(
    ("quarantined", "total", "passed"),
    [
        (2, 100, True),  # exactly 2 %
        (3, 100, False),
        (20, 1000, True),
        (21, 1000, False),
        (0, 0, True),
        (0, 5, True),
    ],
)
def test_quarantine_share_boundaries(quarantined, total, passed):
    outcome = quarantine_share_check(quarantined, total, 0.02, examples=["A-1", "A-2"])
    assert outcome.passed is passed, outcome.message
    assert outcome.examples == ([] if passed else ["A-1", "A-2"])


def test_gate_helpers_reject_a_share_outside_0_1():
    with pytest.raises(ValueError):
        row_count_drop_check(1, 2, 1.5, allowed=False)
    with pytest.raises(ValueError):
        quarantine_share_check(1, 2, -0.1)


def test_check_outcome_round_trips_through_json():
    outcome = CheckOutcome("quarantine_share", False, "3 of 100", ["A-1", date(2025, 3, 1)])
    data = json.loads(json.dumps(outcome.to_dict()))
    assert data == {"name": "quarantine_share", "passed": False, "message": "3 of 100", "examples": ["A-1", "2025-03-01"]}
    assert CheckOutcome.from_dict(data).passed is False


# ------------------------------------------------------------------------- audit


def test_latest_audit_row_decides(tmp_path):
    work = make_work_db(tmp_path / "work.duckdb", 10, run_id=None)

    with pytest.raises(PublishRefused, match="run-1 has no audit"):
        assert_audited(work, "run-1")

    record_audit(work, "run-1", False, [CheckOutcome("quarantine_share", False, "3 of 100 accounts quarantined")])
    with pytest.raises(PublishRefused, match="quarantine_share: 3 of 100 accounts quarantined"):
        assert_audited(work, "run-1")

    record_audit(work, "run-1", True, [CheckOutcome("quarantine_share", True, "ok")])
    assert_audited(work, "run-1")
    with pytest.raises(PublishRefused, match="run-2 has no audit"):
        assert_audited(work, "run-2")

    record_audit(work, "run-1", False, [])
    with pytest.raises(PublishRefused, match="failed the publish gate"):
        assert_audited(work, "run-1")
    assert not Path(f"{work}.wal").exists()


# ------------------------------------------------------------------- publication


def test_publish_copies_tables_with_identical_types(tmp_path, warehouse):
    work = make_work_db(tmp_path / "work" / "work.duckdb", 100, quarantined=3)

    publish(work, warehouse, TABLES, publication())

    for name, source in TABLES.items():
        schema, table = source.split(".")
        assert column_types(warehouse, "analytics", name) == column_types(work, schema, table)
    assert column_types(warehouse, "analytics", "segmented_accounts")[0] == ("account_id", "VARCHAR", False)
    published = query(warehouse, "SELECT * FROM analytics.segmented_accounts ORDER BY account_id")
    assert published == query(work, "SELECT * FROM main_marts.segmented_accounts ORDER BY account_id")
    assert query(warehouse, "SELECT count(*) FROM analytics.quarantine") == [(3,)]
    assert leftovers(warehouse.parent) == []
    assert not Path(f"{work}.wal").exists()


def compressions(db: Path, table: str) -> dict[str, set[str]]:
    """The compression of each column's data segments, as stored."""
    return {
        column: set(methods)
        for column, methods in query(
            db,
            f"""SELECT column_name, list(DISTINCT compression) FROM pragma_storage_info('{table}')
                WHERE segment_type <> 'VALIDITY' GROUP BY column_name""",
        )
    }


def test_publish_keeps_a_zstd_column_zstd(tmp_path, warehouse):
    # segmented_accounts is written with zstd (dbt_project/macros/storage.sql): its
    # copy in the warehouse, and the previous publication's copy, must not fall back
    # to DuckDB's default, several times slower to write for long text
    work = make_work_db(tmp_path / "work" / "work.duckdb", 5000)
    con = duckdb.connect(str(work))
    con.execute("SET force_compression = 'zstd'")
    con.execute(f"CREATE TABLE main_marts.zstd_accounts ({ACCOUNT_COLUMNS})")
    con.execute("INSERT INTO main_marts.zstd_accounts SELECT * FROM main_marts.segmented_accounts")
    con.execute("CHECKPOINT")
    con.close()
    assert compressions(work, "main_marts.zstd_accounts")["segment_reasons"] == {"ZSTD"}
    tables = {"segmented_accounts": "main_marts.zstd_accounts", "quarantine": "main_marts.quarantine"}

    publish(work, warehouse, tables, publication())
    record_audit(work, "run-2", True, [])
    publish(work, warehouse, tables, publication("run-2"))

    for table in ("analytics.segmented_accounts", "analytics_previous.segmented_accounts"):
        stored = compressions(warehouse, table)
        assert stored["segment_reasons"] == {"ZSTD"}, table
        assert stored["account_id"] == {"ZSTD"}, table
        assert "ZSTD" not in stored["revenue_12m"], table
    assert compressions(warehouse, "analytics.quarantine")["reason_code"] != {"ZSTD"}
    assert column_types(warehouse, "analytics", "segmented_accounts") == column_types(work, "main_marts", "segmented_accounts")


def test_publications_row_appended_and_carried_over(tmp_path, warehouse):
    assert last_published_row_count(warehouse) is None

    first = make_work_db(tmp_path / "w1.duckdb", 100, quarantined=3, run_id="run-1")
    publish(first, warehouse, TABLES, publication("run-1"))
    assert last_published_row_count(warehouse) == 100

    second = make_work_db(tmp_path / "w2.duckdb", 90, quarantined=1, run_id="run-2")
    publish(second, warehouse, TABLES, publication("run-2", as_of_date="2025-03-02", rows_quarantined=7))
    assert last_published_row_count(warehouse) == 90

    rows = query(
        warehouse,
        """SELECT run_id, as_of_date, ruleset_version, rows_published, rows_quarantined,
                  input_files, check_results, published_at
           FROM analytics.publications ORDER BY published_at""",
    )
    assert [r[:5] for r in rows] == [
        ("run-1", date(2025, 3, 1), "abc123def456", 100, 3),
        ("run-2", date(2025, 3, 2), "abc123def456", 90, 7),
    ]
    assert json.loads(rows[0][5]) == [{"path": "crm/accounts/2025-03-01.csv", "sha256": "00ff"}]
    assert json.loads(rows[0][6]) == [
        {"name": "quarantine_share", "passed": True, "message": "2 of 100 accounts quarantined", "examples": []}
    ]
    assert isinstance(rows[1][7], datetime) and rows[1][7] >= rows[0][7]
    assert dict((c, t) for c, t, _ in column_types(warehouse, "analytics", "publications")) == {
        "run_id": "VARCHAR",
        "as_of_date": "DATE",
        "ruleset_version": "VARCHAR",
        "input_files": "VARCHAR",
        "rows_published": "BIGINT",
        "rows_quarantined": "BIGINT",
        "check_results": "VARCHAR",
        "published_at": "TIMESTAMP",
    }
    assert leftovers(warehouse.parent) == []


def test_only_the_last_publications_are_kept(tmp_path, warehouse):
    work = make_work_db(tmp_path / "work.duckdb", 10, run_id=None)
    for n in range(1, 6):
        record_audit(work, f"run-{n}", True, [])
        publish(work, warehouse, TABLES, publication(f"run-{n}"), keep_publications=3)

    runs = query(warehouse, "SELECT run_id FROM analytics.publications ORDER BY published_at")
    assert runs == [("run-3",), ("run-4",), ("run-5",)]


@pytest.mark.parametrize("audit", [None, False])
def test_unaudited_or_failed_run_is_refused_and_warehouse_untouched(tmp_path, warehouse, audit):
    make_work_db(tmp_path / "old.duckdb", 50, run_id="run-1")
    publish(tmp_path / "old.duckdb", warehouse, TABLES, publication("run-1"))
    before = digest(warehouse), warehouse.stat().st_mtime_ns

    work = make_work_db(tmp_path / "new.duckdb", 60, run_id=None)
    if audit is not None:
        record_audit(work, "run-2", audit, [CheckOutcome("row_count_drop", False, "-40.00 %")])

    with pytest.raises(PublishRefused, match="run-2"):
        publish(work, warehouse, TABLES, publication("run-2"))

    assert (digest(warehouse), warehouse.stat().st_mtime_ns) == before
    assert last_published_row_count(warehouse) == 50
    assert leftovers(warehouse.parent) == []


def test_failure_while_building_leaves_previous_warehouse(tmp_path, warehouse):
    make_work_db(tmp_path / "old.duckdb", 50, run_id="run-1")
    publish(tmp_path / "old.duckdb", warehouse, TABLES, publication("run-1"))
    before = digest(warehouse)

    work = make_work_db(tmp_path / "new.duckdb", 60, run_id="run-2")
    with pytest.raises(duckdb.CatalogException):
        publish(work, warehouse, {**TABLES, "extra": "main_marts.does_not_exist"}, publication("run-2"))

    assert digest(warehouse) == before
    assert leftovers(warehouse.parent) == []


def test_stale_temp_file_of_a_killed_run_is_cleaned(tmp_path, warehouse):
    warehouse.parent.mkdir(parents=True)
    stale = warehouse.parent / f".{warehouse.name}.publish-deadbeef.tmp"
    stale.write_bytes(b"half-written duckdb file")
    Path(f"{stale}.wal").write_bytes(b"garbage")

    work = make_work_db(tmp_path / "work.duckdb", 20)
    publish(work, warehouse, TABLES, publication())

    assert leftovers(warehouse.parent) == []
    assert last_published_row_count(warehouse) == 20


def test_killed_publication_leaves_previous_warehouse_readable(tmp_path, warehouse):
    """SIGKILL while the new file is being written: the old warehouse stays, the next run cleans up."""
    make_work_db(tmp_path / "old.duckdb", 10, run_id="run-1")
    publish(tmp_path / "old.duckdb", warehouse, TABLES, publication("run-1"))
    before = digest(warehouse)
    big = make_work_db(tmp_path / "big.duckdb", 1_000_000, run_id="run-2")

    code = f"""
        from datetime import date
        from pipeline.publish import publish
        publish({str(big)!r}, {str(warehouse)!r}, {TABLES!r},
                {{"run_id": "run-2", "as_of_date": date(2025, 3, 1), "ruleset_version": "v"}})
    """
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=Path(__file__).parents[1])
    deadline = time.monotonic() + 30
    while not any(".publish-" in p.name for p in warehouse.parent.iterdir()):
        assert proc.poll() is None, "the publication finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    assert digest(warehouse) == before
    assert last_published_row_count(warehouse) == 10
    assert leftovers(warehouse.parent) != []  # what the killed run left behind

    record_audit(big, "run-3", True, [])
    publish(big, warehouse, TABLES, publication("run-3"))
    assert leftovers(warehouse.parent) == []
    assert last_published_row_count(warehouse) == 1_000_000


READER = """
import duckdb, json, sys, time
path, mode, stop = sys.argv[1], sys.argv[2], sys.argv[3]
counts, errors = {}, []
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
print("ready", flush=True)
import os
def read():
    con = held or duckdb.connect(path, read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM analytics.segmented_accounts").fetchone()[0]
        p = con.execute("SELECT max(rows_published) FILTER (WHERE published_at = (SELECT max(published_at) FROM analytics.publications)) FROM analytics.publications").fetchone()[0]
        counts[f"{n}/{p}"] = counts.get(f"{n}/{p}", 0) + 1
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        if held is None:
            con.close()
while not os.path.exists(stop):
    read()
read()
print(json.dumps({"counts": counts, "errors": errors[:5]}), flush=True)
"""


def test_readers_see_old_or_new_publication_never_an_error(tmp_path, warehouse):
    old = make_work_db(tmp_path / "old.duckdb", 1000, run_id="run-0")
    publish(old, warehouse, TABLES, publication("run-0"))
    new = make_work_db(tmp_path / "new.duckdb", 1200, run_id=None)
    stop = tmp_path / "stop"

    readers = {
        mode: subprocess.Popen(
            [sys.executable, "-c", READER, str(warehouse), mode, str(stop)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for mode in ("hold", "reopen")
    }
    try:
        for proc in readers.values():
            assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        for n in range(1, 9):  # alternate old and new, readers querying all the while
            source = new if n % 2 else old
            record_audit(source, f"run-{n}", True, [])
            publish(source, warehouse, TABLES, publication(f"run-{n}"))
            time.sleep(0.1)
    finally:
        stop.touch()
        results = {mode: json.loads(proc.communicate(timeout=30)[0].strip().splitlines()[-1]) for mode, proc in readers.items()}

    # The holder keeps its snapshot of the file it opened: the old publication throughout.
    assert results["hold"] == {"counts": {"1000/1000": results["hold"]["counts"]["1000/1000"]}, "errors": []}
    # A reader that reopens sees whole publications only, old or new, and ends on the last one.
    assert results["reopen"]["errors"] == []
    assert set(results["reopen"]["counts"]) <= {"1000/1000", "1200/1200"}
    assert {"1000/1000", "1200/1200"} <= set(results["reopen"]["counts"])
    assert sum(results["reopen"]["counts"].values()) > 8
    assert last_published_row_count(warehouse) == 1000
    assert leftovers(warehouse.parent) == []


def test_concurrent_publication_of_the_same_warehouse_is_refused(tmp_path, warehouse):
    import fcntl

    work = make_work_db(tmp_path / "work.duckdb", 10)
    warehouse.parent.mkdir(parents=True)
    with open(warehouse.parent / f".{warehouse.name}.publish.lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        with pytest.raises(PublishError, match="another run is publishing"):
            publish(work, warehouse, TABLES, publication())
    assert not warehouse.exists()


def test_arguments_are_validated_before_anything_is_written(tmp_path, warehouse):
    work = make_work_db(tmp_path / "work.duckdb", 10)
    with pytest.raises(ValueError, match="schema.table"):
        publish(work, warehouse, {"segmented_accounts": "segmented_accounts"}, publication())
    with pytest.raises(ValueError, match="not allowed"):
        publish(work, warehouse, {"publications": "main_marts.quarantine"}, publication())
    with pytest.raises(ValueError, match="run_id"):
        publish(work, warehouse, TABLES, publication(run_id=""))
    with pytest.raises(ValueError, match="rows_published"):
        publish(work, warehouse, {"quarantine": "main_marts.quarantine"}, publication())
    assert not warehouse.exists()
