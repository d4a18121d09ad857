"""Write-audit-publish: the publish gate's blocking checks on the built accounts
table, then the atomic publication into the analysts' warehouse.

A blocking check stops downstream steps only inside its own run, so the publish step
also refuses, by itself, any build whose run has no passing audit row (see
pipeline.publish.assert_audited)."""


import contextlib
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import get_asset_key_for_model

from pipeline.config import ruleset_version
from pipeline.dbt_project import manifest
from pipeline.defs.resources import RunSettings
from pipeline.defs.transform import segmentation_dbt_models
from pipeline.publish import (
    CheckOutcome,
    assert_audited,
    last_published_row_count,
    publish,
    quarantine_share_check,
    record_audit,
    row_count_drop_check,
)
from pipeline.work_db import connect_work_db

ACCOUNTS_MODEL = "segmented_accounts"
QUARANTINE_MODEL = "quarantine"
KPIS_MODEL = "segment_kpis"
PUBLISHED_MODELS = (
    ACCOUNTS_MODEL, QUARANTINE_MODEL, "account_product_lines", "collections_worklist",
    "segment_history", "segment_changes", KPIS_MODEL, "owner_portfolios",
)

SUITE_CHECK = "segmented_accounts_suite"
QUARANTINE_SHARE_CHECK = "quarantine_share"
ROW_COUNT_DROP_CHECK = "row_count_drop"
TO_BE_DEFINED_CHECK = "to_be_defined_share"
SHARE_MOVE_CHECK = "segment_share_moves"
OVERRIDES_CHECK = "overrides_valid"


def model_key(model: str) -> dg.AssetKey:
    return get_asset_key_for_model([segmentation_dbt_models], model)


@cache
def _manifest_nodes() -> dict[str, Any]:
    return {node["name"]: node for node in manifest()["nodes"].values() if node["resource_type"] == "model"}


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


def _segment_share_moves(run_settings: RunSettings) -> CheckOutcome:
    """Warning of issue 6: a segment whose share of accounts moved by more than the
    configured points in one night: either the business changed or the data broke."""
    limit = run_settings.config().gate.segment_share_move_warning
    with connect_work_db(run_settings.paths().work_db, read_only=True) as conn:
        rows = conn.execute(
            f"""select dimension, segment, previous_share_of_accounts, share_of_accounts, share_of_accounts_change
                from {model_relation(KPIS_MODEL)}
                where abs(share_of_accounts_change) > ?
                order by abs(share_of_accounts_change) desc, dimension, segment""",
            [limit],
        ).fetchall()
    if not rows:
        return CheckOutcome(
            SHARE_MOVE_CHECK, True, f"no segment's share of accounts moved by more than {limit * 100:g} points"
        )
    examples = [
        {"dimension": d, "segment": s, "previous_share": before, "share": now, "change_points": round(change * 100, 2)}
        for d, s, before, now, change in rows
    ]
    listed = ", ".join(
        f"{e['dimension']}={e['segment']} {e['previous_share']:.1%} -> {e['share']:.1%}" for e in examples[:10]
    )
    return CheckOutcome(
        SHARE_MOVE_CHECK, False,
        f"{len(rows)} segment share(s) moved by more than {limit * 100:g} points since the previous "
        f"publication (the business changed or the data broke): {listed}",
        examples=examples[:20],
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
        dg.AssetCheckSpec(
            SHARE_MOVE_CHECK, asset=model_key(ACCOUNTS_MODEL), blocking=False,
            additional_deps=[model_key(KPIS_MODEL)],
            description="Warning: a segment whose share of accounts moved by more than "
            "gate.segment_share_move_warning since the previous publication.",
        ),
    ],
    name="publish_gate",
)
def publish_gate(context: dg.AssetCheckExecutionContext, run_settings: RunSettings):
    """Run the gate's checks, record the verdict for this run in the working database
    (the publish step reads it back), and report each check."""
    if run_settings.on_spark():
        yield from _publish_gate_on_spark(context, run_settings)
        return
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
    warnings = [
        _to_be_defined_share(run_settings), _invalid_overrides(run_settings), _segment_share_moves(run_settings)
    ]
    yield from _report_check_results(context, outcomes, warnings)


def _report_check_results(context, outcomes: list[CheckOutcome], warnings: list[CheckOutcome]):
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


SPARK_LEDGER_TABLE = "audit.spark_ledger"


def _publish_gate_on_spark(context: dg.AssetCheckExecutionContext, run_settings: RunSettings):
    """Target `spark`: stage the tables to publish as analytics_<run>.<table> in the Spark
    catalog and audit exactly those (pipeline/spark/publish.py); the verdict is recorded
    like DuckDB's, in the run's working file, which the publish step reads back."""
    from pipeline.spark import publish as spark_publish
    from pipeline.spark import worker
    from pipeline.spark.session import use_spark_home

    config = run_settings.config()
    paths = run_settings.paths()
    use_spark_home(paths.spark_home)
    result = worker.call(
        spark_publish.stage_and_audit,
        context.run.run_id,
        {model: model_relation(model) for model in PUBLISHED_MODELS},
        accounts=ACCOUNTS_MODEL,
        kpis=KPIS_MODEL,
        accounts_validated=model_relation("int_crm__accounts_validated"),
        overrides_evaluated=model_relation("int_overrides__evaluated"),
        input_row_outcomes=model_relation("input_row_outcomes"),
        mandatory_columns=mandatory_columns(ACCOUNTS_MODEL),
        declared_segments={name: list(segments) for name, segments in published_dimensions(config).items()},
        max_quarantined_account_share=config.gate.max_quarantined_account_share,
        max_row_count_drop=config.gate.max_row_count_drop,
        allow_row_drop=run_settings.allow_row_drop,
        to_be_defined_share=config.gate.to_be_defined_warning_share,
        share_move=config.gate.segment_share_move_warning,
    )
    outcomes = [CheckOutcome.from_dict(item) for item in result["outcomes"]]
    warnings = [CheckOutcome.from_dict(item) for item in result["warnings"]]
    passed = all(outcome.passed for outcome in outcomes)
    record_audit(paths.work_db, context.run.run_id, passed, outcomes)
    with connect_work_db(paths.work_db) as conn:  # what the command line's summary reports
        conn.execute("create schema if not exists audit")
        conn.execute(f"create table if not exists {SPARK_LEDGER_TABLE} "
                     "(run_id varchar, outcome varchar, reason varchar, row_count bigint)")
        conn.execute(f"delete from {SPARK_LEDGER_TABLE} where run_id = ?", [context.run.run_id])
        for outcome, reason, rows in result["ledger"]:
            conn.execute(f"insert into {SPARK_LEDGER_TABLE} values (?, ?, ?, ?)",
                         [context.run.run_id, outcome, reason, rows])
    context.log.info(f"publish gate on Spark: audited {result['rows']} accounts staged in {result['database']}")
    yield from _report_check_results(context, outcomes, warnings)


def _publish_on_spark(context: dg.AssetExecutionContext, run_settings: RunSettings, publication: dict[str, Any]):
    from pipeline.spark import publish as spark_publish
    from pipeline.spark import worker
    from pipeline.spark.session import use_spark_home

    paths = run_settings.paths()
    assert_audited(paths.work_db, context.run.run_id)  # refuses a run without a passing gate
    use_spark_home(paths.spark_home)
    try:
        counts = worker.call(spark_publish.publish, context.run.run_id, list(PUBLISHED_MODELS), publication)
    finally:
        worker.shutdown()  # the run's last use of Spark: release the metastore
    database = spark_publish.run_database(context.run.run_id)
    context.log.info(
        f"published {counts[ACCOUNTS_MODEL]} accounts and {counts[QUARANTINE_MODEL]} quarantined rows: "
        f"Spark views {spark_publish.PUBLISHED_DATABASE}.* now read {database}.* (Spark home {paths.spark_home})"
    )
    for model in PUBLISHED_MODELS:
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey(["analytics", model]),
            metadata={"dagster/row_count": counts[model], "target": "spark", "spark_table": f"{database}.{model}",
                      "as_of_date": run_settings.as_of_date().isoformat()},
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
    publication = {
        "run_id": context.run.run_id,
        "as_of_date": run_settings.as_of_date(),
        "ruleset_version": ruleset_version(config),
        "input_files": input_files,
        "check_results": json.loads(results[0]) if results else [],
    }
    if run_settings.on_spark():
        yield from _publish_on_spark(context, run_settings, publication)
        return
    publish(
        paths.work_db,
        paths.warehouse,
        tables={model: model_relation(model) for model in PUBLISHED_MODELS},
        publication=publication,
    )
    metadata = published_metadata(paths.warehouse, context.run.run_id)
    context.log.info(
        f"published {metadata[ACCOUNTS_MODEL]['dagster/row_count']} accounts and "
        f"{metadata[QUARANTINE_MODEL]['dagster/row_count']} quarantined rows to {paths.warehouse}"
    )
    for model in PUBLISHED_MODELS:
        yield dg.MaterializeResult(asset_key=dg.AssetKey(["analytics", model]), metadata=metadata[model])



def _table(conn, sql: str, params=()) -> dg.TableMetadataValue:
    """A small aggregate of the published warehouse as a table for the Dagster UI."""
    cursor = conn.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    records = [
        dg.TableRecord({name: (float(v) if isinstance(v, Decimal) else v) for name, v in zip(names, row)})
        for row in cursor.fetchall()
    ]
    return dg.MetadataValue.table(records=records, schema=dg.TableSchema(columns=[dg.TableColumn(n) for n in names]))


def published_metadata(warehouse: Path, run_id: str) -> dict[str, dict[str, Any]]:
    """What an engineer wants at a glance on each published asset, read back from the
    published file itself (so it shows what analysts see): row count, the segment
    distribution, the quarantine by reason, what moved, who is over capacity, and
    where the run's report is."""
    from pipeline.report import report_path

    with contextlib.closing(duckdb.connect(str(warehouse), read_only=True)) as conn:
        as_of, rows_quarantined = conn.execute(
            "select as_of_date, rows_quarantined from analytics.publications where run_id = ?", [run_id]
        ).fetchone()
        common = {
            "warehouse": dg.MetadataValue.path(str(warehouse)),
            "as_of_date": as_of.isoformat(),
            "report": dg.MetadataValue.path(str(report_path(warehouse, as_of, run_id))),
        }
        metadata = {
            model: {
                **common,
                "dagster/row_count": conn.execute(f"select count(*) from analytics.{model}").fetchone()[0],
            }
            for model in PUBLISHED_MODELS
        }
        pareto_a = conn.execute(
            f"select share_of_revenue from analytics.{KPIS_MODEL} where dimension = 'pareto_class' and segment = 'A'"
        ).fetchone()
        metadata[ACCOUNTS_MODEL].update({
            "segment distribution": _table(
                conn,
                f"""select dimension, segment, accounts, round(share_of_accounts * 100, 1) as pct_of_accounts,
                           revenue, round(share_of_revenue * 100, 1) as pct_of_revenue
                    from analytics.{KPIS_MODEL} order by dimension, accounts desc, segment""",
            ),
            "quarantined rows": rows_quarantined,
            "pareto class A share of revenue": None if not pareto_a or pareto_a[0] is None else round(pareto_a[0], 4),
        })
        metadata[QUARANTINE_MODEL]["by reason"] = _table(
            conn,
            f"""select source, entity, reason_code, count(*) as rows_quarantined
                from analytics.{QUARANTINE_MODEL} group by all order by rows_quarantined desc, source, entity""",
        )
        metadata["segment_changes"]["changes per dimension"] = _table(
            conn,
            """select dimension, change_cause, count(*) as accounts
               from analytics.segment_changes group by all order by accounts desc, dimension, change_cause""",
        )
        metadata["owner_portfolios"]["overloaded owners"] = conn.execute(
            "select count(*) from analytics.owner_portfolios where is_overloaded"
        ).fetchone()[0]
    return metadata


@dg.asset(
    key=dg.AssetKey(["reports", "run_report"]),
    deps=[dg.AssetKey(["analytics", model]) for model in PUBLISHED_MODELS],
    group_name="published",
    kinds={"html", "plotly"},
    description="One self-contained HTML report per publication, beside the warehouse: segments, "
    "Pareto curve, migrations since the previous publication, to_be_defined shares, quarantine, capacity.",
)
def run_report(context: dg.AssetExecutionContext, run_settings: RunSettings) -> dg.MaterializeResult:
    """Written from the published file only. The publication has happened by now: a
    report that cannot be written is a warning, not a failed run."""
    from pipeline.report import write_run_report

    if run_settings.on_spark():
        context.log.info("the run report is written from the DuckDB warehouse file: not on the Spark target")
        return dg.MaterializeResult(metadata={"skipped": "target spark: no report"})
    paths = run_settings.paths()
    try:
        path = write_run_report(paths.warehouse, context.run.run_id, config_file=paths.config_file)
    except Exception as error:  # noqa: BLE001 - reported, never hides the publication
        context.log.warning(f"warning: the run report could not be written: {error}")
        return dg.MaterializeResult(metadata={"error": str(error)})
    context.log.info(f"report: {path}")
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(path))})
