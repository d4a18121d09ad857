"""The segmentation rules written again in plain pandas, from the specification only.

`compute_reference(landing_dir, as_of)` reads the landing folder itself (files chosen
by `pipeline.ingest.discover`, parsed here with pandas/pyarrow, every value as text),
merges snapshots and deltas, applies the quarantine rules that decide the published
population and the usable invoices, lines, payments, bureau reports and
opportunities, converts currencies and returns the three tables it implements:

* `segmented_accounts`: one row per published account, columns `REFERENCE_COLUMNS`
  (identity, every dimension of the rules document with the manual overrides applied,
  every metric);
* `account_product_lines`: one row per published account and product line with lines
  in the 12-month window (`PRODUCT_LINE_COLUMNS`);
* `collections_worklist`: one row per published account with overdue receivables, in
  the collector's order (`WORKLIST_COLUMNS`).

`compute_segmented_accounts`, `compute_account_product_lines` and
`compute_collections_worklist` return one of them each.

It shares nothing with the dbt project but the configuration (`load_config()`: every
threshold, map and list) and the file selection: it exists to cross-check the SQL cell
by cell (tests/test_reference_agreement.py) and to show what a pandas user would write.

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
  at the end; thresholds and ranks use the rounded values. So are the scores
  (`risk_score` from the rounded `avg_days_late`, no binary floating point).
* Payments: a payment's own `account_id` is ignored (it belongs to its invoice's
  account); payments on credit notes, void invoices or invoices dated after D count
  for nothing; payments of one date count together (cumulative per date, not per
  row); negative amounts are summed as they are. An invoice is open until the
  cumulative payments reach the threshold, even when its outstanding amount is 0 or
  below (a 0.00 invoice without payment stays open). Outstanding = total - all
  payments up to D (not the discounted total).
* `typical_pay_day`: the payment rows of non-quarantined payments on valid invoices
  of type invoice, whatever their amount; "distinct payment dates" among those rows.
* Bureau: `duns_number` is compared trimmed; the registration number drops every
  whitespace character, dots and dashes, and an empty result matches nothing; the
  account's country is its published `country_code`. A report whose `limit_currency`
  is not a known code simply has no rate. `insolvency_flag` null = false.
* Opportunities: a null `currency` is the base currency; a null `amount` adds 0;
  "open" = stage not closed_won / closed_lost whatever the close date.
* `primary_product_line`: the largest *positive* line revenue (so it is `none`
  exactly when `product_mix` is `none`); line revenues are rounded to cents before
  ranking. `account_product_lines` has a row for each (account, product line) with
  usable lines of valid invoices in the window (possibly 0.00, not adopted).
* `service_level`: a contracted value is valid when it is a declared segment of the
  configuration. `payment_terms_bucket` of an invoice whose terms are null is
  to_be_defined even when an older invoice has terms; `early_payment_discount` is
  that same invoice's discount (also when its terms are null).
* Dimensions feeding other rules (service level, dunning, collector, ICP, risk,
  potential) use the computed values, never the overridden ones; the collections
  worklist uses the published (overridden) strategy and collector level; for an
  overridden `wait_for_pay_day` without a typical pay day the earliest date is D.
* Worklist "oldest overdue invoice": the open invoice with due_date < D and the
  earliest due date (ties: earliest invoice date, then invoice_id).
* `group_open_ar`: the group's members are a set (an account naming itself as its
  parent counts once).
"""

from __future__ import annotations

import calendar
import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
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
    # identity
    "account_id",
    "account_name",
    "as_of_date",
    "country_code",
    "owner_id",
    # dimensions, in the order of the rules document
    "party_type",
    "tenure",
    "market",
    "value_tier",
    "pareto_class",
    "lifecycle_stage",
    "region",
    "industry_vertical",
    "size_tier",
    "sales_channel_group",
    "service_level",
    "primary_product_line",
    "product_mix",
    "payment_terms_bucket",
    "early_payment_discount",
    "payment_behaviour",
    "risk_profile",
    "credit_hold",
    "dunning_strategy",
    "collector_level",
    "icp_fit",
    "potential_tier",
    "buying_readiness",
    # metrics
    "revenue_12m",
    "margin_12m",
    "margin_pct_12m",
    "first_invoice_date",
    "last_invoice_date",
    "open_ar",
    "overdue_ar",
    "avg_days_late",
    "on_time_rate",
    "max_days_overdue",
    "typical_pay_day",
    "disputes_12m",
    "open_disputes",
    "bureau_score",
    "risk_score",
    "icp_score",
    "potential_value",
    "credit_limit_utilisation",
    "group_open_ar",
]

# the segment dimensions a manual override may set: every dimension of the rules document but
# primary_product_line and the booleans (credit_hold, early_payment_discount)
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
    "sales_channel_group",
    "service_level",
    "product_mix",
    "payment_terms_bucket",
    "payment_behaviour",
    "risk_profile",
    "dunning_strategy",
    "collector_level",
    "icp_fit",
    "potential_tier",
    "buying_readiness",
]

PRODUCT_LINE_COLUMNS = ["account_id", "product_line", "revenue_12m", "margin_12m", "adopted"]

WORKLIST_COLUMNS = [
    "work_order",
    "account_id",
    "account_name",
    "owner_id",
    "earliest_action_date",
    "collector_level",
    "dunning_strategy",
    "overdue_ar",
    "open_ar",
    "max_days_overdue",
    "oldest_overdue_invoice_id",
    "oldest_overdue_due_date",
    "typical_pay_day",
    "group_open_ar",
    "credit_hold",
    "risk_profile",
]

OPPORTUNITY_STAGES = ("prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost")
CLOSED_STAGES = frozenset({"closed_won", "closed_lost"})

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
    inv["terms"], bad_terms = parse(inv["payment_terms_days"], _to_integer)
    inv["discount"], bad_discount = parse(inv["early_payment_discount_pct"], _to_decimal)
    _, bad_disputed = parse(inv["disputed"], _to_boolean)  # informational: the dispute dates decide
    inv["opened_day"], bad_opened = parse(inv["dispute_opened_at"], _to_day)
    inv["resolved_day"], bad_resolved = parse(inv["dispute_resolved_at"], _to_day)
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


# --- payments, bureau, opportunities ----------------------------------------------------------


def load_payments(landing_dir: Path, as_of: date, invoices: pd.DataFrame) -> pd.DataFrame:
    """The merged payments with their quarantine reason; `pay_day`, `amount_value` parsed.

    A payment is in its invoice's currency (else `payment_currency_mismatch`) and
    belongs to its invoice's account: its own `account_id` is not used.
    """
    pay = merge_delta(read_entity(landing_dir, as_of, "finance", "payments"), ["payment_id"])
    pay["pay_day"], bad_day = parse(pay["payment_date"], _to_day)
    pay["amount_value"], bad_amount = parse(pay["amount"], _to_decimal)
    pay["currency_code"] = upper_code(pay["currency"])
    known = set(invoices["invoice_id"].dropna())
    quarantined = set(invoices.loc[invoices["reason"].notna(), "invoice_id"].dropna())
    usable = invoices[invoices["reason"].isna()]
    invoice_currency = pay["invoice_id"].map(dict(zip(usable["invoice_id"], usable["currency_code"])))
    pay["reason"] = first_reason(
        pay,
        [
            ("invalid_value", bad_day | bad_amount),
            ("unknown_invoice", ~pay["invoice_id"].isin(known)),
            ("invoice_quarantined", pay["invoice_id"].isin(quarantined)),
            (
                "missing_mandatory_field",
                _blank(pay["payment_id"]) | _blank(pay["invoice_id"]) | pay["pay_day"].isna()
                | pay["amount_value"].isna() | pay["currency_code"].isna(),
            ),
            ("duplicate_key", pay["_dup"]),
            ("payment_currency_mismatch", invoice_currency.notna() & (pay["currency_code"] != invoice_currency)),
        ],
    )
    return pay


def _in_range(values: pd.Series, low: Decimal, high: Decimal) -> pd.Series:
    return values.map(lambda v: v is not None and not (low <= v <= high))


def _normalised_registration(series: pd.Series) -> pd.Series:
    """Upper case, whitespace, dots and dashes removed; empty: null."""
    text = series.map(lambda v: re.sub(r"[\s.\-]+", "", v).upper() if isinstance(v, str) else None)
    return text.where(text.notna() & (text != ""), None)


def load_bureau(landing_dir: Path, as_of: date) -> pd.DataFrame:
    """The bureau snapshot with each report's quarantine reason and parsed values."""
    b = read_entity(landing_dir, as_of, "bureau", "company_scores")
    b["report_day"], bad_day = parse(b["report_date"], _to_day)
    b["score"], bad_score = parse(b["credit_score"], _to_decimal)
    b["payment_index_value"], bad_index = parse(b["payment_index"], _to_decimal)
    b["limit"], bad_limit = parse(b["recommended_limit"], _to_decimal)
    b["insolvent"], bad_insolvency = parse(b["insolvency_flag"], _to_boolean)
    b["country"] = upper_code(b["country_code"])
    b["limit_currency_code"] = upper_code(b["limit_currency"])
    b["duns"] = _trimmed(b["duns_number"])
    b["registration"] = _normalised_registration(b["registration_number"])
    hundred = Decimal(100)
    b["reason"] = first_reason(
        b,
        [
            (
                "invalid_value",
                bad_day | bad_score | bad_index | bad_limit | bad_insolvency
                | _in_range(b["score"], ZERO, hundred) | _in_range(b["payment_index_value"], ZERO, hundred)
                | (b["country"].notna() & ~b["country"].isin(ISO_COUNTRIES)),
            ),
            ("missing_mandatory_field", _blank(b["bureau_ref"]) | b["country"].isna() | b["report_day"].isna()),
            ("duplicate_key", b["bureau_ref"].notna() & b["bureau_ref"].duplicated(keep=False)),
        ],
    )
    return b


def load_opportunities(
    landing_dir: Path, as_of: date, accounts: pd.DataFrame, rates: pd.DataFrame, base: str
) -> pd.DataFrame:
    """The opportunities snapshot with each row's quarantine reason; amounts converted at D.

    A null currency reads as the base currency (as for `annual_revenue`).
    """
    o = read_entity(landing_dir, as_of, "crm", "opportunities")
    o["stage_value"], bad_stage = parse_enum(o["stage"], set(OPPORTUNITY_STAGES))
    o["amount_value"], bad_amount = parse(o["amount"], _to_decimal)
    o["close_day"], bad_close = parse(o["close_date"], _to_day)
    o["currency_code"] = upper_code(o["currency"]).fillna(base)
    o["_day"] = as_of.toordinal()
    o["rate"] = rate_on(o, "currency_code", "_day", rates, base)
    known_ids = set(accounts["account_id"].dropna())
    quarantined_ids = set(accounts.loc[accounts["reason"].notna(), "account_id"].dropna())
    o["reason"] = first_reason(
        o,
        [
            ("invalid_value", bad_stage | bad_amount | bad_close),
            (
                "missing_mandatory_field",
                _blank(o["opportunity_id"]) | _blank(o["account_id"]) | o["stage_value"].isna(),
            ),
            ("unknown_account", ~o["account_id"].isin(known_ids)),
            ("account_quarantined", o["account_id"].isin(quarantined_ids)),
            ("missing_fx_rate", o["rate"].isna()),
            ("duplicate_key", o["opportunity_id"].notna() & o["opportunity_id"].duplicated(keep=False)),
        ],
    )
    return o


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


def _money(value) -> Decimal:
    """A sum (Decimal, or NaN/None for nothing) rounded half away from zero to cents."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        value = ZERO
    return round_half_away(value, CENT)


def _sum_by(frame: pd.DataFrame, key: str, value: str) -> dict:
    """Exact Decimal sums of `value` per `key`."""
    sums: dict = {}
    for k, v in zip(frame[key], frame[value]):
        sums[k] = sums.get(k, ZERO) + v
    return sums


def _dec(value) -> Decimal:
    return Decimal(str(value))


def _allocate_payments(typed: pd.DataFrame, payments: pd.DataFrame, D: int, tolerance: Decimal) -> pd.DataFrame:
    """Per valid invoice of type invoice: `paid_day` (None: open at D) and `outstanding`.

    The invoice is paid on the first date on which the cumulative payments dated on or
    before D reach total x (1 - discount/100) - tolerance (several payments of one date
    count together); otherwise it is open with outstanding total - payments.
    """
    usable = payments[
        payments["reason"].isna()
        & payments["invoice_id"].isin(set(typed["invoice_id"]))
        & (payments["pay_day"].astype(float) <= D)
    ]
    daily: dict[str, dict[int, Decimal]] = {}
    for invoice_id, day, amount in zip(usable["invoice_id"], usable["pay_day"], usable["amount_value"]):
        per_day = daily.setdefault(invoice_id, {})
        per_day[day] = per_day.get(day, ZERO) + amount
    paid_days, outstanding = [], []
    for invoice_id, total, discount in zip(typed["invoice_id"], typed["total"], typed["discount"]):
        threshold = total * (ONE - (discount if discount is not None else ZERO) / 100) - tolerance
        cumulative, paid_day = ZERO, None
        for day in sorted(daily.get(invoice_id, {})):
            cumulative += daily[invoice_id][day]
            if paid_day is None and cumulative >= threshold:
                paid_day = day
        paid_days.append(paid_day)
        outstanding.append(None if paid_day is not None else total - cumulative)
    out = typed.copy()
    out["paid_day"] = pd.Series(paid_days, index=typed.index, dtype=object)
    out["outstanding"] = pd.Series(outstanding, index=typed.index, dtype=object)
    return out


def _typical_pay_day(days_of_payments: list[int], credit) -> int | None:
    """The regular pay day of one account's payment dates (one entry per payment row)."""
    if len(set(days_of_payments)) < credit.pay_day_min_distinct_dates:
        return None
    capped = [min(date.fromordinal(d).day, credit.pay_day_month_end_cap) for d in days_of_payments]
    counts: dict[int, int] = {}
    for d in capped:
        counts[d] = counts.get(d, 0) + 1
    top = max(counts.values())
    m = min(d for d, c in counts.items() if c == top)
    near = sum(1 for d in capped if abs(d - m) <= credit.pay_day_tolerance_days)
    return m if Fraction(near, len(capped)) >= Fraction(str(credit.pay_day_min_share)) else None


def _percentile_cont(values: list[Decimal], p: Decimal) -> Decimal:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)  # floor: position >= 0
    fraction = position - low
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + fraction * (ordered[low + 1] - ordered[low])


def _match_bureau(acc: pd.DataFrame, bureau: pd.DataFrame, D: int, stale_after: int) -> pd.DataFrame:
    """The matched report of each account (index account_id), stale ones marked."""
    reports = bureau[bureau["reason"].isna()]
    reports = reports[reports["report_day"].astype(float) <= D]
    columns = ["bureau_ref", "report_day", "score", "limit", "limit_currency_code", "insolvent"]
    by_duns = acc[["account_id", "duns"]].dropna().merge(reports[["duns", *columns]], on="duns")
    duns_route = set(by_duns["account_id"])
    reg_accounts = acc[~acc["account_id"].isin(duns_route)][["account_id", "registration", "country"]].dropna()
    by_registration = reg_accounts.merge(
        reports[["registration", "country", *columns]].dropna(subset=["registration"]),
        on=["registration", "country"],
    )
    candidates = pd.concat([by_duns[["account_id", *columns]], by_registration[["account_id", *columns]]])
    if candidates.empty:
        return pd.DataFrame(columns=[*columns, "stale"], index=pd.Index([], dtype=object))
    candidates = candidates.assign(_day=candidates["report_day"].astype("int64")).sort_values(
        ["account_id", "_day", "bureau_ref"], ascending=[True, False, False], kind="stable"
    )
    match = candidates.drop_duplicates("account_id", keep="first").set_index("account_id")
    match["stale"] = (D - match["_day"]) > stale_after
    return match[[*columns, "stale"]]


def _next_action_day(as_of: date, pay_day, cap: int) -> date:
    """The day after the next occurrence of `pay_day` on or after D (the cap: the month's last day)."""
    def occurrence(year: int, month: int) -> date:
        last = calendar.monthrange(year, month)[1]
        return date(year, month, last if pay_day >= cap else min(pay_day, last))

    day = occurrence(as_of.year, as_of.month)
    if day < as_of:
        year, month = (as_of.year + 1, 1) if as_of.month == 12 else (as_of.year, as_of.month + 1)
        day = occurrence(year, month)
    return day + timedelta(days=1)


def _nullable_float(values) -> list:
    return [float(v) if v is not None else np.nan for v in values]


def compute_reference(
    landing_dir: Path, as_of: date, config: SegmentationConfig | str | Path | None = None,
    overrides_file: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Every published table the reference implements, from one pass over the landing folder.

    Returns {"segmented_accounts", "account_product_lines", "collections_worklist"}
    (see `compute_segmented_accounts`, `compute_account_product_lines`,
    `compute_collections_worklist`).
    """
    if not isinstance(config, SegmentationConfig):
        config = load_config(config)
    landing_dir = Path(landing_dir)
    dims = config.dimensions
    credit = config.credit
    base = config.general.base_currency
    D = as_of.toordinal()
    window_start = D - config.general.window_days  # window: (D - window_days, D]

    rates, _ = load_fx_rates(landing_dir, as_of)
    accounts = load_accounts(landing_dir, as_of)
    invoices = load_invoices(landing_dir, as_of, accounts, rates, base)
    lines = load_invoice_lines(landing_dir, as_of, invoices)
    payments = load_payments(landing_dir, as_of, invoices)
    bureau = load_bureau(landing_dir, as_of)
    opportunities = load_opportunities(landing_dir, as_of, accounts, rates, base)

    acc = accounts[accounts["reason"].isna() & (accounts["status_value"] == "active")].copy()
    acc.index = pd.Index(acc["account_id"].to_numpy(), name=None)
    ids = acc["account_id"]

    # --- revenue and margin: lines of valid invoices dated in the window, at the invoice-date rate
    valid = invoices[invoices["valid"]]
    in_window = valid[valid["invoice_day"].astype(float) > window_start]
    used = lines[lines["reason"].isna()].merge(
        in_window[["invoice_id", "account_id", "rate"]], on="invoice_id", how="inner"
    )
    used = used[used["account_id"].isin(set(ids))]
    used["revenue"] = used["net"] * used["rate"]
    used["margin"] = (used["net"] - used["cost"].where(used["cost"].notna(), ZERO)) * used["rate"]
    used["_key"] = list(zip(used["account_id"], used["product_line"]))
    revenue_sums, margin_sums = _sum_by(used, "account_id", "revenue"), _sum_by(used, "account_id", "margin")
    # rounded once, half away from zero; every later use takes the rounded value
    revenue = ids.map(lambda a: _money(revenue_sums.get(a)))
    margin = ids.map(lambda a: _money(margin_sums.get(a)))
    margin_pct = pd.Series(
        [round_half_away(m / r, BASIS_POINT) if r > 0 else None for m, r in zip(margin, revenue)],
        index=acc.index,
        dtype=object,
    )

    # --- per product line (the rows of account_product_lines)
    line_revenue, line_margin = _sum_by(used, "_key", "revenue"), _sum_by(used, "_key", "margin")
    product_lines = pd.DataFrame(
        [
            (account, line, _money(line_revenue[(account, line)]), _money(line_margin[(account, line)]))
            for account, line in sorted(line_revenue)
        ],
        columns=["account_id", "product_line", "revenue", "margin"],
    )
    positive = product_lines[product_lines["revenue"].map(lambda r: r > 0)]
    positive = positive.assign(_neg=positive["revenue"].map(lambda r: -r)).sort_values(
        ["account_id", "_neg", "product_line"], kind="stable"
    )  # largest revenue, ties alphabetical
    primary_line = positive.drop_duplicates("account_id").set_index("account_id")["product_line"]
    positive_lines = positive.groupby("account_id").size()

    # --- invoice dates: valid invoices of type invoice (any date up to D)
    typed = valid[valid["type"] == "invoice"]
    typed = typed[typed["account_id"].isin(set(ids))]
    span = typed.groupby("account_id")["invoice_day"].agg(["min", "max"])
    first_day = ids.map(span["min"])
    last_day = ids.map(span["max"])
    has_invoice = first_day.notna()

    out = pd.DataFrame(index=acc.index)
    out["account_id"] = ids
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

    high, medium = _dec(dims.value_tier.high_min_revenue), _dec(dims.value_tier.medium_min_revenue)
    out["value_tier"] = np.select(
        [revenue.map(lambda r: r >= high), revenue.map(lambda r: r >= medium), revenue.map(lambda r: r > 0)],
        ["high", "medium", "low"],
        default="none",
    )

    # Pareto over the published accounts with revenue_12m > 0
    ranked = pd.DataFrame({"account_id": ids, "revenue": revenue})
    ranked = ranked[ranked["revenue"].map(lambda r: r > 0)]
    ranked = ranked.assign(revenue_key=ranked["revenue"].map(lambda r: -r)).sort_values(
        ["revenue_key", "account_id"], kind="stable"
    )
    n = len(ranked)
    a_cut = math.ceil(_dec(dims.pareto_class.a_max_rank_share) * n)
    b_cut = math.ceil(_dec(dims.pareto_class.b_max_rank_share) * n)
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

    # --- sales channel: trimmed, lower case, each run of spaces and/or hyphens one "_"
    channel = _trimmed(acc["sales_channel"]).map(
        lambda v: re.sub(r"[ \-]+", "_", v.lower()) if isinstance(v, str) else None
    )
    channel_group = {value: group for group, values in dims.sales_channel_group.channels.items() for value in values}
    out["sales_channel_group"] = channel.map(lambda v: channel_group.get(v, TO_BE_DEFINED) if v else TO_BE_DEFINED)

    # --- service level: the contracted value when it is a declared level, else derived
    sl = dims.service_level
    contracted = _trimmed(acc["service_level"]).map(lambda v: v.lower() if isinstance(v, str) else None)
    contracted = contracted.where(contracted.isin(set(sl.segments)), None)
    derived = np.select(
        [
            out["lifecycle_stage"] == "key",
            (out["value_tier"] == "high") | (out["size_tier"] == "enterprise"),
        ],
        [sl.key_account_level, sl.high_value_level],
        default=sl.default_level,
    )
    out["service_level"] = contracted.where(contracted.notna(), pd.Series(derived, index=acc.index))

    # --- product lines
    out["primary_product_line"] = ids.map(primary_line).where(lambda s: s.notna(), "none")
    count = ids.map(positive_lines).fillna(0)
    out["product_mix"] = np.select([count == 0, count == 1], ["none", "single_line"], default="multi_line")

    # --- payment terms of the most recent valid invoice of type invoice
    latest = typed.assign(_day=typed["invoice_day"].astype("int64")).sort_values(
        ["account_id", "_day", "invoice_id"], ascending=[True, False, False], kind="stable"
    ).drop_duplicates("account_id").set_index("account_id")
    terms = ids.map(latest["terms"])
    t = dims.payment_terms_bucket.max_terms_days
    out["payment_terms_bucket"] = [
        TO_BE_DEFINED if d is None or d != d
        else "immediate" if d <= t.immediate else "net_30" if d <= t.net_30 else "net_60" if d <= t.net_60
        else "net_90_plus"
        for d in terms
    ]
    discount = ids.map(latest["discount"])
    out["early_payment_discount"] = [isinstance(v, Decimal) and v > 0 for v in discount]

    # --- receivables: payment allocation on valid invoices of type invoice
    allocated = _allocate_payments(typed, payments, D, _dec(credit.payment_tolerance))
    allocated["_D"] = D
    allocated["rate_at_d"] = rate_on(allocated, "currency_code", "_D", rates, base)
    is_open = allocated["paid_day"].isna()
    due = allocated["due_day"].astype(float)
    open_items = allocated[is_open]
    open_items = open_items.assign(base_outstanding=[o * r for o, r in zip(open_items["outstanding"],
                                                                              open_items["rate_at_d"])])
    overdue_items = open_items[open_items["due_day"].astype(float) < D]
    open_sums = _sum_by(open_items, "account_id", "base_outstanding")
    overdue_sums = _sum_by(overdue_items, "account_id", "base_outstanding")
    open_ar = ids.map(lambda a: _money(open_sums.get(a)))
    overdue_ar = ids.map(lambda a: _money(overdue_sums.get(a)))
    days_overdue = (D - overdue_items["due_day"].astype("int64")).groupby(overdue_items["account_id"]).max()
    max_days_overdue = ids.map(days_overdue).fillna(0).astype("int64")
    oldest = overdue_items.assign(
        _due=overdue_items["due_day"].astype("int64"), _inv=overdue_items["invoice_day"].astype("int64")
    ).sort_values(["account_id", "_due", "_inv", "invoice_id"], kind="stable").drop_duplicates("account_id")
    oldest = oldest.set_index("account_id")

    # evaluated invoices: due date in the window, and paid or due before D
    evaluated = allocated[(due > window_start) & (due <= D) & (~is_open | (due < D))]
    lateness = [
        max(0, paid - int(d)) if paid is not None else D - int(d)
        for paid, d in zip(evaluated["paid_day"], evaluated["due_day"])
    ]
    on_time = [paid is not None and paid <= int(d) for paid, d in zip(evaluated["paid_day"], evaluated["due_day"])]
    stats = pd.DataFrame({"account_id": evaluated["account_id"].to_numpy(), "late": lateness, "on_time": on_time})
    grouped = stats.groupby("account_id").agg(n=("late", "size"), late=("late", "sum"), on_time=("on_time", "sum"))
    avg_days_late = ids.map(
        lambda a: round_half_away(Decimal(int(grouped.at[a, "late"])) / int(grouped.at[a, "n"]), CENT)
        if a in grouped.index else None
    )
    on_time_rate = ids.map(
        lambda a: round_half_away(Decimal(int(grouped.at[a, "on_time"])) / int(grouped.at[a, "n"]), BASIS_POINT)
        if a in grouped.index else None
    )

    pb = dims.payment_behaviour
    prompt_days, prompt_rate = _dec(pb.prompt_max_avg_days_late), _dec(pb.prompt_min_on_time_rate)
    slow_days = _dec(pb.slow_max_avg_days_late)
    out["payment_behaviour"] = [
        "defaulting" if days > pb.defaulting_above_days_overdue
        else TO_BE_DEFINED if avg is None
        else "prompt" if avg <= prompt_days and rate >= prompt_rate
        else "slow" if avg <= slow_days
        else "very_slow"
        for days, avg, rate in zip(max_days_overdue, avg_days_late, on_time_rate)
    ]

    # --- typical pay day: payments on valid invoices of type invoice dated in (D - lookback, D]
    recent = payments[
        payments["reason"].isna()
        & payments["invoice_id"].isin(set(typed["invoice_id"]))
        & (payments["pay_day"].astype(float) > D - credit.pay_day_lookback_days)
        & (payments["pay_day"].astype(float) <= D)
    ]
    recent_account = recent["invoice_id"].map(dict(zip(typed["invoice_id"], typed["account_id"])))
    pay_days = recent["pay_day"].groupby(recent_account).agg(list)
    typical = pay_days.map(lambda days: _typical_pay_day([int(d) for d in days], credit))
    typical_pay_day = ids.map(typical).map(lambda v: int(v) if v is not None and v == v else None)

    # --- disputes
    opened = typed["opened_day"].astype(float)
    resolved = typed["resolved_day"].astype(float)
    disputes_12m = ids.map(typed[(opened > window_start) & (opened <= D)].groupby("account_id").size()).fillna(0)
    open_dispute_rows = typed[(opened <= D) & ~(resolved <= D)]  # NaN compares False: not resolved
    open_disputes = ids.map(open_dispute_rows.groupby("account_id").size()).fillna(0)

    # --- bureau
    acc["duns"] = _trimmed(acc["duns_number"])
    acc["registration"] = _normalised_registration(acc["registration_number"])
    match = _match_bureau(acc, bureau, D, credit.bureau_stale_after_days)
    match = match[~match["stale"].astype(bool)]  # a stale report is treated as absent
    matched = ids.isin(set(match.index))
    bureau_score = ids.map(match["score"]).map(lambda v: v if isinstance(v, Decimal) else None)
    insolvent = ids.map(match["insolvent"]).map(lambda v: isinstance(v, (bool, np.bool_)) and bool(v)).astype(bool)

    # --- risk score
    risk = config.scores.risk
    w_ext, w_int = _dec(risk.weights.external), _dec(risk.weights.internal)
    w_ind, w_reg = _dec(risk.weights.industry), _dec(risk.weights.region)
    factor = _dec(risk.internal_days_late_factor)
    hundred = Decimal(100)
    risk_scores = []
    for score, avg, behaviour, vertical, region in zip(
        bureau_score, avg_days_late, out["payment_behaviour"], out["industry_vertical"], out["region"]
    ):
        external = hundred - score if score is not None else None
        internal = hundred if behaviour == "defaulting" else min(hundred, factor * avg) if avg is not None else None
        if external is None and internal is None:
            risk_scores.append(None)
            continue
        total = w_ind * _dec(risk.industry[vertical]) + w_reg * _dec(risk.region[region])
        if external is None:
            total += (w_int + w_ext) * internal
        elif internal is None:
            total += (w_ext + w_int) * external
        else:
            total += w_ext * external + w_int * internal
        risk_scores.append(round_half_away(total, Decimal("0.1")))
    risk_score = pd.Series(risk_scores, index=acc.index, dtype=object)

    rp = dims.risk_profile
    out["risk_profile"] = [
        "very_high" if ins
        else TO_BE_DEFINED if s is None
        else "low" if s < _dec(rp.low_below) else "medium" if s < _dec(rp.medium_below)
        else "high" if s < _dec(rp.high_below) else "very_high"
        for ins, s in zip(insolvent, risk_score)
    ]

    out["credit_hold"] = (
        insolvent
        | ((disputes_12m >= credit.credit_hold_min_disputes_12m) & open_ar.map(lambda v: v > 0))
        | (max_days_overdue > credit.credit_hold_above_days_overdue)
    ).astype(bool)

    has_overdue = overdue_ar.map(lambda v: v > 0)
    key = out["lifecycle_stage"] == "key"
    escalate_profiles = set(dims.dunning_strategy.escalate_risk_profiles)
    out["dunning_strategy"] = np.select(
        [
            ~has_overdue,
            out["credit_hold"] | out["risk_profile"].isin(escalate_profiles),
            key,
            typical_pay_day.notna(),
        ],
        ["none", "escalate", "personal", "wait_for_pay_day"],
        default="standard",
    )
    cl = dims.collector_level
    senior_overdue = _dec(cl.senior_min_overdue_ar)
    out["collector_level"] = np.select(
        [
            ~has_overdue,
            overdue_ar.map(lambda v: v >= senior_overdue) | out["risk_profile"].isin(set(cl.senior_risk_profiles))
            | key | out["credit_hold"],
        ],
        ["none", "senior"],
        default="junior",
    )

    # --- ICP
    icp_score = pd.Series(0, index=acc.index, dtype="int64")
    for criterion in config.scores.icp.criteria:
        icp_score += np.where(out[criterion.dimension].isin(set(criterion.values)), criterion.points, 0)
    fit = dims.icp_fit
    out["icp_fit"] = [
        "excluded" if ins or vertical in set(fit.excluded_verticals) or country in set(fit.excluded_countries)
        else TO_BE_DEFINED if vertical == TO_BE_DEFINED or size == TO_BE_DEFINED
        else "ideal" if score >= fit.ideal_min_score else "good" if score >= fit.good_min_score
        else "fair" if score >= fit.fair_min_score else "poor"
        for ins, vertical, size, country, score in zip(
            insolvent, out["industry_vertical"], out["size_tier"], out["country_code"], icp_score
        )
    ]

    # --- potential: peer benchmark + open opportunities (at D)
    usable_opps = opportunities[
        opportunities["reason"].isna() & ~opportunities["stage_value"].isin(CLOSED_STAGES)
        & opportunities["account_id"].isin(set(ids))
    ]
    opp_amounts = usable_opps.assign(
        base_amount=[a * r if a is not None else ZERO for a, r in zip(usable_opps["amount_value"], usable_opps["rate"])]
    )
    opp_sums = _sum_by(opp_amounts, "account_id", "base_amount")
    pot = config.scores.potential
    p = _dec(pot.percentile)
    peers = pd.DataFrame({"size": out["size_tier"], "vertical": out["industry_vertical"], "revenue": revenue})
    peers = peers[peers["revenue"].map(lambda r: r > 0)]
    by_group = {k: list(g["revenue"]) for k, g in peers.groupby(["size", "vertical"])}
    by_size = {k: list(g["revenue"]) for k, g in peers.groupby("size")}
    potential = []
    for size, vertical, r, account in zip(out["size_tier"], out["industry_vertical"], revenue, ids):
        benchmark = None
        if size != TO_BE_DEFINED:
            group = by_group.get((size, vertical), [])
            if len(group) >= pot.min_peers:
                benchmark = _percentile_cont(group, p)
            elif len(by_size.get(size, [])) >= pot.min_peers:
                benchmark = _percentile_cont(by_size[size], p)
        if benchmark is None:
            potential.append(None)
            continue
        value = max(ZERO, benchmark - max(r, ZERO)) + opp_sums.get(account, ZERO)
        potential.append(round_half_away(value, CENT))
    potential_value = pd.Series(potential, index=acc.index, dtype=object)
    pt = dims.potential_tier
    out["potential_tier"] = [
        TO_BE_DEFINED if v is None
        else "high" if v >= _dec(pt.high_min_value) else "medium" if v >= _dec(pt.medium_min_value)
        else "low" if v > 0 else "none"
        for v in potential_value
    ]

    br = dims.buying_readiness
    hot_rows = usable_opps[
        usable_opps["stage_value"].isin(set(br.hot_stages))
        & (usable_opps["close_day"].astype(float) >= D)
        & (usable_opps["close_day"].astype(float) <= D + br.hot_within_days)
    ]
    out["buying_readiness"] = np.select(
        [ids.isin(set(hot_rows["account_id"])), ids.isin(set(usable_opps["account_id"]))],
        ["hot", "warm"],
        default="cold",
    )

    # --- credit-control metrics
    limit_lookup = pd.DataFrame(
        {"currency_code": ids.map(match["limit_currency_code"]).map(lambda c: c if isinstance(c, str) else base),
         "_D": D},
        index=acc.index,
    )
    limit_rate = rate_on(limit_lookup, "currency_code", "_D", rates, base)
    limit = ids.map(match["limit"]).map(lambda v: v if isinstance(v, Decimal) else None)
    utilisation = [
        round_half_away(ar / (lim * x), BASIS_POINT) if lim is not None and lim > 0 and x is not None else None
        for ar, lim, x in zip(open_ar, limit, limit_rate)
    ]
    parent = _trimmed(acc["parent_account_id"])
    group_name = parent.where(parent.notna(), ids)
    open_by_id = dict(zip(ids, open_ar))
    children: dict[str, Decimal] = {}
    for account, p_id in zip(ids, parent):
        if p_id is not None:
            children[p_id] = children.get(p_id, ZERO) + open_by_id[account]
    parent_of = dict(zip(ids, parent))
    group_open_ar = [
        children.get(g, ZERO) + (open_by_id[g] if g in open_by_id and parent_of[g] != g else ZERO)
        for g in group_name
    ]

    # --- the metrics
    out["revenue_12m"] = revenue.astype(float)
    out["margin_12m"] = margin.astype(float)
    out["margin_pct_12m"] = _nullable_float(margin_pct)
    out["first_invoice_date"] = first_day.map(lambda d: date.fromordinal(int(d)) if pd.notna(d) else None)
    out["last_invoice_date"] = last_day.map(lambda d: date.fromordinal(int(d)) if pd.notna(d) else None)
    out["open_ar"] = open_ar.astype(float)
    out["overdue_ar"] = overdue_ar.astype(float)
    out["avg_days_late"] = _nullable_float(avg_days_late)
    out["on_time_rate"] = _nullable_float(on_time_rate)
    out["max_days_overdue"] = max_days_overdue.astype("Int64")
    out["typical_pay_day"] = pd.array(list(typical_pay_day), dtype="Int64")
    out["disputes_12m"] = disputes_12m.astype("Int64")
    out["open_disputes"] = open_disputes.astype("Int64")
    out["bureau_score"] = _nullable_float(bureau_score)
    out["risk_score"] = _nullable_float(risk_score)
    out["icp_score"] = icp_score.astype("Int64")
    out["potential_value"] = _nullable_float(potential_value)
    out["credit_limit_utilisation"] = _nullable_float(utilisation)
    out["group_open_ar"] = [float(_money(v)) for v in group_open_ar]

    computed = out.copy()  # the rules' own values (overrides feed no other rule)
    out, overridden = apply_overrides(out, landing_dir, as_of, config, overrides_file)
    out = out[REFERENCE_COLUMNS].sort_values("account_id").reset_index(drop=True)
    out.attrs["overridden_dimensions"] = overridden
    computed = computed[REFERENCE_COLUMNS].sort_values("account_id").reset_index(drop=True)
    out.attrs["computed"] = computed

    # --- account_product_lines
    apl = pd.DataFrame(
        {
            "account_id": product_lines["account_id"],
            "product_line": product_lines["product_line"],
            "revenue_12m": product_lines["revenue"].astype(float),
            "margin_12m": product_lines["margin"].astype(float),
            "adopted": product_lines["revenue"].map(lambda r: r > 0).astype(bool),
        }
    )[PRODUCT_LINE_COLUMNS].reset_index(drop=True)

    # --- collections_worklist: the published (overridden) strategy and level
    wl = out[out["overdue_ar"] > 0].copy()
    wl["oldest_overdue_invoice_id"] = wl["account_id"].map(oldest["invoice_id"])
    wl["oldest_overdue_due_date"] = wl["account_id"].map(oldest["due_day"]).map(
        lambda d: date.fromordinal(int(d)) if pd.notna(d) else None
    )
    wl["earliest_action_date"] = [
        _next_action_day(as_of, int(pd_), credit.pay_day_month_end_cap)
        if strategy == "wait_for_pay_day" and not pd.isna(pd_) else as_of
        for strategy, pd_ in zip(wl["dunning_strategy"], wl["typical_pay_day"])
    ]
    level_rank = {"senior": 0, "junior": 1}
    strategy_rank = {"escalate": 0, "personal": 1, "standard": 2, "wait_for_pay_day": 3}
    wl = wl.assign(
        _day=wl["earliest_action_date"].map(date.toordinal),
        _level=wl["collector_level"].map(lambda v: level_rank.get(v, 2)),
        _strategy=wl["dunning_strategy"].map(lambda v: strategy_rank.get(v, 4)),
        _overdue=-wl["overdue_ar"],
    ).sort_values(["_day", "_level", "_strategy", "_overdue", "account_id"], kind="stable")
    wl["work_order"] = np.arange(1, len(wl) + 1)
    wl = wl[WORKLIST_COLUMNS].reset_index(drop=True)
    return {"segmented_accounts": out, "account_product_lines": apl, "collections_worklist": wl}


def compute_segmented_accounts(
    landing_dir: Path, as_of: date, config: SegmentationConfig | str | Path | None = None,
    overrides_file: Path | None = None,
) -> pd.DataFrame:
    """One row per published account (sorted by account_id), columns `REFERENCE_COLUMNS`.

    `config`: a validated configuration, the path of a configuration file laid over
    the defaults, or None for the defaults. `overrides_file`: the manual overrides
    (default `<landing>/overrides.csv`). Money and other decimal columns are floats
    holding the values rounded half away from zero (money 2 decimals, `avg_days_late`
    2, `on_time_rate` / `margin_pct_12m` / `credit_limit_utilisation` 4, `risk_score`
    1); integer columns are nullable Int64; dates are `datetime.date` (None when
    absent); booleans are bool. `frame.attrs["overridden_dimensions"]` maps an account
    to the dimensions whose value came from an override; `frame.attrs["computed"]` is
    the same table before the overrides.
    """
    return compute_reference(landing_dir, as_of, config, overrides_file)["segmented_accounts"]


def compute_account_product_lines(
    landing_dir: Path, as_of: date, config: SegmentationConfig | str | Path | None = None,
) -> pd.DataFrame:
    """One row per published account and product line with line revenue in the window.

    Columns `PRODUCT_LINE_COLUMNS`: revenue and margin (base currency) of the lines of
    valid invoices dated in the 12-month window, rounded to cents; `adopted` = revenue > 0.
    """
    return compute_reference(landing_dir, as_of, config)["account_product_lines"]


def compute_collections_worklist(
    landing_dir: Path, as_of: date, config: SegmentationConfig | str | Path | None = None,
    overrides_file: Path | None = None,
) -> pd.DataFrame:
    """One row per published account with overdue receivables, in the order a collector works it.

    Columns `WORKLIST_COLUMNS`; `earliest_action_date` is D except for
    `wait_for_pay_day` (the day after the next occurrence of typical_pay_day on or after
    D, the month-end cap standing for the month's last day). Order: earliest date,
    senior before junior, escalate / personal / standard / wait_for_pay_day, overdue_ar
    descending, account_id; `work_order` numbers the rows from 1.
    """
    return compute_reference(landing_dir, as_of, config, overrides_file)["collections_worklist"]
