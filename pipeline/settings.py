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
