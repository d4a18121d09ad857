"""Crash safety, proven on the real pipeline: `segmentation run` is SIGKILLed at random
moments (while ingesting, while dbt builds, while the gate checks, while publishing)
with a reader process querying the warehouse read-only all the while. The reader must
never see an error or a partial table (its row count always equals `rows_published` of
the newest publication it sees), and a normal run afterwards must publish without any
manual clean-up.

The CI version kills 3 times; the `slow` one at least 10 times (`pytest -m slow`).
Set SEGMENTATION_CRASH_SEED to replay a sequence of kill points.

Idempotency too: two runs on the same inputs, configuration and as-of date publish the
same rows (apart from run ids and timestamps), and a delta file delivered a second
time under a later date changes nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.demo_data import generate_demo_data

AS_OF = date(2025, 3, 31)
SEGMENTATION = str(Path(sys.executable).with_name("segmentation"))

# Progress lines of `segmentation run` (pipeline/progress.py) that open each phase.
PHASES = {
    "ingest": "  > bureau__company_scores",
    "dbt": "  > segmentation_dbt_models",
    "checks": "  > publish_gate",
    "publish": "  > publish_warehouse",
}

READER = r"""
import duckdb, json, os, sys, time
path, stop = sys.argv[1], sys.argv[2]
queries, errors, partial, seen = 0, [], [], {}
print("ready", flush=True)
while not os.path.exists(stop):
    try:
        con = duckdb.connect(path, read_only=True)
        try:
            n = con.execute("SELECT count(*) FROM analytics.segmented_accounts").fetchone()[0]
            run, p = con.execute(
                "SELECT run_id, rows_published FROM analytics.publications "
                "ORDER BY published_at DESC LIMIT 1").fetchone()
        finally:
            con.close()
        queries += 1
        seen[run] = n
        if n != p:
            partial.append([run, n, p])
    except Exception as exc:
        errors.append(repr(exc))
    time.sleep(0.005)
print(json.dumps({"queries": queries, "errors": errors[:10], "error_count": len(errors),
                  "partial": partial[:10], "publications_seen": seen}), flush=True)
"""


class Run:
    """`segmentation run` in its own process group, its progress lines time-stamped."""

    def __init__(self, landing: Path, warehouse: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("DAGSTER_HOME", None)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [SEGMENTATION, "run", "--landing", str(landing), "--warehouse", str(warehouse),
             "--as-of", AS_OF.isoformat()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.phase_seen: dict[str, threading.Event] = {name: threading.Event() for name in PHASES}
        self.phase_at: dict[str, float] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            now = time.monotonic() - self.started
            self.lines.append((now, line.rstrip("\n")))
            for name, marker in PHASES.items():
                if line.rstrip("\n") == marker:
                    self.phase_at[name] = now
                    self.phase_seen[name].set()

    def kill_in(self, phase: str, delay: float, whole_group: bool = False) -> str:
        """SIGKILL the run `delay` seconds after `phase` starts; what happened.

        whole_group: kill every process of the run (as a container or cgroup kill does),
        not only the run's own process (as the OOM killer does, orphaning dbt)."""
        while not self.phase_seen[phase].wait(0.05):
            if self.proc.poll() is not None:
                return f"run ended ({self.proc.returncode}) before {phase}"
        time.sleep(delay)
        if self.proc.poll() is not None:
            return f"run ended ({self.proc.returncode}) before the kill"
        if whole_group:
            os.killpg(self.proc.pid, signal.SIGKILL)
        else:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._reader.join(5)
        return "killed"

    def finish(self, timeout: float = 600) -> tuple[int, str]:
        stdout = self.proc.stdout.read()  # stderr belongs to the line reader thread
        self.proc.wait(timeout)
        self._reader.join(5)
        return self.proc.returncode, stdout

    def stderr(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def reap_group(self) -> None:
        """Stop children the killed run left behind (dbt) before the test ends."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _published(warehouse: Path) -> tuple[str, int, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        run_id, rows = con.execute(
            "SELECT run_id, rows_published FROM analytics.publications ORDER BY published_at DESC LIMIT 1"
        ).fetchone()
        count = con.execute("SELECT count(*) FROM analytics.segmented_accounts").fetchone()[0]
        return run_id, rows, count
    finally:
        con.close()


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".wal") or ".publish-" in p.name)


def _kill_plan(kills: int, durations: dict[str, float], rng: random.Random) -> list[tuple[str, float]]:
    phases = list(PHASES)
    plan = []
    for i in range(kills):
        phase = phases[i % len(phases)]
        plan.append((phase, round(rng.uniform(0.0, max(durations[phase], 0.05)), 3)))
    rng.shuffle(plan)
    return plan


def crash_and_recover(tmp_path: Path, kills: int, whole_group: bool) -> dict:
    landing = tmp_path / "landing"
    generate_demo_data(landing, accounts=80, seed=5, as_of=AS_OF)
    warehouse = tmp_path / "warehouse" / "segments.duckdb"

    # A first publication, and the measured length of each phase.
    first = Run(landing, warehouse)
    code, summary = first.finish()
    assert code == 0, first.stderr() + summary
    total = first.lines[-1][0]
    publish_end = next(t for t, line in first.lines if line.startswith("  ok publish_warehouse"))
    starts = [first.phase_at[name] for name in PHASES] + [publish_end]
    durations = {name: starts[i + 1] - starts[i] for i, name in enumerate(PHASES)}
    seed = int(os.environ.get("SEGMENTATION_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))
    plan = _kill_plan(kills, durations, random.Random(seed))

    stop = tmp_path / "stop-reader"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop)],
                              stdout=subprocess.PIPE, text=True)
    outcomes, runs = [], []
    try:
        assert reader.stdout.readline().strip() == "ready"
        for phase, delay in plan:
            for _attempt in range(4):  # a run that ends before its kill is retried, sooner
                before = _published(warehouse)
                run = Run(landing, warehouse)
                runs.append(run)
                what = run.kill_in(phase, delay, whole_group)
                if what != "killed":
                    code, summary = run.finish()
                    what += f"; exit {code}"
                after = _published(warehouse)
                # The previous publication, or (killed just after the swap) the complete new one.
                assert after[1] == after[2], (phase, delay, after)
                outcomes.append({"phase": phase, "delay": delay, "outcome": what,
                                 "new_publication": after[0] != before[0],
                                 "failed_lines": [l for _, l in run.lines if "FAILED" in l][:3]})
                if what == "killed":
                    break
                delay = round(delay / 2, 3)
        final = Run(landing, warehouse)
        code, summary = final.finish()
        assert code == 0, json.dumps(outcomes, indent=1) + final.stderr() + summary
        published = _published(warehouse)
    finally:
        for run in runs:
            run.reap_group()  # whatever a killed run left running (dbt), before the test ends
        stop.touch()
        seen = json.loads(reader.communicate(timeout=60)[0].strip().splitlines()[-1])

    report = {"seed": seed, "run_seconds": round(total, 1),
              "phase_seconds": {k: round(v, 2) for k, v in durations.items()},
              "kills": outcomes, "reader": {k: seen[k] for k in ("queries", "error_count", "errors", "partial")},
              "publications_seen": len(seen["publications_seen"])}
    print(json.dumps(report, indent=1))
    assert published[1] == published[2] > 0
    assert seen["errors"] == [] and seen["partial"] == [], report
    assert seen["queries"] > 10 * kills, report
    assert _leftovers(warehouse.parent) == [], report
    # the planned number of kills did hit a running run (a miss is retried)
    assert len([o for o in outcomes if o["outcome"] == "killed"]) == kills, report
    assert not [o for o in outcomes if o["outcome"] != "killed" and "exit 0" not in o["outcome"]], report
    # and no run between the kills failed on what an earlier one left behind
    assert not [o for o in outcomes if o["failed_lines"]], report
    return report


def test_killed_runs_leave_the_publication_readable_and_the_next_run_succeeds(tmp_path):
    """The run's whole process tree is killed (container / cgroup kill)."""
    crash_and_recover(tmp_path, kills=3, whole_group=True)


@pytest.mark.slow
def test_twelve_random_kills_with_a_reader_throughout(tmp_path):
    """Only the run's own process is killed (as the OOM killer does): dbt may be orphaned."""
    report = crash_and_recover(tmp_path, kills=12, whole_group=False)
    assert {o["phase"] for o in report["kills"] if o["outcome"] == "killed"} == set(PHASES)


# ------------------------------------------------------------------- idempotency


def _published_rows(warehouse: Path) -> dict[str, list[tuple]]:
    """Every published table (but publications), without run ids and timestamps, sorted."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'analytics' "
            "AND table_name <> 'publications' ORDER BY 1").fetchall()]
        rows = {}
        for table in tables:
            columns = [c for c, t in con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'analytics' "
                "AND table_name = ? ORDER BY column_index", [table]).fetchall()
                if c != "run_id" and not t.startswith("TIMESTAMP")]
            listed = ", ".join(f'"{c}"' for c in columns)
            rows[table] = [tuple(columns)] + con.execute(f"SELECT {listed} FROM analytics.{table} ORDER BY ALL").fetchall()
        return rows
    finally:
        con.close()


def _publication_records(warehouse: Path) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute("SELECT as_of_date, ruleset_version, input_files, rows_published, rows_quarantined "
                           "FROM analytics.publications ORDER BY published_at").fetchall()
    finally:
        con.close()


def test_same_inputs_publish_identical_rows_and_a_redelivered_delta_changes_nothing(tmp_path):
    import shutil

    from pipeline.runner import run_nightly_job
    from pipeline.settings import RunPaths

    landing = tmp_path / "landing"
    # extracts up to the day before the as-of date, so a re-delivery can be dated the as-of date
    generate_demo_data(landing, accounts=80, seed=9, as_of=date(2025, 3, 30))
    paths = RunPaths.resolve(landing, tmp_path / "warehouse" / "segments.duckdb")

    first = run_nightly_job(paths, AS_OF)
    assert first.published, first.summary()
    before = _published_rows(paths.warehouse)
    assert sum(len(rows) - 1 for rows in before.values()) > 100

    second = run_nightly_job(paths, AS_OF)
    assert second.published, second.summary()
    assert second.run_id != first.run_id
    assert _published_rows(paths.warehouse) == before
    records = _publication_records(paths.warehouse)
    assert len(records) == 2 and records[0] == records[1]

    # the ERP sends yesterday's delta files again, under today's date
    for entity in ("invoices", "invoice_lines", "payments"):
        folder = landing / "finance" / entity
        shutil.copyfile(folder / "2025-03-30.csv", folder / f"{AS_OF.isoformat()}.csv")
    third = run_nightly_job(paths, AS_OF)
    assert third.published, third.summary()
    after = _published_rows(paths.warehouse)
    # The only change allowed: the provenance of a quarantined row (file name, row
    # number) now points at the newer delivery, whose row wins the de-duplication.
    provenance = {"_file_name", "file_name", "source_file", "_row_number", "row_number", "file", "line"}
    changed = [table for table, rows in before.items() if rows != after[table]]
    print(f"tables whose provenance columns moved to the re-delivered files: {changed}")
    for table, rows in before.items():
        if rows == after[table]:
            continue
        keep = [i for i, c in enumerate(rows[0]) if c not in provenance]
        assert len(keep) < len(rows[0]), table
        assert [tuple(r[i] for i in keep) for r in rows] == [tuple(r[i] for i in keep) for r in after[table]], table
    redelivered = json.loads(_publication_records(paths.warehouse)[-1][2])
    assert sum(AS_OF.isoformat() in json.dumps(f) for f in redelivered) == 3  # the run did read them
    assert [r[:2] + r[3:] for r in _publication_records(paths.warehouse)] == [r[:2] + r[3:] for r in records + records[:1]]
