"""Publish gate helpers and the atomic publication of the warehouse.

The working DuckDB file (dbt's target) is never read by analysts. Publication builds a
complete NEW warehouse file beside the current one and swaps it in with `os.replace`:

1. refuse unless the run's latest audit row (`audit.gate_results` of the working db)
   passed;
2. under a lock file beside the warehouse, delete temp files left by a killed run;
3. write `.<warehouse>.publish-<uuid>.tmp`: schema `analytics`, one CREATE TABLE AS
   per published table from the working db (ATTACHed READ_ONLY; column types and
   NOT NULL constraints kept), `analytics.publications` carried over from the current
   warehouse (ATTACHed READ_ONLY, which works while analysts hold it open read-only)
   plus one row for this publication, the last `keep_publications` rows kept; and the
   current warehouse's `analytics` tables copied as schema `analytics_previous`, so that
   `rollback()` (`segmentation rollback`) can swap the previous publication back in the
   same atomic way (the replaced segment_history is a view of the new one when the
   night only added to it: `_history_follows`);
4. CHECKPOINT, close (no `.wal` may remain), fsync the file;
5. `os.replace` it over the warehouse (atomic on POSIX) and fsync the directory.

A reader that opened the old file keeps reading the old inode; a reader that opens the
path afterwards gets the new file. A crash before step 5 leaves the previous warehouse
as it was (and a temp file the next run deletes); after step 5 the new one is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

try:  # POSIX; publication is documented for POSIX file systems.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

PUBLISHED_SCHEMA = "analytics"
PREVIOUS_SCHEMA = "analytics_previous"  # the publication before the current one, for rollback
HISTORY_TABLE = "segment_history"  # type 2: the previous one is derived from it on a forward night
PUBLICATIONS_TABLE = "publications"
AUDIT_SCHEMA = "audit"
AUDIT_TABLE = "gate_results"
DEFAULT_KEEP_PUBLICATIONS = 30

ACCOUNTS_TABLE = "segmented_accounts"
QUARANTINE_TABLE = "quarantine"

PUBLICATION_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR NOT NULL",
    "as_of_date": "DATE NOT NULL",
    "ruleset_version": "VARCHAR NOT NULL",
    "input_files": "VARCHAR",  # JSON text: the input files with their hashes
    "rows_published": "BIGINT NOT NULL",
    "rows_quarantined": "BIGINT NOT NULL",
    "check_results": "VARCHAR",  # JSON text
    "published_at": "TIMESTAMP NOT NULL",  # UTC
}

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PublishError(RuntimeError):
    """Publication failed; the previous warehouse is untouched."""


class PublishRefused(PublishError):
    """The build was not audited, or its audit failed: nothing is published."""


# --------------------------------------------------------------------------- gate


@dataclass(frozen=True)
class CheckOutcome:
    """One gate check: its name, whether it passed, a message and a few examples."""

    name: str
    passed: bool
    message: str
    examples: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CheckOutcome":
        return cls(data["name"], bool(data["passed"]), data.get("message", ""), list(data.get("examples") or []))


def _share(value: float) -> Decimal:
    # Through str() so that 0.15 means exactly 15 % (the boundary passes).
    share = Decimal(str(value))
    if not Decimal(0) <= share <= Decimal(1):
        raise ValueError(f"share {value!r} is not between 0 and 1")
    return share


def row_count_drop_check(current: int, previous: int | None, max_drop: float, allowed: bool = False) -> CheckOutcome:
    """Gate check 4: the published row count fell at most `max_drop` against the last one.

    Exactly `max_drop` passes. `allowed` (`--allow-row-drop`) lets a larger drop pass,
    saying so in the message.
    """
    name = "row_count_drop"
    limit = _share(max_drop)
    if previous is None:
        return CheckOutcome(name, True, f"{current} rows; no previous publication to compare with")
    if previous <= 0 or current >= previous:
        return CheckOutcome(name, True, f"{current} rows against {previous} last published (no drop)")
    drop = previous - current
    pct = f"{Decimal(drop) * 100 / Decimal(previous):.2f} %"
    allowed_pct = f"{limit * 100:.2f} %"
    if Decimal(drop) <= limit * previous:
        return CheckOutcome(name, True, f"{current} rows against {previous} last published: -{pct} (allowed {allowed_pct})")
    if allowed:
        return CheckOutcome(
            name, True,
            f"{current} rows against {previous} last published: -{pct}, over the {allowed_pct} "
            "allowed, accepted for this run (--allow-row-drop)",
        )
    return CheckOutcome(
        name, False,
        f"{current} rows against {previous} last published: -{pct}, more than the {allowed_pct} allowed "
        "(rerun with --allow-row-drop if the drop is expected)",
        examples=[{"previous": previous, "current": current}],
    )


def quarantine_share_check(
    quarantined_accounts: int, total_accounts: int, max_share: float, examples: Sequence[Any] = ()
) -> CheckOutcome:
    """Gate check 3: distinct quarantined account_ids / distinct non-null account_ids of
    the accounts snapshot (closed ones included) is at most `max_share` (exactly passes).
    `examples` (a few quarantined account_ids) are reported when the check fails."""
    name = "quarantine_share"
    limit = _share(max_share)
    if quarantined_accounts < 0 or total_accounts < 0:
        raise ValueError("account counts cannot be negative")
    allowed_pct = f"{limit * 100:.2f} %"
    if total_accounts == 0:
        passed = quarantined_accounts == 0
        return CheckOutcome(
            name, passed, f"{quarantined_accounts} of 0 accounts quarantined",
            examples=[] if passed else list(examples),
        )
    pct = f"{Decimal(quarantined_accounts) * 100 / Decimal(total_accounts):.2f} %"
    text = f"{quarantined_accounts} of {total_accounts} accounts quarantined ({pct}, allowed {allowed_pct})"
    if Decimal(quarantined_accounts) <= limit * total_accounts:
        return CheckOutcome(name, True, text)
    return CheckOutcome(name, False, text, examples=list(examples))


# -------------------------------------------------------------------------- audit


def _connect_work(work_db: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    if not Path(work_db).is_file():
        raise PublishError(f"working database {work_db} does not exist")
    return duckdb.connect(str(work_db), read_only=read_only)


def record_audit(work_db: str | Path, run_id: str, passed: bool, results: Sequence[Any]) -> None:
    """Write the gate's verdict for `run_id` into `audit.gate_results` of the working db.

    `results` are CheckOutcome objects (or anything with `to_dict()`, or dicts); they
    are stored as JSON text. The working db must not be open elsewhere for writing.
    """
    results_json = json.dumps(_jsonable(list(results)), sort_keys=True)
    con = _connect_work(Path(work_db), read_only=False)
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {AUDIT_SCHEMA}")
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {AUDIT_SCHEMA}.{AUDIT_TABLE} (
                    audit_seq BIGINT NOT NULL,
                    run_id VARCHAR NOT NULL,
                    passed BOOLEAN NOT NULL,
                    results VARCHAR NOT NULL,
                    audited_at TIMESTAMP NOT NULL
                )"""
        )
        con.execute(
            f"""INSERT INTO {AUDIT_SCHEMA}.{AUDIT_TABLE}
                SELECT coalesce(max(audit_seq), 0) + 1, ?, ?, ?, ?
                FROM {AUDIT_SCHEMA}.{AUDIT_TABLE}""",
            [run_id, bool(passed), results_json, _utcnow()],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()


def assert_audited(work_db: str | Path, run_id: str) -> None:
    """Raise PublishRefused unless the latest audit row of `run_id` passed."""
    con = _connect_work(Path(work_db), read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [AUDIT_SCHEMA, AUDIT_TABLE],
        ).fetchone()[0]
        row = None
        if exists:
            row = con.execute(
                f"""SELECT passed, results FROM {AUDIT_SCHEMA}.{AUDIT_TABLE}
                    WHERE run_id = ? ORDER BY audit_seq DESC LIMIT 1""",
                [run_id],
            ).fetchone()
    finally:
        con.close()
    if row is None:
        raise PublishRefused(
            f"run {run_id} has no audit in {work_db}: the publish gate did not run, nothing is published"
        )
    passed, results_json = row
    if not passed:
        failed = []
        try:
            for item in json.loads(results_json):
                if isinstance(item, dict) and not item.get("passed", item.get("success", True)):
                    failed.append(f"{item.get('name')}: {item.get('message', '')}".rstrip(": "))
        except (TypeError, ValueError):
            pass
        detail = "; ".join(failed) if failed else "see audit.gate_results"
        raise PublishRefused(f"run {run_id} failed the publish gate, nothing is published: {detail}")


# ---------------------------------------------------------------------- warehouse


def last_published_row_count(warehouse: str | Path) -> int | None:
    """`rows_published` of the latest publication; None when there is no warehouse (or no
    publication in it) yet. The warehouse is opened read-only."""
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        return None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [PUBLISHED_SCHEMA, PUBLICATIONS_TABLE],
        ).fetchone()[0]
        if not exists:
            return None
        row = con.execute(
            f"SELECT rows_published FROM {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} "
            "ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
        return None if row is None else int(row[0])
    finally:
        con.close()


def _temp_prefix(warehouse: Path) -> str:
    return f".{warehouse.name}.publish-"


@contextlib.contextmanager
def _publish_lock(warehouse: Path) -> Iterator[None]:
    """One publication per warehouse at a time; released by the OS if the process dies."""
    lock_path = warehouse.parent / f".{warehouse.name}.publish.lock"
    with open(lock_path, "a+b") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise PublishError(f"another run is publishing {warehouse} right now") from exc
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def clean_stale_temp_files(warehouse: str | Path) -> list[Path]:
    """Delete temp files (and their .wal) left beside `warehouse` by a killed publication.

    Call under the publish lock only (publish() does): then no live publication owns them.
    """
    warehouse = Path(warehouse)
    removed = []
    for path in warehouse.parent.glob(_temp_prefix(warehouse) + "*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _source_relation(relation: str) -> tuple[str, str]:
    parts = relation.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"source relation {relation!r} must be 'schema.table'")
    return parts[0], parts[1]


def _fsync(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(
    work_db: str | Path,
    warehouse: str | Path,
    tables: Mapping[str, str],
    publication: Mapping[str, Any],
    keep_publications: int = DEFAULT_KEEP_PUBLICATIONS,
) -> None:
    """Publish `tables` of the working db atomically as schema `analytics` of `warehouse`.

    `tables` maps published name -> `schema.table` in the working db, e.g.
    {"segmented_accounts": "main_marts.segmented_accounts", "quarantine": "main_marts.quarantine"}.
    `publication` holds `run_id`, `as_of_date` (date or YYYY-MM-DD), `ruleset_version`,
    `input_files` (JSON-able, e.g. [{"path": ..., "sha256": ...}]), `check_results`
    (CheckOutcome / SuiteResult / dicts), and optionally `rows_published` and
    `rows_quarantined` (default: the row counts of the published `segmented_accounts`
    and `quarantine`) and `published_at` (default: now, UTC).

    Raises PublishRefused when `run_id` has no passing audit, PublishError (or a DuckDB
    error) on any other failure; in every failure case the warehouse is untouched.
    """
    work_db = Path(work_db).resolve()
    warehouse = Path(warehouse).resolve()
    if keep_publications < 1:
        raise ValueError("keep_publications must be at least 1")
    if not tables:
        raise ValueError("nothing to publish: no tables given")
    for name, relation in tables.items():
        if not _NAME.fullmatch(name) or name == PUBLICATIONS_TABLE:
            raise ValueError(f"published table name {name!r} is not allowed")
        _source_relation(relation)
    for key in ("run_id", "as_of_date", "ruleset_version"):
        if publication.get(key) in (None, ""):
            raise ValueError(f"publication.{key} is required")
    if work_db == warehouse:
        raise ValueError("the working database and the warehouse must be different files")

    run_id = str(publication["run_id"])
    assert_audited(work_db, run_id)

    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with _publish_lock(warehouse):
        clean_stale_temp_files(warehouse)
        _write_and_swap(warehouse, lambda temp: _build(temp, work_db, warehouse, tables, publication, keep_publications))



@dataclass(frozen=True)
class Rollback:
    """What `rollback` did: the run restored, the run it replaced, when."""

    warehouse: Path
    restored_run_id: str
    restored_as_of: date
    restored_rows: int
    replaced_run_id: str
    replaced_as_of: date
    rolled_back_at: datetime


def rollback(
    warehouse: str | Path, reason: str | None = None, keep_publications: int = DEFAULT_KEEP_PUBLICATIONS
) -> Rollback:
    """Restore the previous publication of `warehouse` atomically.

    The previous publication's tables (schema `analytics_previous`, written by every
    publication) become `analytics` again, and the replaced ones go to
    `analytics_previous` (so a second rollback undoes the first). `analytics.publications`
    keeps its whole history plus one row for the rollback: the restored publication's
    run, as-of date, ruleset, inputs and counts, `published_at` now, and a first
    `check_results` item `rollback` naming both runs and the reason. Same temp file,
    lock and `os.replace` as publish(): readers never see a partial state, a killed
    rollback leaves the warehouse as it was.
    """
    warehouse = Path(warehouse).resolve()
    if keep_publications < 1:
        raise ValueError("keep_publications must be at least 1")
    if not warehouse.is_file():
        raise PublishError(f"no warehouse at {warehouse}: nothing to roll back")
    with _publish_lock(warehouse):
        clean_stale_temp_files(warehouse)
        return _write_and_swap(warehouse, lambda temp: _build_rollback(temp, warehouse, reason, keep_publications))


def _newest_publication(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, Any]:
    names = list(PUBLICATION_COLUMNS)
    row = con.execute(
        f"SELECT {', '.join(names)} FROM __current.{schema}.{PUBLICATIONS_TABLE} ORDER BY published_at DESC LIMIT 1"
    ).fetchone()
    return None if row is None else dict(zip(names, row))


def _build_rollback(temp: Path, warehouse: Path, reason: str | None, keep_publications: int) -> Rollback:
    con = duckdb.connect(str(temp))
    try:
        con.execute(f"ATTACH {_sql_string(str(warehouse))} AS __current (READ_ONLY)")
        current_tables = _tables_of(con, "__current", PUBLISHED_SCHEMA)
        previous_tables = _tables_of(con, "__current", PREVIOUS_SCHEMA)
        if PUBLICATIONS_TABLE not in previous_tables or PUBLICATIONS_TABLE not in current_tables:
            raise PublishError(
                f"{warehouse} holds no previous publication to restore (schema {PREVIOUS_SCHEMA} is "
                "written from the second publication on); nothing changed"
            )
        restored = _newest_publication(con, PREVIOUS_SCHEMA)
        replaced = _newest_publication(con, PUBLISHED_SCHEMA)
        if restored is None or replaced is None:
            raise PublishError(f"{warehouse}: a publications table is empty; nothing to roll back to")

        con.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
        con.execute(f"CREATE SCHEMA {PREVIOUS_SCHEMA}")
        for name in previous_tables:
            if name != PUBLICATIONS_TABLE:
                _copy_table(con, "__current", PREVIOUS_SCHEMA, name, PUBLISHED_SCHEMA)
        for name in current_tables:  # the replaced publication, restorable in its turn
            _copy_table(con, "__current", PUBLISHED_SCHEMA, name, PREVIOUS_SCHEMA)

        names = ", ".join(PUBLICATION_COLUMNS)
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in PUBLICATION_COLUMNS.items())
        con.execute(f"CREATE TABLE {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} ({columns})")
        if keep_publications > 1:
            con.execute(
                f"""INSERT INTO {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} ({names})
                    SELECT {names} FROM (
                        SELECT {names} FROM __current.{PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE}
                        ORDER BY published_at DESC LIMIT {int(keep_publications) - 1}
                    ) ORDER BY published_at"""
            )
        now = _utcnow()
        message = (
            f"rolled back run {replaced['run_id']} (as of {replaced['as_of_date']}, published "
            f"{replaced['published_at']}) to run {restored['run_id']} (as of {restored['as_of_date']}, "
            f"published {restored['published_at']})" + (f": {reason}" if reason else "")
        )
        try:
            restored_checks = json.loads(restored["check_results"] or "[]")
        except ValueError:
            restored_checks = []
        if not isinstance(restored_checks, list):
            restored_checks = [restored_checks]
        note = CheckOutcome(
            "rollback", True, message,
            examples=[{"rolled_back_run_id": replaced["run_id"], "restored_run_id": restored["run_id"],
                       "reason": reason}],
        )
        row = {**restored, "check_results": _json_text([note, *restored_checks]), "published_at": now}
        placeholders = ", ".join("?" for _ in PUBLICATION_COLUMNS)
        con.execute(
            f"INSERT INTO {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} ({names}) VALUES ({placeholders})",
            [row[name] for name in PUBLICATION_COLUMNS],
        )
        con.execute("DETACH __current")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return Rollback(
        warehouse, str(restored["run_id"]), restored["as_of_date"], int(restored["rows_published"]),
        str(replaced["run_id"]), replaced["as_of_date"], now,
    )

def _write_and_swap(warehouse: Path, build) -> Any:
    """Under the publish lock: `build(temp)` writes a complete new file, which then
    replaces `warehouse` atomically. On any failure the warehouse is untouched and the
    temp file is removed."""
    temp = warehouse.parent / f"{_temp_prefix(warehouse)}{uuid.uuid4().hex}.tmp"
    try:
        result = build(temp)
        wal = Path(f"{temp}.wal")
        if wal.exists():
            raise PublishError(f"DuckDB left {wal} behind after CHECKPOINT; not publishing")
        _fsync(temp)
        # A .wal beside the warehouse would belong to the OLD file; replayed onto the
        # new one it would corrupt it. Publication never leaves one (it checkpoints and
        # readers are read-only), so one here comes from a foreign writer.
        with contextlib.suppress(FileNotFoundError):
            Path(f"{warehouse}.wal").unlink()
        os.replace(temp, warehouse)
    except BaseException:
        for leftover in (temp, Path(f"{temp}.wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
    _fsync(warehouse.parent, directory=True)
    return result


def _build(
    temp: Path,
    work_db: Path,
    warehouse: Path,
    tables: Mapping[str, str],
    publication: Mapping[str, Any],
    keep_publications: int,
) -> None:
    con = duckdb.connect(str(temp))
    try:
        con.execute(f"ATTACH {_sql_string(str(work_db))} AS __work (READ_ONLY)")
        con.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
        counts: dict[str, int] = {}
        for name, relation in tables.items():
            schema, table = _source_relation(relation)
            counts[name] = _copy_table(con, "__work", schema, table, PUBLISHED_SCHEMA, name)
        con.execute("DETACH __work")

        row = _publication_row(publication, counts)
        columns = ", ".join(f"{name} {sql_type}" for name, sql_type in PUBLICATION_COLUMNS.items())
        names = ", ".join(PUBLICATION_COLUMNS)
        con.execute(f"CREATE TABLE {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} ({columns})")
        if warehouse.is_file():
            con.execute(f"ATTACH {_sql_string(str(warehouse))} AS __previous (READ_ONLY)")
            has_previous = con.execute(
                """SELECT count(*) FROM duckdb_tables()
                   WHERE database_name = '__previous' AND schema_name = ? AND table_name = ?""",
                [PUBLISHED_SCHEMA, PUBLICATIONS_TABLE],
            ).fetchone()[0]
            if has_previous and keep_publications > 1:
                con.execute(
                    f"""INSERT INTO {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} ({names})
                        SELECT {names} FROM (
                            SELECT {names} FROM __previous.{PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE}
                            ORDER BY published_at DESC LIMIT {int(keep_publications) - 1}
                        ) ORDER BY published_at""",
                )
            if has_previous:
                # The publication being replaced stays restorable (`segmentation rollback`).
                con.execute(f"CREATE SCHEMA {PREVIOUS_SCHEMA}")
                for name in _tables_of(con, "__previous", PUBLISHED_SCHEMA):
                    if name == HISTORY_TABLE and _history_follows(con, row["as_of_date"]):
                        _previous_history_view(con, row["as_of_date"])
                    else:
                        _copy_table(con, "__previous", PUBLISHED_SCHEMA, name, PREVIOUS_SCHEMA)
            con.execute("DETACH __previous")
        placeholders = ", ".join("?" for _ in PUBLICATION_COLUMNS)
        con.execute(
            f"INSERT INTO {PUBLISHED_SCHEMA}.{PUBLICATIONS_TABLE} ({names}) VALUES ({placeholders})",
            [row[name] for name in PUBLICATION_COLUMNS],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _tables_of(con: duckdb.DuckDBPyConnection, database: str, schema: str) -> list[str]:
    """The tables of a schema, and its views (the derived previous history)."""
    return [
        name
        for (name,) in con.execute(
            """SELECT table_name FROM duckdb_tables() WHERE database_name = $db AND schema_name = $schema
               UNION SELECT view_name FROM duckdb_views() WHERE database_name = $db AND schema_name = $schema
               ORDER BY 1""",
            {"db": database, "schema": schema},
        ).fetchall()
    ]


def _history_follows(con: duckdb.DuckDBPyConnection, as_of: date) -> bool:
    """Whether the new history only adds this night to the one it replaces: every date of
    the replaced history is before D and both have the same columns and, once derived,
    the same rows count. Then the replaced history is the new one without the rows opened
    at D and with the rows closed at D open again (`_previous_history_view`)."""
    columns = [
        con.execute(
            "SELECT list(column_name || ' ' || data_type ORDER BY column_index) FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = ? AND table_name = ?",
            [database, PUBLISHED_SCHEMA, HISTORY_TABLE],
        ).fetchone()[0]
        for database in ("__previous", _current_database(con))
    ]
    if columns[0] != columns[1] or not columns[0] or not {"valid_from DATE", "valid_to DATE"} <= set(columns[0]):
        return False
    previous_rows, latest = con.execute(
        f"SELECT count(*), max(greatest(valid_from, coalesce(valid_to, valid_from))) "
        f"FROM __previous.{PUBLISHED_SCHEMA}.{HISTORY_TABLE}"
    ).fetchone()
    if latest is not None and latest >= as_of:
        return False
    derived_rows = con.execute(
        f"SELECT count(*) FROM {PUBLISHED_SCHEMA}.{HISTORY_TABLE} WHERE valid_from < ?", [as_of]
    ).fetchone()[0]
    return derived_rows == previous_rows


def _previous_history_view(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """analytics_previous.segment_history as a view of analytics.segment_history: the
    history before this night, without a second copy of tens of millions of rows (the
    view lives in the same file; a rollback materialises it)."""
    day = as_of.isoformat()
    con.execute(
        f"""CREATE VIEW {PREVIOUS_SCHEMA}.{HISTORY_TABLE} AS
            SELECT * REPLACE (CASE WHEN valid_to = DATE '{day}' THEN NULL ELSE valid_to END AS valid_to)
            FROM {PUBLISHED_SCHEMA}.{HISTORY_TABLE}
            WHERE valid_from < DATE '{day}'"""
    )


def _current_database(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]


def _copy_table(
    con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str, target_schema: str, target_name: str | None = None
) -> int:
    """Copy a table (or view) of an attached database, declared like the source: the
    same column types, NOT NULL columns and, where the source stores a column with
    zstd, that compression (DuckDB's default picks another, several times slower to
    write and larger for long text such as segment_reasons). Returns the row count."""
    target = f"{_quote(target_schema)}.{_quote(target_name or table)}"
    # a view (the derived previous history) has no constraints or storage: those of its history table
    declared_schema = PUBLISHED_SCHEMA if _is_view(con, database, schema, table) else schema
    columns = con.execute(
        """SELECT source.column_name, source.data_type, coalesce(declared.is_nullable, true)
           FROM duckdb_columns() AS source
           LEFT JOIN duckdb_columns() AS declared
               ON declared.database_name = source.database_name AND declared.schema_name = $declared
               AND declared.table_name = source.table_name AND declared.column_name = source.column_name
           WHERE source.database_name = $db AND source.schema_name = $schema AND source.table_name = $table
           ORDER BY source.column_index""",
        {"db": database, "schema": schema, "declared": declared_schema, "table": table},
    ).fetchall()
    zstd = {
        column
        for (column,) in con.execute(
            f"""SELECT column_name FROM pragma_storage_info({_sql_string(f'{database}.{declared_schema}.{table}')})
                WHERE segment_type <> 'VALIDITY'
                GROUP BY column_name HAVING bool_and(compression = 'ZSTD')"""
        ).fetchall()
    }
    definitions = ", ".join(
        f"{_quote(column)} {data_type}"
        + (" USING COMPRESSION zstd" if column in zstd else "")
        + ("" if nullable else " NOT NULL")
        for column, data_type, nullable in columns
    )
    con.execute(f"CREATE TABLE {target} ({definitions})")
    return con.execute(
        f"INSERT INTO {target} SELECT * FROM {_quote(database)}.{_quote(schema)}.{_quote(table)}"
    ).fetchone()[0]


def _is_view(con: duckdb.DuckDBPyConnection, database: str, schema: str, name: str) -> bool:
    return con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND schema_name = ? AND view_name = ?",
        [database, schema, name],
    ).fetchone()[0] > 0


def _publication_row(publication: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    def count(key: str, table: str) -> int:
        if publication.get(key) is not None:
            return int(publication[key])
        if table in counts:
            return int(counts[table])
        raise ValueError(f"publication.{key} is required when no {table!r} table is published")

    as_of = publication["as_of_date"]
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    elif not isinstance(as_of, date):
        as_of = date.fromisoformat(str(as_of))
    published_at = publication.get("published_at") or _utcnow()
    if isinstance(published_at, datetime) and published_at.tzinfo is not None:
        published_at = published_at.astimezone(timezone.utc).replace(tzinfo=None)
    return {
        "run_id": str(publication["run_id"]),
        "as_of_date": as_of,
        "ruleset_version": str(publication["ruleset_version"]),
        "input_files": _json_text(publication.get("input_files", [])),
        "rows_published": count("rows_published", ACCOUNTS_TABLE),
        "rows_quarantined": count("rows_quarantined", QUARANTINE_TABLE),
        "check_results": _json_text(publication.get("check_results", [])),
        "published_at": published_at,
    }


def _json_text(value: Any) -> str:
    if isinstance(value, str):
        json.loads(value)  # must already be JSON text
        return value
    return json.dumps(_jsonable(value), sort_keys=True)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _jsonable(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
