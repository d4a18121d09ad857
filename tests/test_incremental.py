"""Incremental nights of the delta feeds: when the staging state may be updated in place
(pipeline/incremental.py, on a real working database and real loads), and that a night
built incrementally publishes what a full build of the same night publishes, also for
a re-sent key, a row without a key and a re-delivered old file."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from pipeline import incremental
from pipeline.config.sources import entity_spec
from pipeline.demo_data import generate_demo_data
from pipeline.ingest import discover, load_entity
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths

AS_OF = date(2026, 11, 22)
INVOICES = entity_spec("finance", "invoices")
HEADER = "invoice_id,account_id,invoice_date,due_date,currency,total_amount\n"


def _write(landing: Path, day: date, body: str) -> Path:
    path = landing / "finance" / "invoices" / f"{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def _load_and_plan(conn, landing: Path, as_of: date) -> incremental.IncrementalPlan:
    load_entity(conn, INVOICES, discover(landing, as_of, INVOICES))
    return incremental.plan_build(conn, as_of)


def test_plan_is_full_until_a_build_completes_then_names_the_new_files(tmp_path):
    landing = tmp_path / "landing"
    _write(landing, AS_OF - timedelta(days=1), "I1,A1,2026-11-20,2026-12-20,EUR,10\n")
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    try:
        first = _load_and_plan(conn, landing, AS_OF - timedelta(days=1))
        assert first.full_refresh and first.reason == "no earlier build" and first.dbt_args == ["--full-refresh"]

        # the build did not complete: still a full build
        assert _load_and_plan(conn, landing, AS_OF - timedelta(days=1)).reason == "the last build did not complete"

        incremental.record_build(conn)
        _write(landing, AS_OF, "I2,A1,2026-11-22,2026-12-22,EUR,20\n")
        second = _load_and_plan(conn, landing, AS_OF)
        assert not second.full_refresh and second.dbt_args == []
        assert second.new_files == {"finance__invoices": 1}
        assert conn.execute(f"select entity, relative_path from {incremental.NEW_FILES_TABLE}").fetchall() == [
            ("finance__invoices", f"finance/invoices/{AS_OF.isoformat()}.csv")
        ]
        incremental.record_build(conn)
        # a completed build leaves nothing to merge again
        assert conn.execute(f"select count(*) from {incremental.NEW_FILES_TABLE}").fetchone()[0] == 0
        assert _load_and_plan(conn, landing, AS_OF).new_files == {}
        incremental.record_build(conn)

        # the per-invoice models only move D forwards: an earlier as-of date, even
        # without any file unloaded, or an unknown one, is a full build
        moved_back = incremental.plan_build(conn, AS_OF - timedelta(days=1))
        assert moved_back.full_refresh and "as-of date moved back" in moved_back.reason
        incremental.record_build(conn)
        assert "unknown" in incremental.plan_build(conn).reason  # no raw.run_context
        incremental.record_build(conn)
        assert incremental.plan_build(conn, AS_OF).full_refresh  # the last build's D is unknown
        incremental.record_build(conn)
        assert not incremental.plan_build(conn, AS_OF + timedelta(days=1)).full_refresh
        incremental.record_build(conn)

        # an earlier date unloads the newer file: the tables hold rows no longer loaded
        earlier = _load_and_plan(conn, landing, AS_OF - timedelta(days=1))
        assert earlier.full_refresh and "no longer loaded unchanged" in earlier.reason
        incremental.record_build(conn)

        # a re-delivered file (same path, new content)
        _write(landing, AS_OF, "I2,A1,2026-11-22,2026-12-22,EUR,21\n")
        _load_and_plan(conn, landing, AS_OF)
        incremental.record_build(conn)
        path = _write(landing, AS_OF - timedelta(days=1), "I1,A1,2026-11-20,2026-12-20,EUR,11.5\n")
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        redelivered = _load_and_plan(conn, landing, AS_OF)
        assert redelivered.full_refresh and "finance/invoices/2026-11-21.csv" in redelivered.reason
    finally:
        conn.close()


def test_plan_is_full_when_the_dbt_project_changed(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    _write(landing, AS_OF, "I1,A1,2026-11-20,2026-12-20,EUR,10\n")
    conn = duckdb.connect(str(tmp_path / "work.duckdb"))
    try:
        _load_and_plan(conn, landing, AS_OF)
        incremental.record_build(conn)
        monkeypatch.setattr(incremental, "project_fingerprint", lambda: "another project")
        assert _load_and_plan(conn, landing, AS_OF).reason == "the dbt project changed"
    finally:
        conn.close()


def _published(warehouse: Path, table: str) -> list[tuple]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return conn.execute(f"select * exclude (run_id) from analytics.{table} order by all").fetchall()
    finally:
        conn.close()


def _quarantine(warehouse: Path) -> list[tuple]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return conn.execute(
            "select source, entity, reason_code, record_key, reason_detail, file_name, row_number "
            "from analytics.quarantine order by all"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("redeliver_old_file", [False, True], ids=["new-day", "re-delivered-old-file"])
def test_incremental_night_publishes_what_a_full_build_publishes(tmp_path, redeliver_old_file):
    landing = tmp_path / "landing"
    generate_demo_data(landing, accounts=60, seed=7, as_of=AS_OF)
    invoices = sorted((landing / "finance" / "invoices").glob("*.csv"))
    # the new day re-sends an invoice of an earlier day with another amount, and holds a
    # row without a key (quarantined, never merged)
    earlier = next(lines for lines in (f.read_text(encoding="utf-8").splitlines() for f in reversed(invoices[1:-3]))
                   if len(lines) > 2)
    header, resent = earlier[0], earlier[1].split(",")
    columns = header.split(",")
    resent[columns.index("total_amount")] = "12345.67"
    keyless = [""] * len(columns)
    keyless[columns.index("account_id")] = resent[columns.index("account_id")]
    with invoices[-1].open("a", encoding="utf-8") as day:
        day.write(",".join(resent) + "\n" + ",".join(keyless) + "\n")

    # a late file: the oldest day arrives only with the last night, holding an older
    # version of a key whose newest version was merged on the night before
    late = invoices[0]
    stale = earlier[2].split(",")
    stale[columns.index("total_amount")] = "999.99"
    late_text = late.read_text(encoding="utf-8")
    late.unlink()

    nightly = tmp_path / "nightly" / "segments.duckdb"
    paths = RunPaths.resolve(landing, nightly)
    assert run_nightly_job(paths, AS_OF - timedelta(days=1)).published
    late.write_text(late_text.rstrip("\n").split("\n")[0] + "\n" + ",".join(stale) + "\n"
                    + "".join(line + "\n" for line in late_text.rstrip("\n").split("\n")[1:]), encoding="utf-8")
    if redeliver_old_file:
        old = invoices[-10]
        old.write_text(old.read_text(encoding="utf-8") + ",".join(keyless) + "\n", encoding="utf-8")
    assert run_nightly_job(paths, AS_OF).published
    conn = duckdb.connect(str(paths.work_db), read_only=True)
    try:
        state = conn.execute(f"select status, mode from {incremental.BUILD_TABLE}").fetchall()
    finally:
        conn.close()
    assert state == [("built", "full" if redeliver_old_file else "incremental")]
    conn = duckdb.connect(str(paths.work_db), read_only=True)
    try:
        amounts = conn.execute(
            "select invoice_id, total_amount from staging.stg_finance__invoices where invoice_id in (?, ?)",
            [resent[0], stale[0]],
        ).fetchall()
    finally:
        conn.close()
    assert dict(amounts) == {resent[0]: 12345.67, stale[0]: float(earlier[2].split(",")[columns.index("total_amount")])}

    fresh = tmp_path / "fresh" / "segments.duckdb"
    assert run_nightly_job(RunPaths.resolve(landing, fresh), AS_OF).published

    assert _published(nightly, "segmented_accounts") == _published(fresh, "segmented_accounts")
    assert _quarantine(nightly) == _quarantine(fresh)
    assert any(row[2] == "missing_mandatory_field" and row[1] == "invoices" for row in _quarantine(nightly))
