"""The floor (pipeline/bench/floor.sql) computes what the pipeline publishes.

The floor is the benchmark's reference of what the hardware can do: one hand-written
DuckDB script, no orchestration. It is only a fair reference if it does the same work,
so these tests run the real nightly job and the floor on the same landing folder and
compare every column the floor covers (`FLOOR_COLUMNS`: the published columns but
`segment_reasons`, `ruleset_version` and `run_id`) cell by cell, with the comparison of
tests/test_reference_agreement.py (same account set; numbers within 0.01, text
case-insensitive, null equal to null): on demo data in CSV, on demo data with Parquet
entities (`mixed`), and on the hand-written landing folder of tricky cases.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pycountry
import pytest
import yaml

import pipeline

from pipeline.bench.floor import FLOOR_COLUMNS, FLOOR_SQL, FLOOR_TABLE, NOT_COVERED, run_floor
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths
from test_reference_agreement import GATE_CONFIG, compare, describe, read_published, write_tricky_landing

AS_OF = date(2026, 11, 22)


def read_floor(db_path: Path) -> pd.DataFrame:
    conn = duckdb.connect(str(db_path), read_only=True)
    try:
        return conn.sql(f"select * from {FLOOR_TABLE}").to_arrow_table().to_pandas(date_as_object=True)
    finally:
        conn.close()


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[list(FLOOR_COLUMNS)].copy()
    # a list cell compares as its text, in order
    frame["overridden_dimensions"] = frame["overridden_dimensions"].map(lambda dims: ",".join(dims))
    return frame


def _published_and_floor(landing: Path, root: Path, config_file: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    warehouse = root / "warehouse" / "segments.duckdb"
    outcome = run_nightly_job(RunPaths.resolve(landing, warehouse, config_file=config_file), AS_OF)
    assert outcome.published, outcome.summary()
    result = run_floor(landing, AS_OF, root / "floor.duckdb")
    published = read_published(warehouse)
    floor = read_floor(root / "floor.duckdb")
    assert result.rows == len(floor) and result.seconds > 0
    return published, floor


def assert_floor_agrees(published: pd.DataFrame, floor: pd.DataFrame) -> None:
    assert list(floor.columns) == list(FLOOR_COLUMNS)
    uncovered = [c for c in published.columns if c not in FLOOR_COLUMNS]
    assert sorted(uncovered) == sorted(NOT_COVERED), f"published columns the floor does not know: {uncovered}"
    problems = compare(_comparable(published), _comparable(floor))
    assert not problems, "published table and floor disagree (published = pipeline, reference = floor):\n" + describe(
        problems
    )


@pytest.fixture(scope="module", params=["csv", "mixed"])
def demo_case(request, tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    from pipeline.demo_data import generate_demo_data

    root = tmp_path_factory.mktemp(f"floor_{request.param}")
    landing = root / "landing"
    generate_demo_data(landing, accounts=300, seed=42, as_of=AS_OF, file_format=request.param)
    return _published_and_floor(landing, root)


def test_floor_agrees_with_pipeline_on_demo_data(demo_case):
    published, floor = demo_case
    assert len(published) > 200
    assert_floor_agrees(published, floor)


def test_floor_agrees_with_pipeline_on_tricky_cases(tmp_path):
    config = tmp_path / "gate.yml"  # only the publish gate differs from the defaults: the rules are the floor's
    config.write_text(GATE_CONFIG)
    landing = write_tricky_landing(tmp_path / "landing")
    published, floor = _published_and_floor(landing, tmp_path, config)
    assert_floor_agrees(published, floor)


def _floor_defaults() -> dict:
    """The values of the variables set at the top of floor.sql (before its first macro)."""
    script = FLOOR_SQL.read_text(encoding="utf-8")
    settings = script.split("create or replace temp macro", 1)[0]
    conn = duckdb.connect()
    try:
        conn.execute(settings)
        names = [line.split()[2] for line in settings.splitlines() if line.startswith("set variable ")]
        return {name: conn.execute(f"select getvariable('{name}')").fetchone()[0] for name in names}
    finally:
        conn.close()


def test_floor_defaults_are_the_default_configuration():
    """floor.sql hard-codes the default configuration: it must be segmentation.yml's."""
    cfg = yaml.safe_load((Path(pipeline.__file__).parent / "config" / "segmentation.yml").read_text())
    dims, risk, credit = cfg["dimensions"], cfg["scores"]["risk"], cfg["credit"]
    v = _floor_defaults()
    number = float

    def inverted(mapping: dict) -> dict:
        return {value: key for key, values in mapping.items() for value in values}

    expected = {
        "base_currency": cfg["general"]["base_currency"],
        "home_country": cfg["general"]["home_country"],
        "window_days": cfg["general"]["window_days"],
        "tenure_new_within_days": dims["tenure"]["new_within_days"],
        "value_high_min_revenue": dims["value_tier"]["high_min_revenue"],
        "value_medium_min_revenue": dims["value_tier"]["medium_min_revenue"],
        "pareto_a_share": dims["pareto_class"]["a_max_rank_share"],
        "pareto_b_share": dims["pareto_class"]["b_max_rank_share"],
        "dormant_after_days": dims["lifecycle_stage"]["dormant_after_days"],
        "lifecycle_new_within_days": dims["lifecycle_stage"]["new_within_days"],
        "region_of_country": inverted(dims["region"]["countries"]),
        "region_fallback": dims["region"]["fallback"],
        "naics_sectors": dims["industry_vertical"]["naics_sectors"],
        "vertical_of_sector": inverted(dims["industry_vertical"]["naics_sector_verticals"]),
        "vertical_fallback": dims["industry_vertical"]["fallback"],
        **{f"size_min_employees_{k}": x for k, x in dims["size_tier"]["min_employees"].items()},
        **{f"size_min_revenue_{k}": x for k, x in dims["size_tier"]["min_annual_revenue"].items()},
        "channel_group_of": inverted(dims["sales_channel_group"]["channels"]),
        **{k: dims["service_level"][k] for k in ("key_account_level", "high_value_level", "default_level")},
        **{f"terms_{k}_max": x for k, x in dims["payment_terms_bucket"]["max_terms_days"].items()},
        **{k: x for k, x in dims["payment_behaviour"].items() if k != "segments"},
        **{f"risk_{k}": x for k, x in dims["risk_profile"].items() if k != "segments"},
        "escalate_risk_profiles": dims["dunning_strategy"]["escalate_risk_profiles"],
        "senior_min_overdue_ar": dims["collector_level"]["senior_min_overdue_ar"],
        "senior_risk_profiles": dims["collector_level"]["senior_risk_profiles"],
        "icp_excluded_verticals": dims["icp_fit"]["excluded_verticals"],
        "icp_excluded_countries": dims["icp_fit"]["excluded_countries"],
        "icp_ideal_min": dims["icp_fit"]["ideal_min_score"],
        "icp_good_min": dims["icp_fit"]["good_min_score"],
        "icp_fair_min": dims["icp_fit"]["fair_min_score"],
        "potential_high_min": dims["potential_tier"]["high_min_value"],
        "potential_medium_min": dims["potential_tier"]["medium_min_value"],
        "hot_stages": dims["buying_readiness"]["hot_stages"],
        "hot_within_days": dims["buying_readiness"]["hot_within_days"],
        **{f"risk_w_{k}": x for k, x in risk["weights"].items()},
        "risk_days_late_factor": risk["internal_days_late_factor"],
        "risk_of_industry": risk["industry"],
        "risk_of_region": risk["region"],
        "potential_percentile": cfg["scores"]["potential"]["percentile"],
        "potential_min_peers": cfg["scores"]["potential"]["min_peers"],
        "payment_tolerance": credit["payment_tolerance"],
        "hold_min_disputes_12m": credit["credit_hold_min_disputes_12m"],
        "hold_above_days_overdue": credit["credit_hold_above_days_overdue"],
        **{k: x for k, x in credit.items() if k.startswith("pay_day_")},
        "bureau_stale_after_days": credit["bureau_stale_after_days"],
        "declared_segments": {name: d["segments"] for name, d in dims.items()},
    }
    wrong = []
    for name, want in expected.items():
        got = v[name]
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            ok = got is not None and abs(number(got) - number(want)) < 1e-12
        elif isinstance(want, dict):
            ok = dict(got) == want and list(dict(got)) == list(want) if name == "declared_segments" else dict(got) == want
        else:
            ok = got == want
        if not ok:
            wrong.append(f"{name}: floor {got!r}, configuration {want!r}")
    # the word lists, tried in the configured order
    keywords = dims["industry_vertical"]["industry_keywords"]
    order = [k["vertical"] for k in keywords]
    if order != ["manufacturing", "financial_services", "healthcare", "technology"]:
        wrong.append(f"industry_keywords order {order}")
    wrong += [f"words_{k['vertical']}" for k in keywords if v.get(f"words_{k['vertical']}") != k["words"]]
    # the icp criteria
    floor_criteria = [
        ("industry_vertical", v["icp_verticals"], v["icp_vertical_points"]),
        ("size_tier", v["icp_sizes"], v["icp_size_points"]),
        ("region", v["icp_regions"], v["icp_region_points"]),
        ("sales_channel_group", v["icp_channels"], v["icp_channel_points"]),
        ("payment_behaviour", v["icp_behaviours"], v["icp_behaviour_points"]),
    ]
    criteria = [(c["dimension"], c["values"], c["points"]) for c in cfg["scores"]["icp"]["criteria"]]
    if floor_criteria != criteria:
        wrong.append(f"icp criteria: floor {floor_criteria}, configuration {criteria}")
    assert not wrong, "floor.sql defaults differ from pipeline/config/segmentation.yml:\n" + "\n".join(wrong)
    # the hard-coded country list is pycountry's (the runner passes pycountry's anyway)
    assert set(v["iso_countries"]) == {c.alpha_2 for c in pycountry.countries}


def test_floor_runs_in_a_fresh_database(tmp_path):
    """An existing file is replaced; only the output table is left behind; threads are honoured."""
    from pipeline.demo_data import generate_demo_data

    landing = tmp_path / "landing"
    generate_demo_data(landing, accounts=50, seed=7, as_of=AS_OF)
    db = tmp_path / "floor.duckdb"
    db.write_bytes(b"not a database")
    result = run_floor(landing, AS_OF, db, threads=1)
    conn = duckdb.connect(str(db), read_only=True)
    try:
        tables = conn.execute("select table_name from information_schema.tables").fetchall()
    finally:
        conn.close()
    assert tables == [(FLOOR_TABLE,)]
    assert result.rows > 0
