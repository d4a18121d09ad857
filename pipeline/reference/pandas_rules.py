"""The segmentation rules written again in plain pandas, from the specification only.

`compute_segmented_accounts(landing_dir, as_of)` reads the landing folder itself
(files chosen by `pipeline.ingest.discover`, parsed here with pandas/pyarrow, every
value as text), merges snapshots and deltas, applies the quarantine rules that decide
the published population and the usable invoices and lines, converts currencies and
returns one row per published account with the identity columns, the dimensions
`party_type tenure market value_tier pareto_class lifecycle_stage region
industry_vertical size_tier` (manual overrides applied) and the revenue metrics.

It shares nothing with the dbt project but the configuration (`load_config()`) and
the file selection: it exists to cross-check the SQL cell by cell
(tests/test_reference_agreement.py) and to show what a pandas user would write.

Readings of the specification made here (see the module's test for the cases):

* Empty field = null. Typed values (numbers, dates, timestamps, booleans,
  enumerations, country and currency codes) are trimmed before parsing, and so are
  identifiers (`account_id`, `invoice_id`, `line_number`, `owner_id`, ...: "A-1 " in
  the ERP is the CRM's "A-1"), so a whitespace-only one is null; free text (names,
  `industry`, `product_line`) is used as delivered, but a whitespace-only mandatory
  field counts as missing and whitespace-only `industry` as no industry.
  Identifiers are case-sensitive.
* Numbers: decimals are `[+-]digits[.digits][e[+-]digits]` (no thousands separator,
  no comma), integers any such decimal with an integral value ("12", "12.0"; not
  "12.5"); anything else is `invalid_value`. Dates are `YYYY-MM-DD`;
  timestamps ISO 8601 (date alone, or date + time with optional offset).
* Money is computed with `decimal.Decimal` (exact), rounded half away from zero once
  at the end; thresholds and ranks use the rounded values.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pycountry

from pipeline.config.rules import TO_BE_DEFINED, SegmentationConfig, load_config
from pipeline.config.sources import entity_spec
from pipeline.ingest.discovery import discover

REFERENCE_COLUMNS = [
    "account_id",
    "account_name",
    "as_of_date",
    "country_code",
    "owner_id",
    "party_type",
    "tenure",
    "market",
    "value_tier",
    "pareto_class",
    "lifecycle_stage",
    "region",
    "industry_vertical",
    "size_tier",
    "revenue_12m",
    "margin_12m",
    "margin_pct_12m",
    "first_invoice_date",
    "last_invoice_date",
]

# the segment dimensions this reference computes (and so the overrides it applies)
DIMENSIONS = [
    "party_type",
    "tenure",
    "market",
    "value_tier",
    "pareto_class",
    "lifecycle_stage",
    "region",
    "industry_vertical",
    "size_tier",
]

# identifiers are trimmed when read (a whitespace-only one is null): keys and references match trimmed
IDENTIFIERS = frozenset({"account_id", "invoice_id", "line_number", "owner_id", "parent_account_id", "payment_id",
                         "contact_id", "opportunity_id", "bureau_ref"})
ISO_COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
CENT = Decimal("0.01")
BASIS_POINT = Decimal("0.0001")
ZERO = Decimal(0)
ONE = Decimal(1)


# --- reading the landing folder ---------------------------------------------------------------


def _arrow_to_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet column as the text a CSV extract would carry (dates ISO, booleans true/false)."""
    t = column.type
    if pa.types.is_timestamp(t):
        if t.tz is not None:  # an instant: written in UTC with its offset
            text = pc.strftime(column.cast(pa.timestamp(t.unit, "UTC")), format="%Y-%m-%dT%H:%M:%S")
            return pc.binary_join_element_wise(text, "+00:00", "")
        return pc.strftime(column, format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_floating(t):  # shortest round-trip text, never an exponent
        values = [None if v is None or v != v else np.format_float_positional(v, trim="-") for v in column.to_pylist()]
        return pa.chunked_array([pa.array(values, pa.string())])
    return column.cast(pa.string())  # strings, binary (UTF-8), dates, booleans, integers, decimals


def _read_file(path: Path, fmt: str) -> pd.DataFrame:
    """One extract, every column as text, column names trimmed and lower-cased."""
    if fmt == "parquet":
        table = pq.read_table(path)
        text = pa.table({name: _arrow_to_text(table.column(i)) for i, name in enumerate(table.column_names)})
        frame = text.to_pandas()
    else:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            sep=",",
            quotechar='"',
            doublequote=True,
        )
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return frame


def read_entity(
    landing_dir: Path, as_of: date, source: str, entity: str, overrides_file: Path | None = None
) -> pd.DataFrame:
    """Every row of the files the entity reads for `as_of`, values as text (object, None for null).

    Adds `_extract_day` (the file's extract date as an ordinal; 0 for the overrides
    file) and `_seq` (position over all rows read, oldest file first). Unknown columns
    are dropped, absent ones read as null.
    """
    spec = entity_spec(source, entity)
    selection = discover(Path(landing_dir), as_of, spec, overrides_file)
    frames = [
        _read_file(f.path, f.format).assign(_extract_day=f.extract_date.toordinal() if f.extract_date else 0)
        for f in selection.files
    ]
    columns = [*spec.columns, "_extract_day"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    out = out.reindex(columns=columns)
    text = out[list(spec.columns)].astype(object)
    out[list(spec.columns)] = text.where(text.notna(), None)
    for column in IDENTIFIERS.intersection(spec.columns):  # keys are matched trimmed
        out[column] = _trimmed(out[column])
    out["_extract_day"] = out["_extract_day"].astype("int64")
    out["_seq"] = np.arange(len(out))
    return out


def merge_delta(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The delta state: per key the row(s) of the newest file holding it.

    Adds `_dup`: the newest file holding the key holds it more than once (every
    version then quarantined). Rows with a null key part are kept as they are (they
    are quarantined for the missing field).
    """
    has_key = rows[key].notna().all(axis=1)
    keyed = rows[has_key]
    newest = keyed.groupby(key, sort=False)["_extract_day"].transform("max")
    state = keyed[keyed["_extract_day"] == newest].copy()
    state["_dup"] = state.duplicated(key, keep=False)
    unkeyed = rows[~has_key].copy()
    unkeyed["_dup"] = False
    return pd.concat([state, unkeyed]).sort_values("_seq")


# --- parsing typed text -------------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?"
)
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _trimmed(series: pd.Series) -> pd.Series:
    text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
    return text.where(text.notna() & (text != ""), None)


def _blank(series: pd.Series) -> pd.Series:
    """Null or whitespace-only: a missing value."""
    return _trimmed(series).isna()


def _to_decimal(text: str):
    if not _DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _to_integer(text: str):
    """An integer, also written as an integral decimal ("12", "+12", "12.0"); "12.5" is not one."""
    value = _to_decimal(text)
    return int(value) if value is not None and value == value.to_integral_value() else None


def _to_day(text: str):
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text).toordinal()
    except ValueError:
        return None


def _to_utc_day(text: str):
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    except ValueError:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    return value.date().toordinal()


def _to_boolean(text: str):
    return _BOOLEANS.get(text.lower())


def parse(series: pd.Series, parser) -> tuple[pd.Series, pd.Series]:
    """(parsed values, invalid mask): the text trimmed, parsed once per distinct value."""
    text = _trimmed(series)
    mapping = {value: parser(value) for value in text.dropna().unique()}
    values = text.map(mapping).astype(object)
    values = values.where(values.notna(), None)
    return values, text.notna() & values.isna()


def parse_enum(series: pd.Series, allowed: set[str], default: str | None = None) -> tuple[pd.Series, pd.Series]:
    """An enumeration trimmed and lower-cased; (value or default, outside-the-list mask)."""
    text = _trimmed(series).map(lambda v: v.lower() if isinstance(v, str) else v)
    invalid = text.notna() & ~text.isin(allowed)
    values = text.where(~invalid, None)
    if default is not None:
        values = values.where(text.notna(), default)
    return values, invalid


def upper_code(series: pd.Series) -> pd.Series:
    return _trimmed(series).map(lambda v: v.upper() if isinstance(v, str) else v)


def first_reason(frame: pd.DataFrame, checks: list[tuple[str, pd.Series]]) -> pd.Series:
    """The first reason code whose mask holds, else None (the order is the spec's)."""
    conditions = [mask.fillna(False).astype(bool).to_numpy() for _, mask in checks]
    reasons = np.select(conditions, [code for code, _ in checks], default="")
    return pd.Series(reasons, index=frame.index).replace("", None)


def round_half_away(value, quantum: Decimal):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


# --- FX -----------------------------------------------------------------------------------------


def load_fx_rates(landing_dir: Path, as_of: date) -> tuple[pd.DataFrame, pd.Series]:
    """The valid rates (currency, rate_day, rate) and each row's quarantine reason."""
    fx = read_entity(landing_dir, as_of, "finance", "fx_rates")
    fx["currency_code"] = upper_code(fx["currency"])
    fx["rate_day"], bad_day = parse(fx["rate_date"], _to_day)
    fx["rate"], bad_rate = parse(fx["rate_to_base"], _to_decimal)
    not_positive = fx["rate"].map(lambda r: r is not None and r <= 0)
    key_text = _trimmed(fx["rate_date"])
    has_key = fx["currency_code"].notna() & key_text.notna()
    duplicated = has_key & pd.DataFrame({"c": fx["currency_code"], "d": key_text}).duplicated(keep=False)
    reason = first_reason(
        fx,
        [
            ("invalid_value", bad_day | bad_rate | not_positive),
            ("missing_mandatory_field", fx["currency_code"].isna() | key_text.isna() | _blank(fx["rate_to_base"])),
            ("duplicate_key", duplicated),
        ],
    )
    valid = fx[reason.isna()]
    rates = pd.DataFrame(
        {
            "currency_code": valid["currency_code"].astype(object),
            "rate_day": valid["rate_day"].astype("int64"),
            "rate": valid["rate"],
        }
    )
    return rates.sort_values("rate_day", kind="stable").reset_index(drop=True), reason


def rate_on(frame: pd.DataFrame, currency: str, day: str, rates: pd.DataFrame, base: str) -> pd.Series:
    """The newest rate of `frame[currency]` dated on or before `frame[day]` (base: 1)."""
    wanted = frame[[currency, day]].dropna()
    wanted = pd.DataFrame(
        {"_row": wanted.index, "currency_code": wanted[currency].astype(object), "day": wanted[day].astype("int64")}
    ).sort_values("day", kind="stable")
    found = pd.merge_asof(
        wanted,
        rates,
        left_on="day",
        right_on="rate_day",
        by="currency_code",
        direction="backward",
    ).set_index("_row")["rate"]
    result = pd.Series(None, index=frame.index, dtype=object)
    result.loc[found.index] = found.to_numpy()
    result = result.where(result.notna(), None)
    return result.where(frame[currency] != base, ONE).where(frame[currency].notna(), None)


# --- accounts, invoices, lines ------------------------------------------------------------------


def load_accounts(landing_dir: Path, as_of: date) -> pd.DataFrame:
    acc = read_entity(landing_dir, as_of, "crm", "accounts")
    D = as_of.toordinal()
    acc["status_value"], bad_status = parse_enum(acc["status"], {"active", "closed"}, default="active")
    acc["party"], _ = parse_enum(acc["account_type"], {"business", "individual"})
    acc["employees"], bad_employees = parse(acc["employee_count"], _to_integer)
    acc["revenue_declared"], bad_revenue = parse(acc["annual_revenue"], _to_decimal)
    acc["strategic"], bad_strategic = parse(acc["is_strategic"], _to_boolean)
    acc["created_day"], bad_created = parse(acc["created_at"], _to_utc_day)
    acc["country"] = upper_code(acc["country_code"])
    acc["revenue_currency"] = upper_code(acc["currency"])
    acc["reason"] = first_reason(
        acc,
        [
            ("invalid_value", bad_status | bad_employees | bad_revenue | bad_strategic | bad_created),
            (
                "missing_mandatory_field",
                _blank(acc["account_id"]) | _blank(acc["account_name"]) | acc["country"].isna()
                | acc["created_day"].isna(),
            ),
            ("unknown_country_code", ~acc["country"].isin(ISO_COUNTRIES)),
            ("created_after_as_of", acc["created_day"].map(lambda d: d is not None and d > D)),
            ("duplicate_key", acc["account_id"].notna() & acc["account_id"].duplicated(keep=False)),
        ],
    )
    return acc


def load_invoices(
    landing_dir: Path, as_of: date, accounts: pd.DataFrame, rates: pd.DataFrame, base: str
) -> pd.DataFrame:
    inv = merge_delta(read_entity(landing_dir, as_of, "finance", "invoices"), ["invoice_id"])
    inv["type"], bad_type = parse_enum(inv["invoice_type"], {"invoice", "credit_note"}, default="invoice")
    inv["status_value"], bad_status = parse_enum(inv["status"], {"open", "paid", "void"})
    inv["invoice_day"], bad_invoice_date = parse(inv["invoice_date"], _to_day)
    inv["due_day"], bad_due = parse(inv["due_date"], _to_day)
    inv["total"], bad_total = parse(inv["total_amount"], _to_decimal)
    _, bad_terms = parse(inv["payment_terms_days"], _to_integer)
    _, bad_discount = parse(inv["early_payment_discount_pct"], _to_decimal)
    _, bad_disputed = parse(inv["disputed"], _to_boolean)
    _, bad_opened = parse(inv["dispute_opened_at"], _to_day)
    _, bad_resolved = parse(inv["dispute_resolved_at"], _to_day)
    inv["currency_code"] = upper_code(inv["currency"])
    inv["rate"] = rate_on(inv, "currency_code", "invoice_day", rates, base)

    known_ids = set(accounts["account_id"].dropna())
    quarantined_ids = set(accounts.loc[accounts["reason"].notna(), "account_id"].dropna())
    is_invoice = inv["type"] == "invoice"
    inv["reason"] = first_reason(
        inv,
        [
            (
                "invalid_value",
                bad_type | bad_status | bad_invoice_date | bad_due | bad_total | bad_terms | bad_discount
                | bad_disputed | bad_opened | bad_resolved,
            ),
            (
                "missing_mandatory_field",
                _blank(inv["invoice_id"]) | _blank(inv["account_id"]) | inv["invoice_day"].isna()
                | inv["currency_code"].isna() | inv["total"].isna() | (is_invoice & inv["due_day"].isna()),
            ),
            ("unknown_account", ~inv["account_id"].isin(known_ids)),
            ("account_quarantined", inv["account_id"].isin(quarantined_ids)),
            (
                "due_date_before_invoice_date",
                inv["due_day"].astype(float) < inv["invoice_day"].astype(float),  # NaN compares False
            ),
            ("negative_total_on_invoice", is_invoice & inv["total"].map(lambda t: t is not None and t < 0)),
            ("missing_fx_rate", inv["rate"].isna()),
            ("duplicate_key", inv["_dup"]),
        ],
    )
    # valid invoices: not void, dated on or before D, not quarantined
    inv["valid"] = (
        inv["reason"].isna()
        & (inv["status_value"] != "void")
        & (inv["invoice_day"].astype(float) <= as_of.toordinal())
    )
    return inv


def load_invoice_lines(landing_dir: Path, as_of: date, invoices: pd.DataFrame) -> pd.DataFrame:
    lines = merge_delta(read_entity(landing_dir, as_of, "finance", "invoice_lines"), ["invoice_id", "line_number"])
    _, bad_quantity = parse(lines["quantity"], _to_decimal)
    lines["net"], bad_net = parse(lines["net_amount"], _to_decimal)
    lines["cost"], bad_cost = parse(lines["cost_amount"], _to_decimal)
    known = set(invoices["invoice_id"].dropna())
    quarantined = set(invoices.loc[invoices["reason"].notna(), "invoice_id"].dropna())
    lines["reason"] = first_reason(
        lines,
        [
            ("invalid_value", bad_quantity | bad_net | bad_cost),
            ("unknown_invoice", ~lines["invoice_id"].isin(known)),
            ("invoice_quarantined", lines["invoice_id"].isin(quarantined)),
            (
                "missing_mandatory_field",
                _blank(lines["invoice_id"]) | _blank(lines["line_number"]) | _blank(lines["product_line"])
                | lines["net"].isna(),
            ),
            ("duplicate_key", lines["_dup"]),
        ],
    )
    return lines


# --- overrides ----------------------------------------------------------------------------------


def apply_overrides(
    out: pd.DataFrame, landing_dir: Path, as_of: date, config: SegmentationConfig, overrides_file: Path | None
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Valid, applicable, unambiguous override rows replace the computed segment.

    A row applies while `valid_until` is empty or on or after D; it is valid when its
    dimension and segment (trimmed, case-insensitive) are declared and its account is
    published; two or more such rows for one account and dimension are all invalid.
    Returns the frame and {account_id: [overridden dimensions]}.
    """
    rows = read_entity(landing_dir, as_of, "manual", "overrides", overrides_file)
    if rows.empty:
        return out, {}
    declared = config.declared_segments()
    rows["dim"] = _trimmed(rows["dimension"]).map(lambda v: v.lower() if isinstance(v, str) else v)
    rows["seg_key"] = _trimmed(rows["segment"]).map(lambda v: v.lower() if isinstance(v, str) else v)
    rows["until"], bad_until = parse(rows["valid_until"], _to_day)
    lookup = {(dim, seg.lower()): seg for dim, segs in declared.items() if dim in DIMENSIONS for seg in segs}
    rows["seg"] = [lookup.get((d, s)) for d, s in zip(rows["dim"], rows["seg_key"])]
    applicable = ~bad_until & rows["until"].map(lambda d: d is None or d >= as_of.toordinal())
    valid = rows["seg"].notna() & rows["account_id"].isin(set(out["account_id"]))
    usable = rows[applicable & valid]
    usable = usable[usable.groupby(["account_id", "dim"])["seg"].transform("size") == 1]
    out = out.copy()
    for dim, group in usable.groupby("dim"):
        replacement = out["account_id"].map(group.set_index("account_id")["seg"])
        out[dim] = replacement.where(replacement.notna(), out[dim])
    overridden = usable.sort_values("dim").groupby("account_id")["dim"].agg(list).to_dict()
    return out, overridden


# --- the rules ----------------------------------------------------------------------------------


def _industry_vertical(acc: pd.DataFrame, cfg) -> pd.Series:
    code = _trimmed(acc["industry_code"])
    sector = code.map(lambda c: c[:2] if isinstance(c, str) and re.fullmatch(r"[0-9]{2,6}", c) else None)
    sector = sector.where(sector.isin(set(cfg.naics_sectors)), None)
    by_sector = {s: vertical for vertical, sectors in cfg.naics_sector_verticals.items() for s in sectors}
    from_code = sector.map(lambda s: by_sector.get(s, cfg.fallback) if isinstance(s, str) else None)

    text = _trimmed(acc["industry"])
    words = text.map(lambda t: {w.lower() for w in re.findall(r"[^\W\d_]+", t)} if isinstance(t, str) else set())
    from_text = pd.Series(None, index=acc.index, dtype=object)
    for keywords in reversed(cfg.industry_keywords):  # the first list that matches wins
        hit = words.map(lambda ws, kw=frozenset(keywords.words): bool(ws & kw))
        from_text = from_text.where(~hit, keywords.vertical)
    from_text = from_text.where(from_text.notna() | text.isna(), cfg.fallback)
    return from_code.where(from_code.notna(), from_text).where(from_code.notna() | from_text.notna(), TO_BE_DEFINED)


def _tier(values: pd.Series, thresholds) -> pd.Series:
    """enterprise / mid_market / small / micro by the thresholds; None where the value is None."""
    known = values.notna().to_numpy(bool)
    conditions = [
        values.map(lambda v, t=Decimal(str(t)): v is not None and v >= t).to_numpy(bool)
        for t in (thresholds.enterprise, thresholds.mid_market, thresholds.small)
    ]
    tiers = np.select([*conditions, known], ["enterprise", "mid_market", "small", "micro"], default="")
    return pd.Series(tiers, index=values.index).replace("", None)


def _size_tier(acc: pd.DataFrame, cfg, rates: pd.DataFrame, base: str, as_of: date) -> pd.Series:
    # a negative employee_count or annual_revenue reads as missing
    employees = acc["employees"].map(lambda n: Decimal(n) if n is not None and n >= 0 else None)
    declared = acc["revenue_declared"].map(lambda r: r if r is not None and r >= 0 else None)
    # annual_revenue in its currency (default the base currency) at the rate of D; no rate: missing
    lookup = pd.DataFrame({"currency_code": acc["revenue_currency"].fillna(base), "day": as_of.toordinal()})
    rate = rate_on(lookup, "currency_code", "day", rates, base)
    revenue_base = pd.Series(
        [r * x if r is not None and x is not None else None for r, x in zip(declared, rate)],
        index=acc.index,
        dtype=object,
    )
    by_employees = _tier(employees, cfg.min_employees)
    by_revenue = _tier(revenue_base, cfg.min_annual_revenue)
    size = by_employees.fillna(by_revenue).fillna(TO_BE_DEFINED)
    return size.where(acc["party"] != "individual", "consumer")


def compute_segmented_accounts(
    landing_dir: Path, as_of: date, config: SegmentationConfig | str | Path | None = None,
    overrides_file: Path | None = None,
) -> pd.DataFrame:
    """One row per published account (sorted by account_id), columns `REFERENCE_COLUMNS`.

    `config`: a validated configuration, the path of a configuration file laid over
    the defaults, or None for the defaults. `overrides_file`: the manual overrides
    (default `<landing>/overrides.csv`). Money columns are floats holding the values
    rounded half away from zero (2 decimals, `margin_pct_12m` 4); dates are
    `datetime.date` (None when absent). `frame.attrs["overridden_dimensions"]` maps an
    account to the dimensions whose value came from an override.
    """
    if not isinstance(config, SegmentationConfig):
        config = load_config(config)
    landing_dir = Path(landing_dir)
    dims = config.dimensions
    base = config.general.base_currency
    D = as_of.toordinal()
    window_start = D - config.general.window_days  # window: (D - window_days, D]

    rates, _ = load_fx_rates(landing_dir, as_of)
    accounts = load_accounts(landing_dir, as_of)
    invoices = load_invoices(landing_dir, as_of, accounts, rates, base)
    lines = load_invoice_lines(landing_dir, as_of, invoices)

    acc = accounts[accounts["reason"].isna() & (accounts["status_value"] == "active")].copy()
    acc.index = pd.Index(acc["account_id"].to_numpy(), name=None)

    # revenue and margin: lines of valid invoices dated in the window, at the invoice-date rate
    valid = invoices[invoices["valid"]]
    in_window = valid[valid["invoice_day"].astype(float) > window_start]
    used = lines[lines["reason"].isna()].merge(
        in_window[["invoice_id", "account_id", "rate"]], on="invoice_id", how="inner"
    )
    used["revenue"] = used["net"] * used["rate"]
    used["margin"] = (used["net"] - used["cost"].where(used["cost"].notna(), ZERO)) * used["rate"]
    sums = used.groupby("account_id")[["revenue", "margin"]].sum()  # exact Decimal sums
    # rounded once, half away from zero; every later use takes the rounded value
    revenue = acc["account_id"].map(sums["revenue"]).map(lambda v: round_half_away(v if v == v else ZERO, CENT))
    margin = acc["account_id"].map(sums["margin"]).map(lambda v: round_half_away(v if v == v else ZERO, CENT))
    margin_pct = pd.Series(
        [round_half_away(m / r, BASIS_POINT) if r > 0 else None for m, r in zip(margin, revenue)],
        index=acc.index,
        dtype=object,
    )

    # first and last invoice dates: valid invoices of type invoice (any date up to D)
    typed = valid[valid["type"] == "invoice"].groupby("account_id")["invoice_day"].agg(["min", "max"])
    first_day = acc["account_id"].map(typed["min"])
    last_day = acc["account_id"].map(typed["max"])
    has_invoice = first_day.notna()

    out = pd.DataFrame(index=acc.index)
    out["account_id"] = acc["account_id"]
    out["account_name"] = acc["account_name"]
    out["as_of_date"] = as_of
    out["country_code"] = acc["country"]
    out["owner_id"] = acc["owner_id"]
    out["party_type"] = acc["party"].where(acc["party"].notna(), TO_BE_DEFINED)

    new_since = D - dims.tenure.new_within_days
    out["tenure"] = np.select(
        [~has_invoice, first_day.astype(float) > new_since], ["prospect", "new"], default="existing"
    )
    out["market"] = np.where(acc["country"] == config.general.home_country, "domestic", "international")

    high, medium = Decimal(str(dims.value_tier.high_min_revenue)), Decimal(str(dims.value_tier.medium_min_revenue))
    out["value_tier"] = np.select(
        [revenue.map(lambda r: r >= high), revenue.map(lambda r: r >= medium), revenue.map(lambda r: r > 0)],
        ["high", "medium", "low"],
        default="none",
    )

    # Pareto over the published accounts with revenue_12m > 0
    ranked = pd.DataFrame({"account_id": acc["account_id"], "revenue": revenue})
    ranked = ranked[ranked["revenue"].map(lambda r: r > 0)]
    ranked = ranked.assign(revenue_key=ranked["revenue"].astype(float)).sort_values(
        ["revenue_key", "account_id"], ascending=[False, True], kind="stable"
    )
    n = len(ranked)
    a_cut = math.ceil(Decimal(str(dims.pareto_class.a_max_rank_share)) * n)
    b_cut = math.ceil(Decimal(str(dims.pareto_class.b_max_rank_share)) * n)
    rank = pd.Series(np.arange(1, n + 1), index=ranked.index)
    pareto = pd.Series(np.select([rank <= a_cut, rank <= b_cut], ["A", "B"], default="C"), index=ranked.index)
    out["pareto_class"] = pareto.reindex(out.index).where(lambda s: s.notna(), "none")

    lc = dims.lifecycle_stage
    strategic = acc["strategic"].map(lambda v: bool(v) if v is not None else False)
    out["lifecycle_stage"] = np.select(
        [
            ~has_invoice,
            last_day.astype(float) <= D - lc.dormant_after_days,
            strategic | (out["pareto_class"] == "A"),
            first_day.astype(float) > D - lc.new_within_days,
        ],
        ["prospect", "dormant", "key", "new"],
        default="existing",
    )

    country_region = {code: region for region, codes in dims.region.countries.items() for code in codes}
    out["region"] = acc["country"].map(lambda c: country_region.get(c, dims.region.fallback))
    out["industry_vertical"] = _industry_vertical(acc, dims.industry_vertical)
    out["size_tier"] = _size_tier(acc, dims.size_tier, rates, base, as_of)

    out["revenue_12m"] = revenue.astype(float)
    out["margin_12m"] = margin.astype(float)
    out["margin_pct_12m"] = margin_pct.map(lambda v: float(v) if v is not None else np.nan).astype(float)
    out["first_invoice_date"] = first_day.map(lambda d: date.fromordinal(int(d)) if pd.notna(d) else None)
    out["last_invoice_date"] = last_day.map(lambda d: date.fromordinal(int(d)) if pd.notna(d) else None)

    out, overridden = apply_overrides(out, landing_dir, as_of, config, overrides_file)
    out = out[REFERENCE_COLUMNS].sort_values("account_id").reset_index(drop=True)
    out.attrs["overridden_dimensions"] = overridden
    return out
