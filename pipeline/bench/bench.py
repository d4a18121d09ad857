"""`segmentation bench`: the pipeline against two references on the same machine and data.

One invocation measures, each in its own process tree (wall time, peak resident memory
of the whole tree, input rows per second):

- the full pipeline (`segmentation run`, the nightly job with checks, quarantine,
  history and the atomic publication), per stage: ingest, transform (dbt), checks
  (the publish gate), publish (publication and report);
- an incremental night: the run for D + 1 after the run for D on the same warehouse,
  with one more day of delta files, and whether it publishes the same rows as the
  full run for D + 1;
- the floor: one hand-written DuckDB script computing the same columns
  (`pipeline/bench/floor.sql`);
- what a user would write instead: the rules in pandas (`pipeline/reference/`), at a
  scale where it fits, against the pipeline at that same scale.

Demo data is generated once per (accounts, format) under the work folder and reused.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipeline.bench.measure import Measured, run_measured

STAGES = ("ingest", "transform", "checks", "publish")
_STAGE_OF_STEP = {
    "segmentation_dbt_models": "transform",
    "publish_gate": "checks",
    "publish_warehouse": "publish",
    "reports__run_report": "publish",
}
BUDGETS = {
    "pipeline / floor": ("<=", 2.0),
    "incremental / full": ("<=", 0.5),
    "pandas / pipeline": (">=", 3.0),
}
PEAK_MEMORY_BUDGET_GIB = 6.0


class BenchError(RuntimeError):
    """A measured command failed: the benchmark has no figure for it."""


@dataclass
class Figure:
    label: str
    seconds: float
    peak_mib: float | None = None
    rows: int | None = None

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.rows and self.seconds > 0 else None


@dataclass
class BenchResult:
    accounts: int
    file_format: str
    as_of: date
    input_rows: int
    figures: dict[str, Figure] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    incremental_same_rows: bool | None = None
    pandas_accounts: int | None = None

    def ratio(self, name: str) -> float | None:
        f = self.figures
        pairs = {
            "pipeline / floor": ("pipeline", "floor"),
            "incremental / full": ("incremental", "pipeline"),
            "pandas / pipeline": ("pandas", "pipeline_at_pandas_scale"),
        }
        top, bottom = pairs[name]
        if top in f and bottom in f and f[bottom].seconds > 0:
            return f[top].seconds / f[bottom].seconds
        return None

    def table(self) -> str:
        def row(figure: Figure, indent: str = "") -> str:
            peak = f"{figure.peak_mib:9.0f}" if figure.peak_mib is not None else f"{'':>9}"
            rate = f"{figure.rows_per_second:12,.0f}" if figure.rows_per_second else f"{'':>12}"
            return f"{indent + figure.label:<44}{figure.seconds:9.1f}{peak}{rate}"

        lines = [
            f"segmentation bench: {self.accounts:,} accounts ({self.file_format}), as of {self.as_of}, "
            f"{os.cpu_count()} cores, {self.input_rows:,} input rows",
            f"{'':<44}{'wall s':>9}{'peak MiB':>9}{'rows/s':>12}",
        ]
        pipeline = self.figures.get("pipeline")
        if pipeline:
            lines.append(row(pipeline))
            accounted = 0.0
            for stage in STAGES:
                seconds = self.stages.get(stage, 0.0)
                accounted += seconds
                lines.append(row(Figure(stage, seconds, None, self.input_rows), "  "))
            overhead = max(0.0, pipeline.seconds - accounted)
            lines.append(row(Figure("start-up, imports, run launch", overhead), "  "))
        for key in ("incremental", "floor", "pipeline_at_pandas_scale", "pandas"):
            if key in self.figures:
                lines.append(row(self.figures[key]))
        if self.incremental_same_rows is not None:
            lines.append(
                "incremental night publishes the same rows as the full run for D + 1: "
                + ("yes" if self.incremental_same_rows else "NO")
            )
        lines.append("ratios (budget):")
        for name, (sense, limit) in BUDGETS.items():
            value = self.ratio(name)
            scale = f" at {self.pandas_accounts:,} accounts" if name.startswith("pandas") and self.pandas_accounts else ""
            if value is None:
                lines.append(f"  {name}: not measured")
                continue
            held = value <= limit if sense == "<=" else value >= limit
            lines.append(f"  {name}{scale}: {value:.2f} ({sense} {limit:g}: {'holds' if held else 'MISSED'})")
        if pipeline and pipeline.peak_mib is not None:
            gib = pipeline.peak_mib / 1024
            held = gib <= PEAK_MEMORY_BUDGET_GIB
            lines.append(
                f"  full run peak memory: {gib:.2f} GiB (<= {PEAK_MEMORY_BUDGET_GIB:g} GiB: {'holds' if held else 'MISSED'})"
            )
        return "\n".join(lines)


def _segmentation() -> list[str]:
    return [sys.executable, "-m", "pipeline.cli"]


def _check(measured: Measured, what: str) -> Measured:
    if measured.returncode != 0:
        tail = "\n".join((measured.stdout + measured.stderr).strip().splitlines()[-25:])
        raise BenchError(f"{what} failed (exit {measured.returncode}):\n{tail}")
    return measured


def ensure_landing(work_dir: Path, accounts: int, file_format: str, as_of: date, seed: int = 42) -> tuple[Path, Figure | None]:
    """Demo extracts for (accounts, format, as-of), generated once and reused."""
    landing = work_dir / f"landing-{accounts}-{file_format}-{as_of.isoformat()}"
    marker = landing / ".bench-complete"
    if marker.is_file():
        return landing, None
    shutil.rmtree(landing, ignore_errors=True)
    code = (
        "import sys; from datetime import date; from pathlib import Path; "
        "from pipeline.demo_data import generate_demo_data; "
        f"generate_demo_data(Path({str(landing)!r}), accounts={accounts}, seed={seed}, "
        f"as_of=date.fromisoformat({as_of.isoformat()!r}), file_format={file_format!r})"
    )
    measured = _check(run_measured([sys.executable, "-c", code]), "demo-data generation")
    marker.write_text(json.dumps({"accounts": accounts, "format": file_format, "seed": seed}), encoding="utf-8")
    return landing, Figure(f"demo data ({accounts:,} accounts)", measured.seconds, measured.peak_rss_mib)


def _run_pipeline(landing: Path, warehouse: Path, as_of: date, label: str, timings: Path | None = None) -> Measured:
    env = dict(os.environ)
    if timings is not None:
        env["SEGMENTATION_TIMINGS_FILE"] = str(timings)
    command = [*_segmentation(), "run", "--landing", str(landing), "--warehouse", str(warehouse), "--as-of", as_of.isoformat()]
    return _check(run_measured(command, env=env), label)


def _input_rows(warehouse: Path) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        files = conn.execute(
            "select input_files from analytics.publications order by published_at desc limit 1"
        ).fetchone()[0]
    return sum(int(f.get("rows") or 0) for f in json.loads(files))


def _same_published_rows(first: Path, second: Path) -> bool:
    """segmented_accounts of two warehouses hold the same rows (apart from run_id)."""
    with duckdb.connect() as conn:
        conn.execute(f"attach '{first}' as a (read_only)")
        conn.execute(f"attach '{second}' as b (read_only)")
        differing = conn.execute(
            """select count(*) from (
                   (select * exclude (run_id) from a.analytics.segmented_accounts
                    except all select * exclude (run_id) from b.analytics.segmented_accounts)
                   union all
                   (select * exclude (run_id) from b.analytics.segmented_accounts
                    except all select * exclude (run_id) from a.analytics.segmented_accounts))"""
        ).fetchone()[0]
    return differing == 0


def _stage_seconds(timings: Path) -> dict[str, float]:
    stages = dict.fromkeys(STAGES, 0.0)
    for step, seconds in json.loads(timings.read_text(encoding="utf-8")).items():
        stages[_STAGE_OF_STEP.get(step, "ingest")] += float(seconds)
    return stages


def run_bench(
    accounts: int,
    work_dir: Path,
    pandas_accounts: int = 100_000,
    file_format: str = "csv",
    as_of: date = date(2026, 11, 22),
    progress=lambda message: None,
) -> BenchResult:
    """Measure everything; the landing folders stay in `work_dir` for the next call."""
    work_dir.mkdir(parents=True, exist_ok=True)
    night_before = as_of - timedelta(days=1)
    landing, generated = ensure_landing(work_dir, accounts, file_format, as_of)
    if generated:
        progress(f"generated {landing} in {generated.seconds:.0f} s")
    runs = work_dir / "runs"
    shutil.rmtree(runs, ignore_errors=True)

    progress(f"full run as of {as_of} ({accounts:,} accounts)")
    timings = runs / "timings.json"
    timings.parent.mkdir(parents=True)
    full_warehouse = runs / "full" / "segments.duckdb"
    full = _run_pipeline(landing, full_warehouse, as_of, "the full pipeline run", timings)
    result = BenchResult(accounts, file_format, as_of, _input_rows(full_warehouse))
    result.figures["pipeline"] = Figure("pipeline, full run", full.seconds, full.peak_rss_mib, result.input_rows)
    result.stages = _stage_seconds(timings)

    progress(f"incremental night: {night_before}, then {as_of} on the same warehouse")
    incremental_warehouse = runs / "incremental" / "segments.duckdb"
    _run_pipeline(landing, incremental_warehouse, night_before, "the run for D")
    incremental = _run_pipeline(landing, incremental_warehouse, as_of, "the incremental run for D + 1")
    result.figures["incremental"] = Figure(
        "pipeline, incremental night (D + 1)", incremental.seconds, incremental.peak_rss_mib, result.input_rows
    )
    result.incremental_same_rows = _same_published_rows(full_warehouse, incremental_warehouse)

    progress("floor: one DuckDB script")
    floor_db = runs / "floor.duckdb"
    code = (
        "from datetime import date; from pathlib import Path; from pipeline.bench.floor import run_floor; "
        f"run_floor(Path({str(landing)!r}), date.fromisoformat({as_of.isoformat()!r}), Path({str(floor_db)!r}))"
    )
    floor = _check(run_measured([sys.executable, "-c", code]), "the floor script")
    result.figures["floor"] = Figure("floor, one DuckDB SQL script", floor.seconds, floor.peak_rss_mib, result.input_rows)

    scale = min(accounts, pandas_accounts)
    result.pandas_accounts = scale
    if scale == accounts:
        pandas_landing, pipeline_at_scale, rows_at_scale = landing, full, result.input_rows
    else:
        pandas_landing, generated = ensure_landing(work_dir, scale, file_format, as_of)
        progress(f"pipeline at the pandas scale ({scale:,} accounts)")
        scale_warehouse = runs / "pandas-scale" / "segments.duckdb"
        pipeline_at_scale = _run_pipeline(pandas_landing, scale_warehouse, as_of, "the pipeline at the pandas scale")
        rows_at_scale = _input_rows(scale_warehouse)
    result.figures["pipeline_at_pandas_scale"] = Figure(
        f"pipeline at {scale:,} accounts", pipeline_at_scale.seconds, pipeline_at_scale.peak_rss_mib, rows_at_scale
    )
    progress(f"pandas reference at {scale:,} accounts")
    code = (
        "from datetime import date; from pathlib import Path; "
        "from pipeline.reference.pandas_rules import compute_reference; "
        f"compute_reference(Path({str(pandas_landing)!r}), date.fromisoformat({as_of.isoformat()!r}))"
    )
    pandas = _check(run_measured([sys.executable, "-c", code]), "the pandas reference")
    result.figures["pandas"] = Figure(f"pandas reference at {scale:,} accounts", pandas.seconds, pandas.peak_rss_mib, rows_at_scale)
    return result
