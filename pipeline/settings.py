"""Where a run reads and writes, resolved once from flags, environment and defaults.

All working data of a run lives beside its warehouse file, in a hidden folder named
after it, so two runs with different warehouse paths share no file and no lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_LANDING_DIR = Path("data/landing")
DEFAULT_WAREHOUSE = Path("data/warehouse/segments.duckdb")

ENV_LANDING_DIR = "SEGMENTATION_LANDING_DIR"
ENV_WAREHOUSE = "SEGMENTATION_WAREHOUSE"
ENV_AS_OF = "SEGMENTATION_AS_OF"
ENV_CONFIG = "SEGMENTATION_CONFIG"
ENV_OVERRIDES = "SEGMENTATION_OVERRIDES"
ENV_TARGET = "SEGMENTATION_TARGET"  # the dbt target / engine: duckdb (default) or spark
ENV_SPARK_HOME = "SEGMENTATION_SPARK_HOME"  # Spark local mode: metastore + warehouse folder
# the value a run put into SEGMENTATION_SPARK_HOME itself (not the user's choice)
_ENV_SPARK_HOME_SET_BY_RUN = "_SEGMENTATION_SPARK_HOME_SET_BY_RUN"

TARGETS = ("duckdb", "spark")
DEFAULT_TARGET = "duckdb"


def parse_as_of(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"as-of date {value!r} is not a YYYY-MM-DD date") from exc


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class RunPaths:
    landing_dir: Path
    warehouse: Path
    config_file: Path | None
    overrides_file: Path

    @property
    def work_dir(self) -> Path:
        return self.warehouse.parent / f".{self.warehouse.name}.work"

    @property
    def work_db(self) -> Path:
        return self.work_dir / "work.duckdb"

    @property
    def spark_home(self) -> Path:
        """Spark local mode (target `spark`): the Derby metastore and the managed
        tables, SEGMENTATION_SPARK_HOME or beside the warehouse path (so runs with
        different warehouse paths share no Spark catalog either)."""
        configured = os.environ.get(ENV_SPARK_HOME)
        if configured and configured != os.environ.get(_ENV_SPARK_HOME_SET_BY_RUN):
            return Path(configured).resolve()
        return self.work_dir / "spark"

    @classmethod
    def resolve(
        cls,
        landing_dir: str | Path | None = None,
        warehouse: str | Path | None = None,
        config_file: str | Path | None = None,
        overrides_file: str | Path | None = None,
    ) -> "RunPaths":
        """Flags win over environment variables, which win over the defaults."""
        landing = Path(landing_dir or os.environ.get(ENV_LANDING_DIR) or DEFAULT_LANDING_DIR)
        warehouse_path = Path(warehouse or os.environ.get(ENV_WAREHOUSE) or DEFAULT_WAREHOUSE)
        config = config_file or os.environ.get(ENV_CONFIG) or None
        overrides = overrides_file or os.environ.get(ENV_OVERRIDES) or landing / "overrides.csv"
        return cls(
            landing_dir=landing.resolve(),
            warehouse=warehouse_path.resolve(),
            config_file=Path(config).resolve() if config else None,
            overrides_file=Path(overrides).resolve(),
        )


def resolve_as_of(value: str | date | None, timezone: str) -> date:
    if isinstance(value, date):
        return value
    value = value or os.environ.get(ENV_AS_OF)
    return parse_as_of(value) if value else today_in(timezone)


def resolve_target(value: str | None = None) -> str:
    """The engine of a run: flag, then SEGMENTATION_TARGET, then duckdb."""
    target = (value or os.environ.get(ENV_TARGET) or DEFAULT_TARGET).strip().lower()
    if target not in TARGETS:
        raise ValueError(f"target {target!r} is not one of {', '.join(TARGETS)} (--target / {ENV_TARGET})")
    return target
