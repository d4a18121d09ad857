"""Deterministic demo extracts for a fictional B2B company (`segmentation demo-data`).

`generate_demo_data(out_dir, accounts, seed, as_of, file_format)` writes a landing
folder laid out as the data contract prescribes (section 1)::

    <out>/<source>/<entity>/<YYYY-MM-DD>.csv|.parquet
    <out>/overrides.csv

How the world is built
----------------------
The generator simulates one fictional company on a fixed timeline that does not depend
on the as-of date: the ERP history starts on `HISTORY_START` (2023-01-01) and every
random draw is keyed by (seed, stream, block), where a block is a calendar month of
finance activity, a year of fx rates, or the whole account population. Only the files
dated on or before `as_of` are written, so

* the same seed, account count and as-of date give byte-identical files;
* the same seed with a later as-of date rewrites the earlier files byte-identically and
  adds the later ones (consecutive nights can be simulated in one folder);
* a snapshot file's content depends on its own date only, never on `as_of`.

`accounts` is the size of the simulated account population. About 10 % of it is
acquired during the first five years of the timeline (created 2023-2027), so a
snapshot holds only the accounts created by its date: about 95 % of them in mid 2025,
98 % late in 2026, all from 2028 on. New customers keep appearing (acquired accounts
and prospects converting until 2030); `as_of` must be on or after `MIN_AS_OF`.

Files written (the dates are extract dates):

* delta entities (`finance/invoices`, `finance/invoice_lines`, `finance/payments`): one
  file per day from `HISTORY_START` to `as_of`, holding the rows sent that night (new
  invoices, lines and payments; re-sent invoices whose status or dispute changed). A
  night without activity still gets a (header-only) file, so every delta entity has a
  file dated `as_of`.
* daily snapshots (`crm/*`, `finance/fx_rates`): the complete state on each of the last
  `snapshot_days` (7) days up to `as_of`.
* `bureau/company_scores`: monthly snapshots on the first of the month for the last
  3 months (the newest is at most 30 days old on `as_of`).
* `overrides.csv`: a handful of manual overrides (valid, expired, invalid).

CSV files are UTF-8 with a header, comma separated, quoted only where RFC 4180 needs it
(names with commas, quotes and line breaks occur), empty field = null. On purpose, and
as the contract allows: the CRM files carry a UTF-8 BOM and CRLF line ends (a Windows
export), the bureau files upper-case column names in their own column order. Parquet
files carry native types (date32, decimal128, bool, timestamp UTC); a value that cannot
exist in a typed column (non-numeric text) exists only in CSV files. `file_format`
"mixed" writes the entities of `MIXED_PARQUET` as Parquet and the others as CSV.

Scale
-----
Everything is vectorised (numpy for the simulation, pyarrow compute for the text, a
hand-rolled RFC 4180 CSV writer that renders at most `_CSV_CHUNK_ROWS` rows at a time and
slices the rendered buffer into the files), and the finance history is streamed: block m
(the invoices dated in month m, with their later re-sends, credit notes, lines and
payments) is generated once and its rows are queued under the month of their extract
date; the daily files of a month are written as soon as the blocks up to the next month
exist (an invoice is extracted at most a few days before its invoice date), and only the
rows extracted in later months stay queued. Memory is the account population, one
snapshot and a few months of finance rows: 1 000 000 accounts up to late 2026 (about
16 M invoices, 29 M invoice lines and 19 M payments; 7.9 GB of CSV or 2.4 GB of Parquet
in 4 300 files) took about 3 minutes and 1.7 GB peak RSS on 2 cores.

Payer behaviour is per account: prompt, early-payment discount, late, very late,
defaulting, pay-day payers (on the 25th, at month end), and habitual instalment payers
(`INSTALMENT_PAYERS`, two or three payments per invoice); disputes delay payment,
partial payments leave a remainder that usually follows later.

A few rows are deliberately malformed; `DemoDataSummary.malformed` lists each with the
quarantine reason code `segmentation-rules.md` prescribes for it (and rows that must
*not* be quarantined, with reason None), `DemoDataSummary.cascaded` the rows rejected
only because their account or invoice is quarantined.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.config import load_entity_specs

__all__ = [
    "FILE_FORMATS",
    "HISTORY_START",
    "DemoDataSummary",
    "MalformedRow",
    "OverrideRow",
    "generate_demo_data",
]

# --------------------------------------------------------------------------------------
# Timeline and knobs
# --------------------------------------------------------------------------------------

HISTORY_START = date(2023, 1, 1)  # first day of ERP history (and of the delta files)
FX_START = date(2022, 12, 1)  # fx history starts a month earlier
MIN_AS_OF = date(2023, 3, 1)  # all deliberate malformed rows exist from here on
ACQUISITION_DAYS = 5 * 365  # acquired accounts are created in [HISTORY_START, +5 y)
CONVERSION_DAYS = 8 * 365  # late-converting prospects buy first in [HISTORY_START, +8 y)
SNAPSHOT_DAYS = 7
INSTALMENT_PAYERS = 0.25  # share of accounts that usually pay an invoice in two or three parts
BUREAU_MONTHS = 3
FILE_FORMATS = ("csv", "parquet", "mixed")
# In "mixed" mode these entities are written as Parquet, the others as CSV (the CSV-only
# malformed values, non-numeric text in numeric columns, live in CSV entities).
MIXED_PARQUET = frozenset(
    {("crm", "contacts"), ("finance", "invoice_lines"), ("finance", "payments"), ("bureau", "company_scores")}
)
BUREAU_COLUMN_ORDER = (
    "bureau_ref", "report_date", "country_code", "duns_number", "registration_number",
    "credit_score", "rating", "payment_index", "recommended_limit", "limit_currency",
    "insolvency_flag",
)  # the bureau export has its own column order and upper-case headers (both allowed)

NEVER = np.int64(10_000_000)  # a day number far beyond any as-of date
_EPOCH = date(1970, 1, 1)
_CSV_CHUNK_ROWS = 250_000

# random streams
_S_ACCOUNTS, _S_CRM, _S_FIN, _S_OPP, _S_FX, _S_BUREAU, _S_CONTACTS, _S_PICK, _S_HASH = range(1, 10)

# --------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------

_COUNTRIES = [
    ("NL", 0.30), ("BE", 0.12), ("DE", 0.15), ("FR", 0.085), ("GB", 0.085), ("US", 0.07),
    ("ES", 0.02), ("IT", 0.02), ("SE", 0.015), ("CH", 0.015), ("DK", 0.01), ("PL", 0.01),
    ("AT", 0.01), ("IE", 0.008), ("LU", 0.005), ("NO", 0.004), ("FI", 0.003), ("CZ", 0.003),
    ("CA", 0.008), ("MX", 0.003), ("AU", 0.006), ("JP", 0.004), ("SG", 0.004), ("IN", 0.004),
    ("BR", 0.004), ("ZA", 0.003), ("AE", 0.003),
]
_COUNTRY_CODES = [c for c, _ in _COUNTRIES]
_CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "DKK", "PLN"]  # EUR is the base
_NO_RATE_CURRENCY = "JPY"  # never in fx_rates
_COUNTRY_CURRENCY = {"GB": "GBP", "US": "USD", "CH": "CHF", "SE": "SEK", "DK": "DKK", "PL": "PLN",
                     "CA": "USD", "MX": "USD", "AU": "USD", "JP": "USD", "SG": "USD", "IN": "USD",
                     "BR": "USD", "ZA": "USD", "AE": "USD"}
_FX_START_RATE = {"USD": 0.925, "GBP": 1.135, "CHF": 1.015, "SEK": 0.0895, "DKK": 0.1344, "PLN": 0.2135}
_FX_VOL = {"USD": 0.0045, "GBP": 0.0035, "CHF": 0.0035, "SEK": 0.0045, "DKK": 0.0002, "PLN": 0.004}
_APPROX_RATE = np.array([1.0] + [_FX_START_RATE[c] for c in _CURRENCIES[1:]])
_SUFFIX = {"NL": ["B.V.", "B.V.", "N.V.", "VOF"], "BE": ["NV", "BV", "SRL", "SA"], "DE": ["GmbH", "AG", "GmbH & Co. KG"],
           "FR": ["SAS", "SARL", "SA"], "GB": ["Ltd", "Ltd.", "PLC", "LLP"], "US": ["Inc.", "LLC", "Corp."],
           "SE": ["AB"], "CH": ["AG", "GmbH", "SA"], "DK": ["ApS", "A/S"], "PL": ["sp. z o.o.", "S.A."],
           "AT": ["GmbH"], "ES": ["S.L.", "S.A."], "IT": ["S.r.l.", "S.p.A."], "IE": ["Ltd", "DAC"],
           "LU": ["S.à r.l.", "S.A."], "NO": ["AS"], "FI": ["Oy"], "CZ": ["s.r.o."], "CA": ["Inc.", "Ltd."],
           "MX": ["S.A. de C.V."], "AU": ["Pty Ltd"], "JP": ["K.K."], "SG": ["Pte. Ltd."], "IN": ["Pvt. Ltd."],
           "BR": ["Ltda."], "ZA": ["(Pty) Ltd"], "AE": ["LLC", "FZE"]}
_REGIONS = {"US": ["CA", "NY", "TX", "IL", "WA", "MA", "FL", "GA"], "DE": ["BY", "BW", "NW", "HE", "BE", "HH", "SN"],
            "NL": ["NH", "ZH", "UT", "NB", "GE", "GR", "OV"], "CA": ["ON", "QC", "BC", "AB"],
            "BE": ["VAN", "VOV", "BRU", "WLG"], "AU": ["NSW", "VIC", "QLD"], "IT": ["MI", "RM", "TO"],
            "ES": ["MD", "CT", "AN"], "CH": ["ZH", "GE", "BS"]}
_CORE = ["Atlas", "Nordic", "Delta", "Horizon", "Polar", "Orion", "Vertex", "Summit", "Keystone", "Bright",
         "Bluewater", "Ironwood", "Oakridge", "Pioneer", "Zenith", "Quantum", "Harbor", "Lumen", "Meridian",
         "Northstar", "Crescent", "Granite", "Silverline", "Evergreen", "Redwood", "Falcon", "Beacon", "Cobalt",
         "Aurora", "Sterling", "Tulip", "Windmill", "Rhine", "Alpine", "Baltic", "Celtic", "Iberia", "Danube",
         "Scheldt", "Maas", "Kestrel", "Juniper", "Solace", "Tidewater", "Helix", "Corvus", "Amber", "Lotus"]
_SECTOR = ["Logistics", "Systems", "Foods", "Pharma", "Engineering", "Software", "Metals", "Retail", "Consulting",
           "Labs", "Solutions", "Industries", "Trading", "Medical", "Energy", "Textiles", "Print", "Dairy",
           "Robotics", "Analytics", "Packaging", "Chemicals", "Construction", "Hospitality", "Telecom"]
_FAMILY = ["Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Peeters", "Janssens", "Maes", "Müller",
           "Schmidt", "Schneider", "Fischer", "Dubois", "Lefèvre", "Moreau", "Smith", "Jones", "Taylor", "O'Brien",
           "García", "Rossi", "Nowak", "Søndergaard", "Lindqvist", "Ångström", "Åberg", "Zürcher", "Kowalczyk",
           "Nakamura", "Okafor", "Dijkstra", "Huisman", "Claes", "Wagner", "Girard", "Brown", "Walsh", "Ferrari"]
_FIRST = ["Anna", "Lars", "Sophie", "Jan", "Pieter", "Emma", "Lucas", "Marie", "Thomas", "Eva", "Noah", "Julia",
          "Léa", "Jürgen", "Zoë", "Mohammed", "Olga", "Ingrid", "Bram", "Chloé", "José", "Siobhán", "Björn",
          "Agnieszka", "Kenji", "Priya", "David", "Sarah", "Michael", "Laura", "Fatima", "Henk", "Sanne", "Matteo"]
_ROLES = ["CFO", "Finance Manager", "Accounts Payable", "Procurement Lead", "CEO", "IT Director",
          "Operations Manager", "Office Manager", "Controller", "Purchasing"]
_NAICS = ["11", "111998", "21", "211120", "22", "221122", "23", "236220", "2382", "31", "311", "3118", "311812",
          "32", "325412", "3254", "33", "334", "3341", "33411", "334111", "336111", "42", "423", "424210", "44",
          "4431", "45", "455110", "48", "484121", "49", "493110", "51", "5112", "511210", "517311", "52", "5221",
          "522110", "524126", "53", "531120", "54", "5415", "541511", "541330", "55", "551112", "56", "561320",
          "61", "611310", "62", "622110", "6211", "71", "713940", "72", "722511", "81", "811111", "92", "921110"]
_NAICS_INVALID = ["99", "7", "1234567", "00"]  # not a NAICS sector / wrong length: falls back to `industry`
_INDUSTRY_TEXT = ["Manufacturing of machinery", "Industrial automation", "Software development", "IT services",
                  "Telecom operator", "Banking", "Insurance broker", "Hospital group", "Pharmaceuticals wholesale",
                  "Medical devices", "Retail", "Logistics & transport", "Food production", "Construction",
                  "Consulting", "Hospitality", "Public sector", "Education", "Energy utility", "Agriculture",
                  "Non-profit", "Fintech platform", "Biotech research", "Automotive supplier",
                  "Online retailer", "Factory outlet", "SaaS", "Health care services", "Bouwbedrijf"]
_SALES_CHANNELS = [
    ("Direct", 0.10), ("direct", 0.04), ("Field Sales", 0.08), ("Field - Sales", 0.04), ("field-sales", 0.02),
    ("Inside Sales", 0.08), (" Inside Sales", 0.03), ("inside_sales", 0.02), ("Account Management", 0.06),
    ("Account-Management ", 0.02), ("Reseller", 0.07), ("Distributor", 0.04), ("VAR", 0.03), ("OEM", 0.02),
    ("Partner", 0.05), ("webshop", 0.06), ("Webshop", 0.02), ("eCommerce", 0.02), ("Online", 0.03),
    ("Marketplace", 0.02), ("Affiliate", 0.02), ("Referral", 0.03), ("Trade Show", 0.01), ("Cold Call", 0.01),
    (None, 0.06),
]
_SERVICE_LEVELS = ["platinum", "gold", "silver", "standard", "Gold", "Standard ", "bronze"]  # bronze: unknown
_PRODUCT_LINES = ["licences", "subscriptions", "hardware", "services", "training", "support"]
_PL_MARGIN = np.array([0.86, 0.72, 0.24, 0.38, 0.55, 0.62])
_PL_UNIT_PRICE = np.array([120.0, 45.0, 900.0, 110.0, 650.0, 0.0])  # EUR; 0: quantity 1
_STAGES = ["prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"]
_TRUE_TEXT = ["true", "TRUE", "1", "yes", "True"]
_FALSE_TEXT = ["false", "FALSE", "0", "no", "False"]

# account kinds / billing / payer profiles
_MONTHLY, _QUARTERLY, _SPORADIC = 0, 1, 2
_PROMPT, _DISCOUNT, _LATE, _VERY_LATE, _DEFAULTING, _PAYDAY_25, _MONTH_END = range(7)
_PROFILE_NAMES = ["prompt", "discount", "late", "very_late", "defaulting", "payday_25", "month_end"]


# --------------------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MalformedRow:
    """A row the pipeline must quarantine with `reason` (None: must NOT be quarantined)."""

    source: str
    entity: str
    key: str  # the key as text; composite keys joined with "|"
    reason: str | None
    description: str
    file: str  # path relative to out_dir of the (newest) file that holds the row


@dataclass(frozen=True)
class OverrideRow:
    account_id: str
    dimension: str
    segment: str
    valid_until: date | None
    expected: str  # "applied", "expired" or "invalid: ..." on the as-of date


@dataclass(frozen=True)
class DemoDataSummary:
    out_dir: Path
    seed: int
    accounts: int
    as_of: date
    file_format: str
    history_start: date
    files: tuple[Path, ...]  # every file written, sorted
    rows: dict[str, int]  # "<source>/<entity>" -> rows of the state on as_of (newest snapshot / merged delta keys)
    rows_written: dict[str, int]  # "<source>/<entity>" -> rows over all files written
    malformed: tuple[MalformedRow, ...]
    cascaded: tuple[MalformedRow, ...]
    overrides: tuple[OverrideRow, ...]
    profiles: dict[str, int] = field(default_factory=dict)  # payer profile -> accounts (for reference)

    def expected_quarantine(self) -> dict[tuple[str, str], int]:
        """(`<source>/<entity>`, reason code) -> rows the pipeline should quarantine."""
        counts: dict[tuple[str, str], int] = {}
        for row in self.malformed + self.cascaded:
            if row.reason is not None:
                k = (f"{row.source}/{row.entity}", row.reason)
                counts[k] = counts.get(k, 0) + 1
        return dict(sorted(counts.items()))

    def quarantined_account_ids(self) -> tuple[str, ...]:
        return tuple(sorted({r.key for r in self.malformed if r.entity == "accounts" and r.reason}))


# --------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _date(n: int) -> date:
    return _EPOCH + timedelta(days=int(n))


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


_U = np.uint64


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _U(0x9E3779B97F4A7C15)
        z = (z ^ (z >> _U(30))) * _U(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U(27))) * _U(0x94D049BB133111EB)
        return z ^ (z >> _U(31))


def _hash01(seed: int, stream: int, *keys: np.ndarray) -> np.ndarray:
    """A uniform [0, 1) value that is a pure function of (seed, stream, keys...)."""
    n = len(keys[0])
    h = np.full(n, _U((seed * 1_000_003 + stream * 7_919) % 2**64))
    for k in keys:
        h = _splitmix(h ^ np.asarray(k).astype(np.int64).astype(np.uint64))
    return (h >> _U(11)).astype(np.float64) * (1.0 / 2**53)


def _weekday(days: np.ndarray) -> np.ndarray:
    return (days + 3) % 7  # Monday = 0


def _to_business_day(days: np.ndarray) -> np.ndarray:
    wd = _weekday(days)
    return days + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def _month_index(days: np.ndarray | int) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start_day(month_index: np.ndarray | int) -> np.ndarray:
    return np.asarray(month_index, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _next_day_of_month(days: np.ndarray, dom: int) -> np.ndarray:
    """First date on or after `days` whose day of month is `dom` (<= 28)."""
    mi = _month_index(days)
    cand = _month_start_day(mi) + dom - 1
    return np.where(cand >= days, cand, _month_start_day(mi + 1) + dom - 1)


def _month_end(days: np.ndarray) -> np.ndarray:
    return _month_start_day(_month_index(days) + 1) - 1


def _yyyymm(month_index: np.ndarray) -> pa.Array:
    y = month_index // 12 + 1970
    m = month_index % 12 + 1
    return _cat(_str(y), _pad(m, 2))


def _str(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def _pad(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(_str(values), width=width, padding="0")


def _cat(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _pick(vocab: list, codes: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(vocab, pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))
    if null is not None and null.any():
        arr = pc.if_else(pa.array(null), pa.nulls(len(arr), pa.string()), arr)
    return arr


def _mask(null: np.ndarray | None) -> np.ndarray | None:
    return None if null is None or not null.any() else np.asarray(null, dtype=bool)


def _pa_int(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=_mask(null))


def _pa_date(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    if null is None:
        null = days >= NEVER
    return pa.array(np.where(null, 0, days).astype(np.int32), pa.date32(), mask=_mask(null))


def _pa_bool(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=bool), pa.bool_(), mask=_mask(null))


def _pa_decimal(units: np.ndarray, scale: int, null: np.ndarray | None = None, precision: int = 18) -> pa.Array:
    """A decimal(precision, scale) array from integer units of 10**-scale (exact)."""
    units = np.asarray(units, dtype=np.int64)
    if null is not None:
        units = np.where(null, 0, units)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63
    validity = None
    null_count = 0
    if null is not None and null.any():
        validity = pa.array(~null).buffers()[1]
        null_count = int(null.sum())
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), len(units), [validity, pa.py_buffer(words.tobytes())], null_count=null_count
    )


def _sparse_text(n: int, positions: list[int], texts: list[str]) -> pa.Array:
    """A string array of nulls with `texts` at `positions` (a CSV text override)."""
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    order = np.argsort(positions, kind="stable")
    values = pa.array([texts[i] for i in order], pa.string())
    return pc.replace_with_mask(pa.nulls(n, pa.string()), pa.array(mask), values)


def _ascii(text: str) -> str:
    text = text.replace("ø", "o").replace("Ø", "O").replace("æ", "ae").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _choice(rng: np.random.Generator, n: int, weights: list[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return np.minimum(np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right"), len(p) - 1)


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


# --------------------------------------------------------------------------------------
# The account population (independent of as_of)
# --------------------------------------------------------------------------------------


class _Accounts:
    """Account-level attributes of the simulated world, as numpy arrays of length n."""

    def __init__(self, seed: int, n: int):
        rng = _rng(seed, _S_ACCOUNTS)
        hs = _day(HISTORY_START)
        self.n = n
        self.width = max(7, len(str(n + 10)))
        idx = np.arange(n)
        self.idx = idx

        # --- lifecycle on the fixed timeline
        acquired = rng.random(n) < 0.10
        old_start = _day(date(2008, 1, 1))
        created = np.where(
            acquired,
            hs + rng.integers(0, ACQUISITION_DAYS, n),
            old_start + (rng.random(n) ** 0.6 * (hs - 1 - old_start)).astype(np.int64),
        )
        self.created = created
        self.created_sec = rng.integers(7 * 3600, 19 * 3600, n)
        self.acquired = acquired
        u = rng.random(n)
        first = np.full(n, NEVER)
        active_from_start = ~acquired & (u < 0.72)
        late_converter = ~acquired & (u >= 0.72) & (u < 0.84)
        acquired_converts = acquired & (u < 0.80)
        first[active_from_start] = hs
        first[late_converter] = hs + 30 + rng.integers(0, CONVERSION_DAYS, late_converter.sum())
        first[acquired_converts] = created[acquired_converts] + rng.integers(0, 90, acquired_converts.sum())
        self.first = first
        self.is_customer = first < NEVER
        uc = rng.random(n)
        end = np.full(n, NEVER)
        early = self.is_customer & (uc < 0.07)
        late = self.is_customer & (uc >= 0.07) & (uc < 0.25)
        end[early] = np.maximum(first[early] + 60, hs + rng.integers(60, 600, early.sum()))
        end[late] = first[late] + rng.integers(120, 3650, late.sum())
        self.end = end
        close = np.full(n, NEVER)
        churned = end < NEVER
        closing = churned & (rng.random(n) < 0.5)
        close[closing] = end[closing] + rng.integers(30, 300, closing.sum())
        closed_prospect = ~self.is_customer & ~acquired & (rng.random(n) < 0.04)
        close[closed_prospect] = np.minimum(created[closed_prospect] + rng.integers(30, 1500, closed_prospect.sum()), hs - 1)
        self.close = close

        # --- party, geography, size
        self.country = _choice(rng, n, [w for _, w in _COUNTRIES])
        self.individual = rng.random(n) < 0.045
        z = rng.standard_normal(n)
        revenue = np.exp(np.where(self.individual, 6.6 + 0.9 * z, 9.3 + 1.7 * z))  # EUR / year when active
        self.revenue = np.minimum(revenue, 25_000_000.0)
        self.size_z = z
        self.growth = rng.normal(0.04, 0.12, n)
        cur_code = np.array([_CURRENCIES.index(_COUNTRY_CURRENCY.get(c, "EUR")) for c in _COUNTRY_CODES])[self.country]
        ux = rng.random(n)
        cur_code = np.where((cur_code != 0) & (ux < 0.10), 0, cur_code)  # invoiced in EUR anyway
        cur_code = np.where((cur_code == 0) & (ux > 0.97) & ~self.individual, 1, cur_code)  # EUR country, USD billing
        self.currency = cur_code
        cc = np.array(_COUNTRY_CODES)[self.country]
        eu = np.isin(cc, ["NL", "BE", "DE", "FR", "ES", "IT", "SE", "DK", "PL", "AT", "IE", "LU", "FI", "CZ"])
        self.vat = np.where((cc == "NL") | (self.individual & eu), 0.21, 0.0)

        # --- billing pattern
        self.billing = np.where(self.individual, _SPORADIC, _choice(rng, n, [0.30, 0.25, 0.45]))
        self.dom = _choice(rng, n, [0.5, 0.2, 0.3])  # monthly billing on the 1st, 15th or last day
        self.q_phase = rng.integers(0, 3, n)
        self.lam = np.clip(rng.lognormal(1.2, 0.6, n), 1.0, 24.0)
        self.ipy = np.select([self.billing == _MONTHLY, self.billing == _QUARTERLY], [12.0, 4.0], self.lam)
        self.k_pl = np.where(self.individual, 1, 1 + _choice(rng, n, [0.45, 0.35, 0.20]))
        self.pl_perm = np.argsort(rng.random((n, len(_PRODUCT_LINES))), axis=1)

        # --- payment behaviour
        monthly = self.billing == _MONTHLY
        prof = _choice(rng, n, [0.50, 0.0, 0.29, 0.11, 0.04, 0.0, 0.0])
        up = rng.random(n)
        prof = np.where(monthly & (up < 0.20), _PAYDAY_25, prof)
        prof = np.where(monthly & (up >= 0.20) & (up < 0.32), _MONTH_END, prof)
        terms = np.array([0, 14, 30, 45, 60, 90])[_choice(rng, n, [0.03, 0.10, 0.55, 0.07, 0.17, 0.08])]
        self.terms = np.where(self.individual, np.where(rng.random(n) < 0.5, 0, 14), terms)
        self.terms_null = rng.random(n) < 0.015
        has_discount = ~self.individual & (rng.random(n) < 0.10)
        self.disc_h = np.where(has_discount, np.array([150, 200, 300])[_choice(rng, n, [0.3, 0.5, 0.2])], 0)
        self.disc_null = ~has_discount & (rng.random(n) < 0.5)  # absent vs an explicit 0
        prof = np.where(has_discount & (prof == _PROMPT) & (rng.random(n) < 0.8), _DISCOUNT, prof)
        self.profile = prof
        # defaulting accounts stop paying from a fixed day on, and are invoiced a little longer
        self.default_day = np.where(prof == _DEFAULTING, np.maximum(first, hs) + rng.integers(90, 5 * 365, n), NEVER)
        self.end = np.minimum(self.end, np.where(self.is_customer, self.default_day + rng.integers(60, 240, n), NEVER))
        self.disp_rate = np.where(rng.random(n) < 0.03, 0.22, 0.012)

        # --- opportunities: propensity
        self.opp_rate = np.where(self.is_customer, 0.03, 0.045) * np.where(z > 1.0, 2.0, 1.0)

        # --- habitual instalment payers (drawn last: the draws above do not depend on it)
        self.instalments = rng.random(n) < INSTALMENT_PAYERS


# --------------------------------------------------------------------------------------
# Finance: invoices, lines, credit notes, payments (one block per calendar month)
# --------------------------------------------------------------------------------------


def _finance_block(a: _Accounts, seed: int, m: int) -> dict[str, dict[str, np.ndarray]]:
    rng = _rng(seed, _S_FIN, m)
    hs = _day(HISTORY_START)
    mi = int(_month_index(hs)) + m
    ms = int(_month_start_day(mi))
    me = int(_month_start_day(mi + 1)) - 1
    dim = me - ms + 1
    elig = np.flatnonzero((a.first <= me) & (a.end > ms) & (a.close > ms))
    bill = a.billing[elig]
    bd = np.select([a.dom[elig] == 0, a.dom[elig] == 1], [ms, ms + 14], me)
    periodic = (bill == _MONTHLY) | ((bill == _QUARTERLY) & ((mi - a.q_phase[elig]) % 3 == 0))
    n_spor = np.where(bill == _SPORADIC, rng.poisson(a.lam[elig] / 12.0), 0)
    spor_acct = np.repeat(elig, n_spor)
    spor_day = _to_business_day(ms + rng.integers(0, dim, len(spor_acct)))
    acct = np.concatenate([elig[periodic], spor_acct])
    day = np.concatenate([bd[periodic], spor_day])
    keep = (day >= a.first[acct]) & (day < a.end[acct])
    acct, day = acct[keep], day[keep]
    order = np.lexsort((acct, day))
    acct, day = acct[order], day[order]
    n = len(acct)
    seq = np.arange(1, n + 1)

    # --- amounts
    bill = a.billing[acct]
    sigma = np.select([bill == _MONTHLY, bill == _QUARTERLY], [0.06, 0.2], 0.55)
    years = (day - hs) / 365.25
    eur = a.revenue[acct] / a.ipy[acct] * np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)
    eur = eur * np.power(np.maximum(1.0 + a.growth[acct], 0.5), years)
    cur = a.currency[acct]
    net = np.maximum(np.rint(eur / _APPROX_RATE[cur] * 100.0), 500).astype(np.int64)
    vat = a.vat[acct]
    total = np.rint(net * (1.0 + vat)).astype(np.int64)

    # --- lines
    nl = 1 + np.minimum(rng.poisson(np.where(bill == _MONTHLY, 0.4, 1.3)), 7)
    li = np.repeat(np.arange(n), nl)
    starts = np.cumsum(nl) - nl
    line_no = np.arange(len(li)) - starts[li] + 1
    w = rng.lognormal(0.0, 0.7, len(li))
    wsum = np.bincount(li, w, n)
    line_net = np.floor(net[li] * w / wsum[li]).astype(np.int64)
    line_net[starts + nl - 1] += net - np.bincount(li, line_net, n).astype(np.int64)
    u = rng.random(len(li)) ** 1.6
    slot = np.minimum((u * a.k_pl[acct[li]]).astype(np.int64), a.k_pl[acct[li]] - 1)
    pl = a.pl_perm[acct[li], slot]
    margin = np.clip(_PL_MARGIN[pl] + rng.normal(0.0, 0.06, len(li)), -0.2, 0.97)
    line_cost = np.rint(line_net * (1.0 - margin)).astype(np.int64)
    cost_null = rng.random(len(li)) < 0.03
    unit = _PL_UNIT_PRICE[pl] / _APPROX_RATE[cur[li]]
    q = np.where(unit > 0, line_net / 100.0 / np.where(unit > 0, unit, 1.0), 1.0)
    qty = np.where(pl == 3, np.maximum(np.rint(q * 2), 1) * 50, np.maximum(np.rint(q), 1) * 100).astype(np.int64)

    # --- posting, void, disputes
    lag = np.array([0, 1, 2, 3, 4])[_choice(rng, n, [0.90, 0.06, 0.02, 0.01, 0.01])]
    early = (bill == _MONTHLY) & (a.dom[acct] == 0) & (rng.random(n) < 0.25)
    post = np.where(early, day - rng.integers(1, 4, n), day + lag)
    post = np.maximum(post, np.maximum(hs, a.created[acct]))  # never extracted before the account exists
    void = rng.random(n) < 0.012
    void_day = np.where(void, post + rng.integers(1, 21, n), NEVER)
    disputed = ~void & (rng.random(n) < a.disp_rate[acct])
    opened = np.where(disputed, np.maximum(day + rng.integers(5, 46, n), post), NEVER)
    long_dispute = rng.random(n) < 0.12
    resolved = np.where(disputed, opened + np.where(long_dispute, rng.integers(120, 400, n), rng.integers(5, 121, n)), NEVER)
    terms = a.terms[acct]
    due = day + terms

    # --- payments: up to three payment rows per invoice
    prof = a.profile[acct]
    defaulted = (prof == _DEFAULTING) & (day >= a.default_day[acct])
    r = rng.random((10, n))
    zz = rng.standard_normal(n)
    pay = np.select(
        [prof == _PROMPT, prof == _DISCOUNT, prof == _LATE, (prof == _VERY_LATE) | (prof == _DEFAULTING),
         prof == _PAYDAY_25, prof == _MONTH_END],
        [day + np.floor(terms * (0.35 + 0.65 * r[0])).astype(np.int64) + np.where(r[1] < 0.08, 1 + (r[2] * 5).astype(np.int64), 0),
         day + 1 + (r[0] * 9).astype(np.int64),
         due + np.rint(np.exp(2.3 + 0.7 * zz)).astype(np.int64),
         due + np.rint(np.exp(3.4 + 0.45 * zz)).astype(np.int64),
         _next_day_of_month(due - 7, 25),
         _month_end(due - 5)],
    )
    payday = (prof == _PAYDAY_25) | (prof == _MONTH_END)
    pay = np.where(payday, pay, _to_business_day(pay))
    # a disputed invoice is paid once the dispute is resolved
    pay = np.where(disputed, np.maximum(pay, _to_business_day(resolved + 1 + (r[3] * 14).astype(np.int64))), pay)
    pay = np.maximum(pay, day)
    unpaid = void | (defaulted & (r[4] < 0.85))
    p_partial = np.array([0.02, 0.0, 0.05, 0.08, 0.10, 0.0, 0.0])[prof]
    partial = ~unpaid & (r[5] < p_partial)
    rest_paid = partial & ((prof != _VERY_LATE) & ~defaulted | (r[6] < 0.9))  # the remainder follows later
    discounted = (prof == _DISCOUNT) & ~disputed & (a.disc_h[acct] > 0)
    target = np.where(discounted, np.rint(total * (1.0 - a.disc_h[acct] / 10000.0)), total).astype(np.int64)
    first_part = np.rint(target * (0.2 + 0.5 * r[7])).astype(np.int64)
    inst = ~unpaid & ~partial & ~payday & ~discounted & (r[8] < np.where(a.instalments[acct], 0.85, 0.05))
    k_inst = np.where(inst, 2 + (r[9] < 0.35), 1)
    gap = 7 + rng.integers(0, 24, n)
    rest_gap = 20 + rng.integers(0, 131, n)
    w = 0.3 + rng.exponential(1.0, (n, 3))
    w = np.where(np.arange(3)[None, :] < k_inst[:, None], w, 0.0)
    share = np.floor(target[:, None] * w / w.sum(axis=1, keepdims=True)).astype(np.int64)
    share[np.arange(n), k_inst - 1] += target - share.sum(axis=1)
    slot_date = pay[:, None] - (k_inst[:, None] - 1 - np.arange(3)[None, :]) * gap[:, None]
    slot_date = np.where(inst[:, None], _to_business_day(slot_date), slot_date)
    slot_amount = share
    valid = (np.arange(3)[None, :] < k_inst[:, None]) & ~unpaid[:, None]
    # partial payers: a first part on the pay day, the rest (usually) weeks later
    slot_amount[:, 0] = np.where(partial, first_part, slot_amount[:, 0])
    slot_date[:, 1] = np.where(partial, _to_business_day(pay + rest_gap), slot_date[:, 1])
    slot_amount[:, 1] = np.where(partial, target - first_part, slot_amount[:, 1])
    valid[:, 1] = np.where(partial, rest_paid, valid[:, 1])
    slot_date = np.maximum(slot_date, np.maximum(day, post)[:, None])  # never before the invoice is extracted
    pi, pj = np.nonzero(valid)
    pdate = slot_date[pi, pj]
    pamount = slot_amount[pi, pj]
    complete = ~unpaid & (~partial | rest_paid)
    final_slot = np.where(partial, 1, k_inst - 1)
    paid_day = np.where(complete, slot_date[np.arange(n), final_slot], NEVER)
    paid_resend = (paid_day < NEVER) & (rng.random(n) < 0.3)
    pay_acct_null = rng.random(len(pi)) < 0.03

    # --- credit notes
    rc = rng.random((4, n))
    cn = ~void & ((rc[0] < 0.022) | (disputed & (resolved < NEVER) & (rc[1] < 0.4)))
    cn_day = np.where(disputed & (resolved < NEVER), resolved + (rc[2] * 5).astype(np.int64), day + 3 + (rc[2] * 58).astype(np.int64))
    full = rc[3] < 0.35
    frac = 0.05 + 0.45 * rng.random(n)
    cn_src = np.flatnonzero(cn)
    cn_src = cn_src[np.lexsort((cn_src, cn_day[cn_src]))]
    ncn = len(cn_src)
    cn_full = full[cn_src]
    # credit note lines: a full credit mirrors every line, a partial one is one price-reduction line
    n_cl = np.where(cn_full, nl[cn_src], 1)
    cli = np.repeat(np.arange(ncn), n_cl)
    cl_start = np.cumsum(n_cl) - n_cl
    cl_no = np.arange(len(cli)) - cl_start[cli] + 1
    src_line = starts[cn_src[cli]] + cl_no - 1
    cl_full = cn_full[cli]
    cl_net = np.where(cl_full, -line_net[src_line], -np.rint(frac[cn_src[cli]] * net[cn_src[cli]]).astype(np.int64))
    cl_cost = np.where(cl_full, -line_cost[src_line], 0)
    cl_cost_null = np.where(cl_full, cost_null[src_line], True)
    cl_qty = np.where(cl_full, -qty[src_line], 0)
    cl_qty_null = ~cl_full
    cl_pl = pl[src_line]
    cn_net = np.bincount(cli, cl_net, ncn).astype(np.int64)
    cn_total = np.rint(cn_net * (1.0 + vat[cn_src])).astype(np.int64)

    blk = np.full(n, m)
    return {
        "inv": {"block": blk, "seq": seq, "acct": acct, "day": day, "post": post, "due": due, "terms": terms,
                "terms_null": a.terms_null[acct], "total": total, "cur": cur, "disc_h": a.disc_h[acct],
                "disc_null": a.disc_null[acct], "void_day": void_day, "opened": opened, "resolved": resolved,
                "paid_day": paid_day, "paid_resend": paid_resend},
        "line": {"inv": li, "line_no": line_no, "pl": pl, "qty": qty, "qty_null": np.zeros(len(li), bool),
                 "net": line_net, "cost": line_cost, "cost_null": cost_null},
        "pay": {"inv": pi, "seq": np.arange(1, len(pi) + 1), "block": np.full(len(pi), m), "date": pdate,
                "amount": pamount, "acct_null": pay_acct_null},
        "cn": {"block": np.full(ncn, m), "seq": np.arange(1, ncn + 1), "src": cn_src, "day": cn_day[cn_src],
               "total": cn_total, "due_null": rng.random(ncn) < 0.7},
        "cnline": {"cn": cli, "line_no": cl_no, "pl": cl_pl, "qty": cl_qty, "qty_null": cl_qty_null,
                   "net": cl_net, "cost": cl_cost, "cost_null": cl_cost_null},
    }


# --------------------------------------------------------------------------------------
# FX rates (one block per year)
# --------------------------------------------------------------------------------------


def _fx_history(seed: int, last_day: int) -> dict[str, np.ndarray]:
    currencies = _CURRENCIES[1:]
    mu = np.log([_FX_START_RATE[c] for c in currencies])
    vol = np.array([_FX_VOL[c] for c in currencies])
    x = mu.copy()
    start = _day(FX_START)
    cur_rows, day_rows, rate_rows = [], [], []
    for year in range(FX_START.year, _date(last_day).year + 1):
        rng = _rng(seed, _S_FX, year)
        first = max(start, _day(date(year, 1, 1)))
        days = np.arange(first, _day(date(year + 1, 1, 1)))
        eps = rng.standard_normal((len(days), len(currencies)))
        path = np.empty((len(days), len(currencies)))
        for t in range(len(days)):  # loop over days (not rows): an Ornstein-Uhlenbeck walk
            x = x + 0.003 * (mu - x) + vol * eps[t]
            path[t] = x
        business = _weekday(days) < 5
        days, path = days[business], path[business]
        micro = np.rint(np.exp(path) * 1e6).astype(np.int64)
        for c in range(len(currencies)):
            cur_rows.append(np.full(len(days), c + 1))
            day_rows.append(days)
            rate_rows.append(micro[:, c])
    cur = np.concatenate(cur_rows)
    day = np.concatenate(day_rows)
    rate = np.concatenate(rate_rows)
    keep = day <= last_day
    cur, day, rate = cur[keep], day[keep], rate[keep]
    order = np.lexsort((cur, day))
    return {"cur": cur[order], "day": day[order], "rate": rate[order]}


# --------------------------------------------------------------------------------------
# Opportunities (one block per calendar month)
# --------------------------------------------------------------------------------------


def _opportunity_block(a: _Accounts, seed: int, m: int) -> dict[str, np.ndarray]:
    rng = _rng(seed, _S_OPP, m)
    mi = int(_month_index(_day(HISTORY_START))) + m
    ms = int(_month_start_day(mi))
    me = int(_month_start_day(mi + 1)) - 1
    elig = np.flatnonzero((a.created <= me) & (a.close > ms) & (a.end > ms))
    k = rng.poisson(a.opp_rate[elig])
    acct = np.repeat(elig, k)
    n = len(acct)
    created = np.minimum(np.maximum(ms + rng.integers(0, me - ms + 1, n), a.created[acct]), me)
    order = np.lexsort((acct, created))
    acct, created = acct[order], created[order]
    exp_close = created + rng.integers(20, 181, n)
    ro = rng.random(n)
    outcome = np.where(ro < 0.38, 4, np.where(ro < 0.85, 5, -1))  # -1: never closed (stale pipeline)
    slip = np.where(rng.random(n) < 0.4, rng.integers(1, 91, n), 0)
    resolve = np.where(outcome >= 0, exp_close + slip, NEVER)
    eur = np.where(a.is_customer[acct], a.revenue[acct] * 0.3, 20_000.0) * rng.lognormal(0.0, 0.6, n)
    amount = np.maximum(np.rint(eur / _APPROX_RATE[a.currency[acct]] / 10.0) * 1000, 50_000).astype(np.int64)
    return {"block": np.full(n, m), "seq": np.arange(1, n + 1), "acct": acct, "created": created,
            "exp_close": exp_close, "outcome": outcome, "resolve": resolve, "amount": amount,
            "amount_null": rng.random(n) < 0.03, "pl": rng.integers(0, len(_PRODUCT_LINES), n),
            "caps": rng.random(n) < 0.02}


# --------------------------------------------------------------------------------------
# Writing: a vectorised RFC 4180 CSV renderer and Parquet
# --------------------------------------------------------------------------------------


@dataclass
class _Style:
    bom: bool = False
    eol: str = "\n"
    upper_header: bool = False
    column_order: tuple[str, ...] | None = None


_STYLES = {
    "crm": _Style(bom=True, eol="\r\n"),  # a Windows CRM export: UTF-8 BOM, CRLF
    "finance": _Style(),
    "bureau": _Style(upper_header=True, column_order=BUREAU_COLUMN_ORDER),
    "manual": _Style(),
}
_NEEDS_QUOTES = r'[",\r\n]'


def _csv_text(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr
    if pa.types.is_timestamp(t):
        return pc.strftime(arr, format="%Y-%m-%dT%H:%M:%S")
    return arr.cast(pa.string())


def _render_csv(
    columns: list[pa.Array], overrides: list[pa.Array | None], plain: list[bool], eol: str
) -> pa.LargeStringArray:
    """One CSV line (with its end of line) per row; fields quoted only where RFC 4180 needs it."""
    parts = []
    for arr, ovr, is_plain in zip(columns, overrides, plain):
        text = _csv_text(arr)
        may_quote = (pa.types.is_string(arr.type) and not is_plain) or ovr is not None
        if ovr is not None:
            text = pc.if_else(pc.is_valid(ovr), ovr, text)
        if may_quote:
            quoted = _cat('"', pc.replace_substring(text, '"', '""'), '"')
            text = pc.if_else(pc.match_substring_regex(text, _NEEDS_QUOTES), quoted, text)
        parts.append(pc.fill_null(text, ""))
    line = pc.binary_join_element_wise(*parts, ",") if len(parts) > 1 else parts[0]
    line = pc.binary_join_element_wise(line, "", eol)
    line = line.cast(pa.large_string())
    if isinstance(line, pa.ChunkedArray):
        line = line.combine_chunks()
    return line


@dataclass
class _Frame:
    """Rows of one entity in write order, with their extract dates."""

    columns: dict[str, pa.Array]
    file_days: np.ndarray  # sorted ascending, one per row
    overrides: dict[str, pa.Array] = field(default_factory=dict)  # CSV text (null: render the typed value)
    csv_only: np.ndarray | None = None  # rows that exist only in CSV files (text in a typed column)
    plain: frozenset[str] = frozenset()  # string columns built from ids/codes: never need CSV quoting


def _entity_path(out_dir: Path, source: str, entity: str, day: int, ext: str) -> Path:
    return out_dir / source / entity / f"{_date(day).isoformat()}.{ext}"


def _write_frame(out_dir: Path, source: str, entity: str, fmt: str, frame: _Frame, days: list[int]) -> list[Path]:
    style = _STYLES[source]
    names = list(frame.columns)
    if style.column_order:
        names = list(style.column_order)
    header_names = [n.upper() if style.upper_header else n for n in names]
    ext = "parquet" if fmt == "parquet" else "csv"
    other = "csv" if ext == "parquet" else "parquet"
    folder = out_dir / source / entity
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    file_days = frame.file_days
    if ext == "parquet":
        table = pa.table({h: frame.columns[n] for h, n in zip(header_names, names)})
        if frame.csv_only is not None and frame.csv_only.any():
            table = table.filter(pa.array(~frame.csv_only))
            file_days = file_days[~frame.csv_only]
        for d in days:
            lo, hi = np.searchsorted(file_days, [d, d + 1])
            path = _entity_path(out_dir, source, entity, d, ext)
            pq.write_table(table.slice(lo, hi - lo), path, compression="snappy")
            path.with_suffix("." + other).unlink(missing_ok=True)
            written.append(path)
        return written

    header = (("\ufeff" if style.bom else "") + ",".join(header_names) + style.eol).encode("utf-8")
    cols = [frame.columns[n] for n in names]
    ovrs = [frame.overrides.get(n) for n in names]
    plain = [n in frame.plain for n in names]
    bounds = np.searchsorted(file_days, np.array(days, dtype=np.int64).repeat(2) + np.tile([0, 1], len(days)))
    # render at most _CSV_CHUNK_ROWS rows at a time (several small files, or part of a large one)
    # and slice the rendered buffer into the files
    chunk_lo = chunk_hi = 0
    offsets = view = None
    for k, d in enumerate(days):
        a, b = int(bounds[2 * k]), int(bounds[2 * k + 1])
        path = _entity_path(out_dir, source, entity, d, ext)
        with open(path, "wb") as f:
            f.write(header)
            r = a
            while r < b:
                if not chunk_lo <= r < chunk_hi:
                    chunk_lo, chunk_hi = r, min(r + _CSV_CHUNK_ROWS, len(file_days))
                    lines = _render_csv([c.slice(chunk_lo, chunk_hi - chunk_lo) for c in cols],
                                        [o.slice(chunk_lo, chunk_hi - chunk_lo) if o is not None else None for o in ovrs],
                                        plain, style.eol)
                    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
                    data = lines.buffers()[2]
                    view = memoryview(data) if data is not None else memoryview(b"")
                e = min(b, chunk_hi)
                f.write(view[offsets[r - chunk_lo] : offsets[e - chunk_lo]])
                r = e
        path.with_suffix("." + other).unlink(missing_ok=True)
        written.append(path)
    return written


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------


class _Generator:
    def __init__(self, out_dir: Path, accounts: int, seed: int, as_of: date, file_format: str, snapshot_days: int):
        self.out_dir = out_dir
        self.n = accounts
        self.seed = seed
        self.as_of = as_of
        self.D = _day(as_of)
        self.fmt = file_format
        self.snapshot_days = snapshot_days
        self.hs = _day(HISTORY_START)
        self.specs = {(s.source, s.entity): s for s in load_entity_specs()}
        self.files: list[Path] = []
        self.rows: dict[str, int] = {}
        self.rows_written: dict[str, int] = {}
        self.malformed: list[MalformedRow] = []
        self.cascaded: list[MalformedRow] = []
        self.a = _Accounts(seed, accounts)
        # finance blocks up to the month of as_of + 7 days: an invoice dated early next month can be
        # posted (extracted) a few days before its invoice date
        self.n_blocks = int(_month_index(self.D + 7) - _month_index(self.hs)) + 1
        self.snapshot_dates = [d for d in range(self.D - snapshot_days + 1, self.D + 1) if d >= self.hs]
        self.delta_dates = list(range(self.hs, self.D + 1))
        self._build_account_text()
        self._choose_special_accounts()

    # ---------------------------------------------------------------- helpers
    def fmt_of(self, source: str, entity: str) -> str:
        if self.fmt == "mixed":
            return "parquet" if (source, entity) in MIXED_PARQUET else "csv"
        return self.fmt

    def ext_of(self, source: str, entity: str) -> str:
        return "parquet" if self.fmt_of(source, entity) == "parquet" else "csv"

    def rel(self, source: str, entity: str, day: int) -> str:
        return f"{source}/{entity}/{_date(day).isoformat()}.{self.ext_of(source, entity)}"

    def write(self, source: str, entity: str, frame: _Frame, days: list[int]) -> None:
        spec = self.specs[(source, entity)]
        assert list(frame.columns) == list(spec.columns), (source, entity, list(frame.columns))
        fmt = self.fmt_of(source, entity)
        self.files += _write_frame(self.out_dir, source, entity, fmt, frame, days)
        n_rows = len(frame.file_days)
        if fmt == "parquet" and frame.csv_only is not None:
            n_rows -= int(frame.csv_only.sum())
        key = f"{source}/{entity}"
        self.rows_written[key] = self.rows_written.get(key, 0) + n_rows

    def account_ids(self, idx: np.ndarray) -> pa.Array:
        return _cat("ACC-", _pad(idx + 1, self.a.width))

    # ---------------------------------------------------------------- accounts
    def _build_account_text(self) -> None:
        a, n = self.a, self.n
        rng = _rng(self.seed, _S_CRM)
        cc = np.array(_COUNTRY_CODES)[a.country]
        self.ids = self.account_ids(a.idx)
        # names
        suffix_codes = np.zeros(n, dtype=np.int64)
        suffix_vocab: list[str] = []
        for c in _COUNTRY_CODES:
            opts = _SUFFIX.get(c, ["Ltd"])
            sel = cc == c
            suffix_codes[sel] = len(suffix_vocab) + rng.integers(0, len(opts), sel.sum())
            suffix_vocab += opts
        suffix = _pick(suffix_vocab, suffix_codes)
        core = _pick(_CORE, rng.integers(0, len(_CORE), n))
        sector = _pick(_SECTOR, rng.integers(0, len(_SECTOR), n))
        fam = _pick(_FAMILY, rng.integers(0, len(_FAMILY), n))
        fam2 = _pick(_FAMILY, rng.integers(0, len(_FAMILY), n))
        first = _pick(_FIRST, rng.integers(0, len(_FIRST), n))
        pattern = _choice(rng, n, [0.45, 0.30, 0.12, 0.08, 0.03, 0.02])
        pattern = np.where(a.individual, 6, pattern)
        names = pc.choose(
            pa.array(pattern.astype(np.int8)),
            _cat(core, " ", sector, " ", suffix),
            _cat(fam, " ", sector, " ", suffix),
            _cat(fam, ", ", fam2, " & Partners ", suffix),
            _cat(core, " ", sector),
            _cat(sector, ' "', core, '" ', suffix),
            _cat(core, " ", sector, " ", suffix, "\nAttn: Accounts Payable"),
            _cat(first, " ", fam),
        )
        self.names = names
        self.core_idx = rng.integers(0, len(_CORE), n)  # for e-mail domains
        # account_type
        # business / null / "Business" / " BUSINESS " / "company" (unknown: reads as missing)
        biz_code = np.array([0, 5, 2, 3, 4])[_choice(rng, n, [0.90, 0.07, 0.01, 0.01, 0.01])]
        type_code = np.where(a.individual, np.where(rng.random(n) < 0.12, 5, 1), biz_code)
        self.account_type = _pick(["business", "individual", "Business", " BUSINESS ", "company", ""], type_code,
                                  null=type_code == 5)
        # identifiers (businesses only)
        biz = ~a.individual
        id_kind = _choice(rng, n, [0.45, 0.10, 0.37, 0.08])  # both, duns only, registration only, neither
        self.has_duns = biz & ((id_kind == 0) | (id_kind == 1))
        self.has_reg = biz & ((id_kind == 0) | (id_kind == 2))
        off = int(rng.integers(0, 999_999_937))
        duns_val = (a.idx.astype(np.int64) * 7919 + off) % 999_999_937
        duns_val = np.where(rng.random(n) < 0.06, duns_val % 100_000_000, duns_val)  # more leading zeros
        self.duns = pc.if_else(pa.array(self.has_duns), _pad(duns_val, 9), pa.nulls(n, pa.string()))
        self.reg_crm, self.reg_bureau = self._registration_numbers(rng, cc)
        self.reg_crm = pc.if_else(pa.array(self.has_reg), self.reg_crm, pa.nulls(n, pa.string()))
        # country text (a few need trimming / upper-casing)
        cvar = rng.random(n)
        self.country_text = pc.choose(
            pa.array(np.where(cvar < 0.006, 1, np.where(cvar < 0.012, 2, 0)).astype(np.int8)),
            pa.array(cc), pc.utf8_lower(pa.array(cc)), _cat(" ", pa.array(cc), " "),
        )
        # region
        reg_vocab = []
        reg_code = np.full(n, -1)
        for c, opts in _REGIONS.items():
            sel = (cc == c) & (rng.random(n) < 0.7)
            reg_code[sel] = len(reg_vocab) + rng.integers(0, len(opts), sel.sum())
            reg_vocab += opts
        self.region = _pick(reg_vocab, np.maximum(reg_code, 0), null=reg_code < 0)
        # industry
        ind_kind = _choice(rng, n, [0.35, 0.30, 0.28, 0.07])  # code+text, code, text, neither
        has_code = biz & ((ind_kind == 0) | (ind_kind == 1))
        has_text = biz & ((ind_kind == 0) | (ind_kind == 2))
        naics = _NAICS + _NAICS_INVALID
        code = np.where(rng.random(n) < 0.03, len(_NAICS) + rng.integers(0, len(_NAICS_INVALID), n),
                        rng.integers(0, len(_NAICS), n))
        self.industry_code = _pick(naics, code, null=~has_code)
        self.industry = _pick(_INDUSTRY_TEXT, rng.integers(0, len(_INDUSTRY_TEXT), n), null=~has_text)
        # size
        size_kind = _choice(rng, n, [0.47, 0.25, 0.22, 0.06])  # both, employees, revenue, neither
        emp = np.clip(np.rint(np.exp(3.3 + 0.8 * a.size_z + 1.0 * rng.standard_normal(n))), 1, 250_000).astype(np.int64)
        emp = np.where(rng.random(n) < 0.003, -1, emp)  # a negative count reads as missing
        emp_null = a.individual | ~((size_kind == 0) | (size_kind == 1))
        self.employee_count = _pa_int(emp, emp_null)
        ann_eur = np.abs(emp) * 120_000.0 * rng.lognormal(0.0, 0.5, n)
        ann_local = np.rint(ann_eur / _APPROX_RATE[a.currency] / 1000.0) * 1000 * 100
        ann_null = a.individual | ~((size_kind == 0) | (size_kind == 2))
        self.annual_revenue = _pa_decimal(ann_local.astype(np.int64), 2, ann_null)
        cur_null = rng.random(n) < 0.15
        self.currency = _pick(_CURRENCIES, a.currency, null=cur_null & (a.currency == 0))
        # sales channel
        sc_code = _choice(rng, n, [w for _, w in _SALES_CHANNELS])
        self.sales_channel = _pick([v or "" for v, _ in _SALES_CHANNELS], sc_code,
                                   null=np.array([v is None for v, _ in _SALES_CHANNELS])[sc_code])
        # owners (some change owner on a fixed day of the timeline)
        n_owners = max(3, n // 150)
        self.owner1 = rng.integers(1, n_owners + 1, n)
        self.owner2 = rng.integers(1, n_owners + 1, n)
        self.owner_change = np.where(rng.random(n) < 0.08, self.hs + rng.integers(0, 6 * 365, n), NEVER)
        self.owner_null = rng.random(n) < 0.02
        # service level, strategic, parents
        sl = rng.integers(0, len(_SERVICE_LEVELS), n)
        self.service_level = _pick(_SERVICE_LEVELS, sl, null=rng.random(n) >= 0.25)
        top = a.revenue >= np.quantile(a.revenue, 0.95) if n else np.zeros(0, bool)
        strategic = rng.random(n) < np.where(top, 0.25, 0.015)
        self.is_strategic_value = strategic
        self.is_strategic_null = rng.random(n) < 0.3
        bool_var = rng.random(n)
        bool_code = np.where(bool_var < 0.85, 0, 1 + (bool_var * 1000).astype(np.int64) % 4)
        self.is_strategic_text = pc.if_else(
            pa.array(strategic), _pick(_TRUE_TEXT, bool_code), _pick(_FALSE_TEXT, bool_code)
        )
        parents = np.flatnonzero(~a.acquired & ~a.individual & (rng.random(n) < 0.03))
        parent = np.full(n, -1)
        if len(parents):
            child = ~a.individual & (rng.random(n) < 0.07)
            parent[child] = parents[rng.integers(0, len(parents), child.sum())]
            parent[parent == a.idx] = -1
        ptext = self.account_ids(np.maximum(parent, 0))
        pvar = rng.random(n)
        ptext = pc.if_else(pa.array(pvar < 0.05), _cat(" ", ptext, " "), ptext)
        ptext = pc.if_else(pa.array(pvar > 0.997), _cat("ACC-LEGACY-", _pad(a.idx % 1000, 4)), ptext)
        has_parent = (parent >= 0) | (pvar > 0.997)
        self.parent = pc.if_else(pa.array(has_parent), ptext, pa.nulls(n, pa.string()))
        self.parent_idx = parent
        self.status_var = rng.random(n)
        # created_at: typed UTC timestamp; the CSV text sometimes carries an offset
        secs = a.created * 86400 + a.created_sec
        off_code = _choice(rng, n, [0.88, 0.04, 0.04, 0.02, 0.02])
        off_sec = np.array([0, 0, 3600, 7200, -5 * 3600])[off_code]
        local = pa.array(secs + off_sec, pa.timestamp("s"))
        self.created_ts = secs
        self.created_text = _cat(pc.strftime(local, format="%Y-%m-%dT%H:%M:%S"),
                                 _pick(["", "Z", "+01:00", "+02:00", "-05:00"], off_code))

    def _registration_numbers(self, rng: np.random.Generator, cc: np.ndarray) -> tuple[pa.Array, pa.Array]:
        n = self.n
        d6 = _pad(rng.integers(100_000, 1_000_000, n), 6)
        d8 = _pad(rng.integers(0, 100_000_000, n), 8)
        d9 = _pad(rng.integers(0, 1_000_000_000, n), 9)
        s = pc.utf8_slice_codeunits
        gb_sc = rng.random(n) < 0.2
        kinds = np.select([cc == "NL", cc == "BE", cc == "DE", cc == "FR", (cc == "GB") & gb_sc, cc == "GB", cc == "US"],
                          [0, 1, 2, 3, 4, 5, 6], 7).astype(np.int8)
        lower_cc = pc.utf8_lower(pa.array(cc))
        crm = pc.choose(
            pa.array(kinds),
            d8,
            _cat("0", s(d9, 0, 3), ".", s(d9, 3, 6), ".", s(d9, 6, 9)),
            _cat("HRB ", d6),
            _cat(s(d9, 0, 3), " ", s(d9, 3, 6), " ", s(d9, 6, 9)),
            _cat("SC", d6),
            d8,
            _cat(s(d9, 0, 2), "-", s(d9, 2, 9)),
            _cat(pa.array(cc), "-", d8),
        )
        bureau = pc.choose(
            pa.array(kinds),
            _cat(s(d8, 0, 4), " ", s(d8, 4, 8)),
            _cat("0", s(d9, 0, 3), " ", s(d9, 3, 6), " ", s(d9, 6, 9)),
            _cat("hrb", d6),
            d9,
            _cat("sc", d6),
            _cat(s(d8, 0, 4), "-", s(d8, 4, 8)),
            d9,
            _cat(lower_cc, ".", d8),
        )
        swap = pa.array(rng.random(n) < 0.3)  # sometimes the CRM holds the plain form and the bureau the formatted one
        return pc.if_else(swap, bureau, crm), pc.if_else(swap, crm, bureau)

    def _choose_special_accounts(self) -> None:
        """Accounts that carry deliberate defects or overrides (fixed per seed and size)."""
        a = self.a
        rng = _rng(self.seed, _S_PICK)
        stable = ~a.acquired & (a.close >= NEVER) & (a.end >= NEVER) & ~a.individual
        customers = np.flatnonzero(stable & (a.first == self.hs) & (a.currency == 0))
        small = customers[a.revenue[customers] < 15_000] if len(customers) else customers
        prospects = np.flatnonzero(~a.acquired & (a.first >= NEVER) & (a.close >= NEVER) & ~a.individual)
        self.budget = min(5, self.n // 100)  # deliberately quarantined accounts: at most 1 % of the population

        def take(pool: np.ndarray, used: set[int]) -> int | None:
            pool = pool[~np.isin(pool, np.array(sorted(used), dtype=np.int64))]
            return int(pool[rng.integers(0, len(pool))]) if len(pool) else None

        used: set[int] = set()
        self.bad_country = take(small if len(small) else customers, used) if self.budget >= 1 else None
        if self.bad_country is not None:
            used.add(self.bad_country)
        self.no_name = take(prospects, used) if self.budget >= 2 else None
        if self.no_name is not None:
            used.add(self.no_name)
        self.dup = take(prospects, used) if self.budget >= 4 else None
        if self.dup is not None:
            used.add(self.dup)
        self.bad_employees = take(prospects, used) if self.budget >= 5 else None
        if self.bad_employees is not None:
            used.add(self.bad_employees)
        # the anchor account carries the malformed finance rows; override targets
        anchor = take(customers, used)
        if anchor is None:
            anchor = int(np.flatnonzero(~a.acquired)[0]) if (~a.acquired).any() else 0
        self.anchor = anchor
        used.add(anchor)
        self.override_targets = []
        pool = np.flatnonzero(stable & (a.first == self.hs))
        for _ in range(5):
            t = take(pool, used)
            if t is None:
                t = take(np.flatnonzero(stable), used)
            if t is None:
                t = anchor
            used.add(t)
            self.override_targets.append(t)
        self.quarantined_idx = [i for i in (self.bad_country, self.no_name, self.dup) if i is not None]
        if self.bad_employees is not None and self.fmt_of("crm", "accounts") == "csv":
            self.quarantined_idx.append(self.bad_employees)

    def accounts_frame(self, d: int) -> tuple[_Frame, dict[str, int]]:
        a = self.a
        rows = np.flatnonzero(a.created <= d)
        take = pa.array(rows)
        n = len(rows)
        closed = a.close[rows] <= d
        sv = self.status_var[rows]
        status_code = np.where(closed, np.where(sv < 0.9, 1, 3), np.where(sv < 0.9, 0, np.where(sv < 0.95, 2, 4)))
        status = _pick(["active", "closed", "Active", "CLOSED", ""], status_code, null=status_code == 4)
        owner = np.where(d >= self.owner_change[rows], self.owner2[rows], self.owner1[rows])
        owner_id = _cat("U", _pad(owner, 4))
        owner_id = pc.if_else(pa.array(self.owner_null[rows]), pa.nulls(n, pa.string()), owner_id)
        cols = {
            "account_id": self.ids.take(take),
            "account_name": self.names.take(take),
            "account_type": self.account_type.take(take),
            "registration_number": self.reg_crm.take(take),
            "duns_number": self.duns.take(take),
            "country_code": self.country_text.take(take),
            "region_code": self.region.take(take),
            "industry_code": self.industry_code.take(take),
            "industry": self.industry.take(take),
            "employee_count": self.employee_count.take(take),
            "annual_revenue": self.annual_revenue.take(take),
            "currency": self.currency.take(take),
            "sales_channel": self.sales_channel.take(take),
            "owner_id": owner_id,
            "service_level": self.service_level.take(take),
            "is_strategic": _pa_bool(self.is_strategic_value[rows], self.is_strategic_null[rows] & ~self.is_strategic_value[rows]),
            "parent_account_id": self.parent.take(take),
            "status": status,
            "created_at": pa.array(self.created_ts[rows], pa.timestamp("s", tz="UTC")),
        }
        overrides = {
            "is_strategic": pc.if_else(
                pa.array(self.is_strategic_null[rows] & ~self.is_strategic_value[rows]),
                pa.nulls(n, pa.string()), self.is_strategic_text.take(take)),
            "created_at": self.created_text.take(take),
        }
        # positions in this snapshot of the few accounts that carry defects (rows is sorted)
        special = [i for i in (self.bad_country, self.no_name, self.bad_employees, self.dup) if i is not None]
        at = np.searchsorted(rows, special)
        pos = {i: int(p) for i, p in zip(special, at) if p < n and rows[p] == i}
        edits: dict[str, list[tuple[int, str]]] = {}
        positions: dict[str, int] = {}
        if self.bad_country is not None and self.bad_country in pos:
            p = pos[self.bad_country]
            cols["country_code"] = pc.replace_with_mask(cols["country_code"], _one(n, p), pa.array(["UK"]))
            positions["bad_country"] = p
        if self.no_name is not None and self.no_name in pos:
            p = pos[self.no_name]
            cols["account_name"] = pc.replace_with_mask(cols["account_name"], _one(n, p), pa.nulls(1, pa.string()))
            positions["no_name"] = p
        if self.bad_employees is not None and self.bad_employees in pos:
            p = pos[self.bad_employees]
            cols["employee_count"] = pc.replace_with_mask(cols["employee_count"], _one(n, p), pa.nulls(1, pa.int64()))
            edits.setdefault("employee_count", []).append((p, "50-100"))
            positions["bad_employees"] = p
        # extra rows: an account created after the extract date, a second copy of an id
        extra: list[dict] = []
        if self.budget >= 3:
            extra.append({"idx": self.n, "name": "Nova Robotics B.V.", "country": "NL", "created": d + 2, "sec": 9 * 3600,
                          "kind": "created_after"})
        if self.dup is not None and self.dup in pos:
            extra.append({"idx": self.dup, "name": None, "country": None, "created": None, "sec": None, "kind": "dup"})
        if extra:
            ext_cols: dict[str, list] = {k: [] for k in cols}
            ext_ovr: dict[str, list] = {"is_strategic": [], "created_at": []}
            for e in extra:
                if e["kind"] == "dup":
                    p = pos[e["idx"]]
                    row = {k: v[p].as_py() for k, v in cols.items()}
                    row["account_name"] = str(row["account_name"]).upper().replace(".", "")
                    row["created_at"] = datetime.fromtimestamp(int(self.created_ts[e["idx"]]) + 86400 * 40, timezone.utc)
                    ext_ovr["is_strategic"].append(None)
                    ext_ovr["created_at"].append(row["created_at"].strftime("%Y-%m-%dT%H:%M:%S"))
                    positions["dup_first"] = p
                else:
                    ts = datetime.fromtimestamp(e["created"] * 86400 + e["sec"], timezone.utc)
                    row = {k: None for k in cols}
                    row.update({"account_id": self.account_ids(np.array([e["idx"]]))[0].as_py(), "account_name": e["name"],
                                "account_type": "business", "country_code": e["country"], "currency": "EUR",
                                "sales_channel": "Inside Sales", "status": "active", "created_at": ts})
                    ext_ovr["is_strategic"].append(None)
                    ext_ovr["created_at"].append(ts.strftime("%Y-%m-%dT%H:%M:%S"))
                for k in cols:
                    ext_cols[k].append(row[k])
                positions[e["kind"]] = n + len(ext_cols["account_id"]) - 1
            for k in cols:
                cols[k] = pa.concat_arrays([cols[k], pa.array(ext_cols[k], cols[k].type)])
            for k in overrides:
                overrides[k] = pa.concat_arrays([overrides[k], pa.array(ext_ovr[k], pa.string())])
        total = n + len(extra)
        for k, items in edits.items():
            # CSV only: in Parquet the non-numeric value cannot exist, the row carries a valid null instead
            overrides[k] = _sparse_text(total, [p for p, _ in items], [t for _, t in items])
        plain = frozenset({"account_id", "account_type", "duns_number", "country_code", "region_code", "industry_code",
                           "currency", "owner_id", "service_level", "parent_account_id", "status"})
        frame = _Frame(cols, np.full(total, d), overrides, plain=plain)
        return frame, positions

    def write_accounts(self) -> None:
        positions: dict[str, int] = {}
        for d in self.snapshot_dates:
            frame, positions = self.accounts_frame(d)
            self.write("crm", "accounts", frame, [d])
            last = frame
        self.rows["crm/accounts"] = len(last.file_days)
        f = self.rel("crm", "accounts", self.D)
        ids = last.columns["account_id"]

        def add(kind: str, reason: str, text: str) -> None:
            if kind in positions:
                self.malformed.append(MalformedRow("crm", "accounts", ids[positions[kind]].as_py(), reason, text, f))

        add("bad_country", "unknown_country_code", "country_code 'UK' is not an officially assigned ISO 3166-1 code")
        add("no_name", "missing_mandatory_field", "account_name is empty")
        add("created_after", "created_after_as_of", "created_at is two days after the extract date")
        if "dup" in positions:
            add("dup_first", "duplicate_key", "account_id occurs twice in the snapshot (first copy)")
            add("dup", "duplicate_key", "account_id occurs twice in the snapshot (second copy, upper-case name)")
        if "bad_employees" in positions and self.fmt_of("crm", "accounts") == "csv":
            add("bad_employees", "invalid_value", "employee_count '50-100' is not an integer")

    # ---------------------------------------------------------------- contacts
    def write_contacts(self) -> None:
        a = self.a
        rng = _rng(self.seed, _S_CONTACTS)
        k = np.where(a.individual, 1, 1 + np.minimum(rng.poisson(1.0, self.n), 4))
        acct = np.repeat(a.idx, k)
        nc = len(acct)
        starts = np.cumsum(k) - k
        is_first = np.arange(nc) == starts[acct]
        fi = rng.integers(0, len(_FIRST), nc)
        la = rng.integers(0, len(_FAMILY), nc)
        full = _cat(_pick(_FIRST, fi), " ", _pick(_FAMILY, la))
        full = pc.if_else(pa.array(a.individual[acct]), self.names.take(pa.array(acct)), full)
        domain = _cat(_pick([_ascii(c) for c in _CORE], self.core_idx[acct]), "-",
                      _pick(["group", "bv", "gmbh", "corp", "ltd", "sa"], acct % 6), ".example")
        email = _cat(_pick([_ascii(x) for x in _FIRST], fi), ".", _pick([_ascii(x) for x in _FAMILY], la), "@", domain)
        email = pc.if_else(pa.array(rng.random(nc) < 0.05), pa.nulls(nc, pa.string()), email)
        role = _pick(_ROLES, rng.integers(0, len(_ROLES), nc), null=rng.random(nc) < 0.1)
        bool_code = np.where(rng.random(nc) < 0.9, 0, rng.integers(1, 5, nc))
        primary_text = pc.if_else(pa.array(is_first), _pick(_TRUE_TEXT, bool_code), _pick(_FALSE_TEXT, bool_code))
        contact_ids = _cat("CON-", _pad(np.arange(1, nc + 1), 8))
        # the malformed extra contact: no account_id
        extra_id = f"CON-{nc + 1:08d}"
        for d in self.snapshot_dates:
            rows = np.flatnonzero(a.created[acct] <= d)
            t = pa.array(rows)
            cols = {
                "contact_id": pa.concat_arrays([contact_ids.take(t), pa.array([extra_id])]),
                "account_id": pa.concat_arrays([self.ids.take(pa.array(acct[rows])), pa.nulls(1, pa.string())]),
                "email": pa.concat_arrays([email.take(t), pa.array(["orphan.contact@unknown.example"])]),
                "full_name": pa.concat_arrays([full.take(t), pa.array(["Orphan Contact"])]),
                "role": pa.concat_arrays([role.take(t), pa.array(["Accounts Payable"])]),
                "is_primary": pa.concat_arrays([_pa_bool(is_first[rows]), pa.array([False])]),
            }
            ovr = {"is_primary": pa.concat_arrays([primary_text.take(t), pa.array(["false"])])}
            plain = frozenset({"contact_id", "account_id", "email", "role", "is_primary"})
            self.write("crm", "contacts", _Frame(cols, np.full(len(rows) + 1, d), ovr, plain=plain), [d])
        self.rows["crm/contacts"] = len(rows) + 1
        f = self.rel("crm", "contacts", self.D)
        self.malformed.append(MalformedRow("crm", "contacts", extra_id, "missing_mandatory_field", "account_id is empty", f))
        for q in self.quarantined_idx:
            for cid in contact_ids.take(pa.array(np.flatnonzero((acct == q) & (a.created[acct] <= self.D)))).to_pylist():
                self.cascaded.append(MalformedRow("crm", "contacts", cid, "account_quarantined",
                                                  "contact of a quarantined account", f))

    # ---------------------------------------------------------------- opportunities
    def write_opportunities(self) -> None:
        a = self.a
        n_blocks = int(_month_index(self.D) - _month_index(self.hs)) + 1
        o = _concat([_opportunity_block(a, self.seed, m) for m in range(n_blocks)])
        mi0 = int(_month_index(self.hs))
        ids = _cat("OPP-", _yyyymm(o["block"] + mi0), "-", _pad(o["seq"], 6))
        bad_id = "OPP-202302-999001"
        for d in self.snapshot_dates:
            rows = np.flatnonzero(o["created"] <= d)
            t = pa.array(rows)
            resolve, exp_close, created = o["resolve"][rows], o["exp_close"][rows], o["created"][rows]
            closed = resolve <= d
            horizon = np.where(o["outcome"][rows] >= 0, resolve, exp_close + 120)
            p = (d - created) / np.maximum(horizon - created, 1)
            open_stage = np.minimum((p * 4).astype(np.int64), 3)
            stage = np.where(closed, o["outcome"][rows], open_stage)
            stage_text = _pick(_STAGES + [s.capitalize() for s in _STAGES], stage + np.where(o["caps"][rows], 6, 0))
            close_date = np.where(closed, resolve, np.where((d > exp_close) & (resolve < NEVER), resolve, exp_close))
            cols = {
                "opportunity_id": pa.concat_arrays([ids.take(t), pa.array([bad_id])]),
                "account_id": pa.concat_arrays([self.ids.take(pa.array(o["acct"][rows])),
                                                pa.array(["ACC-" + "9" * self.a.width])]),
                "stage": pa.concat_arrays([stage_text, pa.array(["qualification"])]),
                "amount": pa.concat_arrays([_pa_decimal(o["amount"][rows], 2, o["amount_null"][rows]),
                                            _pa_decimal(np.array([2_500_000]), 2)]),
                "currency": pa.concat_arrays([_pick(_CURRENCIES, a.currency[o["acct"][rows]]), pa.array(["EUR"])]),
                "close_date": pa.concat_arrays([_pa_date(close_date), _pa_date(np.array([_day(date(2023, 6, 30))]))]),
                "product_line": pa.concat_arrays([_pick(_PRODUCT_LINES, o["pl"][rows]), pa.array(["services"])]),
            }
            self.write("crm", "opportunities", _Frame(cols, np.full(len(rows) + 1, d), plain=frozenset(cols)), [d])
        self.rows["crm/opportunities"] = len(rows) + 1
        f = self.rel("crm", "opportunities", self.D)
        self.malformed.append(MalformedRow("crm", "opportunities", bad_id, "unknown_account",
                                           "account_id does not exist in crm/accounts", f))
        for q in self.quarantined_idx:
            sel = np.flatnonzero((o["acct"] == q) & (o["created"] <= self.D))
            for oid in ids.take(pa.array(sel)).to_pylist():
                self.cascaded.append(MalformedRow("crm", "opportunities", oid, "account_quarantined",
                                                  "opportunity of a quarantined account", f))

    # ---------------------------------------------------------------- fx rates
    def write_fx(self) -> None:
        fx = _fx_history(self.seed, self.D)
        bad_day = _day(date(2023, 2, 15))
        sek = _CURRENCIES.index("SEK")
        bad = (fx["cur"] == sek) & (fx["day"] == bad_day)
        rate = np.where(bad, 0, fx["rate"])
        self.fx = fx
        for d in self.snapshot_dates:
            hi = int(np.searchsorted(fx["day"], d, side="right"))
            cols = {
                "currency": _pick(_CURRENCIES, fx["cur"][:hi]),
                "rate_date": _pa_date(fx["day"][:hi]),
                "rate_to_base": _pa_decimal(rate[:hi], 6),
            }
            self.write("finance", "fx_rates", _Frame(cols, np.full(hi, d), plain=frozenset(cols)), [d])
        self.rows["finance/fx_rates"] = hi
        if bad.any():
            self.malformed.append(MalformedRow("finance", "fx_rates", f"SEK|{_date(bad_day).isoformat()}", "invalid_value",
                                               "rate_to_base is 0 (must be > 0)", self.rel("finance", "fx_rates", self.D)))

    # ---------------------------------------------------------------- bureau
    def write_bureau(self) -> None:
        a = self.a
        rng = _rng(self.seed, _S_BUREAU)
        n = self.n
        hs = self.hs
        covered = (self.has_duns | self.has_reg) & (rng.random(n) < 0.85)
        first_rep = np.where(a.created < hs - 200, hs - rng.integers(30, 700, n), a.created + rng.integers(10, 150, n))
        period = rng.integers(120, 400, n)
        stop = np.where(rng.random(n) < 0.08, hs + rng.integers(-200, 1500, n), NEVER)
        mu = np.array([74, 78, 58, 45, 28, 68, 66])[a.profile]
        base = np.clip(rng.normal(mu, 12.0), 5, 98)
        ins = np.where(rng.random(n) < np.where(a.profile == _DEFAULTING, 0.12, 0.012), hs + rng.integers(-300, 2200, n), NEVER)
        second = covered & (rng.random(n) < 0.04)
        second_tie = rng.random(n) < 0.5
        with_reg = np.where(self.has_duns, rng.random(n) < 0.5, True) & self.has_reg
        score_null = rng.random(n) < 0.04
        cc = np.array(_COUNTRY_CODES)[a.country]
        lim_cur = np.select([cc == "GB", cc == "US", cc == "CH"], [2, 1, 3], 0)
        lim_cur_null = (lim_cur == 0) & (rng.random(n) < 0.15)
        limit_null = rng.random(n) < 0.05
        pindex = np.clip(rng.normal(np.array([82, 88, 60, 42, 25, 70, 68])[a.profile], 10.0), 0, 100)
        # reports on companies that are not our accounts
        nx = max(5, n // 12)
        xrng = _rng(self.seed, _S_BUREAU, 1)
        x_country = _choice(xrng, nx, [w for _, w in _COUNTRIES])
        x_first = hs - xrng.integers(30, 2000, nx)
        x_period = xrng.integers(120, 400, nx)
        x_base = np.clip(xrng.normal(60, 18, nx), 1, 99)
        off = int(_rng(self.seed, _S_CRM).integers(0, 999_999_937))  # the DUNS permutation of the CRM
        x_duns = (np.arange(n, n + nx, dtype=np.int64) * 7919 + off) % 999_999_937
        ref_off = int(xrng.integers(0, 999_999_937))

        def refs(j: np.ndarray) -> pa.Array:
            return _cat("BR", _pad((j.astype(np.int64) * 104_729 + ref_off) % 999_999_937, 9))

        ratings = ["A1", "A2", "B1", "B2", "C", "D", "Insolvent"]
        self.bureau_dates = []
        for back in range(BUREAU_MONTHS - 1, -1, -1):
            M = int(_month_start_day(_month_index(self.D) - back))
            if M < hs:
                continue
            self.bureau_dates.append(M)
            parts = []
            for slot in (0, 1):
                sel = np.flatnonzero(covered & (first_rep <= M) & ((slot == 0) | second))
                upto = np.minimum(M, stop[sel])
                k = (upto - first_rep[sel]) // period[sel]
                rep = first_rep[sel] + k * period[sel]
                if slot == 1:
                    rep = np.where(second_tie[sel], rep, first_rep[sel])
                    k = np.where(second_tie[sel], k, 0)
                noise = _hash01(self.seed, _S_HASH + slot, sel, k)
                score = np.clip(np.rint(base[sel] + (noise - 0.5) * 16), 1, 100).astype(np.int64)
                insolvent = rep >= ins[sel]
                score = np.where(insolvent, np.minimum(score, 8), score)
                parts.append({
                    "ref": refs(2 * sel + slot), "duns": self.duns.take(pa.array(sel)),
                    "reg": pc.if_else(pa.array(with_reg[sel]), self.reg_bureau.take(pa.array(sel)), pa.nulls(len(sel), pa.string())),
                    "cc": pa.array(cc[sel]), "score": score, "score_null": score_null[sel], "rep": rep,
                    "limit": (np.rint(a.revenue[sel] * 0.25 * score / 50.0 / _APPROX_RATE[lim_cur[sel]] / 500.0) * 500 * 100).astype(np.int64),
                    "limit_null": limit_null[sel], "lim_cur": lim_cur[sel], "lim_cur_null": lim_cur_null[sel],
                    "pindex": np.rint(pindex[sel]).astype(np.int64), "ins": insolvent,
                })
            xs = np.flatnonzero(x_first <= M)
            xk = (M - x_first[xs]) // x_period[xs]
            x_score = np.clip(np.rint(x_base[xs] + (_hash01(self.seed, _S_HASH + 2, xs, xk) - 0.5) * 16), 1, 100).astype(np.int64)
            x_score = np.where(xs == 0, 140, x_score)  # malformed: a score outside 0-100
            parts.append({
                "ref": refs(2 * n + xs), "duns": _pad(x_duns[xs], 9), "reg": pa.nulls(len(xs), pa.string()),
                "cc": pa.array(np.array(_COUNTRY_CODES)[x_country[xs]]), "score": x_score,
                "score_null": np.zeros(len(xs), bool), "rep": x_first[xs] + xk * x_period[xs],
                "limit": (np.rint(x_base[xs]) * 100_000).astype(np.int64), "limit_null": np.zeros(len(xs), bool),
                "lim_cur": np.zeros(len(xs), np.int64), "lim_cur_null": np.zeros(len(xs), bool),
                "pindex": np.rint(x_base[xs]).astype(np.int64), "ins": np.zeros(len(xs), bool),
            })
            p = {k: (pa.concat_arrays([q[k] for q in parts]) if isinstance(parts[0][k], pa.Array)
                     else np.concatenate([q[k] for q in parts])) for k in parts[0]}
            score = p["score"]
            rating_code = np.select([p["ins"], score >= 80, score >= 65, score >= 50, score >= 35, score >= 20], [6, 0, 1, 2, 3, 4], 5)
            cols = {
                "bureau_ref": p["ref"],
                "duns_number": p["duns"],
                "registration_number": p["reg"],
                "country_code": p["cc"],
                "credit_score": _pa_int(score, p["score_null"]),
                "rating": _pick(ratings, rating_code, null=p["score_null"]),
                "recommended_limit": _pa_decimal(p["limit"], 2, p["limit_null"]),
                "limit_currency": _pick(_CURRENCIES, p["lim_cur"], null=p["lim_cur_null"]),
                "payment_index": _pa_int(p["pindex"]),
                "insolvency_flag": _pa_bool(p["ins"]),
                "report_date": _pa_date(p["rep"]),
            }
            order = pc.sort_indices(cols["bureau_ref"])
            cols = {k: v.take(order) for k, v in cols.items()}
            ovr = {"insolvency_flag": _pick(["no", "YES"], p["ins"].astype(np.int64)).take(order)}
            self.write("bureau", "company_scores", _Frame(cols, np.full(len(score), M), ovr, plain=frozenset(cols)), [M])
            last_ref = refs(np.array([2 * n]))[0].as_py()
            last_rows = len(score)
        self.rows["bureau/company_scores"] = last_rows
        self.malformed.append(MalformedRow("bureau", "company_scores", last_ref, "invalid_value",
                                           "credit_score 140 is outside 0-100",
                                           self.rel("bureau", "company_scores", self.bureau_dates[-1])))

    # ---------------------------------------------------------------- finance
    def write_finance(self) -> None:
        """Stream the finance history: one calendar month of daily files at a time.

        Block m (the invoices dated in month m, their versions, credit notes, lines and payments)
        is generated once; its rows are routed by the month of their extract date into pending
        buckets, and the files of month w are written as soon as the blocks up to w + 1 exist (an
        invoice is extracted at most a few days before its invoice date, never earlier). Between
        months only the rows extracted later (payments, re-sends, credit notes) stay in memory.
        """
        D = self.D
        mi0 = int(_month_index(self.hs))
        self._acct_vocab = pa.concat_arrays([self.ids, pa.array(["ACC-" + "9" * self.a.width])])
        self._xtext: list[str] = []  # CSV-only text of extra rows (index in the "xtext" column)
        self._xid: list[str] = []  # invoice ids of extra lines / payments given as text ("xid" column)
        self._pending: dict[str, dict[int, list[dict[str, np.ndarray]]]] = {"inv": {}, "line": {}, "pay": {}}
        self._templates: dict[str, dict[str, np.ndarray]] = {}  # empty columns with the right dtypes
        self._fin_rows = {"first": 0, "csv_only": 0, "lines": 0, "payments": 0}
        self._casc: tuple[list, list, list, list, list] = ([], [], [], [], [])
        extras = self._malformed_invoices()
        self._route_extras(extras)
        last_w = int(_month_index(D)) - mi0
        next_block = 0
        for w in range(last_w + 1):
            while next_block < min(self.n_blocks, w + 2):
                self._route_block(next_block)
                next_block += 1
            ms, me = int(_month_start_day(mi0 + w)), int(_month_start_day(mi0 + w + 1)) - 1
            days = list(range(max(ms, self.hs), min(me, D) + 1))
            self._write_invoice_month(self._take_pending("inv", w), days)
            self._write_line_month(self._take_pending("line", w), days)
            self._write_payment_month(self._take_pending("pay", w), days)
        assert not any(self._pending.values()), "finance rows left unwritten"
        r = self._fin_rows
        self.rows["finance/invoices"] = r["first"] - (r["csv_only"] if self.fmt_of("finance", "invoices") == "parquet" else 0)
        dup_lines = sum(1 for e in extras["lines"] if "second copy" in e["_what"][1] and e["file"] <= D)
        self.rows["finance/invoice_lines"] = r["lines"] - dup_lines
        self.rows["finance/payments"] = r["payments"]
        self._finance_malformed(extras)
        for part in self._casc:
            self.cascaded.extend(part)
        del self._pending

    # rows of the pending buckets: every column int64 except these flags
    _BOOL_COLUMNS = frozenset({"total_null", "terms_null", "disc_null", "disputed", "disputed_null", "first",
                               "pl_null", "qty_null", "cost_null", "acct_null"})

    def _route(self, entity: str, rows: dict[str, np.ndarray], file_col: str = "file") -> None:
        """Queue rows (extracted on or before as_of) under the month of their extract date."""
        rows = {k: np.asarray(v, dtype=bool if k in self._BOOL_COLUMNS else np.int64) for k, v in rows.items()}
        keep = np.flatnonzero(rows[file_col] <= self.D)
        wm = _month_index(rows[file_col][keep]) - int(_month_index(self.hs))
        order = keep[np.argsort(wm, kind="stable")]
        wm = np.sort(wm, kind="stable")
        bounds = np.flatnonzero(np.diff(wm)) + 1
        for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(wm)]])):
            if hi > lo:
                sel = order[lo:hi]
                self._pending[entity].setdefault(int(wm[lo]), []).append({k: v[sel] for k, v in rows.items()})
        self._templates.setdefault(entity, {k: v[:0] for k, v in rows.items()})

    def _take_pending(self, entity: str, w: int) -> dict[str, np.ndarray]:
        parts = self._pending[entity].pop(w, [])
        return _concat([self._templates[entity]] + parts)

    def _route_extras(self, extras: dict[str, list[dict]]) -> None:
        inv_keys = ("kind", "block", "seq", "acct", "type", "day", "due", "cur", "total", "total_null", "status", "terms",
                    "terms_null", "disc", "disc_null", "disputed", "disputed_null", "opened", "resolved", "file", "first")
        xtext = []
        for e in extras["invoices"]:
            if e.get("total_text"):
                xtext.append(len(self._xtext))
                self._xtext.append(e["total_text"])
            else:
                xtext.append(-1)
        rows = {k: np.array([e.get(k, 0) for e in extras["invoices"]]) for k in inv_keys}
        rows["xtext"] = np.array(xtext)
        self._route("inv", rows)

        def xid(text: str) -> int:
            self._xid.append(text)
            return len(self._xid) - 1

        le = extras["lines"]
        self._route("line", {
            "kind": np.zeros(len(le)), "block": np.zeros(len(le)), "seq": np.zeros(len(le)),
            "xid": np.array([xid(e["invoice_id"]) for e in le]), "line_no": np.array([e["line_no"] for e in le]),
            "pl": np.array([e.get("pl", 3) for e in le]), "pl_null": np.array([e.get("pl_null", False) for e in le]),
            "qty": np.full(len(le), 100), "qty_null": np.zeros(len(le), bool), "net": np.array([e["net"] for e in le]),
            "cost": np.array([e["net"] // 2 for e in le]), "cost_null": np.zeros(len(le), bool),
            "file": np.array([e["file"] for e in le]), "order": np.array([e["order"] for e in le]),
        })
        pe = extras["payments"]
        self._route("pay", {
            "block": np.array([e["block"] for e in pe]), "seq": np.array([e["seq"] for e in pe]),
            "inv_seq": np.zeros(len(pe)), "xid": np.array([xid(e["invoice_id"]) for e in pe]),
            "date": np.array([e["date"] for e in pe]), "amount": np.array([e["amount"] for e in pe]),
            "acct_null": np.zeros(len(pe), bool), "cur": np.array([e["cur"] for e in pe]),
            "acct": np.array([e["acct"] for e in pe]),
        }, file_col="date")

    def _route_block(self, m: int) -> None:
        """Generate finance block m and queue its rows by extract month."""
        b = _finance_block(self.a, self.seed, m)
        inv, line, pay, cn, cnl = b["inv"], b["line"], b["pay"], b["cn"], b["cnline"]
        n_inv, n_cn = len(inv["seq"]), len(cn["seq"])

        # ---- invoice versions: first extract, then a re-send on each status / dispute change
        ev_inv = [np.arange(n_inv)]
        ev_day = [inv["post"]]
        for col, cond in (("void_day", None), ("opened", None), ("resolved", None), ("paid_day", "paid_resend")):
            sel = inv[col] < NEVER
            if cond:
                sel &= inv[cond]
            ev_inv.append(np.flatnonzero(sel))
            ev_day.append(np.maximum(inv[col][sel], inv["post"][sel]))
        ev_inv = np.concatenate(ev_inv)
        ev_day = np.concatenate(ev_day)
        o = np.lexsort((ev_day, ev_inv))
        ev_inv, ev_day = ev_inv[o], ev_day[o]
        keep = np.ones(len(ev_inv), bool)
        keep[1:] = (ev_inv[1:] != ev_inv[:-1]) | (ev_day[1:] != ev_day[:-1])
        ev_inv, f = ev_inv[keep], ev_day[keep]
        g = {k: v[ev_inv] for k, v in inv.items()}
        status = np.where(g["void_day"] <= f, 2, np.where(g["paid_resend"] & (g["paid_day"] <= f), 1, 0))
        case_var = _hash01(self.seed, _S_HASH + 3, g["block"], g["seq"]) < 0.01
        status = np.where(case_var, status + 3, status)  # "Open", "PAID", "Void"
        opened_shown = np.where(g["opened"] <= f, g["opened"], NEVER)
        resolved_shown = np.where(g["resolved"] <= f, g["resolved"], NEVER)
        disputed = (opened_shown < NEVER) & (resolved_shown >= NEVER)
        disputed_null = ~disputed & (_hash01(self.seed, _S_HASH + 4, g["block"], g["seq"]) < 0.1)
        cur_lower = _hash01(self.seed, _S_HASH + 5, g["block"], g["seq"]) < 0.005
        src = cn["src"]
        nv = len(f)
        self._route("inv", {
            "kind": np.concatenate([np.zeros(nv, np.int64), np.ones(n_cn, np.int64)]),
            "block": np.concatenate([g["block"], cn["block"]]),
            "seq": np.concatenate([g["seq"], cn["seq"]]),
            "acct": np.concatenate([g["acct"], inv["acct"][src]]),
            "type": np.concatenate([np.where(case_var, 2, 0), np.ones(n_cn, np.int64)]),  # 2: "Invoice"
            "day": np.concatenate([g["day"], cn["day"]]),
            "due": np.concatenate([g["due"], np.where(cn["due_null"], NEVER, cn["day"])]),
            "cur": np.concatenate([g["cur"] + np.where(cur_lower, 8, 0), inv["cur"][src]]),
            "total": np.concatenate([g["total"], cn["total"]]),
            "total_null": np.zeros(nv + n_cn, bool),
            "status": np.concatenate([status, np.zeros(n_cn, np.int64)]),
            "terms": np.concatenate([g["terms"], np.zeros(n_cn, np.int64)]),
            "terms_null": np.concatenate([g["terms_null"], np.ones(n_cn, bool)]),
            "disc": np.concatenate([g["disc_h"], np.zeros(n_cn, np.int64)]),
            "disc_null": np.concatenate([g["disc_null"], np.ones(n_cn, bool)]),
            "disputed": np.concatenate([disputed, np.zeros(n_cn, bool)]),
            "disputed_null": np.concatenate([disputed_null, np.zeros(n_cn, bool)]),
            "opened": np.concatenate([opened_shown, np.full(n_cn, NEVER)]),
            "resolved": np.concatenate([resolved_shown, np.full(n_cn, NEVER)]),
            "file": np.concatenate([f, cn["day"]]),
            "first": np.concatenate([f == g["post"], np.ones(n_cn, bool)]),
            "xtext": np.full(nv + n_cn, -1),
        })
        del g, f, ev_inv, ev_day, status, opened_shown, resolved_shown, disputed, disputed_null

        # ---- invoice lines: sent once, with their invoice (or credit note)
        nl, ncl = len(line["inv"]), len(cnl["cn"])
        kind = np.concatenate([np.zeros(nl, np.int64), np.ones(ncl, np.int64)])
        seq = np.concatenate([inv["seq"][line["inv"]], cn["seq"][cnl["cn"]]])
        line_no = np.concatenate([line["line_no"], cnl["line_no"]])
        self._route("line", {
            "kind": kind, "block": np.full(nl + ncl, m), "seq": seq, "xid": np.full(nl + ncl, -1), "line_no": line_no,
            "pl": np.concatenate([line["pl"], cnl["pl"]]), "pl_null": np.zeros(nl + ncl, bool),
            "qty": np.concatenate([line["qty"], cnl["qty"]]),
            "qty_null": np.concatenate([line["qty_null"], cnl["qty_null"]]),
            "net": np.concatenate([line["net"], cnl["net"]]),
            "cost": np.concatenate([line["cost"], cnl["cost"]]),
            "cost_null": np.concatenate([line["cost_null"], cnl["cost_null"]]),
            "file": np.concatenate([inv["post"][line["inv"]], cn["day"][cnl["cn"]]]),
            "order": ((((np.int64(m) << 32) | (kind << 28) | seq)) << 8) | line_no,
        })
        del kind, seq, line_no

        # ---- payments
        self._route("pay", {
            "block": pay["block"], "seq": pay["seq"], "inv_seq": inv["seq"][pay["inv"]], "xid": np.full(len(pay["inv"]), -1),
            "date": pay["date"], "amount": pay["amount"], "acct_null": pay["acct_null"],
            "cur": inv["cur"][pay["inv"]], "acct": inv["acct"][pay["inv"]],
        }, file_col="date")
        self._block_cascades(m, inv, cn, pay, line, cnl)

    def _invoice_ids(self, kind: np.ndarray, block: np.ndarray, seq: np.ndarray) -> pa.Array:
        prefix = pa.array(["INV-", "CN-"]).take(pa.array(kind))
        return _cat(prefix, _yyyymm(block + int(_month_index(self.hs))), "-", _pad(seq, 7))

    def _with_xid(self, ids: pa.Array, xid: np.ndarray) -> pa.Array:
        if not (xid >= 0).any():
            return ids
        text = pa.array(self._xid, pa.string()).take(pa.array(np.maximum(xid, 0)))
        return pc.if_else(pa.array(xid >= 0), text, ids)

    def _write_invoice_month(self, rows: dict[str, np.ndarray], days: list[int]) -> None:
        order_key = (rows["block"] << 32) | (rows["kind"] << 28) | rows["seq"]
        sel = np.lexsort((order_key, rows["file"]))
        rows = {k: v[sel] for k, v in rows.items()}
        csv_only = rows["xtext"] >= 0
        cols = {
            "invoice_id": self._invoice_ids(rows["kind"], rows["block"], rows["seq"]),
            "account_id": self._acct_vocab.take(pa.array(rows["acct"])),
            "invoice_type": _pick(["invoice", "credit_note", "Invoice", "proforma"], rows["type"]),
            "invoice_date": _pa_date(rows["day"]),
            "due_date": _pa_date(rows["due"]),
            "currency": _pick(_CURRENCIES + [_NO_RATE_CURRENCY] + [c.lower() for c in _CURRENCIES], rows["cur"]),
            "total_amount": _pa_decimal(rows["total"], 2, rows["total_null"]),
            "status": _pick(["open", "paid", "void", "Open", "PAID", "Void"], rows["status"]),
            "payment_terms_days": _pa_int(rows["terms"], rows["terms_null"]),
            "early_payment_discount_pct": _pa_decimal(rows["disc"], 2, rows["disc_null"], precision=5),
            "disputed": _pa_bool(rows["disputed"], rows["disputed_null"]),
            "dispute_opened_at": _pa_date(rows["opened"]),
            "dispute_resolved_at": _pa_date(rows["resolved"]),
        }
        ovr = {}
        if csv_only.any():
            pos = np.flatnonzero(csv_only)
            ovr["total_amount"] = _sparse_text(len(csv_only), pos.tolist(), [self._xtext[i] for i in rows["xtext"][pos]])
        self.write("finance", "invoices", _Frame(cols, rows["file"], ovr, csv_only, frozenset(cols)), days)
        self._fin_rows["first"] += int(rows["first"].sum())
        self._fin_rows["csv_only"] += int(csv_only.sum())

    def _write_line_month(self, rows: dict[str, np.ndarray], days: list[int]) -> None:
        sel = np.lexsort((rows["order"], rows["file"]))
        rows = {k: v[sel] for k, v in rows.items()}
        cols = {
            "invoice_id": self._with_xid(self._invoice_ids(rows["kind"], rows["block"], rows["seq"]), rows["xid"]),
            "line_number": _pa_int(rows["line_no"]),
            "product_line": _pick(_PRODUCT_LINES, rows["pl"], null=rows["pl_null"]),
            "quantity": _pa_decimal(rows["qty"], 2, rows["qty_null"], precision=12),
            "net_amount": _pa_decimal(rows["net"], 2),
            "cost_amount": _pa_decimal(rows["cost"], 2, rows["cost_null"]),
        }
        self.write("finance", "invoice_lines", _Frame(cols, rows["file"], plain=frozenset(cols)), days)
        self._fin_rows["lines"] += len(sel)

    def _write_payment_month(self, rows: dict[str, np.ndarray], days: list[int]) -> None:
        key = (rows["block"] << 32) | rows["seq"]
        sel = np.lexsort((key, rows["date"]))
        rows = {k: v[sel] for k, v in rows.items()}
        n = len(sel)
        mi0 = int(_month_index(self.hs))
        inv_ids = self._invoice_ids(np.zeros(n, np.int64), rows["block"], rows["inv_seq"])
        cols = {
            "payment_id": _cat("PAY-", _yyyymm(rows["block"] + mi0), "-", _pad(rows["seq"], 7)),
            "invoice_id": self._with_xid(inv_ids, rows["xid"]),
            "account_id": pc.if_else(pa.array(rows["acct_null"]), pa.nulls(n, pa.string()),
                                     self._acct_vocab.take(pa.array(rows["acct"]))),
            "payment_date": _pa_date(rows["date"]),
            "amount": _pa_decimal(rows["amount"], 2),
            "currency": _pick(_CURRENCIES, rows["cur"]),
        }
        self.write("finance", "payments", _Frame(cols, rows["date"], plain=frozenset(cols)), days)
        self._fin_rows["payments"] += n

    def _id_text(self, prefix: str, block: int, seq: int) -> str:
        month = _date(_month_start_day(int(_month_index(self.hs)) + int(block))).strftime("%Y%m")
        return f"{prefix}-{month}-{int(seq):07d}"

    def _block_cascades(self, m: int, inv: dict, cn: dict, pay: dict, line: dict, cnl: dict) -> None:
        """Rows of finance block m rejected only because their account (or invoice) is quarantined."""
        q = np.array(self.quarantined_idx, dtype=np.int64)
        if not len(q):
            return
        D = self.D
        inv_q = np.flatnonzero(np.isin(inv["acct"], q) & (inv["post"] <= D))
        cn_q = np.flatnonzero(np.isin(inv["acct"][cn["src"]], q) & (cn["day"] <= D))
        c_inv, c_cn, c_line, c_cnline, c_pay = self._casc
        for i in inv_q:
            c_inv.append(MalformedRow("finance", "invoices", self._id_text("INV", m, inv["seq"][i]), "account_quarantined",
                                      "invoice of a quarantined account", self._newest_file_of_invoice(inv, int(i))))
        for i in cn_q:
            c_cn.append(MalformedRow("finance", "invoices", self._id_text("CN", m, cn["seq"][i]), "account_quarantined",
                                     "credit note of a quarantined account", self.rel("finance", "invoices", int(cn["day"][i]))))
        for li in np.flatnonzero(np.isin(line["inv"], inv_q)):
            src = int(line["inv"][li])
            c_line.append(MalformedRow("finance", "invoice_lines",
                                       f"{self._id_text('INV', m, inv['seq'][src])}|{int(line['line_no'][li])}",
                                       "invoice_quarantined", "line of an invoice of a quarantined account",
                                       self.rel("finance", "invoice_lines", int(inv["post"][src]))))
        for li in np.flatnonzero(np.isin(cnl["cn"], cn_q)):
            src = int(cnl["cn"][li])
            c_cnline.append(MalformedRow("finance", "invoice_lines",
                                         f"{self._id_text('CN', m, cn['seq'][src])}|{int(cnl['line_no'][li])}",
                                         "invoice_quarantined", "line of a credit note of a quarantined account",
                                         self.rel("finance", "invoice_lines", int(cn["day"][src]))))
        for pi in np.flatnonzero(np.isin(pay["inv"], inv_q) & (pay["date"] <= D)):
            c_pay.append(MalformedRow("finance", "payments", self._id_text("PAY", pay["block"][pi], pay["seq"][pi]),
                                      "invoice_quarantined", "payment of an invoice of a quarantined account",
                                      self.rel("finance", "payments", int(pay["date"][pi]))))

    def _malformed_invoices(self) -> dict[str, list[dict]]:
        """Deliberately malformed finance rows, on fixed dates early in the timeline."""
        anchor = self.anchor
        eur = 0
        unknown = self.n  # index of the unknown account id in the id vocabulary
        d = _day
        blk = int(_month_index(d(date(2023, 1, 1))) - _month_index(self.hs))
        m2 = blk + 1

        def inv(seq: int, day: date, block: int = blk, **kw) -> dict:
            row = {"kind": 0, "block": block, "seq": 9_000_000 + seq, "acct": anchor, "type": 0, "day": d(day),
                   "due": d(day) + 30, "cur": eur, "total": 121_000, "total_null": False, "status": 0, "terms": 30,
                   "terms_null": False, "disc": 0, "disc_null": True, "disputed": False, "disputed_null": False,
                   "opened": NEVER, "resolved": NEVER, "file": d(day), "first": True}
            row.update(kw)
            return row

        invoices = [
            inv(1, date(2023, 1, 16), acct=unknown, _what=("unknown_account", "account_id does not exist in crm/accounts")),
            inv(2, date(2023, 1, 18), due=d(date(2023, 1, 3)), terms=0,
                _what=("due_date_before_invoice_date", "due_date 2023-01-03 is before invoice_date 2023-01-18")),
            inv(3, date(2023, 1, 23), cur=7, _what=("missing_fx_rate", f"currency {_NO_RATE_CURRENCY} has no fx rate")),
            inv(5, date(2023, 1, 27), type=3, _what=("invalid_value", "invoice_type 'proforma' is not invoice/credit_note")),
            inv(6, date(2023, 1, 30), total=-45_000, _what=("negative_total_on_invoice", "an invoice (not a credit note) with a negative total")),
            inv(7, date(2023, 2, 1), block=m2, due=NEVER, _what=("missing_mandatory_field", "due_date is empty on an invoice")),
            # sent with a wrong due date, corrected by the next night's re-send: must NOT be quarantined
            inv(8, date(2023, 2, 6), block=m2, due=d(date(2023, 1, 6)), _what=(None, "first version had due_date before invoice_date")),
            inv(8, date(2023, 2, 6), block=m2, file=d(date(2023, 2, 8)), first=False,
                _what=(None, "corrected by the re-send of 2023-02-08: must not be quarantined")),
            # a valid invoice whose lines carry defects (duplicate key, missing product line)
            inv(9, date(2023, 2, 15), block=m2, total=242_000, status=1, _what=(None, "valid invoice carrying the line defects")),
        ]
        if self.fmt_of("finance", "invoices") == "csv":
            invoices.insert(3, inv(4, date(2023, 1, 25), total=0, total_null=True, total_text="1.250,00",
                                   _what=("invalid_value", "total_amount '1.250,00' is not a number")))
        ids = {e["seq"]: f"INV-{_date(_month_start_day(_month_index(self.hs) + e['block'])).strftime('%Y%m')}-{e['seq']:07d}"
               for e in invoices}
        f9 = d(date(2023, 2, 15))
        order9 = (((m2 << 32) | (9_000_009)) << 8)
        lines = [
            {"invoice_id": ids[9_000_002], "line_no": 1, "net": 100_000, "file": d(date(2023, 1, 18)),
             "order": ((((blk << 32) | 9_000_002)) << 8) | 1,
             "_what": ("invoice_quarantined", "line of an invoice quarantined for due_date_before_invoice_date")},
            {"invoice_id": ids[9_000_003], "line_no": 1, "net": 100_000, "file": d(date(2023, 1, 23)),
             "order": ((((blk << 32) | 9_000_003)) << 8) | 1,
             "_what": ("invoice_quarantined", "line of an invoice quarantined for missing_fx_rate")},
            {"invoice_id": ids[9_000_009], "line_no": 1, "net": 100_000, "file": f9, "order": order9 | 1,
             "_what": (None, "valid line")},
            {"invoice_id": ids[9_000_009], "line_no": 2, "net": 60_000, "file": f9, "order": order9 | 2,
             "_what": ("duplicate_key", "(invoice_id, line_number) twice in the same extract (first copy)")},
            {"invoice_id": ids[9_000_009], "line_no": 2, "net": 40_000, "file": f9, "order": order9 | 2,
             "_what": ("duplicate_key", "(invoice_id, line_number) twice in the same extract (second copy)")},
            {"invoice_id": ids[9_000_009], "line_no": 3, "net": 40_000, "pl_null": True, "file": f9, "order": order9 | 3,
             "_what": ("missing_mandatory_field", "product_line is empty")},
            {"invoice_id": "INV-199912-0000001", "line_no": 1, "net": 50_000, "file": d(date(2023, 2, 13)),
             "order": (((m2 << 32) | 9_100_001) << 8) | 1,
             "_what": ("unknown_invoice", "invoice_id does not exist in finance/invoices")},
        ]
        payments = [
            {"invoice_id": ids[9_000_002], "block": blk, "seq": 9_000_001, "date": d(date(2023, 2, 10)), "amount": 121_000,
             "cur": eur, "acct": anchor, "_what": ("invoice_quarantined", "payment of an invoice quarantined for due_date_before_invoice_date")},
            {"invoice_id": ids[9_000_008], "block": m2, "seq": 9_000_002, "date": d(date(2023, 3, 1)), "amount": 121_000,
             "cur": eur, "acct": anchor, "_what": (None, "valid payment of the corrected invoice")},
            {"invoice_id": ids[9_000_009], "block": m2, "seq": 9_000_003, "date": d(date(2023, 2, 24)), "amount": 242_000,
             "cur": eur, "acct": anchor, "_what": (None, "valid payment")},
            {"invoice_id": ids[9_000_009], "block": m2, "seq": 9_000_004, "date": d(date(2023, 2, 27)), "amount": 1_000,
             "cur": 1, "acct": anchor, "_what": ("payment_currency_mismatch", "payment in USD on a EUR invoice")},
            {"invoice_id": "INV-199912-0000001", "block": m2, "seq": 9_000_005, "date": d(date(2023, 2, 20)), "amount": 50_000,
             "cur": eur, "acct": anchor, "_what": ("unknown_invoice", "invoice_id does not exist in finance/invoices")},
        ]
        self._extra_ids = ids
        return {"invoices": invoices, "lines": lines, "payments": payments}

    def _finance_malformed(self, extras: dict[str, list[dict]]) -> None:
        D = self.D
        ids = self._extra_ids
        mi0 = int(_month_index(self.hs))
        for e in extras["invoices"]:
            reason, text = e["_what"]
            if e["file"] > D:
                continue
            key = ids[e["seq"]]
            if reason is None and e["seq"] == 9_000_008 and e["file"] == _day(date(2023, 2, 6)):
                continue  # listed once, with its correction
            self.malformed.append(MalformedRow("finance", "invoices", key, reason, text, self.rel("finance", "invoices", e["file"])))
        for e in extras["lines"]:
            reason, text = e["_what"]
            if reason is None or e["file"] > D:
                continue
            self.malformed.append(MalformedRow("finance", "invoice_lines", f"{e['invoice_id']}|{e['line_no']}", reason, text,
                                               self.rel("finance", "invoice_lines", e["file"])))
        for e in extras["payments"]:
            reason, text = e["_what"]
            if reason is None or e["date"] > D:
                continue
            pid = f"PAY-{_date(_month_start_day(mi0 + e['block'])).strftime('%Y%m')}-{e['seq']:07d}"
            self.malformed.append(MalformedRow("finance", "payments", pid, reason, text, self.rel("finance", "payments", e["date"])))
    def _newest_file_of_invoice(self, inv: dict, i: int) -> str:
        days = [int(inv["post"][i])]
        for col in ("void_day", "opened", "resolved"):
            if inv[col][i] < NEVER:
                days.append(max(int(inv[col][i]), int(inv["post"][i])))
        if inv["paid_resend"][i] and inv["paid_day"][i] < NEVER:
            days.append(max(int(inv["paid_day"][i]), int(inv["post"][i])))
        return self.rel("finance", "invoices", max(x for x in days if x <= self.D))

    # ---------------------------------------------------------------- overrides
    def write_overrides(self) -> tuple[OverrideRow, ...]:
        t = self.override_targets
        ids = [self.account_ids(np.array([i]))[0].as_py() for i in t]
        rows = [
            (ids[0], "lifecycle_stage", "key", "Strategic expansion account (QBR 2025)", "U0001", None, "applied"),
            (ids[1], " Risk_Profile ", "Low", "Parent company guarantee on file", "U0002", date(2099, 12, 31), "applied"),
            (ids[2], "service_level", "platinum", "Contracted premium SLA, CRM not yet updated", "U0003", None, "applied"),
            (ids[3], "value_tier", "high", "Framework contract signed; revenue ramps up", "U0001", date(2024, 6, 30), "expired"),
            (ids[4], "payment_behaviour", "excellent", "Customer is always on time (per sales)", "U0004", None,
             "invalid: 'excellent' is not a declared segment of payment_behaviour"),
        ]
        path = self.out_dir / "overrides.csv"
        lines = ["account_id,dimension,segment,reason,owner,valid_until"]
        out = []
        a = self.a
        for target, (acc, dim, seg, reason, owner, until, expected) in zip(t, rows):
            if expected == "expired" and until is not None and until >= self.as_of:
                expected = "applied"
            published = a.created[target] <= self.D and a.close[target] > self.D and target not in self.quarantined_idx
            if not published:  # only with a tiny population, where no suitable account exists
                expected = "invalid: the account is not published"
            lines.append(",".join(_csv_field(x) for x in (acc, dim, seg, reason, owner, until.isoformat() if until else "")))
            out.append(OverrideRow(acc, dim, seg, until, expected))
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        self.files.append(path)
        return tuple(out)


def _one(n: int, p: int) -> pa.Array:
    m = np.zeros(n, dtype=bool)
    m[p] = True
    return pa.array(m)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def generate_demo_data(
    out_dir: Path,
    accounts: int = 2000,
    seed: int = 42,
    as_of: date | None = None,
    file_format: str = "csv",
    *,
    snapshot_days: int = SNAPSHOT_DAYS,
) -> DemoDataSummary:
    """Write a deterministic demo landing folder into `out_dir`; see the module docstring.

    Files of earlier runs in `out_dir` are kept (so consecutive nights can be simulated);
    a file written here replaces the file of the same entity and date in the other format.
    """
    if as_of is None:
        as_of = datetime.now(timezone.utc).date()
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {', '.join(FILE_FORMATS)}, not {file_format!r}")
    if not isinstance(accounts, int) or accounts < 10:
        raise ValueError(f"accounts must be an integer >= 10, not {accounts!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if as_of < MIN_AS_OF:
        raise ValueError(f"as_of must be on or after {MIN_AS_OF.isoformat()} (the demo history starts on "
                         f"{HISTORY_START.isoformat()}), not {as_of.isoformat()}")
    if snapshot_days < 1:
        raise ValueError("snapshot_days must be >= 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g = _Generator(out_dir, accounts, seed, as_of, file_format, snapshot_days)
    g.write_accounts()
    g.write_contacts()
    g.write_opportunities()
    g.write_fx()
    g.write_finance()
    g.write_bureau()
    overrides = g.write_overrides()
    profiles = {name: int((g.a.profile == i).sum()) for i, name in enumerate(_PROFILE_NAMES)}
    return DemoDataSummary(
        out_dir=out_dir,
        seed=seed,
        accounts=accounts,
        as_of=as_of,
        file_format=file_format,
        history_start=HISTORY_START,
        files=tuple(sorted(g.files)),
        rows=dict(sorted(g.rows.items())),
        rows_written=dict(sorted(g.rows_written.items())),
        malformed=tuple(g.malformed),
        cascaded=tuple(g.cascaded),
        overrides=overrides,
        profiles=profiles,
    )
