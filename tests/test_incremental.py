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


# ---------------------------------------------------------------- per-invoice models
# What can change an invoice's validated and allocated rows from one night to the next
# without any new file naming it (int_finance__affected_invoices): each case changes
# the landing zone so that night D differs from night D - 1 in one such way, builds D
# incrementally after D - 1, and compares every published table with a fresh full
# build of D.

def _csv_rows(path: Path) -> tuple[str, list[str], list[list[str]]]:
    text = path.read_text(encoding="utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line]
    return bom, lines[0].split(","), [line.split(",") for line in lines[1:]]


def _write_rows(path: Path, bom: str, header: list[str], rows: list[list[str]]) -> None:
    path.write_text(bom + "\n".join(",".join(row) for row in [header, *rows]) + "\n", encoding="utf-8")


def _append_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(",".join(header) + "\n", encoding="utf-8")
    _, file_header, _ = _csv_rows(path)
    with path.open("a", encoding="utf-8") as out:
        for row in rows:
            out.write(",".join(row.get(column, "") for column in file_header) + "\n")


def _all_rows(landing: Path, folder: str, up_to: date) -> list[dict[str, str]]:
    rows = []
    for path in sorted((landing / folder).glob("*.csv")):
        if date.fromisoformat(path.stem) <= up_to:
            _, header, body = _csv_rows(path)
            rows += [dict(zip(header, row)) for row in body if len(row) == len(header)]
    return rows


def _payment_moved_to_another_invoice(landing: Path) -> str:
    """A payment re-sent under its payment_id against another invoice of its account:
    its old invoice (left without any payment) and its new one change."""
    yesterday = AS_OF - timedelta(days=1)
    payments = _all_rows(landing, "finance/payments", yesterday)
    invoices = _all_rows(landing, "finance/invoices", yesterday)
    per_invoice: dict[str, int] = {}
    for payment in payments:
        per_invoice[payment["invoice_id"]] = per_invoice.get(payment["invoice_id"], 0) + 1
    by_id = {invoice["invoice_id"]: invoice for invoice in invoices}
    for payment in payments:
        old = by_id.get(payment["invoice_id"])
        if old is None or per_invoice[payment["invoice_id"]] != 1 or old["currency"] != "EUR":
            continue
        others = [i for i in invoices if i["account_id"] == old["account_id"] and i["currency"] == "EUR"
                  and i["invoice_id"] != old["invoice_id"] and i.get("invoice_type", "invoice") in ("", "invoice")]
        if others:
            moved = dict(payment, invoice_id=others[0]["invoice_id"])
            header, = {tuple(_csv_rows(p)[1]) for p in (landing / "finance" / "payments").glob("*.csv")}
            _append_rows(landing / "finance" / "payments" / f"{AS_OF.isoformat()}.csv", list(header), [moved])
            return "staging"
    raise AssertionError("no payment to move in the demo data")


def _accounts_closed_and_quarantined(landing: Path) -> str:
    """Tonight's accounts snapshot closes one account with invoices and quarantines
    another (unknown country): their invoices, lines and payments change."""
    invoices = _all_rows(landing, "finance/invoices", AS_OF - timedelta(days=1))
    counts: dict[str, int] = {}
    for invoice in invoices:
        counts[invoice["account_id"]] = counts.get(invoice["account_id"], 0) + 1
    snapshot = landing / "crm" / "accounts" / f"{AS_OF.isoformat()}.csv"
    bom, header, rows = _csv_rows(snapshot)
    active = [row for row in rows if len(row) == len(header) and row[header.index("status")] == "active"]
    busiest = sorted(active, key=lambda row: -counts.get(row[header.index("account_id")], 0))[:2]
    assert counts.get(busiest[1][header.index("account_id")], 0) > 0
    busiest[0][header.index("status")] = "closed"
    busiest[1][header.index("country_code")] = "QQ"
    _write_rows(snapshot, bom, header, rows)
    return "account"


def _positive(amount: str) -> bool:
    try:
        return float(amount) > 0
    except ValueError:
        return False


def _dated_on_the_new_as_of_date(landing: Path) -> str:
    """Yesterday's files hold an invoice and payments dated today: excluded
    (dated_after_as_of) on night D - 1, they count on night D with no new file."""
    yesterday = AS_OF - timedelta(days=1)
    invoices = _all_rows(landing, "finance/invoices", yesterday)
    payments = _all_rows(landing, "finance/payments", yesterday)
    paid = {payment["invoice_id"] for payment in payments}
    active = set.intersection(*(
        {row[header.index("account_id")] for row in rows
         if len(row) == len(header) and row[header.index("status")] == "active"}
        for _, header, rows in (_csv_rows(landing / "crm" / "accounts" / f"{day.isoformat()}.csv")
                                for day in (yesterday, AS_OF))
    ))
    copies: dict[str, int] = {}
    for invoice in invoices:
        copies[invoice["invoice_id"]] = copies.get(invoice["invoice_id"], 0) + 1
    # a valid open invoice of an active account, never paid: tonight's payment settles it
    template = next(i for i in invoices if i["currency"] == "EUR" and i.get("status") == "open"
                    and i.get("invoice_type") == "invoice" and i["invoice_id"] not in paid
                    and i["account_id"] in active and copies[i["invoice_id"]] == 1
                    and i["due_date"] >= i["invoice_date"] and _positive(i["total_amount"]))
    invoice_header = _csv_rows(next((landing / "finance" / "invoices").glob("*.csv")))[1]
    new_invoice = dict(template, invoice_id="INV-DATED-ON-D", invoice_date=AS_OF.isoformat(),
                       due_date=(AS_OF + timedelta(days=30)).isoformat(), total_amount="1000.00")
    _append_rows(landing / "finance" / "invoices" / f"{yesterday.isoformat()}.csv", invoice_header, [new_invoice])
    payment_header = _csv_rows(next((landing / "finance" / "payments").glob("*.csv")))[1]
    _append_rows(landing / "finance" / "payments" / f"{yesterday.isoformat()}.csv", payment_header, [
        {"payment_id": "PAY-ON-D-1", "invoice_id": template["invoice_id"], "account_id": template["account_id"],
         "payment_date": AS_OF.isoformat(), "amount": template["total_amount"], "currency": "EUR"},
        {"payment_id": "PAY-ON-D-2", "invoice_id": "INV-DATED-ON-D", "account_id": template["account_id"],
         "payment_date": AS_OF.isoformat(), "amount": "400.00", "currency": "EUR"},
    ])
    return "as_of"


def _fx_snapshot_changed(landing: Path) -> str:
    """Tonight's FX snapshot revises every USD rate and drops GBP's oldest rates:
    rate_to_base of USD invoices and missing_fx_rate of old GBP invoices change."""
    snapshot = landing / "finance" / "fx_rates" / f"{AS_OF.isoformat()}.csv"
    bom, header, rows = _csv_rows(snapshot)
    currency, rate_date, rate = (header.index(c) for c in ("currency", "rate_date", "rate_to_base"))
    gbp_dates = sorted(row[rate_date] for row in rows if row[currency] == "GBP")
    kept = []
    for row in rows:
        if row[currency] == "USD":
            row[rate] = f"{float(row[rate]) * 1.25:.6f}"
        if row[currency] == "GBP" and row[rate_date] < gbp_dates[len(gbp_dates) // 2]:
            continue
        kept.append(row)
    _write_rows(snapshot, bom, header, kept)
    return "fx"


# the published tables of one night (the history tables also hold the night before)
NIGHT_TABLES = ["analytics." + table for table in (
    "segmented_accounts", "quarantine", "collections_worklist", "account_product_lines", "owner_portfolios")]
# the per-invoice models themselves, in the working database
PER_INVOICE_MODELS = ["intermediate." + model for model in (
    "int_finance__invoices_validated", "int_finance__invoice_ids", "int_finance__invoice_lines_validated",
    "int_finance__payments_validated", "int_credit__invoice_settlement", "int_credit__invoice_allocation")]


def _tables(database: Path, tables: list[str]) -> dict[str, list[tuple]]:
    conn = duckdb.connect(str(database), read_only=True)
    try:
        return {
            table: conn.execute(f"select * exclude (run_id) from {table} order by all").fetchall()
            if "run_id" in {row[0] for row in conn.execute(f"describe {table}").fetchall()}
            else conn.execute(f"select * from {table} order by all").fetchall()
            for table in tables
        }
    finally:
        conn.close()


@pytest.mark.parametrize("change", [
    _payment_moved_to_another_invoice,
    _accounts_closed_and_quarantined,
    _dated_on_the_new_as_of_date,
    _fx_snapshot_changed,
], ids=["payment-moved", "account-closed-or-quarantined", "dated-on-new-as-of", "fx-snapshot-changed"])
def test_incremental_night_recomputes_the_affected_invoices(tmp_path, change):
    landing = tmp_path / "landing"
    generate_demo_data(landing, accounts=60, seed=7, as_of=AS_OF)
    reason = change(landing)

    nightly = tmp_path / "nightly" / "segments.duckdb"
    paths = RunPaths.resolve(landing, nightly)
    assert run_nightly_job(paths, AS_OF - timedelta(days=1)).published
    assert run_nightly_job(paths, AS_OF).published
    conn = duckdb.connect(str(paths.work_db), read_only=True)
    try:
        assert conn.execute(f"select status, mode from {incremental.BUILD_TABLE}").fetchall() == [
            ("built", "incremental")]
        affected = dict(conn.execute(
            "select reason, count(*) from intermediate.int_finance__affected_invoices group by reason").fetchall())
        invoices = conn.execute("select count(*) from intermediate.int_finance__invoices_validated").fetchone()[0]
    finally:
        conn.close()
    # the night recomputed the invoices of the change, not all of them
    assert affected.get(reason, 0) > 0, affected
    assert sum(affected.values()) < invoices

    fresh = tmp_path / "fresh" / "segments.duckdb"
    fresh_paths = RunPaths.resolve(landing, fresh)
    assert run_nightly_job(fresh_paths, AS_OF).published
    for incremental_night, full_build in (
        (_tables(nightly, NIGHT_TABLES), _tables(fresh, NIGHT_TABLES)),
        (_tables(paths.work_db, PER_INVOICE_MODELS), _tables(fresh_paths.work_db, PER_INVOICE_MODELS)),
    ):
        for table in full_build:
            assert incremental_night[table] == full_build[table], table
