"""The code location: one Definitions object for `dagster dev -w workspace.yaml`."""

import dagster as dg

from pipeline.defs.alerts import alert_sensors
from pipeline.defs.ingestion import ingestion_assets
from pipeline.defs.jobs import nightly_segmentation_job, nightly_segmentation_schedule
from pipeline.defs.publication import publish_gate, publish_warehouse, run_report
from pipeline.defs.resources import RunSettings
from pipeline.defs.transform import dbt_resource, segmentation_dbt_models

defs = dg.Definitions(
    assets=[*ingestion_assets, segmentation_dbt_models, publish_warehouse, run_report],
    asset_checks=[publish_gate],
    jobs=[nightly_segmentation_job],
    schedules=[nightly_segmentation_schedule],
    sensors=alert_sensors,
    resources={
        "dbt": dbt_resource,
        "run_settings": RunSettings.configure_at_launch(),
    },
    executor=dg.in_process_executor,
)
