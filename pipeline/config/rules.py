"""The segmentation rules configuration: schema, validation, overlay and version hash.

The defaults live in `segmentation.yml` beside this file (the defaults of the rules
document). A user file given with `--config` is laid over them key by key (mappings
merge, lists and scalars replace). Validation happens here, once, before any run
starts; the validated values reach dbt as `--vars` and are only ever rendered into
SQL through the literal-quoting macros of `dbt_project/macros/config.sql`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

DEFAULT_CONFIG_FILE = Path(__file__).with_name("segmentation.yml")
TO_BE_DEFINED = "to_be_defined"


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the offending key."""


def _segment_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,62}", value):
        raise ValueError(f"{value!r} is not a segment name (letters, digits, underscores)")
    if value == TO_BE_DEFINED:
        raise ValueError(f"{TO_BE_DEFINED!r} is implicit and cannot be declared")
    return value


def _country_code(value: str) -> str:
    code = value.strip().upper()
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{value!r} is not an officially assigned ISO 3166-1 alpha-2 code")
    return code


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _naics_sector(value: str) -> str:
    if not re.fullmatch(r"\d{2}", value):
        raise ValueError(f"{value!r} is not a two-digit NAICS sector")
    return value


def _keyword(value: str) -> str:
    # Keywords are compared with whole words of `industry`: a word is a run of letters.
    if not value or not all(ch.isalpha() for ch in value):
        raise ValueError(f"{value!r} is not a word (letters only)")
    return value.lower()


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA timezone") from exc
    return value


SegmentName = Annotated[str, AfterValidator(_segment_name)]
CountryCode = Annotated[str, AfterValidator(_country_code)]
CurrencyCode = Annotated[str, AfterValidator(_currency_code)]
NaicsSector = Annotated[str, AfterValidator(_naics_sector)]
Keyword = Annotated[str, AfterValidator(_keyword)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Amount = Annotated[int | float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Days = Annotated[int, Field(ge=0, le=36600)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Dimension(_Strict):
    segments: list[SegmentName] = Field(min_length=1)
    # Overrides general.segment_cap for this dimension.
    segment_cap: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _distinct_segments(self):
        if len(set(self.segments)) != len(self.segments):
            raise ValueError("segments: a segment is declared twice")
        return self

    def _require_declared(self, field: str, values) -> None:
        undeclared = sorted(set(values) - set(self.segments))
        if undeclared:
            raise ValueError(f"{field}: maps onto undeclared segment(s) {undeclared}")

    def _require_ordered(self, field: str, thresholds: list[float]) -> None:
        if thresholds != sorted(thresholds, reverse=True):
            raise ValueError(f"{field}: thresholds must not increase from tier to tier")


class PartyType(Dimension):
    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["business", "individual"])
        return self


class Tenure(Dimension):
    new_within_days: Days

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["prospect", "new", "existing"])
        return self


class Market(Dimension):
    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["domestic", "international"])
        return self


class ValueTier(Dimension):
    high_min_revenue: Amount
    medium_min_revenue: Amount

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["high", "medium", "low", "none"])
        self._require_ordered("medium_min_revenue", [self.high_min_revenue, self.medium_min_revenue])
        return self


class ParetoClass(Dimension):
    a_max_rank_share: Share
    b_max_rank_share: Share

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["A", "B", "C", "none"])
        self._require_ordered("a_max_rank_share", [self.b_max_rank_share, self.a_max_rank_share])
        return self


class LifecycleStage(Dimension):
    dormant_after_days: Days
    new_within_days: Days

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["prospect", "dormant", "key", "new", "existing"])
        return self


class Region(Dimension):
    fallback: SegmentName
    countries: dict[SegmentName, list[CountryCode]]

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("countries", self.countries)
        self._require_declared("fallback", [self.fallback])
        seen: dict[str, str] = {}
        for region, codes in self.countries.items():
            for code in codes:
                if code in seen and seen[code] != region:
                    raise ValueError(f"countries: {code} is mapped to both {seen[code]} and {region}")
                seen[code] = region
        return self


class IndustryKeywords(_Strict):
    vertical: SegmentName
    words: list[Keyword] = Field(min_length=1)


class IndustryVertical(Dimension):
    naics_sectors: list[NaicsSector]
    naics_sector_verticals: dict[SegmentName, list[NaicsSector]]
    industry_keywords: list[IndustryKeywords]
    fallback: SegmentName

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("naics_sector_verticals", self.naics_sector_verticals)
        self._require_declared("industry_keywords", [k.vertical for k in self.industry_keywords])
        self._require_declared("fallback", [self.fallback])
        mapped = {s for sectors in self.naics_sector_verticals.values() for s in sectors}
        unknown = sorted(mapped - set(self.naics_sectors))
        if unknown:
            raise ValueError(f"naics_sector_verticals: sector(s) {unknown} are not in naics_sectors")
        return self


class SizeThresholds(_Strict):
    enterprise: Amount
    mid_market: Amount
    small: Amount


class SizeTier(Dimension):
    min_employees: SizeThresholds
    min_annual_revenue: SizeThresholds

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["consumer", "enterprise", "mid_market", "small", "micro"])
        for field in ("min_employees", "min_annual_revenue"):
            t = getattr(self, field)
            self._require_ordered(field, [t.enterprise, t.mid_market, t.small])
        return self


class Dimensions(_Strict):
    party_type: PartyType
    tenure: Tenure
    market: Market
    value_tier: ValueTier
    pareto_class: ParetoClass
    lifecycle_stage: LifecycleStage
    region: Region
    industry_vertical: IndustryVertical
    size_tier: SizeTier


class General(_Strict):
    base_currency: CurrencyCode
    home_country: CountryCode
    timezone: Timezone
    window_days: Annotated[int, Field(ge=1, le=3660)]
    segment_cap: Annotated[int, Field(ge=1)]


class Schedule(_Strict):
    cron: str
    timezone: Timezone

    @model_validator(mode="after")
    def _check(self):
        if len(self.cron.split()) != 5:
            raise ValueError(f"cron: {self.cron!r} is not a five-field cron expression")
        return self


class Gate(_Strict):
    max_quarantined_account_share: Share
    max_row_count_drop: Share
    to_be_defined_warning_share: Share


class SegmentationConfig(_Strict):
    general: General
    dimensions: Dimensions
    schedule: Schedule
    gate: Gate

    @model_validator(mode="after")
    def _segment_cap(self):
        for name in type(self.dimensions).model_fields:
            dimension: Dimension = getattr(self.dimensions, name)
            cap = dimension.segment_cap or self.general.segment_cap
            if len(dimension.segments) > cap:
                raise ValueError(
                    f"dimensions.{name}.segments: {len(dimension.segments)} segments declared, "
                    f"over the cap of {cap}"
                )
        return self

    def declared_segments(self) -> dict[str, list[str]]:
        """Every segment dimension with its declared values (to_be_defined excluded)."""
        return {name: list(getattr(self.dimensions, name).segments) for name in type(self.dimensions).model_fields}

    def rules(self) -> dict[str, Any]:
        """What decides the segments: everything but the schedule."""
        return self.model_dump(mode="json", exclude={"schedule"})

    def dbt_vars(self, as_of: date, run_id: str) -> dict[str, Any]:
        """The `--vars` of a dbt invocation for one run (see dbt_project/macros/config.sql)."""
        return {
            "segmentation": self.rules(),
            "as_of_date": as_of.isoformat(),
            "run_id": run_id,
            "ruleset_version": ruleset_version(self),
        }


def _overlay(base: dict, overlay: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-after"))
    message = error["msg"].removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def load_config(path: str | Path | None = None) -> SegmentationConfig:
    """Defaults, overlaid with `path` when given, validated. Raises ConfigError."""
    data = yaml.safe_load(DEFAULT_CONFIG_FILE.read_text(encoding="utf-8"))
    source = str(DEFAULT_CONFIG_FILE)
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            user = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError as exc:
            raise ConfigError(f"configuration file {path} does not exist") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"configuration file {path} is not valid YAML: {exc}") from exc
        if not isinstance(user, dict):
            raise ConfigError(f"configuration file {path} must hold a mapping at the top level")
        data = _overlay(data, user)
    try:
        return SegmentationConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid configuration ({source}): {problems}") from None


def ruleset_version(config: SegmentationConfig) -> str:
    """A short, stable hash of the rules in force (key order and formatting do not matter)."""
    canonical = json.dumps(config.rules(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
