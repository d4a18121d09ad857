"""The nightly job (every asset, in one process: DuckDB allows one writer) and its
schedule; the as-of date of a scheduled run is its scheduled date in the configured
timezone."""


import os
from zoneinfo import ZoneInfo

import dagster as dg

from pipeline.config import load_config
from pipeline.settings import ENV_CONFIG

NIGHTLY_JOB_NAME = "nightly_segmentation"

nightly_segmentation_job = dg.define_asset_job(
    NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    description="Ingest every extract, build and test the dbt models, run the publish gate, publish the warehouse.",
    executor_def=dg.in_process_executor,
)


def run_config_for(as_of: str, **settings) -> dict:
    """Run config of one run of the nightly job (the command line and the schedule use it)."""
    config = {key: value for key, value in settings.items() if value not in (None, False)}
    return {"resources": {"run_settings": {"config": {"as_of": as_of, **config}}}}


def _build_schedule() -> dg.ScheduleDefinition:
    schedule = load_config(os.environ.get(ENV_CONFIG) or None).schedule

    @dg.schedule(
        job=nightly_segmentation_job,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        name="nightly_segmentation_schedule",
        description=f"Runs the whole segmentation at {schedule.cron} ({schedule.timezone}), as of the scheduled date.",
    )
    def nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        as_of = context.scheduled_execution_time.astimezone(ZoneInfo(schedule.timezone)).date().isoformat()
        return dg.RunRequest(run_key=as_of, run_config=run_config_for(as_of))

    return nightly


nightly_segmentation_schedule = _build_schedule()
