"""Whether tonight's dbt build may be incremental, and what it must merge again.

The staging models of the delta feeds are incremental tables (dbt_project/macros/
incremental.sql). They may be updated in place only when they hold exactly what a full
build would hold before the new files: every file they were built from is still loaded
unchanged, the dbt project is the one that built them, and the last build succeeded.
Anything else (a first night, a backfill to an earlier date that unloads files, a
re-delivered file, a deployment, a failed night) gives a full refresh.

State, in the working database:
- `raw.incremental_consumed_files`: the delta files (path, size, mtime) the tables were
  last built from;
- `raw.incremental_build`: one row, the last build's project fingerprint, whether it
  completed (`built`) or was started and not finished (`building`), its mode
  (`incremental` or `full`) and why, its as-of date and the as-of date of the build
  before it (`previous_as_of_date`: what the incremental per-invoice models were
  built for);
- `raw.incremental_new_files`: written before each build, the files loaded since the
  last one (what the models read);
- `raw.incremental_account_ids`, `raw.incremental_fx_rates`: copies, taken after the
  last successful build, of `intermediate.int_crm__account_ids` and of the usable FX
  rates (not quarantined). The per-invoice models (invoices, lines, payments,
  allocation: models/intermediate/validation/int_finance__affected_invoices.sql)
  compare tonight's accounts and rates with them to find the invoices to recompute.

Besides the files, a night is built in full when the as-of date is unknown or earlier
than the last build's (the per-invoice models only know how to move D forwards).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from functools import cache

import duckdb

from pipeline.config.sources import load_entity_specs
from pipeline.dbt_project import DBT_PROJECT_DIR
from pipeline.ingest.loader import LEDGER_TABLE, RAW_SCHEMA

CONSUMED_TABLE = f"{RAW_SCHEMA}.incremental_consumed_files"
BUILD_TABLE = f"{RAW_SCHEMA}.incremental_build"
NEW_FILES_TABLE = f"{RAW_SCHEMA}.incremental_new_files"
ACCOUNT_IDS_TABLE = f"{RAW_SCHEMA}.incremental_account_ids"
FX_RATES_TABLE = f"{RAW_SCHEMA}.incremental_fx_rates"
RUN_CONTEXT_TABLE = f"{RAW_SCHEMA}.run_context"
# what the snapshots copy (dbt's intermediate layer of the working database)
BUILT_ACCOUNT_IDS = "intermediate.int_crm__account_ids"
BUILT_FX_RATES = "intermediate.int_finance__fx_rates_validated"


@dataclass(frozen=True)
class IncrementalPlan:
    full_refresh: bool
    reason: str
    new_files: dict[str, int] = field(default_factory=dict)

    @property
    def dbt_args(self) -> list[str]:
        return ["--full-refresh"] if self.full_refresh else []

    def describe(self) -> str:
        if self.full_refresh:
            return f"full build ({self.reason})"
        counts = ", ".join(f"{entity} {count}" for entity, count in sorted(self.new_files.items()))
        return f"incremental build (new files: {counts or 'none'})"


def delta_entities() -> tuple[str, ...]:
    return tuple(spec.name for spec in load_entity_specs() if spec.load_mode == "delta")


@cache
def project_fingerprint() -> str:
    """The dbt project's models and macros, and the DuckDB version that stores the tables."""
    digest = hashlib.sha256(duckdb.__version__.encode())
    for folder in ("models", "macros"):
        for path in sorted((DBT_PROJECT_DIR / folder).rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(DBT_PROJECT_DIR).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _table_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".")
    return conn.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchone()[0] > 0


def _current_files(conn: duckdb.DuckDBPyConnection, entities: tuple[str, ...]) -> set[tuple]:
    if not _table_exists(conn, LEDGER_TABLE):
        return set()
    rows = conn.execute(
        f"select entity, relative_path, size_bytes, mtime_ns from {LEDGER_TABLE} "
        "where entity in (select unnest(?::varchar[]))",
        [list(entities)],
    ).fetchall()
    return set(rows)


def _last_build(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    if not _table_exists(conn, BUILD_TABLE):
        return []
    columns = {row[0] for row in conn.execute(f"describe {BUILD_TABLE}").fetchall()}
    if "as_of_date" not in columns:  # written by an older pipeline
        return [row + (None,) for row in conn.execute(f"select fingerprint, status from {BUILD_TABLE}").fetchall()]
    return conn.execute(f"select fingerprint, status, as_of_date from {BUILD_TABLE}").fetchall()


def _run_as_of(conn: duckdb.DuckDBPyConnection) -> date | None:
    if not _table_exists(conn, RUN_CONTEXT_TABLE):
        return None
    rows = conn.execute(f"select as_of_date from {RUN_CONTEXT_TABLE}").fetchall()
    return rows[0][0] if len(rows) == 1 else None


def _why_full(
    conn: duckdb.DuckDBPyConnection, consumed: set[tuple], current: set[tuple], as_of: date | None = None
) -> str | None:
    state = _last_build(conn)
    if len(state) != 1:
        return "no earlier build"
    fingerprint, status, last_as_of = state[0]
    if status != "built":
        return "the last build did not complete"
    if not _table_exists(conn, CONSUMED_TABLE):
        return "no earlier build"
    if fingerprint != project_fingerprint():
        return "the dbt project changed"
    gone = consumed - current
    if gone:
        entity, path, *_ = sorted(gone)[0]
        return f"{len(gone)} file(s) built from are no longer loaded unchanged, e.g. {entity} {path}"
    if last_as_of is None or as_of is None:
        return "the as-of date of tonight or of the last build is unknown"
    if as_of < last_as_of:
        return f"the as-of date moved back ({last_as_of.isoformat()} built, {as_of.isoformat()} tonight)"
    if not (_table_exists(conn, ACCOUNT_IDS_TABLE) and _table_exists(conn, FX_RATES_TABLE)):
        return "no snapshot of the last build's accounts and FX rates"
    return None


def plan_build(conn: duckdb.DuckDBPyConnection, as_of: date | None = None) -> IncrementalPlan:
    """Decide, write `raw.incremental_new_files`, and mark the build as started.

    `as_of`: tonight's as-of date; by default the one in `raw.run_context`."""
    as_of = as_of if as_of is not None else _run_as_of(conn)
    previous = _last_build(conn)
    previous_as_of = previous[0][2] if len(previous) == 1 and previous[0][1] == "built" else None
    entities = delta_entities()
    current = _current_files(conn, entities)
    consumed = (
        set(conn.execute(f"select entity, relative_path, size_bytes, mtime_ns from {CONSUMED_TABLE}").fetchall())
        if _table_exists(conn, CONSUMED_TABLE)
        else set()
    )
    reason = _why_full(conn, consumed, current, as_of)
    new = sorted(current - consumed) if reason is None else []

    conn.execute(f"create schema if not exists {RAW_SCHEMA}")
    conn.execute(f"create or replace table {NEW_FILES_TABLE} (entity varchar, relative_path varchar)")
    if new:
        conn.execute(
            f"insert into {NEW_FILES_TABLE} select unnest(?::varchar[]), unnest(?::varchar[])",
            [[row[0] for row in new], [row[1] for row in new]],
        )
    # Until the build completes, the tables may hold part of it: a failure means a full
    # refresh next time.
    counts: dict[str, int] = {}
    for entity, *_ in new:
        counts[entity] = counts.get(entity, 0) + 1
    plan = IncrementalPlan(full_refresh=reason is not None, reason=reason or "", new_files=counts)
    conn.execute(
        f"create or replace table {BUILD_TABLE} (fingerprint varchar, status varchar, mode varchar, reason varchar, "
        "as_of_date date, previous_as_of_date date)"
    )
    conn.execute(
        f"insert into {BUILD_TABLE} values (?, 'building', ?, ?, ?, ?)",
        [project_fingerprint(), "full" if plan.full_refresh else "incremental", plan.describe(), as_of,
         None if plan.full_refresh else previous_as_of],
    )
    return plan


def record_build(conn: duckdb.DuckDBPyConnection) -> None:
    """After a successful build: the tables now hold exactly the loaded delta files."""
    entities = delta_entities()
    conn.execute(
        f"create or replace table {CONSUMED_TABLE} "
        "(entity varchar, relative_path varchar, size_bytes bigint, mtime_ns bigint)"
    )
    if _table_exists(conn, LEDGER_TABLE):
        conn.execute(
            f"insert into {CONSUMED_TABLE} select entity, relative_path, size_bytes, mtime_ns from {LEDGER_TABLE} "
            "where entity in (select unnest(?::varchar[]))",
            [list(entities)],
        )
    # what the per-invoice models were built against (int_finance__affected_invoices)
    if _table_exists(conn, BUILT_ACCOUNT_IDS):
        conn.execute(f"create or replace table {ACCOUNT_IDS_TABLE} as select * from {BUILT_ACCOUNT_IDS}")
    else:
        conn.execute(
            f"create or replace table {ACCOUNT_IDS_TABLE} (account_id varchar, is_quarantined boolean, "
            "is_excluded boolean, exclusion_reason varchar)"
        )
    if _table_exists(conn, BUILT_FX_RATES):
        conn.execute(
            f"create or replace table {FX_RATES_TABLE} as select currency, rate_date, rate_to_base "
            f"from {BUILT_FX_RATES} where quarantine_reason is null"
        )
    else:
        conn.execute(f"create or replace table {FX_RATES_TABLE} (currency varchar, rate_date date, rate_to_base double)")
    conn.execute(f"update {BUILD_TABLE} set status = 'built', fingerprint = ?", [project_fingerprint()])
    # merged: a dbt run outside the pipeline must not merge these files a second time
    conn.execute(f"delete from {NEW_FILES_TABLE}")

