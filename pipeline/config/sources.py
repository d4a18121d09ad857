"""The landing contract as data: which entities exist, how each is loaded, which
columns it has and which of them a file must carry."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

SOURCES_FILE = Path(__file__).with_name("sources.yml")

LoadMode = Literal["snapshot", "delta", "file"]


@dataclass(frozen=True)
class EntitySpec:
    source: str
    entity: str
    load_mode: LoadMode
    key: tuple[str, ...]
    required: tuple[str, ...]
    columns: tuple[str, ...]
    max_age_days: int | None
    optional_entity: bool

    @property
    def name(self) -> str:
        """`<source>__<entity>`: the raw table's name and the dbt source table's identifier."""
        return f"{self.source}__{self.entity}"

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.key + self.required))


@cache
def load_entity_specs() -> tuple[EntitySpec, ...]:
    raw = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    specs = []
    for source, entities in raw.items():
        for entity, spec in entities.items():
            columns = tuple(spec["columns"])
            undeclared = set(spec["key"]) | set(spec["required"])
            undeclared -= set(columns)
            if undeclared:
                raise ValueError(f"{SOURCES_FILE}: {source}.{entity} requires undeclared columns {sorted(undeclared)}")
            specs.append(
                EntitySpec(
                    source=source,
                    entity=entity,
                    load_mode=spec["load_mode"],
                    key=tuple(spec["key"]),
                    required=tuple(spec["required"]),
                    columns=columns,
                    max_age_days=spec.get("max_age_days"),
                    optional_entity=bool(spec.get("optional_entity", False)),
                )
            )
    return tuple(specs)


def entity_spec(source: str, entity: str) -> EntitySpec:
    for spec in load_entity_specs():
        if spec.source == source and spec.entity == entity:
            return spec
    raise KeyError(f"no entity {source}/{entity} in {SOURCES_FILE}")
