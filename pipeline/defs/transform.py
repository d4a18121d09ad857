"""The dbt models as Dagster assets; dbt tests (source tests included) become asset
checks. Groups and descriptions come from dbt's own metadata (the layer folder of
each model), never from a list of model names."""


import importlib.metadata
import json
import os
import threading
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from packaging import version

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipeline import incremental
from pipeline.dbt_project import DBT_EXECUTABLE, ensure_manifest, segmentation_dbt_project
from pipeline.defs.resources import RunSettings
from pipeline.work_db import connect_work_db


class SegmentationDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        # models/<layer>/...: staging, intermediate, marts
        if dbt_resource_props["resource_type"] == "model":
            return dbt_resource_props["fqn"][1]
        return super().get_group_name(dbt_resource_props)


translator = SegmentationDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
)


@dbt_assets(
    manifest=ensure_manifest(),
    project=segmentation_dbt_project,
    dagster_dbt_translator=translator,
)
def segmentation_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, run_settings: RunSettings):
    """Build and test every model in the run's working database (or, with the target
    `spark`, in the Spark catalog)."""
    paths = run_settings.paths()
    config = run_settings.config()
    if run_settings.on_spark():
        yield from _build_on_spark(context, dbt, run_settings)
        return
    write_run_context(paths.work_db, config.run_context_row(run_settings.as_of_date(), context.run.run_id))
    with connect_work_db(paths.work_db) as conn:
        plan = incremental.plan_build(conn, run_settings.as_of_date())
    context.log.info(f"dbt: {plan.describe()}")
    # The profile reads the working database path from the environment (no path in the repo).
    os.environ["SEGMENTATION_WORK_DB"] = str(paths.work_db)
    # Unit tests pin the default rules; they run in the test suite, not against a
    # business configuration at night.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(config.dbt_vars()), *plan.dbt_args]
    # One target folder per warehouse, kept between nights: dbt re-parses only what
    # changed (the vars are the same every night), and runs on other warehouses never
    # share it.
    target = paths.work_dir / "dbt-target"
    # This process only waits while dbt runs: load the gate's great-expectations now.
    threading.Thread(target=_preload_gate, name="preload-great-expectations", daemon=True).start()
    yield from dbt.cli(args, context=context, target_path=target).stream()
    with connect_work_db(paths.work_db) as conn:
        incremental.record_build(conn)


def _build_on_spark(context: dg.AssetExecutionContext, dbt: DbtCliResource, run_settings: RunSettings):
    """`dbt build --target spark`: the same models and tests on the Spark catalog. The
    DuckDB incremental planning (pipeline/incremental.py) does not apply: on Spark the
    staging state is rebuilt every night (macros/incremental.sql, spark__delta_state_config)."""
    from pipeline.spark import ingest as spark_ingest
    from pipeline.spark import worker
    from pipeline.spark.session import use_spark_home

    paths = run_settings.paths()
    config = run_settings.config()
    use_spark_home(paths.spark_home)
    worker.call(spark_ingest.write_run_context, config.run_context_row(run_settings.as_of_date(), context.run.run_id))
    # dbt-spark (method: session) starts its own JVM, which must open the embedded Derby
    # metastore: the pipeline's Spark worker ends first.
    worker.shutdown()
    context.log.info(f"dbt: target spark (Spark home {paths.spark_home}), full build")
    args = ["build", "--target", "spark", "--exclude-resource-type", "unit_test", "--vars", json.dumps(config.dbt_vars())]
    yield from dbt.cli(args, context=context, target_path=paths.work_dir / "dbt-target-spark").stream()


def _preload_gate() -> None:
    from data_checks import preload_great_expectations

    try:
        preload_great_expectations()
    except Exception:  # noqa: BLE001 - the gate imports it again and reports any error
        pass


def write_run_context(work_db, row: Mapping[str, Any]) -> None:
    """raw.run_context: the one row of run parameters the models read (macros/config.sql)."""
    with connect_work_db(work_db) as conn:
        conn.execute("create schema if not exists raw")
        conn.execute(
            "create or replace table raw.run_context as "
            "select cast(? as date) as as_of_date, cast(? as varchar) as run_id, cast(? as varchar) as ruleset_version",
            [row["as_of_date"], row["run_id"], row["ruleset_version"]],
        )


class SegmentationDbtCliResource(DbtCliResource):
    """dagster-dbt's resource without two costs this project does not use: before every
    invocation it runs `dbt --version` in a subprocess and opens an in-process dbt
    adapter (together about 7 s), which serve only to fetch row counts and column
    metadata from the adapter. The installed dbt-core's version is read from its
    package metadata instead."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 - no adapter handle needed
        return None


dbt_resource = SegmentationDbtCliResource(project_dir=segmentation_dbt_project, dbt_executable=DBT_EXECUTABLE)
