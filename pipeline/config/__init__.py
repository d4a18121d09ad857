"""Configuration: the landing contract (sources.yml) and the segmentation rules
(segmentation.yml), loaded and validated before anything runs."""

from pipeline.config.rules import (
    ConfigError,
    SegmentationConfig,
    load_config,
    ruleset_version,
)
from pipeline.config.sources import EntitySpec, load_entity_specs

__all__ = [
    "ConfigError",
    "EntitySpec",
    "SegmentationConfig",
    "load_config",
    "load_entity_specs",
    "ruleset_version",
]
