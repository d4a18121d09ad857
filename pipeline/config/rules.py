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
from typing import Annotated, Any, Literal
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


def _channel_value(value: str) -> str:
    # Compared with the normalised CRM value: lower case, runs of spaces/hyphens as "_".
    if not re.fullmatch(r"[a-z0-9_]+", value):
        raise ValueError(f"{value!r} is not a normalised channel value (lower case, digits, underscores)")
    return value


_STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")


def _hot_stage(value: str) -> str:
    if value not in _STAGES[:4]:
        raise ValueError(f"{value!r} is not an open opportunity stage ({', '.join(_STAGES[:4])})")
    return value


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


class SalesChannelGroup(Dimension):
    channels: dict[SegmentName, list[Annotated[str, AfterValidator(_channel_value)]]]

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("channels", self.channels)
        seen: dict[str, str] = {}
        for group, values in self.channels.items():
            for value in values:
                if value in seen and seen[value] != group:
                    raise ValueError(f"channels: {value} is mapped to both {seen[value]} and {group}")
                seen[value] = group
        return self


class ServiceLevel(Dimension):
    key_account_level: SegmentName
    high_value_level: SegmentName
    default_level: SegmentName

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("levels", [self.key_account_level, self.high_value_level, self.default_level])
        return self


class ProductMix(Dimension):
    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["none", "single_line", "multi_line"])
        return self


class TermsThresholds(_Strict):
    immediate: Annotated[int, Field(ge=0)]
    net_30: Annotated[int, Field(ge=0)]
    net_60: Annotated[int, Field(ge=0)]


class PaymentTermsBucket(Dimension):
    max_terms_days: TermsThresholds

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["immediate", "net_30", "net_60", "net_90_plus"])
        t = self.max_terms_days
        self._require_ordered("max_terms_days", [t.net_60, t.net_30, t.immediate])
        return self


class PaymentBehaviour(Dimension):
    defaulting_above_days_overdue: Days
    prompt_max_avg_days_late: Amount
    prompt_min_on_time_rate: Share
    slow_max_avg_days_late: Amount

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["prompt", "slow", "very_slow", "defaulting"])
        self._require_ordered("prompt_max_avg_days_late", [self.slow_max_avg_days_late, self.prompt_max_avg_days_late])
        return self


class RiskProfile(Dimension):
    low_below: Annotated[float, Field(ge=0, le=100)]
    medium_below: Annotated[float, Field(ge=0, le=100)]
    high_below: Annotated[float, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["low", "medium", "high", "very_high"])
        self._require_ordered("low_below", [self.high_below, self.medium_below, self.low_below])
        return self


class DunningStrategy(Dimension):
    escalate_risk_profiles: list[SegmentName]

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["none", "escalate", "personal", "wait_for_pay_day", "standard"])
        return self


class CollectorLevel(Dimension):
    senior_min_overdue_ar: Amount
    senior_risk_profiles: list[SegmentName]

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["none", "senior", "junior"])
        return self


class IcpFit(Dimension):
    excluded_verticals: list[SegmentName]
    excluded_countries: list[CountryCode]
    ideal_min_score: Annotated[int, Field(ge=0, le=100)]
    good_min_score: Annotated[int, Field(ge=0, le=100)]
    fair_min_score: Annotated[int, Field(ge=0, le=100)]

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["excluded", "ideal", "good", "fair", "poor"])
        self._require_ordered("good_min_score", [self.ideal_min_score, self.good_min_score, self.fair_min_score])
        return self


class PotentialTier(Dimension):
    high_min_value: Amount
    medium_min_value: Amount

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["high", "medium", "low", "none"])
        self._require_ordered("medium_min_value", [self.high_min_value, self.medium_min_value])
        return self


class BuyingReadiness(Dimension):
    hot_stages: list[Annotated[str, AfterValidator(_hot_stage)]]
    hot_within_days: Days

    @model_validator(mode="after")
    def _check(self):
        self._require_declared("segments", ["hot", "warm", "cold"])
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
    sales_channel_group: SalesChannelGroup
    service_level: ServiceLevel
    product_mix: ProductMix
    payment_terms_bucket: PaymentTermsBucket
    payment_behaviour: PaymentBehaviour
    risk_profile: RiskProfile
    dunning_strategy: DunningStrategy
    collector_level: CollectorLevel
    icp_fit: IcpFit
    potential_tier: PotentialTier
    buying_readiness: BuyingReadiness


Points = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


class RiskWeights(_Strict):
    external: Share
    internal: Share
    industry: Share
    region: Share

    @model_validator(mode="after")
    def _check(self):
        total = self.external + self.internal + self.industry + self.region
        if abs(total - 1) > 1e-9:
            raise ValueError(f"the weights add up to {total:g}, not 1")
        return self


class RiskScore(_Strict):
    weights: RiskWeights
    internal_days_late_factor: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    industry: dict[SegmentName | Literal["to_be_defined"], Points]
    region: dict[SegmentName, Points]


class IcpCriterion(_Strict):
    dimension: Literal["industry_vertical", "size_tier", "region", "sales_channel_group", "payment_behaviour"]
    values: list[SegmentName]
    points: Annotated[int, Field(ge=0, le=100)]


class IcpScore(_Strict):
    criteria: list[IcpCriterion]

    @model_validator(mode="after")
    def _check(self):
        total = sum(c.points for c in self.criteria)
        if total > 100:
            raise ValueError(f"criteria: the points add up to {total}, over 100")
        return self


class PotentialScore(_Strict):
    percentile: Share
    min_peers: Annotated[int, Field(ge=1)]


class Scores(_Strict):
    risk: RiskScore
    icp: IcpScore
    potential: PotentialScore


class Credit(_Strict):
    payment_tolerance: Amount
    credit_hold_min_disputes_12m: Annotated[int, Field(ge=1)]
    credit_hold_above_days_overdue: Days
    pay_day_lookback_days: Annotated[int, Field(ge=1, le=3660)]
    pay_day_month_end_cap: Annotated[int, Field(ge=1, le=31)]
    pay_day_min_distinct_dates: Annotated[int, Field(ge=1)]
    pay_day_min_share: Share
    pay_day_tolerance_days: Annotated[int, Field(ge=0, le=30)]
    bureau_stale_after_days: Days


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
    segment_share_move_warning: Share


class OwnerCapacity(_Strict):
    max_accounts: Annotated[int, Field(ge=0)]
    max_key_accounts: Annotated[int, Field(ge=0)]


class Capacity(_Strict):
    key_account_stage: SegmentName
    default: OwnerCapacity
    # Owners with a capacity of their own (part-timers, team leads), by owner_id.
    owners: dict[str, OwnerCapacity] = Field(default_factory=dict)


class SegmentationConfig(_Strict):
    general: General
    dimensions: Dimensions
    scores: Scores
    credit: Credit
    schedule: Schedule
    gate: Gate
    capacity: Capacity

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
        self._cross_references()
        return self

    def _cross_references(self) -> None:
        """Lists that name segments of another dimension must name declared ones."""
        declared = self.declared_segments()

        def require(key: str, dimension: str, values) -> None:
            undeclared = sorted(set(values) - set(declared[dimension]))
            if undeclared:
                raise ValueError(f"{key}: {undeclared} are not declared segments of {dimension}")

        d = self.dimensions
        require("dimensions.dunning_strategy.escalate_risk_profiles", "risk_profile", d.dunning_strategy.escalate_risk_profiles)
        require("dimensions.collector_level.senior_risk_profiles", "risk_profile", d.collector_level.senior_risk_profiles)
        require("dimensions.icp_fit.excluded_verticals", "industry_vertical", d.icp_fit.excluded_verticals)
        require("scores.risk.industry", "industry_vertical", set(self.scores.risk.industry) - {TO_BE_DEFINED})
        require("scores.risk.region", "region", self.scores.risk.region)
        for field, dimension in (("industry", "industry_vertical"), ("region", "region")):
            missing = sorted(set(declared[dimension]) - set(getattr(self.scores.risk, field)))
            if missing:
                raise ValueError(f"scores.risk.{field}: no score for {missing}")
        for i, criterion in enumerate(self.scores.icp.criteria):
            require(f"scores.icp.criteria.{i}.values", criterion.dimension, criterion.values)
        require("capacity.key_account_stage", "lifecycle_stage", [self.capacity.key_account_stage])

    def declared_segments(self) -> dict[str, list[str]]:
        """Every segment dimension with its declared values (to_be_defined excluded)."""
        return {name: list(getattr(self.dimensions, name).segments) for name in type(self.dimensions).model_fields}

    def rules(self) -> dict[str, Any]:
        """What the models read: everything but the schedule."""
        return self.model_dump(mode="json", exclude={"schedule"})

    def segment_rules(self) -> dict[str, Any]:
        """What decides an account's segments (the ruleset_version's input): not the
        schedule, the gate's thresholds or the owners' capacity."""
        return self.model_dump(mode="json", exclude={"schedule", "gate", "capacity"})

    def dbt_vars(self, as_of: date | None = None, run_id: str | None = None) -> dict[str, Any]:
        """The `--vars` of a dbt invocation (see dbt_project/macros/config.sql).

        The nightly run passes only the configuration and writes the as-of date, run id
        and ruleset version into raw.run_context (`run_context_row`), so that the vars
        stay the same from night to night; tests and docs pass them here instead."""
        values: dict[str, Any] = {"segmentation": self.rules()}
        if as_of is not None:
            values.update(as_of_date=as_of.isoformat(), run_id=run_id or "unknown", ruleset_version=ruleset_version(self))
        return values

    def run_context_row(self, as_of: date, run_id: str) -> dict[str, Any]:
        """raw.run_context of a nightly run: what the models read as the run's parameters."""
        return {"as_of_date": as_of, "run_id": run_id, "ruleset_version": ruleset_version(self)}


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
    canonical = json.dumps(config.segment_rules(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]
