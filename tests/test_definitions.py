"""The code location loads cleanly and shows one lineage from each extract to the
published tables, with the gate's checks and the nightly schedule."""

import importlib
import sys
import warnings

import dagster as dg

from pipeline.config import load_entity_specs

PUBLISHED = dg.AssetKey(["analytics", "segmented_accounts"])


def _load_definitions():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sys.modules.pop("pipeline.definitions", None)
        module = importlib.import_module("pipeline.definitions")
    ours = [w for w in caught if "/pipeline/" in str(w.filename) or "/data_checks/" in str(w.filename)]
    return module.defs, ours


def test_definitions_load_without_warnings_of_ours():
    defs, ours = _load_definitions()
    assert not ours, [f"{w.filename}:{w.lineno}: {w.message}" for w in ours]
    defs.resolve_job_def("nightly_segmentation")


def test_every_extract_entity_feeds_the_published_table():
    defs, _ = _load_definitions()
    graph = defs.resolve_asset_graph()
    upstream = graph.asset_dep_graph["upstream"]

    def ancestors(key):
        seen, todo = set(), [key]
        while todo:
            for parent in upstream.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        return seen

    lineage = ancestors(PUBLISHED)
    for spec in load_entity_specs():
        if spec.source == "manual":
            continue  # overrides feed the mart once they are applied (issue 3)
        key = dg.AssetKey([spec.source, spec.entity])
        assert graph.has(key), f"no ingestion asset for {spec.source}/{spec.entity}"
        assert key in lineage, f"{key.to_user_string()} does not reach {PUBLISHED.to_user_string()}"


def test_publish_gate_checks_are_blocking_and_dbt_tests_are_checks():
    defs, _ = _load_definitions()
    graph = defs.resolve_asset_graph()
    check_keys = graph.asset_check_keys
    names = {key.name for key in check_keys}
    assert {"segmented_accounts_suite", "quarantine_share", "row_count_drop"} <= names
    assert any(name.startswith("unique_segmented_accounts_account_id") for name in names)
    gate = [key for key in check_keys if key.name == "segmented_accounts_suite"][0]
    assert graph.get_check_spec(gate).blocking


def test_nightly_schedule_targets_the_job():
    defs, _ = _load_definitions()
    schedule = defs.resolve_schedule_def("nightly_segmentation_schedule")
    assert schedule.job_name == "nightly_segmentation"
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
