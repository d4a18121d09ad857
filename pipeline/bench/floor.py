"""Run the floor (`floor.sql`): the whole segmentation as one hand-written DuckDB script.

    from pipeline.bench.floor import run_floor
    result = run_floor(Path("data/landing"), date(2026, 11, 22), Path("/tmp/floor.duckdb"))
    result.rows, result.seconds

The script runs in a fresh database file (an existing one is replaced) and leaves
`floor_segmented_accounts` there; `FLOOR_COLUMNS` are its columns, the published
columns of `analytics.segmented_accounts` but `segment_reasons`, `ruleset_version` and
`run_id`. The rules' thresholds are the default configuration, hard-coded at the top of
the script; only the landing folder, the as-of date, the overrides file and the ISO
country list (from pycountry, as the pipeline takes it) are passed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pycountry

FLOOR_SQL = Path(__file__).with_name("floor.sql")
FLOOR_TABLE = "floor_segmented_accounts"

# the published columns the floor computes (analytics.segmented_accounts minus
# segment_reasons, ruleset_version and run_id), in the published order
FLOOR_COLUMNS = (
    "account_id", "account_name", "as_of_date", "country_code", "owner_id",
    "party_type", "tenure", "market", "value_tier", "pareto_class", "lifecycle_stage", "region",
    "industry_vertical", "size_tier", "sales_channel_group", "service_level", "product_mix",
    "payment_terms_bucket", "payment_behaviour", "risk_profile", "dunning_strategy", "collector_level",
    "icp_fit", "potential_tier", "buying_readiness",
    "primary_product_line", "early_payment_discount", "credit_hold",
    "revenue_12m", "margin_12m", "margin_pct_12m", "first_invoice_date", "last_invoice_date",
    "open_ar", "overdue_ar", "max_days_overdue", "avg_days_late", "on_time_rate", "typical_pay_day",
    "disputes_12m", "open_disputes", "bureau_score", "insolvency_flag", "risk_score",
    "credit_limit_utilisation", "group_open_ar", "icp_score", "potential_value", "overridden_dimensions",
)
NOT_COVERED = ("segment_reasons", "ruleset_version", "run_id")


@dataclass(frozen=True)
class FloorResult:
    rows: int
    seconds: float  # wall time of the script (connect to the table written), not of Python start-up


def run_floor(
    landing_dir: Path,
    as_of: date,
    db_path: Path,
    threads: int | None = None,
    overrides_file: Path | None = None,
) -> FloorResult:
    """Execute floor.sql on `landing_dir` as of `as_of` in a fresh database `db_path`."""
    landing_dir = Path(landing_dir).resolve()
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    overrides = Path(overrides_file).resolve() if overrides_file else landing_dir / "overrides.csv"
    script = FLOOR_SQL.read_text(encoding="utf-8")
    countries = sorted(country.alpha_2 for country in pycountry.countries)
    started = time.perf_counter()
    conn = duckdb.connect(str(db_path))
    try:
        conn.execute("set enable_progress_bar = false")
        if threads:
            conn.execute(f"set threads = {int(threads)}")
        conn.execute("set variable landing_dir = ?", [landing_dir.as_posix()])
        conn.execute("set variable as_of = ?::date", [as_of.isoformat()])
        conn.execute("set variable overrides_file = ?", [overrides.as_posix()])
        conn.execute("set variable iso_countries = ?::varchar[]", [countries])
        conn.execute(script)
        rows = conn.execute(f"select count(*) from {FLOOR_TABLE}").fetchone()[0]
    finally:
        conn.close()
    seconds = time.perf_counter() - started
    return FloorResult(rows=int(rows), seconds=seconds)
