"""The run's parameters as a Dagster resource, configured when a run is launched
(command line, schedule or launchpad); empty fields fall back to the environment
variables and defaults of pipeline.settings."""


import os
from datetime import date

import dagster as dg

from pipeline.config import SegmentationConfig, load_config
from pipeline.settings import ENV_OVERRIDES, RunPaths, resolve_as_of, resolve_target


class RunSettings(dg.ConfigurableResource):
    landing_dir: str | None = None
    warehouse: str | None = None
    as_of: str | None = None
    config_file: str | None = None
    overrides_file: str | None = None
    allow_row_drop: bool = False
    # duckdb (default) or spark; empty: SEGMENTATION_TARGET, then duckdb
    target: str | None = None

    def paths(self) -> RunPaths:
        return RunPaths.resolve(self.landing_dir, self.warehouse, self.config_file, self.overrides_file)

    def overrides_named(self) -> bool:
        """Whether an overrides file was named explicitly (then it must exist)."""
        return bool(self.overrides_file or os.environ.get(ENV_OVERRIDES))

    def config(self) -> SegmentationConfig:
        return load_config(self.paths().config_file)

    def as_of_date(self) -> date:
        return resolve_as_of(self.as_of, self.config().general.timezone)

    def target_name(self) -> str:
        """The engine of this run: `duckdb` or `spark` (the dbt target of the same name)."""
        return resolve_target(self.target)

    def on_spark(self) -> bool:
        return self.target_name() == "spark"
