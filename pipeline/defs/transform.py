"""The dbt models as Dagster assets; dbt tests (source tests included) become asset
checks. Groups and descriptions come from dbt's own metadata (the layer folder of
each model), never from a list of model names."""


import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from pipeline.dbt_project import DBT_EXECUTABLE, ensure_manifest, segmentation_dbt_project
from pipeline.defs.resources import RunSettings


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
    """Build and test every model in the run's working database."""
    paths = run_settings.paths()
    config = run_settings.config()
    dbt_vars = config.dbt_vars(run_settings.as_of_date(), context.run.run_id)
    # The profile reads the working database path from the environment (no path in the repo).
    os.environ["SEGMENTATION_WORK_DB"] = str(paths.work_db)
    # Unit tests pin the default rules; they run in the test suite, not against a
    # business configuration at night.
    args = ["build", "--exclude-resource-type", "unit_test", "--vars", json.dumps(dbt_vars)]
    yield from dbt.cli(args, context=context).stream()


dbt_resource = DbtCliResource(project_dir=segmentation_dbt_project, dbt_executable=DBT_EXECUTABLE)
