"""Real nightly runs of the Dagster job on demo data: publication, conservation, a
reader in another process, and a blocked run that leaves the publication alone."""

import json
import subprocess
import sys
from datetime import date

import dagster as dg
import duckdb
import pytest

from pipeline.config import load_config
from pipeline.defs.jobs import NIGHTLY_JOB_NAME, run_config_for
from pipeline.defs.publication import PUBLISHED_MODELS, model_relation
from pipeline.demo_data import generate_demo_data
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths

AS_OF = date(2026, 11, 22)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """One demo landing folder and one successful run on it."""
    root = tmp_path_factory.mktemp("nightly")
    landing = root / "landing"
    generate_demo_data(landing, accounts=400, seed=7, as_of=AS_OF)
    paths = RunPaths.resolve(landing, root / "warehouse" / "segments.duckdb")
    outcome = run_nightly_job(paths, AS_OF)
    assert outcome.published, outcome.summary()
    return paths, outcome


def _query(path, sql, params=()):
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql, list(params)).fetchall()
    finally:
        conn.close()


def test_run_publishes_accounts_and_quarantine(published):
    paths, outcome = published
    rows = _query(paths.warehouse, "select count(*), count(distinct account_id), min(as_of_date), max(as_of_date), "
                                   "count(distinct run_id) from analytics.segmented_accounts")[0]
    assert rows[0] == outcome.published_rows > 0
    assert rows[1] == rows[0]
    assert rows[2] == rows[3] == AS_OF
    assert rows[4] == 1
    reasons = dict(_query(paths.warehouse, "select reason_code, count(*) from analytics.quarantine group by 1"))
    assert reasons and sum(reasons.values()) == sum(outcome.quarantined.values())
    publication = _query(paths.warehouse, "select run_id, as_of_date, ruleset_version, rows_published, input_files "
                                          "from analytics.publications")
    assert len(publication) == 1
    run_id, as_of, version, rows_published, input_files = publication[0]
    assert (run_id, as_of, rows_published) == (outcome.run_id, AS_OF, outcome.published_rows)
    assert len(version) == 12
    files = json.loads(input_files)
    assert {f["entity"] for f in files} >= {"crm__accounts", "finance__invoices", "bureau__company_scores"}
    assert all(len(f["sha256"]) == 64 for f in files)


def test_every_dimension_has_a_reason_and_a_declared_value(published):
    paths, _ = published
    declared = load_config().declared_segments()
    for dimension, segments in declared.items():
        values = {v for (v,) in _query(paths.warehouse, f"select distinct {dimension} from analytics.segmented_accounts")}
        assert values <= set(segments) | {"to_be_defined"}, dimension
    for (reasons,) in _query(paths.warehouse, "select segment_reasons from analytics.segmented_accounts"):
        parsed = json.loads(reasons)
        explained = [*declared, "primary_product_line", "early_payment_discount", "credit_hold"]
        assert set(explained) <= set(parsed) and all(parsed[d] for d in explained)


def test_conservation_per_entity_and_for_accounts(published):
    paths, _ = published
    ledger = _query(paths.work_db, f"select entity, sum(row_count), max(merged_rows) "
                                   f"from {model_relation('input_row_outcomes')} group by entity")
    assert {entity for entity, *_ in ledger} >= {"accounts", "invoices", "invoice_lines", "payments", "fx_rates"}
    for entity, accounted, merged in ledger:
        assert accounted == merged, entity
    snapshot_rows = _query(paths.work_db, f"select count(*) from {model_relation('stg_crm__accounts')}")[0][0]
    published_rows = _query(paths.warehouse, "select count(*) from analytics.segmented_accounts")[0][0]
    closed = _query(paths.work_db, f"select coalesce(sum(row_count), 0) from {model_relation('input_row_outcomes')} "
                                   "where entity = 'accounts' and reason = 'closed_account'")[0][0]
    quarantined = _query(paths.warehouse, "select count(*) from analytics.quarantine where entity = 'accounts'")[0][0]
    assert snapshot_rows == published_rows + closed + quarantined


def test_a_separate_process_reads_the_warehouse_read_only(published):
    paths, outcome = published
    script = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(c.execute('select count(*) from analytics.segmented_accounts').fetchone()[0])"
    )
    result = subprocess.run([sys.executable, "-c", script, str(paths.warehouse)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == outcome.published_rows


def test_blocked_run_leaves_the_previous_publication_untouched(published):
    """A mandatory field nulled upstream of the mart: the gate's suite fails, the run
    exits unsuccessful naming the check and an example, nothing is published."""
    paths, outcome = published
    before = _query(paths.warehouse, "select run_id, rows_published from analytics.publications")
    victim = _query(paths.warehouse, "select min(account_id) from analytics.segmented_accounts")[0][0]
    conn = duckdb.connect(str(paths.work_db))
    try:
        conn.execute(f"update {model_relation('int_accounts__enriched')} set account_name = null where account_id = ?",
                     [victim])
    finally:
        conn.close()

    from pipeline.definitions import defs

    job = defs.resolve_job_def(NIGHTLY_JOB_NAME)
    result = job.execute_in_process(
        run_config=run_config_for(AS_OF.isoformat(), landing_dir=str(paths.landing_dir), warehouse=str(paths.warehouse)),
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[
            dg.AssetKey(["marts", "segmented_accounts"]),
            *(dg.AssetKey(["analytics", model]) for model in PUBLISHED_MODELS),
        ],
        raise_on_error=False,
    )
    assert not result.success
    failed = [
        e.event_specific_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    suite = [f for f in failed if f.check_name == "segmented_accounts_suite"]
    assert suite and "account_name" in suite[0].description and victim in suite[0].description
    assert not any(
        e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path[0] == "analytics" for e in result.all_events
    )
    assert _query(paths.warehouse, "select run_id, rows_published from analytics.publications") == before
    assert _query(paths.warehouse, "select account_name from analytics.segmented_accounts where account_id = ?",
                  [victim])[0][0] is not None


def test_a_threshold_changed_in_configuration_moves_segments(published, tmp_path):
    """A business user raises value_tier's high threshold in a candidate file: the next
    run (same landing folder, no SQL edited) publishes fewer high-value accounts."""
    paths, _ = published
    before = dict(_query(paths.warehouse, "select value_tier, count(*) from analytics.segmented_accounts group by 1"))
    revenue = sorted(r for (r,) in _query(paths.warehouse, "select revenue_12m from analytics.segmented_accounts "
                                                           "where value_tier = 'high'"))
    assert len(revenue) >= 2
    threshold = float(revenue[len(revenue) // 2])  # half of today's high accounts fall below it
    candidate = tmp_path / "candidate.yml"
    candidate.write_text(f"dimensions:\n  value_tier:\n    high_min_revenue: {threshold}\n")
    other = RunPaths.resolve(paths.landing_dir, tmp_path / "warehouse.duckdb", config_file=candidate)
    outcome = run_nightly_job(other, AS_OF)
    assert outcome.published, outcome.summary()
    after = dict(_query(other.warehouse, "select value_tier, count(*) from analytics.segmented_accounts group by 1"))
    moved = before["high"] - after["high"]
    assert moved == len([r for r in revenue if float(r) < threshold]) > 0
    assert after["medium"] == before["medium"] + moved
    versions = {v for (v,) in _query(paths.warehouse, "select distinct ruleset_version from analytics.segmented_accounts")}
    assert versions.isdisjoint(v for (v,) in _query(other.warehouse, "select distinct ruleset_version from analytics.segmented_accounts"))


def test_contact_personal_data_never_reaches_a_published_table(published):
    paths, _ = published
    contacts = paths.landing_dir / "crm" / "contacts"
    newest = sorted(contacts.glob("*.csv"))[-1]
    conn = duckdb.connect()
    try:
        emails = {e for (e,) in conn.execute("select email from read_csv(?, all_varchar=true) where email is not null",
                                             [str(newest)]).fetchall()}
    finally:
        conn.close()
    assert emails
    tables = _query(paths.warehouse, "select table_schema, table_name from information_schema.tables")
    for schema, table in tables:
        columns = [c for (c,) in _query(paths.warehouse, "select column_name from information_schema.columns "
                                                         "where table_schema = ? and table_name = ?", [schema, table])]
        assert not {"email", "full_name"} & set(columns), f"{schema}.{table}"
        text_columns = [c for (c, t) in _query(paths.warehouse, "select column_name, data_type from information_schema.columns "
                                                                "where table_schema = ? and table_name = ?", [schema, table])
                        if t == "VARCHAR"]
        for column in text_columns:
            hits = _query(paths.warehouse, f'select count(*) from "{schema}"."{table}" where "{column}" in '
                                           f'(select unnest(?::varchar[]))', [sorted(emails)])[0][0]
            assert hits == 0, f"{schema}.{table}.{column} holds contact emails"


def test_the_run_parameters_live_in_the_working_database_not_in_dbt_vars(published):
    """dbt's vars stay the same from night to night (only the configuration), so its
    partial-parsing cache in the warehouse's own target folder is reused."""
    paths, outcome = published
    # (other tests of this module build again in the same working database)
    (as_of, run_id), = _query(paths.work_db, "select as_of_date, run_id from raw.run_context")
    built_by = _query(paths.work_db, f"select distinct run_id from {model_relation('segmented_accounts')}")
    assert as_of == AS_OF and built_by == [(run_id,)]
    assert set(load_config().dbt_vars()) == {"segmentation"}
    assert (paths.work_dir / "dbt-target" / "partial_parse.msgpack").is_file()
