"""Run the nightly job in this process, as the command line and the tests do, and
describe the outcome (what was published, quarantined, excluded, what failed)."""

import contextlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from pipeline.defs.jobs import NIGHTLY_JOB_NAME, run_config_for
from pipeline.progress import RunReport, progress_logger_def
from pipeline.settings import RunPaths

ENV_TIMINGS_FILE = "SEGMENTATION_TIMINGS_FILE"  # where a run writes its step durations (JSON)


@dataclass
class RunOutcome:
    run_id: str
    as_of: date
    paths: RunPaths
    published: bool
    report: RunReport
    published_rows: int | None = None
    quarantined: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)
    report_file: Path | None = None
    target: str = "duckdb"

    def summary(self) -> str:
        lines = []
        if self.published and self.target == "spark":
            lines.append(
                f"PUBLISHED {self.published_rows} accounts as of {self.as_of} to the Spark catalog "
                f"(views analytics.*, Spark home {self.paths.spark_home}) (run {self.run_id})"
            )
        elif self.published:
            lines.append(
                f"PUBLISHED {self.published_rows} accounts as of {self.as_of} to {self.paths.warehouse} (run {self.run_id})"
            )
        elif self.target == "spark":
            lines.append(f"NOT PUBLISHED (run {self.run_id}): the previous publication (Spark views analytics.*) stays as it was")
        else:
            lines.append(
                f"NOT PUBLISHED (run {self.run_id}): the previous publication in {self.paths.warehouse} stays as it was"
            )
        if self.quarantined:
            detail = ", ".join(f"{reason} {count}" for reason, count in sorted(self.quarantined.items()))
            lines.append(f"quarantined rows: {sum(self.quarantined.values())} ({detail})")
        else:
            lines.append("quarantined rows: 0")
        if self.excluded:
            detail = ", ".join(f"{reason} {count}" for reason, count in sorted(self.excluded.items()))
            lines.append(f"excluded rows: {sum(self.excluded.values())} ({detail})")
        if self.report_file is not None:
            lines.append(f"report: {self.report_file}")
        failed = len(self.report.failed_checks)
        lines.append(
            f"checks: {self.report.passed_checks} passed, {failed} failed, "
            f"{len(self.report.warning_checks)} warning(s)"
        )
        for name, description in self.report.failed_checks:
            lines.append(f"  failed check {name}: {description}")
        for step, message in self.report.failed_steps:
            detail = message.splitlines()
            lines.append(f"  failed step {step}: {detail[0] if detail else ''}")
            lines.extend(f"    {line}" for line in detail[1:20])
        if self.report.warnings:
            lines.append(f"warnings: {len(self.report.warnings)}")
            lines.extend(f"  {warning}" for warning in self.report.warnings)
        return "\n".join(lines)


def _instance() -> dg.DagsterInstance:
    # A persistent instance when DAGSTER_HOME is set (runs then show in the UI).
    return dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()


def _ledger(paths: RunPaths, run_id: str) -> tuple[Counter, Counter, bool]:
    """Quarantine and exclusion counts of this run's build, if the build got that far."""
    quarantined, excluded = Counter(), Counter()
    if not paths.work_db.exists():
        return quarantined, excluded, False
    from pipeline.defs.publication import model_relation

    try:
        conn = duckdb.connect(str(paths.work_db), read_only=True)
    except duckdb.Error:
        return quarantined, excluded, False
    try:
        built_by_run = conn.execute(
            f"select count(*) > 0 from {model_relation('quarantine')} where run_id = ?", [run_id]
        ).fetchone()[0] or conn.execute(
            f"select count(*) > 0 from {model_relation('segmented_accounts')} where run_id = ?", [run_id]
        ).fetchone()[0]
        if not built_by_run:
            return quarantined, excluded, False
        for outcome, reason, rows in conn.execute(
            f"select outcome, reason, sum(row_count) from {model_relation('input_row_outcomes')} "
            "where outcome <> 'used' group by outcome, reason"
        ).fetchall():
            (quarantined if outcome == "quarantined" else excluded)[reason] += int(rows)
        return quarantined, excluded, True
    except duckdb.Error:
        return quarantined, excluded, False
    finally:
        conn.close()


def _spark_ledger(paths: RunPaths, run_id: str) -> tuple[Counter, Counter]:
    """Target `spark`: the counts the gate stored in the working file (audit.spark_ledger)."""
    quarantined, excluded = Counter(), Counter()
    if not paths.work_db.exists():
        return quarantined, excluded
    try:
        conn = duckdb.connect(str(paths.work_db), read_only=True)
    except duckdb.Error:
        return quarantined, excluded
    try:
        from pipeline.defs.publication import SPARK_LEDGER_TABLE

        for outcome, reason, rows in conn.execute(
            f"select outcome, reason, row_count from {SPARK_LEDGER_TABLE} where run_id = ?", [run_id]
        ).fetchall():
            (quarantined if outcome == "quarantined" else excluded)[reason] += int(rows)
    except duckdb.Error:
        pass
    finally:
        conn.close()
    return quarantined, excluded


def run_nightly_job(
    paths: RunPaths, as_of: date, allow_row_drop: bool = False, overrides_named: bool = False,
    target: str | None = None,
) -> RunOutcome:
    """`target`: duckdb or spark (default: SEGMENTATION_TARGET, then duckdb)."""
    from pipeline.definitions import defs
    from pipeline.settings import resolve_target

    target = resolve_target(target)

    report = RunReport()
    job = defs.resolve_job_def(NIGHTLY_JOB_NAME).with_logger_defs({"progress": progress_logger_def(report)})
    run_config = run_config_for(
        as_of.isoformat(),
        landing_dir=str(paths.landing_dir),
        warehouse=str(paths.warehouse),
        config_file=str(paths.config_file) if paths.config_file else None,
        overrides_file=str(paths.overrides_file) if overrides_named else None,
        allow_row_drop=allow_row_drop,
        target=target if target != "duckdb" else None,
    )
    run_config["loggers"] = {"progress": {}}
    # dagster-dbt re-emits dbt's log lines on stdout: keep stdout for the summary.
    with _instance() as instance, contextlib.redirect_stdout(sys.stderr):
        try:
            result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
        finally:
            if target == "spark":  # a failed run may leave the Spark worker (and its JVM) up
                from pipeline.spark import worker

                worker.shutdown()
    published = result.success and any(
        event.event_type_value == "ASSET_MATERIALIZATION"
        and event.asset_key == dg.AssetKey(["analytics", "segmented_accounts"])
        for event in result.all_events
    )
    if os.environ.get(ENV_TIMINGS_FILE):
        # `segmentation bench` runs the command in a child process and reads this back
        Path(os.environ[ENV_TIMINGS_FILE]).write_text(json.dumps(report.step_seconds), encoding="utf-8")
    if target == "spark":
        quarantined, excluded = _spark_ledger(paths, result.run_id)
        outcome = RunOutcome(result.run_id, as_of, paths, published, report, quarantined=quarantined,
                             excluded=excluded, target=target)
        if published:
            outcome.published_rows = next(
                event.materialization.metadata["dagster/row_count"].value
                for event in result.all_events
                if event.event_type_value == "ASSET_MATERIALIZATION"
                and event.asset_key == dg.AssetKey(["analytics", "segmented_accounts"])
            )
        return outcome
    quarantined, excluded, built = _ledger(paths, result.run_id)
    outcome = RunOutcome(result.run_id, as_of, paths, published, report, quarantined=quarantined, excluded=excluded)
    if published:
        from pipeline.report import report_path

        report_file = report_path(paths.warehouse, as_of, result.run_id)
        outcome.report_file = report_file if report_file.is_file() else None
        conn = duckdb.connect(str(paths.warehouse), read_only=True)
        try:
            outcome.published_rows = conn.execute(
                "select rows_published from analytics.publications where run_id = ?", [result.run_id]
            ).fetchone()[0]
        finally:
            conn.close()
    return outcome
