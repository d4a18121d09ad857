"""`segmentation what-if --config candidate.yml`: what a rule change would do, before it
goes live.

The candidate configuration computes every dimension on the inputs of the latest
publication (its as-of date, the landing folder and overrides a real run would read),
in a scratch working database beside the warehouse that shares no file and no lock
with the real run: `<warehouse dir>/.<warehouse name>.what-if/`. Only the ingestion
assets and the dbt models up to `segmented_accounts` run (no dbt tests, no publish
gate, no publication), in a job of this module that does not even contain the publish
step. The result is compared, per dimension, with the published table (the warehouse
is attached read-only and never written): how many accounts would move from which
segment to which, with examples, printed and written into an HTML report.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from pipeline.config import ConfigError, load_config, ruleset_version
from pipeline.settings import RunPaths

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

WHAT_IF_JOB_NAME = "what_if_candidate"
ACCOUNTS_MODEL = "segmented_accounts"
# Published columns that are decided by the rules but are not segment dimensions of the configuration.
EXTRA_DIMENSIONS = ("primary_product_line", "early_payment_discount", "credit_hold")
NULL_LABEL = "(null)"
LANDING_CHANGED = "the landing folder changed since the publication; the comparison also reflects data changes"


class WhatIfError(Exception):
    """The comparison could not be produced. `exit_code`: 2 for a usage, configuration or
    no-publication error (nothing ran), 1 when the candidate build failed."""

    exit_code = 1


class WhatIfUsageError(WhatIfError):
    exit_code = 2


class CandidateBuildFailed(WhatIfError):
    exit_code = 1


@dataclass(frozen=True)
class Publication:
    run_id: str
    as_of: date
    ruleset_version: str
    published_at: datetime
    input_files: list[dict[str, Any]]


@dataclass
class WhatIfResult:
    as_of: date
    warehouse: Path
    candidate_config: Path
    published_run_id: str
    published_ruleset: str
    candidate_ruleset: str
    candidate_run_id: str
    scratch_work_db: Path
    accounts_compared: int
    # [{"dimension", "from_segment", "to_segment", "accounts", "examples": [account_id, ...]}]
    moves: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # dimension -> accounts compared
    not_compared: dict[str, str] = field(default_factory=dict)  # dimension -> why
    only_published: tuple[int, list[str]] = (0, [])  # count, examples
    only_candidate: tuple[int, list[str]] = (0, [])
    landing_changes: list[str] = field(default_factory=list)  # empty: same files as the publication
    build_seconds: float = 0.0
    report_path: Path | None = None
    report_error: str | None = None  # the comparison was produced but its report could not be written

    @property
    def landing_changed(self) -> bool:
        return bool(self.landing_changes)

    def moved(self, dimension: str) -> int:
        return sum(move["accounts"] for move in self.moves if move["dimension"] == dimension)

    def summary(self) -> str:
        same = " (the same rules)" if self.published_ruleset == self.candidate_ruleset else ""
        lines = [
            f"WHAT-IF as of {self.as_of} on {self.warehouse} (nothing published)",
            f"published ruleset {self.published_ruleset} (run {self.published_run_id}) "
            f"vs candidate ruleset {self.candidate_ruleset} ({self.candidate_config}){same}",
        ]
        if self.landing_changes:
            lines.append(f"WARNING: {LANDING_CHANGED}:")
            lines.extend(f"  {change}" for change in self.landing_changes)
        lines.append(f"accounts compared: {self.accounts_compared}")
        for label, (count, examples) in (
            ("only in the publication (the candidate does not publish them)", self.only_published),
            ("only in the candidate (not in the publication)", self.only_candidate),
        ):
            if count:
                lines.append(f"accounts {label}: {count} (e.g. {', '.join(examples)})")
        unmoved = []
        for dimension, total in self.totals.items():
            moved = self.moved(dimension)
            if not moved:
                unmoved.append(dimension)
                continue
            lines.append(f"{dimension}: {moved} of {total} accounts would move")
            for move in (m for m in self.moves if m["dimension"] == dimension):
                examples = ", ".join(move["examples"])
                lines.append(f"  {move['from_segment']} -> {move['to_segment']}: {move['accounts']} (e.g. {examples})")
        if unmoved:
            lines.append(f"no moves: {', '.join(unmoved)}")
        for dimension, why in self.not_compared.items():
            lines.append(f"not compared: {dimension} ({why})")
        lines.append(f"candidate build: {self.scratch_work_db} ({self.build_seconds:.0f} s, run {self.candidate_run_id})")
        if self.report_path is not None:
            lines.append(f"report: {self.report_path}")
        if self.report_error is not None:
            lines.append(f"REPORT NOT WRITTEN: {self.report_error}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- locations


def scratch_dir(warehouse: Path) -> Path:
    return warehouse.parent / f".{warehouse.name}.what-if"


def scratch_paths(paths: RunPaths, candidate_config: Path) -> RunPaths:
    """The candidate run's paths: the real landing folder and overrides, a scratch
    warehouse (never written: nothing is published) whose working database is beside it."""
    return RunPaths(
        landing_dir=paths.landing_dir,
        warehouse=scratch_dir(paths.warehouse) / "candidate.duckdb",
        config_file=candidate_config,
        overrides_file=paths.overrides_file,
    )


def report_path_for(warehouse: Path, as_of: date, now: datetime | None = None) -> Path:
    now = now or datetime.now(timezone.utc)
    folder = warehouse.parent / f"{warehouse.stem}.reports"
    base = f"what-if_{as_of.isoformat()}_{now.strftime('%Y%m%dT%H%M%S')}"
    path, n = folder / f"{base}.html", 2
    while path.exists():  # two what-ifs in one second: keep both
        path, n = folder / f"{base}-{n}.html", n + 1
    return path


@contextlib.contextmanager
def _scratch_lock(folder: Path):
    """One what-if per warehouse at a time (they share the scratch folder); the OS
    releases the lock when the process dies."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "what-if.lock", "a+b") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise WhatIfError(
                    f"another what-if on this warehouse is running (lock {folder / 'what-if.lock'}); "
                    "wait for it to end and run again"
                ) from None
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- the publication


def _attach_published(con: duckdb.DuckDBPyConnection, warehouse: Path) -> Publication:
    """Attach the warehouse read-only as `published` (the connection then keeps this
    publication's file open, so a publication swapped in meanwhile does not change what
    is compared) and read its latest publication."""
    if not warehouse.is_file():
        raise WhatIfUsageError(
            f"no warehouse at {warehouse}: a what-if compares with the latest publication "
            "(run `segmentation run` first, or pass --warehouse)"
        )
    try:
        con.execute(f"ATTACH {_sql_string(str(warehouse))} AS published (READ_ONLY)")
    except duckdb.Error as error:
        raise WhatIfUsageError(f"cannot open the warehouse {warehouse} read-only: {error}") from None
    tables = {
        name for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = 'published' and schema_name = 'analytics'"
        ).fetchall()
    }
    if not {"publications", ACCOUNTS_MODEL} <= tables:
        raise WhatIfUsageError(f"{warehouse} holds no publication (analytics.publications / segmented_accounts missing)")
    row = con.execute(
        "select run_id, as_of_date, ruleset_version, published_at, input_files "
        "from published.analytics.publications order by published_at desc limit 1"
    ).fetchone()
    if row is None:
        raise WhatIfUsageError(f"{warehouse} holds no publication (analytics.publications is empty)")
    run_id, as_of, version, published_at, input_files = row
    try:
        files = json.loads(input_files) if input_files else []
    except ValueError:
        files = []
    return Publication(str(run_id), as_of, str(version), published_at, files if isinstance(files, list) else [])


# --------------------------------------------------------------------------- the candidate build


def _what_if_job(report) -> tuple[dg.JobDefinition, set[str]]:
    """Ingestion and the dbt models up to segmented_accounts, without checks (no dbt
    tests, no publish gate); the publish step is not part of these definitions at all.
    Also returns the entities (EntitySpec.name) the job ingests."""
    from pipeline.config import load_entity_specs
    from pipeline.defs.ingestion import entity_assets, ingestion_assets
    from pipeline.defs.publication import model_key
    from pipeline.defs.resources import RunSettings
    from pipeline.defs.transform import dbt_resource, segmentation_dbt_models
    from pipeline.progress import progress_logger_def

    selection = dg.AssetSelection.assets(model_key(ACCOUNTS_MODEL)).upstream().without_checks()
    job = dg.define_asset_job(
        WHAT_IF_JOB_NAME,
        selection=selection,
        description="What-if: build segmented_accounts with a candidate configuration in a scratch database.",
        executor_def=dg.in_process_executor,
    )
    defs = dg.Definitions(
        assets=[*ingestion_assets, segmentation_dbt_models],
        jobs=[job],
        resources={"dbt": dbt_resource, "run_settings": RunSettings.configure_at_launch()},
        executor=dg.in_process_executor,
    )
    selected = selection.resolve(defs.resolve_asset_graph())
    # entity_assets are built from load_entity_specs(), in its order
    entities = {spec.name for spec, asset in zip(load_entity_specs(), entity_assets) if asset.key in selected}
    job_def = defs.resolve_job_def(WHAT_IF_JOB_NAME).with_logger_defs({"progress": progress_logger_def(report)})
    return job_def, entities


def _build_candidate(scratch: RunPaths, as_of: date, overrides_named: bool) -> tuple[str, set[str]]:
    """Run the candidate build; returns its run id and the entities it ingested.
    Raises CandidateBuildFailed."""
    from pipeline.defs.jobs import run_config_for
    from pipeline.progress import RunReport

    report = RunReport()
    job, entities = _what_if_job(report)
    run_config = run_config_for(
        as_of.isoformat(),
        landing_dir=str(scratch.landing_dir),
        warehouse=str(scratch.warehouse),
        config_file=str(scratch.config_file),
        overrides_file=str(scratch.overrides_file) if overrides_named else None,
    )
    run_config["loggers"] = {"progress": {}}
    # Always an ephemeral instance: a scratch build must not show up in the UI as the
    # latest materialization of the real assets. dagster-dbt re-emits dbt's log on
    # stdout: keep stdout for the summary.
    with dg.DagsterInstance.ephemeral() as instance, contextlib.redirect_stdout(sys.stderr):
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    if not result.success:
        failed = "; ".join(f"{step}: {message.splitlines()[0] if message else ''}" for step, message in report.failed_steps)
        raise CandidateBuildFailed(
            f"the candidate build failed (run {result.run_id}): {failed or 'see the progress output above'}"
        )
    return result.run_id, entities


# --------------------------------------------------------------------------- comparison


def _landing_changes(
    con: duckdb.DuckDBPyConnection, run_id: str, publication: Publication, entities: set[str]
) -> list[str]:
    """What differs between the files the publication read and the files the candidate
    read, for the entities the candidate build ingests (the others decide no segment)."""

    def key(entry: dict) -> tuple[str, str]:
        return str(entry.get("entity")), str(entry.get("path"))

    published = {
        key(f): f.get("sha256")
        for f in publication.input_files
        if isinstance(f, dict) and f.get("entity") in entities
    }
    loaded = {}
    for entity, file in con.execute(
        "select entity, file from candidate.audit.loaded_files where run_id = ? order by entity, file", [run_id]
    ).fetchall():
        entry = json.loads(file)
        loaded[(entity, str(entry.get("path")))] = entry.get("sha256")
    added = sorted(set(loaded) - set(published))
    removed = sorted(set(published) - set(loaded))
    changed = sorted(k for k in set(loaded) & set(published) if loaded[k] != published[k])
    changes = []
    for label, keys in (("new or newly selected", added), ("no longer read", removed), ("changed content", changed)):
        if keys:
            examples = ", ".join(path for _, path in keys[:3])
            changes.append(f"{len(keys)} file(s) {label} (e.g. {examples})")
    return changes


def _columns(con: duckdb.DuckDBPyConnection, database: str, relation: str) -> list[str]:
    schema, table = relation.split(".")
    return [
        name for (name,) in con.execute(
            "select column_name from duckdb_columns() where database_name = ? and schema_name = ? "
            "and table_name = ? order by column_index",
            [database, schema, table],
        ).fetchall()
    ]


def _compare(
    con: duckdb.DuckDBPyConnection, candidate_relation: str, dimensions: list[str], examples_per_move: int
) -> dict[str, Any]:
    published_table = f"published.analytics.{ACCOUNTS_MODEL}"
    candidate_table = f"candidate.{candidate_relation}"
    published_columns = set(_columns(con, "published", f"analytics.{ACCOUNTS_MODEL}"))
    candidate_columns = set(_columns(con, "candidate", candidate_relation))
    not_compared = {}
    compared = []
    for dimension in dimensions:
        missing = [side for side, columns in (("publication", published_columns), ("candidate", candidate_columns))
                   if dimension not in columns]
        if missing:
            not_compared[dimension] = f"no such column in the {' and the '.join(missing)}"
        else:
            compared.append(dimension)

    casts = ", ".join(f"coalesce(cast({_ident(d)} as varchar), '{NULL_LABEL}') as {_ident(d)}" for d in compared)
    on = ", ".join(_ident(d) for d in compared)
    con.execute(f"create or replace temp table what_if_published as select account_id, {casts} from {published_table}")
    con.execute(f"create or replace temp table what_if_candidate as select account_id, {casts} from {candidate_table}")
    accounts = con.execute(
        "select count(*) from what_if_published p join what_if_candidate c using (account_id)"
    ).fetchone()[0]

    def only_in(left: str, right: str) -> tuple[int, list[str]]:
        count, examples = con.execute(
            f"""select count(*), coalesce(list(account_id order by account_id)[1:{int(examples_per_move)}], [])
                from {left} anti join {right} using (account_id)"""
        ).fetchone()
        return int(count), list(examples)

    moves = []
    if compared:
        rows = con.execute(
            f"""with p as (unpivot what_if_published on {on} into name dimension value segment),
                     c as (unpivot what_if_candidate on {on} into name dimension value segment)
                select p.dimension, p.segment, c.segment, count(*),
                       list(p.account_id order by p.account_id)[1:{int(examples_per_move)}]
                from p join c using (account_id, dimension)
                where p.segment <> c.segment
                group by all
                order by p.dimension, count(*) desc, p.segment, c.segment"""
        ).fetchall()
        order = {d: i for i, d in enumerate(compared)}
        for dimension, from_segment, to_segment, count, examples in sorted(rows, key=lambda r: order[r[0]]):
            moves.append({
                "dimension": dimension, "from_segment": from_segment, "to_segment": to_segment,
                "accounts": int(count), "examples": list(examples),
            })
    return {
        "accounts": int(accounts),
        "moves": moves,
        "totals": {d: int(accounts) for d in compared},
        "not_compared": not_compared,
        "only_published": only_in("what_if_published", "what_if_candidate"),
        "only_candidate": only_in("what_if_candidate", "what_if_published"),
    }


# --------------------------------------------------------------------------- the command


def run_what_if(
    paths: RunPaths,
    candidate_config: Path,
    examples_per_move: int = 3,
    overrides_named: bool = False,
    write_report: bool = True,
    progress=None,
) -> WhatIfResult:
    """Build with `candidate_config` on the inputs of the latest publication of
    `paths.warehouse` and compare per dimension. Publishes nothing; the warehouse is
    only read. Raises WhatIfUsageError (nothing ran) or WhatIfError / CandidateBuildFailed."""
    from pipeline.defs.publication import model_relation

    def say(message: str) -> None:
        (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(message)

    candidate_config = Path(candidate_config).resolve()
    try:
        config = load_config(candidate_config)
    except ConfigError as error:
        raise WhatIfUsageError(str(error)) from None
    candidate_ruleset = ruleset_version(config)
    dimensions = [*config.declared_segments(), *EXTRA_DIMENSIONS]

    con = duckdb.connect()  # in memory: both databases are attached read-only
    try:
        publication = _attach_published(con, paths.warehouse)
        if not paths.landing_dir.is_dir():
            raise WhatIfUsageError(f"landing folder {paths.landing_dir} does not exist (pass --landing)")
        scratch = scratch_paths(paths, candidate_config)
        with _scratch_lock(scratch_dir(paths.warehouse)):
            # A fresh scratch working database each time: nothing of an earlier what-if is reused.
            shutil.rmtree(scratch.work_dir, ignore_errors=True)
            say(
                f"what-if as of {publication.as_of} (publication {publication.run_id}) with {candidate_config}; "
                f"building in {scratch.work_db}"
            )
            started = time.monotonic()
            run_id, entities = _build_candidate(scratch, publication.as_of, overrides_named)
            build_seconds = time.monotonic() - started
            con.execute(f"ATTACH {_sql_string(str(scratch.work_db))} AS candidate (READ_ONLY)")
            try:
                changes = _landing_changes(con, run_id, publication, entities)
                comparison = _compare(con, model_relation(ACCOUNTS_MODEL), dimensions, examples_per_move)
            finally:
                con.execute("DETACH candidate")
    finally:
        con.close()

    result = WhatIfResult(
        as_of=publication.as_of,
        warehouse=paths.warehouse,
        candidate_config=candidate_config,
        published_run_id=publication.run_id,
        published_ruleset=publication.ruleset_version,
        candidate_ruleset=candidate_ruleset,
        candidate_run_id=run_id,
        scratch_work_db=scratch.work_db,
        accounts_compared=comparison["accounts"],
        moves=comparison["moves"],
        totals=comparison["totals"],
        not_compared=comparison["not_compared"],
        only_published=comparison["only_published"],
        only_candidate=comparison["only_candidate"],
        landing_changes=changes,
        build_seconds=build_seconds,
    )
    if changes:
        say(f"WARNING: {LANDING_CHANGED}")
    if write_report:
        from pipeline.report import write_what_if_report

        out = report_path_for(paths.warehouse, publication.as_of)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_what_if_report(
                out,
                as_of=publication.as_of,
                published_ruleset=publication.ruleset_version,
                candidate_ruleset=candidate_ruleset,
                candidate_config=str(candidate_config),
                moves=result.moves,
                totals=result.totals,
            )
            result.report_path = out
        except Exception as error:  # the comparison stands; say why the page is missing
            result.report_error = f"{type(error).__name__}: {error}"
    return result
