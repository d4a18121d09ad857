"""Segment history across real nightly runs: type-2 semantics that answer "what was
this account's segment on day X", changes since the previous publication, KPIs that
add up, owner capacity, and a backfill that rebuilds the history from its date on."""

from datetime import date

import duckdb
import pytest

from pipeline.config import load_config
from pipeline.defs.publication import SHARE_MOVE_CHECK
from pipeline.demo_data import generate_demo_data
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths

# Three days apart (the demo keeps a week of snapshots), so that accounts move between runs.
D1, D2, D3 = date(2026, 11, 16), date(2026, 11, 19), date(2026, 11, 22)
ATTRIBUTES = ["primary_product_line", "early_payment_discount", "credit_hold"]
TRACKED = list(load_config().declared_segments()) + ATTRIBUTES


def _query(path, sql, params=()):
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql, list(params)).fetchall()
    finally:
        conn.close()


def _published_segments(paths) -> set[tuple]:
    """(account_id, dimension, value) of the current publication, booleans as text."""
    columns = ", ".join(f"cast({name} as varchar) as {name}" for name in TRACKED)
    rows = _query(paths.warehouse, f"select account_id, {columns} from analytics.segmented_accounts")
    return {(row[0], name, value) for row in rows for name, value in zip(TRACKED, row[1:])}


def _segments_on(paths, day: date) -> set[tuple]:
    """The analysts' question "what was it on day X", asked of the published history."""
    return set(_query(
        paths.warehouse,
        """select account_id, dimension, segment_value from analytics.segment_history
           where valid_from <= ? and (valid_to is null or valid_to > ?)""",
        [day, day],
    ))


def _history(paths) -> list[tuple]:
    return _query(
        paths.warehouse,
        """select account_id, dimension, segment_value, reason, is_override, change_cause, ruleset_version,
                  valid_from, valid_to
           from analytics.segment_history order by all""",
    )


def _run(paths, as_of, config_file=None):
    if config_file is not None:
        paths = RunPaths.resolve(paths.landing_dir, paths.warehouse, config_file)
    outcome = run_nightly_job(paths, as_of)
    assert outcome.published, outcome.summary()
    return outcome


@pytest.fixture(scope="module")
def three_nights(tmp_path_factory):
    """Three weekly publications in order, with each night's published segments kept."""
    root = tmp_path_factory.mktemp("history")
    landing = root / "landing"
    generate_demo_data(landing, accounts=250, seed=11, as_of=D3)
    paths = RunPaths.resolve(landing, root / "warehouse" / "segments.duckdb")
    snapshots = {}
    for day in (D1, D2, D3):
        _run(paths, day)
        snapshots[day] = _published_segments(paths)
    return paths, snapshots


def test_history_answers_what_each_account_was_on_each_published_date(three_nights):
    paths, snapshots = three_nights
    for day, published in snapshots.items():
        assert _segments_on(paths, day) == published, day
    # Real movement, not three identical nights.
    assert snapshots[D1] != snapshots[D3]
    causes = dict(_query(paths.warehouse, "select change_cause, count(*) from analytics.segment_history group by all"))
    assert causes.get("initial", 0) == len(snapshots[D1])
    assert causes.get("data", 0) > 0


def test_segment_changes_lists_what_moved_since_the_previous_publication(three_nights):
    paths, snapshots = three_nights
    changes = _query(
        paths.warehouse,
        "select previous_as_of_date, account_id, dimension, from_segment, to_segment from analytics.segment_changes",
    )
    assert changes, "three weeks of demo data move some accounts"
    assert {row[0] for row in changes} == {D2}
    before = {(a, d): v for a, d, v in snapshots[D2]}
    after = {(a, d): v for a, d, v in snapshots[D3]}
    expected = {
        (account, dimension, before.get((account, dimension)), after.get((account, dimension)))
        for account, dimension in before.keys() | after.keys()
        if before.get((account, dimension)) != after.get((account, dimension))
    }
    assert {row[1:] for row in changes} == expected


def test_kpis_add_up_for_every_dimension(three_nights):
    paths, _ = three_nights
    published, revenue = _query(paths.warehouse, "select count(*), sum(revenue_12m) from analytics.segmented_accounts")[0]
    per_dimension = _query(
        paths.warehouse,
        """select dimension, sum(accounts), sum(share_of_revenue), sum(revenue), sum(share_of_accounts),
                  count(*) filter (where previous_accounts is null)
           from analytics.segment_kpis group by dimension""",
    )
    assert sorted(row[0] for row in per_dimension) == sorted(TRACKED)
    for dimension, accounts, share_of_revenue, segment_revenue, share_of_accounts, no_previous in per_dimension:
        assert accounts == published, dimension
        assert segment_revenue == revenue, dimension
        assert share_of_revenue == pytest.approx(1.0, abs=1e-9), dimension
        assert share_of_accounts == pytest.approx(1.0, abs=1e-9), dimension
        assert no_previous == 0, "the third night has a previous publication"
    # Every declared segment has a row, empty ones included.
    declared = {(d, s) for d, segments in load_config().declared_segments().items() for s in segments}
    rows = set(_query(paths.warehouse, "select dimension, segment from analytics.segment_kpis"))
    assert declared <= rows


def test_kpi_figures_match_the_published_accounts(three_nights):
    paths, _ = three_nights
    kpis = {
        row[0]: row[1:]
        for row in _query(
            paths.warehouse,
            """select segment, accounts, revenue, revenue_per_account, avg_days_late, share_to_be_defined
               from analytics.segment_kpis where dimension = 'value_tier'""",
        )
    }
    expected = _query(
        paths.warehouse,
        """select value_tier, count(*), sum(revenue_12m), cast(round(sum(revenue_12m) / count(*), 2) as decimal(18, 2)),
                  cast(round(avg(avg_days_late), 2) as decimal(10, 2)),
                  (select avg((value_tier = 'to_be_defined')::int) from analytics.segmented_accounts)
           from analytics.segmented_accounts group by value_tier""",
    )
    for segment, accounts, revenue, per_account, days_late, tbd in expected:
        assert kpis[segment][:4] == (accounts, revenue, per_account, days_late), segment
        assert kpis[segment][4] == pytest.approx(tbd)
    pareto_a = _query(
        paths.warehouse,
        "select share_of_revenue from analytics.segment_kpis where dimension = 'pareto_class' and segment = 'A'",
    )[0][0]
    top = _query(
        paths.warehouse,
        """select sum(revenue_12m) filter (where pareto_class = 'A') / sum(revenue_12m)
           from analytics.segmented_accounts""",
    )[0][0]
    assert pareto_a == pytest.approx(float(top))


def test_owner_portfolios_count_each_owner_against_capacity(three_nights):
    paths, _ = three_nights
    capacity = load_config().capacity.default
    rows = _query(
        paths.warehouse,
        """select owner_id, accounts, key_accounts, max_accounts, max_key_accounts, is_overloaded, overload_reason
           from analytics.owner_portfolios""",
    )
    expected = dict(((o, (n, k)) for o, n, k in _query(
        paths.warehouse,
        "select owner_id, count(*), count(*) filter (where lifecycle_stage = 'key') "
        "from analytics.segmented_accounts group by owner_id",
    )))
    assert {row[0]: (row[1], row[2]) for row in rows} == expected
    for owner, accounts, key_accounts, max_accounts, max_key, overloaded, reason in rows:
        if owner is None:
            assert (max_accounts, overloaded) == (None, False)
            continue
        assert (max_accounts, max_key) == (capacity.max_accounts, capacity.max_key_accounts)
        assert overloaded == (accounts > max_accounts or key_accounts > max_key)
        assert (reason is not None) == overloaded


def test_backfill_of_an_older_date_rebuilds_the_history_from_that_date(three_nights, tmp_path):
    paths, snapshots = three_nights
    in_order = _history(paths)
    # Rerunning D2 drops what D3 added: the history is that of D1, D2.
    _run(paths, D2)
    latest_start, latest_end = _query(paths.warehouse, "select max(valid_from), max(valid_to) from analytics.segment_history")[0]
    assert latest_start == D2 and latest_end <= D2
    assert _segments_on(paths, D2) == snapshots[D2]
    assert not _query(paths.warehouse, "select * from analytics.segment_changes where previous_as_of_date <> ?", [D1])
    # Running D3 again gives exactly the history of running the dates in order; a
    # gate threshold is not a rule (no ruleset change), and lowered to nothing it
    # flags every segment whose share moved at all.
    config = tmp_path / "sensitive.yml"
    config.write_text("gate:\n  segment_share_move_warning: 0.0\n", encoding="utf-8")
    outcome = _run(paths, D3, config_file=config)
    assert _history(paths) == in_order
    warnings = {name.rsplit(":", 1)[-1]: text for name, text in outcome.report.warning_checks}
    assert "since the previous publication" in warnings[SHARE_MOVE_CHECK]


def test_dbt_docs_document_the_published_models_and_their_columns(three_nights):
    import json

    from pipeline.docs import generate_docs

    paths, _ = three_nights
    page = generate_docs(paths, load_config(), D3)
    catalog = json.loads(page.with_name("catalog.json").read_text(encoding="utf-8"))
    manifest = json.loads(page.with_name("manifest.json").read_text(encoding="utf-8"))
    columns = {
        node["metadata"]["name"]: set(node["columns"]) for node in catalog["nodes"].values()
    }
    assert {"account_id", "dimension", "valid_from", "valid_to", "change_cause"} <= columns["segment_history"]
    assert set(TRACKED) <= columns["segmented_accounts"]
    described = {node["name"]: node["description"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}
    assert "Type-2 history" in described["segment_history"]
    assert "segment_kpis" in page.read_text(encoding="utf-8")


def test_backfill_command_runs_each_date_oldest_first(tmp_path, capsys):
    from pipeline.cli import main

    landing = tmp_path / "landing"
    generate_demo_data(landing, accounts=120, seed=5, as_of=D3)
    warehouse = tmp_path / "warehouse" / "segments.duckdb"
    first = date(2026, 11, 21)
    code = main(["backfill", "--from", first.isoformat(), "--to", D3.isoformat(),
                 "--landing", str(landing), "--warehouse", str(warehouse)])
    assert code == 0, capsys.readouterr()
    publications = _query(warehouse, "select as_of_date from analytics.publications order by published_at")
    assert [row[0] for row in publications] == [first, D3]
    starts = {row[0] for row in _query(warehouse, "select distinct valid_from from analytics.segment_history")}
    assert first in starts and starts <= {first, D3}
    assert main(["backfill", "--from", D3.isoformat(), "--to", first.isoformat(),
                 "--landing", str(landing), "--warehouse", str(warehouse)]) == 2
