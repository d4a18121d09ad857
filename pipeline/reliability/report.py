"""Run the bad-input corpus through the real nightly job and report what happened.

For each case: copy the clean landing folder, apply the case's mutation, copy the
baseline warehouse (a publication of the clean folder) beside it, run
`run_nightly_job` on the mutated folder, then observe

* the outcome: published, stopped, or published with a warning naming the ignored thing;
* for a stop: the message names the file (and line / column where the case says so),
  says what to do, is not a bare traceback, and the previous publication is intact
  (same warehouse bytes, still readable, its last publication the baseline's);
* for a publication: the conservation ledger `input_row_outcomes` of this run, per
  entity: rows in (merged state), used, excluded, quarantined, lost (must be 0), and
  the rows the case expects in quarantine with their reason code.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import duckdb

from pipeline.reliability.cases import Case, CaseContext, Facts

AS_OF = date(2023, 3, 31)
ACCOUNTS = 80
SEED = 11
WAREHOUSE_NAME = "segments.duckdb"
FIX_WORDS = ("deliver", "fix", "re-export", "remove", "rename", "add ", "keep", "run with", "use ", "check")


@dataclass
class EntityCounts:
    rows_in: int = 0
    used: int = 0
    excluded: int = 0
    quarantined: int = 0

    @property
    def lost(self) -> int:
        return self.rows_in - self.used - self.excluded - self.quarantined


@dataclass
class CaseResult:
    case: Case
    observed: str  # published / published_with_warning / stopped / error
    problems: list[str] = field(default_factory=list)
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    message: str = ""
    seconds: float = 0.0

    @property
    def as_expected(self) -> bool:
        return not self.problems

    def total(self) -> EntityCounts | None:
        if not self.entities:
            return None
        t = EntityCounts()
        for c in self.entities.values():
            t.rows_in += c.rows_in
            t.used += c.used
            t.excluded += c.excluded
            t.quarantined += c.quarantined
        return t

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.entities.values())


@dataclass
class ReliabilityReport:
    results: list[CaseResult]
    baseline_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.as_expected and r.lost == 0 for r in self.results)

    def table(self, details: bool = True) -> str:
        header = ("case", "expected", "observed", "rows in", "used", "excluded", "quarantined", "lost", "ok", "s")
        rows = []
        for r in self.results:
            t = r.total()
            counts = (t.rows_in, t.used, t.excluded, t.quarantined, r.lost) if t else ("-",) * 5
            rows.append(
                (r.case.name, r.case.expected, r.observed, *map(str, counts), "yes" if r.as_expected else "NO",
                 f"{r.seconds:.0f}")
            )
        widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]
        numeric = {3, 4, 5, 6, 7, 9}

        def fmt(row) -> str:
            return "  ".join(v.rjust(w) if i in numeric else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths)))

        lines = [fmt(header), fmt(["-" * w for w in widths])]
        lines += [fmt(row) for row in rows]
        if details:
            for r in self.results:
                for problem in r.problems:
                    lines.append(f"  {r.case.name}: {problem}")
                for entity, c in r.entities.items():
                    if c.lost:
                        lines.append(
                            f"  {r.case.name}: {entity}: {c.rows_in} in, {c.used} used, {c.excluded} excluded, "
                            f"{c.quarantined} quarantined: {c.lost} LOST"
                        )
        expected = sum(r.as_expected for r in self.results)
        lost = sum(r.lost for r in self.results)
        lines.append(
            f"TOTAL: {len(self.results)} cases, {expected} as expected, "
            f"{len(self.results) - expected} not as expected, {lost} rows lost"
            + (" -- OK" if self.ok else " -- FAILED")
        )
        return "\n".join(lines)


# --- helpers ----------------------------------------------------------------------------


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def _last_run_id(warehouse: Path) -> str | None:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        row = conn.execute(
            "select run_id from analytics.publications order by published_at desc limit 1"
        ).fetchone()
        conn.execute("select count(*) from analytics.segmented_accounts").fetchone()
        return row[0] if row else None
    finally:
        conn.close()


def read_ledger(work_db: Path) -> dict[str, EntityCounts]:
    """Per entity of this run's build: merged rows in, used, excluded, quarantined."""
    from pipeline.defs.publication import model_relation

    conn = duckdb.connect(str(work_db), read_only=True)
    try:
        rows = conn.execute(
            f"select source || '/' || entity, outcome, sum(row_count), max(merged_rows) "
            f"from {model_relation('input_row_outcomes')} group by all order by 1, 2"
        ).fetchall()
    finally:
        conn.close()
    ledger: dict[str, EntityCounts] = {}
    for entity, outcome, count, merged in rows:
        c = ledger.setdefault(entity, EntityCounts(rows_in=int(merged)))
        setattr(c, outcome if outcome in ("used", "excluded") else "quarantined",
                getattr(c, outcome if outcome in ("used", "excluded") else "quarantined") + int(count))
    return ledger


def _quarantine_reasons(work_db: Path, run_id: str) -> dict[tuple[str, str], set[str]]:
    from pipeline.defs.publication import model_relation

    conn = duckdb.connect(str(work_db), read_only=True)
    try:
        rows = conn.execute(
            f"select source || '/' || entity, record_key, reason_code from {model_relation('quarantine')} "
            "where run_id = ?",
            [run_id],
        ).fetchall()
    finally:
        conn.close()
    found: dict[tuple[str, str], set[str]] = {}
    for entity, key, reason in rows:
        found.setdefault((entity, key), set()).add(reason)
    return found


def prepare_clean_landing(root: Path, as_of: date = AS_OF, accounts: int = ACCOUNTS, seed: int = SEED) -> Path:
    """The clean landing folder every case starts from (generated once per root)."""
    from pipeline.demo_data import generate_demo_data

    landing = root / "clean" / "landing"
    if not landing.exists():
        generate_demo_data(landing, accounts=accounts, seed=seed, as_of=as_of, snapshot_days=1)
    return landing


def _run(landing: Path, warehouse: Path, as_of: date, quiet: bool):
    from pipeline.runner import run_nightly_job
    from pipeline.settings import RunPaths

    paths = RunPaths.resolve(landing, warehouse)
    log = io.StringIO()
    redirect = contextlib.redirect_stderr(log) if quiet else contextlib.nullcontext()
    with redirect:
        outcome = run_nightly_job(paths, as_of)
    return paths, outcome


def publish_baseline(root: Path, as_of: date = AS_OF, quiet: bool = True) -> Path:
    """Publish the clean landing folder once; every case starts from a copy of it."""
    landing = prepare_clean_landing(root, as_of)
    warehouse = root / "clean" / "warehouse" / WAREHOUSE_NAME
    if not warehouse.exists():
        paths, outcome = _run(landing, warehouse, as_of, quiet)
        if not outcome.published:
            raise RuntimeError("the clean baseline did not publish:\n" + outcome.summary())
    return warehouse


# --- one case ------------------------------------------------------------------------------


def run_case(case: Case, root: Path, as_of: date = AS_OF, quiet: bool = True, keep: bool = False) -> CaseResult:
    started = time.monotonic()
    clean_landing = prepare_clean_landing(root, as_of)
    baseline = publish_baseline(root, as_of, quiet)
    case_dir = root / "cases" / case.name
    if case_dir.exists():
        shutil.rmtree(case_dir)
    landing, outside, warehouse = case_dir / "landing", case_dir / "outside", case_dir / "warehouse" / WAREHOUSE_NAME
    shutil.copytree(clean_landing, landing, symlinks=True)
    outside.mkdir(parents=True)
    warehouse.parent.mkdir(parents=True)
    shutil.copy2(baseline, warehouse)
    before = _sha256(warehouse)
    baseline_run = _last_run_id(warehouse)

    result = CaseResult(case, "error")
    try:
        facts = case.mutate(CaseContext(landing, as_of, outside))
    except Exception as exc:  # a broken case, not a pipeline finding
        result.problems.append(f"the case's mutation failed: {type(exc).__name__}: {exc}")
        result.seconds = time.monotonic() - started
        return result

    try:
        paths, outcome = _run(landing, warehouse, as_of, quiet)
    except Exception as exc:
        result.observed = "crashed"
        result.problems.append(f"run_nightly_job raised {type(exc).__name__}: {str(exc)[:300]}")
        result.seconds = time.monotonic() - started
        return result

    report = outcome.report
    message = "\n".join([*(m for _, m in report.failed_steps), *(f"{n}: {d}" for n, d in report.failed_checks)])
    result.message = message
    warnings = list(report.warnings)
    _observe(result, facts, outcome, message, warnings, paths.work_db, warehouse, before, baseline_run)
    result.seconds = time.monotonic() - started
    if not keep and result.as_expected:
        shutil.rmtree(case_dir, ignore_errors=True)
    return result


def _observe(result, facts: Facts, outcome, message, warnings, work_db, warehouse, before, baseline_run) -> None:
    case, problems = result.case, result.problems
    if outcome.published:
        warned = bool(facts.warning) and any(
            all(fragment.lower() in w.lower() for fragment in facts.warning) and (not facts.file or facts.file in w)
            for w in warnings
        )
        result.observed = "published_with_warning" if warned else "published"
    else:
        result.observed = "stopped"

    if case.expected == "stops":
        if outcome.published:
            problems.append("published, but the contract says this file stops the run")
        else:
            _check_stop_message(facts, message, problems)
            after = _sha256(warehouse)
            if after != before:
                problems.append("the previous publication changed although nothing was published")
            try:
                if _last_run_id(warehouse) != baseline_run:
                    problems.append("the warehouse's last publication is not the baseline's")
            except duckdb.Error as exc:
                problems.append(f"the previous publication is not readable: {exc}")
        return

    if not outcome.published:
        first = message.strip().splitlines()[0] if message.strip() else "no message"
        problems.append(f"stopped, expected a publication: {first[:300]}")
        return
    if facts.warning and result.observed != "published_with_warning":
        shown = "; ".join(w[:160] for w in warnings) or "none"
        problems.append(f"no warning naming {facts.file or ''} ({' / '.join(facts.warning)}); warnings: {shown}")
    try:
        result.entities = read_ledger(work_db)
    except duckdb.Error as exc:
        problems.append(f"cannot read the conservation ledger: {exc}")
    if facts.quarantined:
        found = _quarantine_reasons(work_db, outcome.run_id)
        for entity, key, reason in facts.quarantined:
            reasons = found.get((entity, key))
            if not reasons:
                problems.append(f"{entity} {key} is not in quarantine (expected {reason})")
            elif reason not in reasons:
                problems.append(f"{entity} {key} quarantined as {', '.join(sorted(reasons))}, expected {reason}")
    for check in facts.checks:
        try:
            problem = check(work_db, warehouse)
        except duckdb.Error as exc:
            problem = f"check {getattr(check, '__name__', 'check')} failed: {exc}"
        if problem:
            problems.append(problem)
    if result.lost:
        problems.append(f"{result.lost} rows lost")


def _check_stop_message(facts: Facts, message: str, problems: list[str]) -> None:
    text = message.strip()
    if not text:
        problems.append("stopped without any message")
        return
    if "Traceback (most recent call last)" in text or text.splitlines()[0].startswith(("File \"", "  File \"")):
        problems.append("the message is a raw Python traceback")
    lowered = text.lower()
    missing = [f for f in ((facts.file,) if facts.file else ()) + facts.where if f.lower() not in lowered]
    if missing:
        problems.append(f"the message does not name {', '.join(repr(m) for m in missing)}: {text[:300]!r}")
    if not any(word in lowered for word in FIX_WORDS):
        problems.append(f"the message does not say what to do: {text[:300]!r}")


# --- the whole report ---------------------------------------------------------------------


def run_report(
    cases: list[Case],
    root: Path,
    as_of: date = AS_OF,
    quiet: bool = True,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ReliabilityReport:
    root = Path(root)
    started = time.monotonic()
    if progress:
        progress(f"baseline: demo landing folder ({ACCOUNTS} accounts, as of {as_of}) published once in {root}")
    publish_baseline(root, as_of, quiet)
    report = ReliabilityReport([], baseline_seconds=time.monotonic() - started)
    for case in cases:
        if progress:
            progress(f"case {case.name} ({case.expected}) ...")
        result = run_case(case, root, as_of, quiet=quiet, keep=keep)
        if progress:
            progress(f"  {result.observed} in {result.seconds:.0f} s{'' if result.as_expected else ' -- NOT as expected'}")
        report.results.append(result)
    return report


if __name__ == "__main__":  # pragma: no cover - python -m pipeline.reliability.report CASE...
    from pipeline.reliability.cases import select_cases

    rep = run_report(select_cases(sys.argv[1:] or None), Path("/tmp/reliability"), progress=print)
    print(rep.table())
