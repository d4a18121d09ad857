"""Write-audit-publish: the publish gate's blocking checks on the built accounts
table, then the atomic publication into the analysts' warehouse.

A blocking check stops downstream steps only inside its own run, so the publish step
also refuses, by itself, any build whose run has no passing audit row (see
pipeline.publish.assert_audited)."""


import json
from functools import cache
from typing import Any

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from pipeline.config import ruleset_version
from pipeline.dbt_project import segmentation_dbt_project
from pipeline.defs.resources import RunSettings
from pipeline.defs.transform import segmentation_dbt_models
from pipeline.publish import (
    CheckOutcome,
    last_published_row_count,
    publish,
    quarantine_share_check,
    record_audit,
    row_count_drop_check,
)
from pipeline.work_db import connect_work_db

ACCOUNTS_MODEL = "segmented_accounts"
QUARANTINE_MODEL = "quarantine"
PUBLISHED_MODELS = (ACCOUNTS_MODEL, QUARANTINE_MODEL, "account_product_lines", "collections_worklist")

SUITE_CHECK = "segmented_accounts_suite"
QUARANTINE_SHARE_CHECK = "quarantine_share"
ROW_COUNT_DROP_CHECK = "row_count_drop"
TO_BE_DEFINED_CHECK = "to_be_defined_share"
OVERRIDES_CHECK = "overrides_valid"


def model_key(model: str) -> dg.AssetKey:
    return get_asset_key_for_model([segmentation_dbt_models], model)


@cache
def _manifest_nodes() -> dict[str, Any]:
    manifest = json.loads(segmentation_dbt_project.manifest_path.read_text(encoding="utf-8"))
    return {node["name"]: node for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def model_relation(model: str) -> str:
    """`schema.table` of a model in the working database, as dbt configured it."""
    node = _manifest_nodes()[model]
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def mandatory_columns(model: str) -> list[str]:
    """The columns the model's YAML marks `meta.mandatory` (single source of truth)."""
    columns = _manifest_nodes()[model]["columns"]
    return [name for name, column in columns.items() if (column.get("meta") or {}).get("mandatory")]


def published_dimensions(config) -> dict[str, list[str]]:
    """The configuration's segment dimensions that the published contract has, with
    their declared segments."""
    columns = _manifest_nodes()[ACCOUNTS_MODEL]["columns"]
    return {name: segments for name, segments in config.declared_segments().items() if name in columns}


def _quarantine_share(run_settings: RunSettings, max_share: float) -> CheckOutcome:
    accounts = model_relation("int_crm__accounts_validated")
    with connect_work_db(run_settings.paths().work_db, read_only=True) as conn:
        quarantined, total = conn.execute(
            f"""select count(distinct account_id) filter (where quarantine_reason is not null),
                       count(distinct account_id)
                from {accounts}"""
        ).fetchone()
        examples = conn.execute(
            f"""select account_id, quarantine_reason from {accounts}
                where quarantine_reason is not null and account_id is not null
                order by account_id limit 5"""
        ).fetchall()
    return quarantine_share_check(
        quarantined, total, max_share, examples=[{"account_id": a, "reason": r} for a, r in examples]
    )


def _to_be_defined_share(run_settings: RunSettings) -> CheckOutcome:
    """Warning of the rules document: a dimension with more than the configured share
    of to_be_defined is worth a look (the data may need fixing at the source)."""
    config = run_settings.config()
    limit = config.gate.to_be_defined_warning_share
    dimensions = list(published_dimensions(config))
    shares = ", ".join(f"avg(({name} = 'to_be_defined')::int) as {name}" for name in dimensions)
    with connect_work_db(run_settings.paths().work_db, read_only=True) as conn:
        row = conn.execute(f"select {shares} from {model_relation(ACCOUNTS_MODEL)}").fetchone()
    over = {name: round(share, 4) for name, share in zip(dimensions, row) if share is not None and share > limit}
    if not over:
        return CheckOutcome(TO_BE_DEFINED_CHECK, True, f"no dimension has more than {limit:.0%} to_be_defined")
    listed = ", ".join(f"{name} {share:.1%}" for name, share in over.items())
    return CheckOutcome(
        TO_BE_DEFINED_CHECK, False, f"to_be_defined above {limit:.0%}: {listed}", examples=[over]
    )


def _invalid_overrides(run_settings: RunSettings) -> CheckOutcome:
    """Invalid override rows are not applied, and are reported (rules document)."""
    with connect_work_db(run_settings.paths().work_db, read_only=True) as conn:
        rows = conn.execute(
            f"""select _row_number, account_id, dimension, segment, status
                from {model_relation('int_overrides__evaluated')}
                where status like 'invalid%' order by _row_number"""
        ).fetchall()
        applied = conn.execute(
            f"select count(*) from {model_relation('int_overrides__evaluated')} where status = 'applied'"
        ).fetchone()[0]
    if not rows:
        return CheckOutcome(OVERRIDES_CHECK, True, f"{applied} override(s) applied, none invalid")
    examples = [
        {"row": row, "account_id": account, "dimension": dimension, "segment": segment, "status": status}
        for row, account, dimension, segment, status in rows[:10]
    ]
    listed = "; ".join(f"row {e['row']} ({e['account_id']}, {e['dimension']}): {e['status']}" for e in examples)
    return CheckOutcome(
        OVERRIDES_CHECK, False, f"{len(rows)} invalid override row(s) not applied ({applied} applied): {listed}",
        examples=examples,
    )


def _published_rows(run_settings: RunSettings) -> int:
    with connect_work_db(run_settings.paths().work_db, read_only=True) as conn:
        return conn.execute(f"select count(*) from {model_relation(ACCOUNTS_MODEL)}").fetchone()[0]


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            SUITE_CHECK, asset=model_key(ACCOUNTS_MODEL), blocking=True,
            description="great-expectations: mandatory columns non-null, dimensions hold declared segments or to_be_defined, account_id unique.",
        ),
        dg.AssetCheckSpec(
            QUARANTINE_SHARE_CHECK, asset=model_key(ACCOUNTS_MODEL), blocking=True,
            description="Quarantined account_ids are at most gate.max_quarantined_account_share of the snapshot's account_ids.",
        ),
        dg.AssetCheckSpec(
            ROW_COUNT_DROP_CHECK, asset=model_key(ACCOUNTS_MODEL), blocking=True,
            description="The published row count fell at most gate.max_row_count_drop against the last publication (--allow-row-drop lifts it for one run).",
        ),
        dg.AssetCheckSpec(
            OVERRIDES_CHECK, asset=model_key(ACCOUNTS_MODEL), blocking=False,
            description="Warning: override rows that are invalid (not applied), with the reason.",
        ),
        dg.AssetCheckSpec(
            TO_BE_DEFINED_CHECK, asset=model_key(ACCOUNTS_MODEL), blocking=False,
            description="Warning: a dimension whose to_be_defined share exceeds gate.to_be_defined_warning_share.",
        ),
    ],
    name="publish_gate",
)
def publish_gate(context: dg.AssetCheckExecutionContext, run_settings: RunSettings):
    """Run the gate's checks, record the verdict for this run in the working database
    (the publish step reads it back), and report each check."""
    from data_checks import validate_segmented_accounts

    config = run_settings.config()
    paths = run_settings.paths()
    schema, table = model_relation(ACCOUNTS_MODEL).split(".")
    suite = validate_segmented_accounts(
        paths.work_db, schema, table,
        mandatory_columns=mandatory_columns(ACCOUNTS_MODEL),
        declared_segments=published_dimensions(config),
    )
    suite_outcome = CheckOutcome(
        SUITE_CHECK, suite.success, suite.summary(),
        examples=[e.to_dict() for e in suite.failures],
    )
    outcomes = [
        suite_outcome,
        _quarantine_share(run_settings, config.gate.max_quarantined_account_share),
        row_count_drop_check(
            _published_rows(run_settings), last_published_row_count(paths.warehouse),
            config.gate.max_row_count_drop, allowed=run_settings.allow_row_drop,
        ),
    ]
    passed = all(outcome.passed for outcome in outcomes)
    record_audit(paths.work_db, context.run.run_id, passed, outcomes)
    warnings = [_to_be_defined_share(run_settings), _invalid_overrides(run_settings)]
    for outcome in outcomes:
        if not outcome.passed:
            context.log.error(f"publish gate: {outcome.name} failed: {outcome.message}")
    for outcome in warnings:
        if not outcome.passed:
            context.log.warning(f"warning: {outcome.message}")
    for outcome in outcomes + warnings:
        yield dg.AssetCheckResult(
            check_name=outcome.name,
            asset_key=model_key(ACCOUNTS_MODEL),
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.ERROR if outcome in outcomes else dg.AssetCheckSeverity.WARN,
            description=outcome.message,
            metadata={"examples": dg.MetadataValue.json(outcome.to_dict()["examples"])},
        )


@dg.multi_asset(
    outs={
        model: dg.AssetOut(
            key=dg.AssetKey(["analytics", model]),
            description=f"analytics.{model} in the analysts' warehouse file, published atomically.",
            kinds={"duckdb"},
            group_name="published",
        )
        for model in PUBLISHED_MODELS
    },
    deps=[model_key(model) for model in PUBLISHED_MODELS],
    name="publish_warehouse",
)
def publish_warehouse(context: dg.AssetExecutionContext, run_settings: RunSettings):
    """Copy the audited tables into a new warehouse file and swap it in atomically.
    Refuses (and leaves the previous publication as it is) unless this run's gate passed."""
    paths = run_settings.paths()
    config = run_settings.config()
    with connect_work_db(paths.work_db, read_only=True) as conn:
        input_files = [
            {"entity": entity, **json.loads(files)}
            for entity, files in conn.execute(
                "select entity, file from audit.loaded_files where run_id = ? order by entity, file",
                [context.run.run_id],
            ).fetchall()
        ]
        results = conn.execute(
            "select results from audit.gate_results where run_id = ? order by audit_seq desc limit 1",
            [context.run.run_id],
        ).fetchone()
    publish(
        paths.work_db,
        paths.warehouse,
        tables={model: model_relation(model) for model in PUBLISHED_MODELS},
        publication={
            "run_id": context.run.run_id,
            "as_of_date": run_settings.as_of_date(),
            "ruleset_version": ruleset_version(config),
            "input_files": input_files,
            "check_results": json.loads(results[0]) if results else [],
        },
    )
    with connect_work_db(paths.work_db, read_only=True) as conn:
        counts = {
            model: conn.execute(f"select count(*) from {model_relation(model)}").fetchone()[0]
            for model in PUBLISHED_MODELS
        }
    context.log.info(
        f"published {counts[ACCOUNTS_MODEL]} accounts and {counts[QUARANTINE_MODEL]} quarantined rows to {paths.warehouse}"
    )
    for model in PUBLISHED_MODELS:
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(["analytics", model]),
            metadata={
                "dagster/row_count": counts[model],
                "warehouse": dg.MetadataValue.path(str(paths.warehouse)),
                "as_of_date": run_settings.as_of_date().isoformat(),
            },
        )
