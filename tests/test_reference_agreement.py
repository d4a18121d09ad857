"""The published tables agree, cell by cell, with an independent pandas implementation.

`pipeline.reference` implements the rules again from the specification alone (it reads
the landing folder with pandas, no DuckDB and no dbt). These tests run the real nightly
job and the reference on the same landing folder and compare every column of
`analytics.segmented_accounts` that both have (the comparison grows with the published
table): the same account_id set, then each cell (numbers within 0.01, text
case-insensitive, null equal to null). `analytics.account_product_lines` and
`analytics.collections_worklist` are compared the same way once they are published.
The reference itself is checked against values worked out by hand on a tricky landing
folder (`test_reference_on_tricky_cases`).
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.reference import REFERENCE_COLUMNS, compute_reference
from pipeline.runner import run_nightly_job
from pipeline.settings import RunPaths

AS_OF = date(2026, 11, 22)
TOLERANCE = 0.01
# the columns the published table had before the credit-management issue: they must be there
BASE_COLUMNS = REFERENCE_COLUMNS[: REFERENCE_COLUMNS.index("party_type")] + [
    "party_type", "tenure", "market", "value_tier", "pareto_class", "lifecycle_stage", "region",
    "industry_vertical", "size_tier", "revenue_12m", "margin_12m", "margin_pct_12m", "first_invoice_date",
    "last_invoice_date",
]


# --- comparison ---------------------------------------------------------------------------------


def _is_null(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float, Decimal, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _as_text(value) -> str:
    if isinstance(value, pd.Timestamp):
        value = value.date()
    return (value.isoformat() if isinstance(value, date) else str(value)).strip().lower()


def _cell_equal(ours, theirs) -> bool:
    if _is_null(ours) or _is_null(theirs):
        return _is_null(ours) and _is_null(theirs)
    if _is_number(ours) and _is_number(theirs):
        return abs(float(ours) - float(theirs)) <= TOLERANCE + 1e-9
    return _as_text(ours) == _as_text(theirs)


def _exactly(ours, expected) -> bool:
    """Hand-worked values: numbers exactly (to float precision), the rest as in the comparison."""
    if _is_number(expected) and _is_number(ours):
        return abs(float(ours) - float(expected)) < 1e-9
    return _cell_equal(ours, expected)


def compare(published: pd.DataFrame, reference: pd.DataFrame, keys=("account_id",), columns=None) -> dict:
    """Disagreements by column: {column: [(key, published, reference), ...]}.

    The columns compared are `columns`, by default every column both frames have. The
    key "_key" lists rows present on one side only (the missing side None).
    """
    keys = list(keys)
    if columns is None:
        columns = [c for c in reference.columns if c in published.columns and c not in keys]
    for name, frame in (("published", published), ("reference", reference)):
        repeated = frame.loc[frame.duplicated(keys), keys].drop_duplicates()
        assert repeated.empty, f"{name}: {keys} not unique, e.g. {repeated.head().to_dict('records')}"
    pub = published.set_index(keys, drop=False)
    ref = reference.set_index(keys, drop=False)
    problems: dict[str, list] = {}
    only_pub = sorted(set(pub.index) - set(ref.index))
    only_ref = sorted(set(ref.index) - set(pub.index))
    if only_pub or only_ref:
        problems["_key"] = [(k, k, None) for k in only_pub] + [(k, None, k) for k in only_ref]
    common = sorted(set(pub.index) & set(ref.index))
    for column in columns:
        left, right = pub.loc[common, column], ref.loc[common, column]
        bad = [(k, x, y) for k, x, y in zip(common, left, right) if not _cell_equal(x, y)]
        if bad:
            problems[column] = bad
    return problems


def describe(problems: dict, examples: int = 5) -> str:
    lines = []
    for column, bad in problems.items():
        if column == "_key":
            only_pub = [k for k, p, _ in bad if p is not None]
            only_ref = [k for k, p, _ in bad if p is None]
            lines.append(
                f"rows: {len(only_pub)} published only (e.g. {only_pub[:examples]}), "
                f"{len(only_ref)} in the reference only (e.g. {only_ref[:examples]})"
            )
            continue
        shown = "; ".join(f"{k}: published={p!r} reference={r!r}" for k, p, r in bad[:examples])
        lines.append(f"{column}: {len(bad)} rows differ, e.g. {shown}")
    return "\n".join(lines)


def read_published(warehouse: Path, table: str = "segmented_accounts") -> pd.DataFrame | None:
    """`analytics.<table>` as pandas (dates as datetime.date, DECIMAL as Decimal); None if absent."""
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        exists = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'analytics' and table_name = ?",
            [table],
        ).fetchall()[0][0]
        if not exists:
            return None
        return conn.sql(f"select * from analytics.{table}").to_arrow_table().to_pandas(date_as_object=True)
    finally:
        conn.close()


def assert_agree(published: pd.DataFrame, reference: pd.DataFrame, keys=("account_id",), what="") -> None:
    """Every column both have agrees; reference columns not published yet are reported as a warning."""
    missing = [c for c in reference.columns if c not in published.columns]
    if missing:
        warnings.warn(f"{what}: not published yet, not compared: {', '.join(missing)}", stacklevel=2)
    problems = compare(published, reference, keys)
    assert not problems, f"{what}: published table and pandas reference disagree:\n" + describe(problems)


# --- a hand-written landing folder with the tricky cases -----------------------------------------

# D = 2026-11-22: window (2025-11-22, 2026-11-22]; "new" after 2026-05-26; dormant up to 2025-11-22.
GATE_CONFIG = "gate:\n  max_quarantined_account_share: 0.5\n"

ACCOUNT_HEADER = [
    "Account_ID", "account_name", "ACCOUNT_TYPE", "country_code", "industry_code", "industry", "employee_count",
    "annual_revenue", "currency", "owner_id", "is_strategic", "status", "created_at", "crm_extra_column",
]
CREATED = "2020-01-01T08:00:00Z"

# account_id, name, type, country, industry_code, industry, employees, annual_revenue, currency, owner,
# is_strategic, status, created_at (the file adds a drift column)
TRICKY_ACCOUNTS = [
    ("A-BOM", "Smith, Jones & Co", "Business ", " nl ", "", "Banking/Insurance", "1000", "", "", "U1", "", "", CREATED),
    ("A-CORR", "Corrected Delta B.V.", "business", "NL", "5112", "Banking", "999", "", "", "U1", "no", "active",
     CREATED),
    ("A-VOID", "Void Resent GmbH", "business", "DE", "", "Health-care", "100", "", "", "U2", "", "ACTIVE", CREATED),
    ("A-CN", "Credit Note Ltd", "business", "GB", "", "IT-Services", "10", "", "", "", "false", "", CREATED),
    ("A-CN2", "Credit First Ltd", "business", "IE", "99", "hospital", "9", "", "", "U2", "", "", CREATED),
    ("A-FX", "Multi Currency Inc", "business", "us", "55", "", "0", "", "", "U3", "", "", CREATED),
    ("A-FX2", "Lower Usd Inc", "business", "CA", "", "Manufacturing & Banking", "-5", "2500000", "", "U3", "", "",
     CREATED),
    ("A-DUP", "Duplicated Id One", "business", "NL", "", "", "5", "", "", "U1", "", "", CREATED),
    ("A-DUP", "Duplicated Id Two", "business", "NL", "", "", "5", "", "", "U1", "", "", CREATED),
    ("A-SUB", "Underscore Bank", "company", "BR", "", "Sub_bank", "", "250000000", "eur", "U4", "", "", CREATED),
    ("A-UNI", "Fabrica S.A.", "business", "ES", "", "Fabricación Industrial", "", "30000000", " usd ", "U4", "", "",
     CREATED),
    ("A-DIGIT", "Digits Software", "business", "AQ", "", "Software123", "", "1000000", "JPY", "U4", "", "", CREATED),
    ("A-HOSP", "Hospitality Group", "INDIVIDUAL", "FR", "", "Hospitality", "5000", "", "", "U5", "", "", CREATED),
    ("A-PUNCT", "Punctuation Only", "business", "BE", "", "!!!", "12", "", "", "U5", "", "", CREATED),
    ("A-ECOM", "E-commerce Shop", "business", "LU", "1234567", "e-commerce", "12", "", "", "U5", "", "", CREATED),
    ("A-NL", "Newline Industry", "business", "NL", "", "Banking\nInsurance", "12", "", "", "U5", "", "", CREATED),
    ("A-NEW180", "Boundary 180", "business", "NL", "3254", "", "12", "", "", "U6", "", "", CREATED),
    ("A-NEW179", "Boundary 179", "business", "NL", "62", "", "12", "", "", "U6", "", "", CREATED),
    ("A-DORM365", "Boundary 365", "business", "NL", "", "finance", "12", "", "", "U6", "", "", CREATED),
    ("A-DORM364", "Boundary 364", "business", "NL", "", "fintech", "12", "", "", "U6", "", "", CREATED),
    ("A-TODAY", "Invoiced Today", "business", "NL", "", "pharma", "12", "", "", "U6", "", "", CREATED),
    ("A-FUTURE", "Invoiced Tomorrow", "business", "NL", "", "saas", "12", "", "", "U6", "", "", CREATED),
    ("A-STRAT", "Strategic Small", "business", "NL", "", "telecom", "12", "", "", "U6", "YES", "", CREATED),
    ("A-DK", "Duplicate Invoice Key", "business", "NL", "", "tech", "12", "", "", "U7", "", "", CREATED),
    ("A-LINES", "Line Problems", "business", "NL", "", "it", "12", "", "", "U7", "", "", CREATED),
    ("A-BADINV", "Bad Invoices", "business", "NL", "", "insurer", "12", "", "", "U7", "", "", CREATED),
    ("A-TZ1", "Created Late UTC Same Day", "business", "NL", "", "", "12", "", "", "U8", "", "",
     "2026-11-23T00:30:00+02:00"),
    ("A-TZ2", "Created Next Day UTC", "business", "NL", "", "", "12", "", "", "U8", "", "",
     "2026-11-22T23:30:00-02:00"),
    ("A-UK", "Not A Country Code", "business", "UK", "", "", "12", "", "", "U8", "", "", CREATED),
    ("A-EMP", "Fractional Employees", "business", "NL", "", "", "12.5", "", "", "U8", "", "", CREATED),
    ("A-INACT", "Unknown Status", "business", "NL", "", "", "12", "", "", "U8", "", "inactive", CREATED),
    ("A-CLOSED", "Closed Account", "business", "NL", "", "", "12", "", "", "U8", "", " Closed ", CREATED),
    ("A-TIE1", "Tie One", "business", "NL", "", "", "12", "", "", "U9", "", "", CREATED),
    ("A-TIE2", "Tie Two", "business", "NL", "", "", "12", "", "", "U9", "", "", CREATED),
    # a timestamp where a date (YYYY-MM-DD) is expected: invalid_value
    ("A-TSDATE", "Timestamp Invoice Date", "business", "NL", "", "", "12", "", "", "U9", "", "", CREATED),
    ("A-TSZ", "Offset Invoice Date", "business", "NL", "", "", "12", "", "", "U9", "", "", CREATED),
    ("A-DUETS", "Timestamp Due Date", "business", "NL", "", "", "12", "", "", "U9", "", "", CREATED),
    *[(f"A-F{i:02d}", f"Filler {i:02d}", "business", "NL", "", "", "12", "", "", "U9", "", "", CREATED)
      for i in range(1, 9)],
]

INVOICE_HEADER = ["invoice_date", "invoice_id", "account_id", "invoice_type", "due_date", "currency", "total_amount",
                  "status"]
LINE_HEADER = ["invoice_id", "line_number", "product_line", "quantity", "net_amount", "cost_amount"]


# Pareto over 26 accounts with revenue (24 here, C-TOP at rank 2 and C-PLTIE last below): A up to
# rank ceil(5.2) = 6, B up to rank 13; the revenue ties A-F06/A-F07 (ranks 6/7) and A-F01/A-F02
# (ranks 13/14) are decided by account_id.
FILLER = [(1, "2000.00"), (2, "2000.00"), (3, "3000.00"), (4, "4000.00"), (5, "5000.00"), (6, "7000.00"),
          (7, "7000.00"), (8, "8000.00")]


def _invoice(invoice_id, account_id, day, total, currency="EUR", kind="invoice", due="+30", status="open"):
    if due and due.startswith("+"):
        due = (date.fromisoformat(day).toordinal() + int(due[1:]))
        due = date.fromordinal(due).isoformat()
    return [day, invoice_id, account_id, kind, due or "", currency, total, status]


# file date -> (invoices, lines); every delta row of the folder
TRICKY_DELTAS: dict[str, tuple[list, list]] = {
    # before the window: these only move tenure / lifecycle / invoice dates
    "2025-07-01": (
        [
            ["2025-07-01T10:00:00", "I-TSDATE", "A-TSDATE", "invoice", "2025-07-31", "EUR", "10.00", "open"],
            ["2025-07-01T23:30:00-05:00", "I-TSZ", "A-TSZ", "invoice", "2025-07-31", "EUR", "10.00", "open"],
            ["2025-07-01", "I-DUETS", "A-DUETS", "invoice", "2025-07-31 00:00:00", "EUR", "10.00", "open"],
            _invoice("I-IDWS", " A-F03 ", "2025-07-01", "10.00"),  # identifiers match trimmed
        ],
        [
            ["I-TSDATE", "1", "services", "1", "10.00", "0"],
            ["I-TSZ", "1", "services", "1", "10.00", "0"],
            ["I-DUETS", "1", "services", "1", "10.00", "0"],
            ["I-IDWS ", "1", "services", "1", "10.00", "0"],
        ],
    ),
    "2025-11-22": (
        [_invoice("I-DORM365", "A-DORM365", "2025-11-22", "800.00")],
        [["I-DORM365", "1", "consulting", "1", "800.00", "100.00"]],
    ),
    "2025-11-23": (
        [_invoice("I-DORM364", "A-DORM364", "2025-11-23", "700.00")],
        [["I-DORM364", "1", "consulting", "1", "700.00", "100.00"]],
    ),
    "2025-12-01": (
        [
            _invoice("I-CN-INV", "A-CN", "2025-12-01", "1000.00"),
            _invoice("CN-2", "A-CN2", "2025-12-01", "-300.00", kind="credit_note", due=""),
        ],
        [
            ["I-CN-INV", "1", "licences", "1", "1000.00", "400.00"],
            ["CN-2", "1", "licences", "1", "-300.00", "-100.00"],
        ],
    ),
    "2026-01-10": (
        [_invoice("I-CN2", "A-CN2", "2026-01-10", "2000.00")],
        [["I-CN2", "1", "licences", "2", "2000.00", "500.00"]],
    ),
    "2026-01-15": (
        [_invoice("I-BOM-1", "A-BOM", "2026-01-15", "121000.00")],
        [
            ["I-BOM-1", "1", "hardware", "1", "60000.00", "30000.00"],
            ["I-BOM-1", "2", "services", "3", "40000.00", ""],
        ],
    ),
    "2026-02-01": (
        [_invoice("CN-1", "A-CN", "2026-02-01", "-1000.00", kind=" Credit_Note ", due="")],
        [["CN-1", "1", "licences", "1", "-1000.00", "-400.00"]],
    ),
    "2026-02-10": (
        [_invoice("I-VOID-1", "A-VOID", "2026-02-10", "1000.00")],
        [["I-VOID-1", "1", "services", "1", "1000.00", "100.00"]],
    ),
    "2026-02-20": ([_invoice("I-VOID-1", "A-VOID", "2026-02-10", "1000.00", status=" VOID ")], []),
    "2026-03-01": (
        [
            _invoice("I-CORR-1", "A-CORR", "2026-03-01", "800.00", due="2026-02-01"),
            _invoice("I-FX-2", "A-FX", "2026-03-01", "5000.00", currency="GBP"),
        ],
        [
            ["I-CORR-1", "1", "services", "1", "500.00", "200.00"],
            ["I-CORR-1", "2", "support", "1", "100.00", ""],
            ["I-FX-2", "1", "services", "1", "5000.00", "0"],
        ],
    ),
    "2026-03-05": (
        [_invoice("I-CORR-1", "A-CORR", "2026-03-01", "800.00", due="2026-03-31")],
        [["I-CORR-1", "1", "services", "1", "600.00", "250.00"]],
    ),
    "2026-04-10": (
        [_invoice("I-FX-1", "A-FX", "2026-04-10", "11764.70", currency="USD")],
        [["I-FX-1", "1", "hardware", "1", "11764.70", ""]],
    ),
    "2026-04-15": (
        [_invoice("I-FX-3", "A-FX2", "2026-04-15", "100.00", currency=" usd")],
        [["I-FX-3", "1", "hardware", "1", "100.00", "10.00"]],
    ),
    "2026-05-26": (
        [_invoice("I-NEW180", "A-NEW180", "2026-05-26", "600.00")],
        [["I-NEW180", "1", "consulting", "1", "600.00", "0.00"]],
    ),
    "2026-05-27": (
        [_invoice("I-NEW179", "A-NEW179", "2026-05-27", "500.00")],
        [["I-NEW179", "1", "consulting", "1", "500.00", "0.00"]],
    ),
    "2026-06-01": (
        [
            _invoice("I-VOID-2", "A-VOID", "2026-06-01", "50.00"),
            _invoice("I-DK-1", "A-DK", "2026-06-01", "300.00"),
            _invoice("I-DK-2", "A-DK", "2026-06-01", "400.00"),
            _invoice("I-LD", "A-LINES", "2026-06-01", "1000.00"),
            _invoice("I-STRAT", "A-STRAT", "2026-06-01", "10.00"),
            _invoice("I-CLOSED", "A-CLOSED", "2026-06-01", "10.00"),
            _invoice("I-TIE1", "A-TIE1", "2026-06-01", "5000.00"),
            _invoice("I-TIE2", "A-TIE2", "2026-06-01", "5000.00"),
            _invoice("I-DUPACC", "A-DUP", "2026-06-01", "9000.00"),
            _invoice("I-NODUE", "A-BADINV", "2026-06-01", "9000.00", due=""),
            _invoice("I-NEG", "A-BADINV", "2026-06-01", "-9000.00"),
            _invoice("I-BADSTATUS", "A-BADINV", "2026-06-01", "9000.00", status="cancelled"),
            _invoice("I-OK", "A-BADINV", "2026-06-01", "10000.00"),
            *[_invoice(f"I-F{i:02d}", f"A-F{i:02d}", "2026-06-01", amount) for i, amount in FILLER],
        ],
        [
            ["I-VOID-2", "1", "services", "1", "50.00", "10.00"],
            ["I-DK-1", "1", "services", "1", "300.00", "0"],
            ["I-DK-2", "1", "services", "1", "400.00", "0"],
            ["I-LD", "1", "services", "1", "100.00", "0"],
            ["I-LD", "2", "support", "1", "200.00", "0"],
            ["I-LD", "3", "support", "1", "400.00", "0"],
            ["I-LD", "4", "", "1", "800.00", "0"],
            ["I-LD", "5", "support", "x", "1600.00", "0"],
            ["I-STRAT", "1", "services", "1", "10.00", "0"],
            ["I-CLOSED", "1", "services", "1", "10.00", "0"],
            ["I-TIE1", "1", "services", "1", "5000.00", "1000.00"],
            ["I-TIE2", "1", "services", "1", "5000.00", "1000.00"],
            ["I-DUPACC", "1", "services", "1", "9000.00", "0"],
            ["I-NODUE", "1", "services", "1", "9000.00", "0"],
            ["I-NEG", "1", "services", "1", "-9000.00", "0"],
            ["I-BADSTATUS", "1", "services", "1", "9000.00", "0"],
            ["I-OK", "1", "services", "1", "9999.99", "0"],
            ["I-OK", "2", "services", "1", "0.01", "0"],
            *[[f"I-F{i:02d}", "1", "services", "1", amount, "0"] for i, amount in FILLER],
        ],
    ),
    "2026-06-05": (
        [
            _invoice("I-DK-2", "A-DK", "2026-06-01", "400.00"),
            _invoice("I-DK-2", "A-DK", "2026-06-01", "450.00"),
        ],
        [
            ["I-LD", "1", "services", "1", "150.00", "0"],
            ["I-LD", "2", "support", "1", "250.00", "0"],
            ["I-LD", "2", "support", "1", "260.00", "0"],
        ],
    ),
    "2026-11-22": (
        [
            _invoice("I-TODAY", "A-TODAY", "2026-11-22", "42.50"),
            _invoice("I-FUTURE", "A-FUTURE", "2026-11-23", "99.00"),
        ],
        [
            ["I-TODAY", "1", "services", "1", "42.50", "12.25"],
            ["I-FUTURE", "1", "services", "1", "99.00", "0"],
        ],
    ),
    # dated after the as-of date: never read
    "2026-11-23": (
        [_invoice("I-LATER", "A-FUTURE", "2026-11-20", "99.00")],
        [["I-LATER", "1", "services", "1", "99.00", "0"]],
    ),
}

# currency, rate_date, rate_to_base (a Parquet file with native types)
TRICKY_FX = [
    ("USD", "2026-04-01", "0.85"),
    ("USD", "2026-04-10", "0.95"),  # the key (USD, 2026-04-10) twice: both quarantined
    ("USD", "2026-04-10", "0.96"),
    ("usd", "2026-04-15", "0.90"),
    ("USD", "2026-04-20", "0"),  # not > 0: quarantined
    ("GBP", "2026-03-02", "1.15"),
    ("EUR", "2026-01-01", "0.50"),  # the base currency's rate is 1 whatever the file says
]

OVERRIDE_ROWS = [
    ["A-NEW179", " Value_Tier ", " HIGH ", "sales promise", "ops", ""],
    ["A-CN", "pareto_class", "a", "board decision", "ops", "2027-01-01"],
    ["A-DUP", "market", "domestic", "not published", "ops", ""],
    ["A-FX", "region", "europe", "conflict", "ops", ""],
    ["A-FX", "region", "apac", "conflict", "ops", ""],
    ["A-VOID", "tenure", "existing", "expired", "ops", "2026-11-21"],
    ["A-VOID", "lifecycle_stage", "dormant", "valid on D", "ops", "2026-11-22"],
    ["A-BOM", "size_tier", "to_be_defined", "not a declared segment", "ops", ""],
    # the other dimensions: overrides feed no other rule (C-ESCRISK stays escalate / senior)
    ["C-OVER", "dunning_strategy", " Personal ", "VIP customer", "ops", ""],
    ["C-ESCRISK", "Risk_Profile", "LOW", "parent guarantee", "ops", "2026-11-22"],
    ["A-F05", "buying_readiness", "hot", "met at a trade fair", "ops", ""],
    ["C-PART", "payment_behaviour", "excellent", "not a declared segment", "ops", ""],
    ["A-BOM", "primary_product_line", "services", "not overridable", "ops", ""],
    ["C-DISPUTE", "credit_hold", "false", "a boolean: not overridable", "ops", ""],
]


# --- the credit-management cases (issue 4) --------------------------------------------------------
#
# Every invoice below has no lines (revenue 0, so the Pareto ranks above stay as they were) except
# those of C-TOP (rank 2) and C-PLTIE (last rank): with 26 accounts with revenue the cuts are 6 and 13.
# D = 2026-11-22 (a Sunday): window (2025-11-22, 2026-11-22]; pay-day lookback (2026-05-26, 2026-11-22].
# NL, 12 employees (small), empty industry (to_be_defined: risk industry 50) unless stated; so a
# risk score with only one of external / internal is 0.8 x that component + 5 + 2 (benelux 20).

ACCOUNT_EXTRA_HEADER = ["sales_channel", "Service_Level", "parent_account_id", "duns_number", "registration_number"]


def _account(account_id, industry="", employees="12", country="NL", strategic="", channel="", service="", parent="",
             duns="", registration=""):
    row = (account_id, f"Credit case {account_id}", "business", country, "", industry, employees, "", "", "U10",
           strategic, "", CREATED)
    return row, [channel, service, parent, duns, registration]


CREDIT_ACCOUNTS = [
    _account("C-PART", industry="software"),
    _account("C-MULTI", channel="Web Shop"),
    _account("C-OVER"),
    _account("C-DISC", channel="field--sales"),
    _account("C-PAY25"),
    _account("C-MONTHEND"),
    _account("C-IRREG"),
    _account("C-NEAR"),
    _account("C-MODE"),
    _account("C-LOOKBACK"),
    _account("C-DISPUTE"),
    _account("C-HOLD90"),
    _account("C-DAYS90"),
    _account("C-WINDOW"),
    _account("C-PROMPT", industry="Manufacturer of parts", channel=" Inside-Sales ", duns="123456789"),
    _account("C-SLOW30"),
    _account("C-ANCIENT"),
    _account("C-KEY", strategic="true", service="diamond", channel="WEBSHOP"),
    _account("C-BIG", channel="Referral"),
    _account("C-BIGMINUS"),
    _account("C-ESCRISK", duns="100000000"),
    _account("C-ICPIDEAL", industry="manufacturing", employees="500", channel="Field - Sales", service=" Platinum "),
    _account("C-POOR", industry="retail", country="US", channel="Reseller"),
    _account("C-ICP60", industry="software", channel="direct"),
    _account("C-ICP40", industry="software", country="US", channel="DIRECT"),
    _account("C-TERMS0"),
    _account("C-TERMSTIE"),
    _account("C-TERMS61"),
    _account("C-TERMSNULL"),
    _account("C-TERMSCN"),
    _account("C-PARENT", duns="888888888"),
    _account("C-CHILD1", parent=" C-PARENT ", duns="888888881"),
    _account("C-CHILD2", parent="C-PARENT", registration="NL-888-2"),
    _account("C-GRAND", parent="C-CHILD1", duns="888888883"),
    _account("C-ORPHAN", parent="C-GONE"),
    _account("C-CLOSEDKID", parent="A-CLOSED"),
    _account("C-DUNSZERO", duns="012345678"),
    _account("C-REG", registration="nl 123.45-6"),
    _account("C-DUNSREG", country="DE", duns="999999999", registration="de 777"),
    _account("C-STALE", duns="555555555", registration="NL555"),
    _account("C-FRESH365", duns="444444444"),
    _account("C-NOMATCH", duns="777777777"),
    _account("C-SCORENULL", duns="333333333"),
    _account("C-INSOLV", duns="222222222"),
    _account("C-BADREP", duns="666666666", registration="NL666"),
    _account("C-RISK25", duns="250000000"),
    _account("C-RISK249", duns="249000000"),
    _account("C-RISK50", duns="500000000"),
    _account("C-RISK75", duns="750000000"),
    _account("C-RISKHALF", duns="300500000"),
    _account("C-TOP", industry="software"),
    _account("C-PLTIE", industry="pharma"),
]

CREDIT_INVOICE_HEADER = ["payment_terms_days", "early_payment_discount_pct", "disputed", "dispute_opened_at",
                         "dispute_resolved_at"]


def _cinv(invoice_id, account_id, day, due, total, terms="30", discount="", opened="", resolved="", currency="EUR",
          kind="invoice", disputed=""):
    return [day, invoice_id, account_id, kind, due, currency, total, "open", terms, discount, disputed, opened,
            resolved]


def _pay(payment_id, invoice_id, day, amount, currency="EUR", account=""):
    return [payment_id, invoice_id, account, day, amount, currency]


def _monthly(prefix, account, rows, total="100.00", terms="30"):
    """(invoices, payments) of (invoice day, due day, payment day or None) rows."""
    invoices, payments = [], []
    for i, (day, due, paid) in enumerate(rows, start=1):
        invoices.append(_cinv(f"{prefix}-{i}", account, day, due, total, terms=terms))
        if paid:
            payments.append(_pay(f"P{prefix}-{i}", f"{prefix}-{i}", paid, total))
    return invoices, payments


_P25 = _monthly("CI-P25", "C-PAY25", [
    (f"2026-{m:02d}-01", f"2026-{m:02d}-21", f"2026-{m:02d}-25" if m < 11 else None) for m in range(6, 12)
], total="1000.00", terms="20")
_ME = _monthly("CI-ME", "C-MONTHEND", [
    ("2026-06-01", "2026-07-01", "2026-06-30"), ("2026-07-01", "2026-07-31", "2026-07-31"),
    ("2026-08-01", "2026-08-31", "2026-08-31"), ("2026-09-01", "2026-10-01", "2026-09-30"),
    ("2026-10-01", "2026-10-31", "2026-10-31"), ("2026-10-20", "2026-11-19", None),
], total="1000.00")
_IRREG = _monthly("CI-IR", "C-IRREG", [
    ("2026-06-20", "2026-07-20", "2026-07-03"), ("2026-07-20", "2026-08-19", "2026-08-12"),
    ("2026-08-20", "2026-09-19", "2026-09-19"), ("2026-09-30", "2026-10-30", "2026-10-27"),
])
_NEAR = _monthly("CI-NE", "C-NEAR", [
    ("2026-06-10", "2026-07-10", "2026-06-24"), ("2026-07-10", "2026-08-09", "2026-07-25"),
    ("2026-08-10", "2026-09-09", "2026-08-26"), ("2026-09-10", "2026-10-10", "2026-09-25"),
    ("2026-09-20", "2026-10-20", "2026-10-10"),
])
_MODE = _monthly("CI-MO", "C-MODE", [
    ("2026-06-20", "2026-07-20", "2026-07-05"), ("2026-07-20", "2026-08-19", "2026-08-05"),
    ("2026-08-20", "2026-09-19", "2026-09-06"), ("2026-09-20", "2026-10-20", "2026-10-06"),
])
_LOOKBACK = _monthly("CI-LB", "C-LOOKBACK", [
    ("2026-05-01", "2026-05-31", "2026-05-26"), ("2026-06-01", "2026-07-01", "2026-06-26"),
    ("2026-07-01", "2026-07-31", "2026-07-26"),
])
_PROMPT = _monthly("CI-PR", "C-PROMPT", [
    ("2026-05-01", "2026-05-31", "2026-05-20"), ("2026-06-01", "2026-07-01", "2026-06-20"),
    ("2026-07-01", "2026-07-31", "2026-07-20"), ("2026-08-01", "2026-08-31", "2026-08-20"),
    ("2026-09-01", "2026-10-01", "2026-10-26"),  # 25 days late
])

# invoices of the credit cases, all in one delta file
CREDIT_INVOICES = [
    _cinv("CI-PART-1", "C-PART", "2026-09-01", "2026-10-01", "1000.00"),
    _cinv("CI-MULTI-1", "C-MULTI", "2026-08-01", "2026-08-31", "1000.00"),
    _cinv("CI-MULTI-2", "C-MULTI", "2026-09-01", "2026-10-01", "500.00"),
    _cinv("CI-OVER-1", "C-OVER", "2026-10-01", "2026-10-31", "800.00"),
    _cinv("CI-OVER-2", "C-OVER", "2026-10-05", "2026-11-04", "1000.00"),
    _cinv("CI-DISC-1", "C-DISC", "2026-10-01", "2026-10-31", "1000.00", discount="2"),
    _cinv("CI-DISC-2", "C-DISC", "2026-10-10", "2026-11-09", "1000.00", discount=" 2.0"),
    *_P25[0], *_ME[0], *_IRREG[0], *_NEAR[0], *_MODE[0], *_LOOKBACK[0], *_PROMPT[0],
    _cinv("CI-MO-5", "C-MODE", "2026-10-20", "2026-11-19", "1000.00"),
    _cinv("CI-DSP-1", "C-DISPUTE", "2026-10-01", "2026-10-31", "2000.00", opened="2026-10-15", resolved="2026-11-22",
          disputed="true"),
    _cinv("CI-DSP-2", "C-DISPUTE", "2026-11-01", "2026-12-01", "3000.00", opened="2026-11-22"),
    _cinv("CI-DSP-3", "C-DISPUTE", "2025-11-01", "2025-12-01", "100.00", opened="2025-11-22", resolved="2026-11-23"),
    _cinv("CI-DSP-4", "C-DISPUTE", "2026-11-10", "2026-12-10", "100.00", opened="2026-11-23", disputed="yes"),
    _cinv("CI-H90", "C-HOLD90", "2026-07-24", "2026-08-23", "500.00"),
    _cinv("CI-D90", "C-DAYS90", "2026-07-25", "2026-08-24", "500.00"),
    _cinv("CI-WIN-1", "C-WINDOW", "2025-10-23", "2025-11-22", "100.00"),
    _cinv("CI-WIN-2", "C-WINDOW", "2025-10-24", "2025-11-23", "100.00"),
    _cinv("CI-WIN-3", "C-WINDOW", "2026-10-23", "2026-11-22", "700.00"),
    _cinv("CI-WIN-4", "C-WINDOW", "2026-10-22", "2026-11-21", "300.00"),
    _cinv("CI-S30", "C-SLOW30", "2026-09-01", "2026-10-01", "100.00"),
    _cinv("CI-ANC", "C-ANCIENT", "2025-01-01", "2025-01-31", "100.00"),
    _cinv("CI-KEY-1", "C-KEY", "2026-10-18", "2026-11-17", "600.00"),
    _cinv("CI-KEY-2", "C-KEY", "2026-10-21", "2026-11-20", "400.00"),
    _cinv("CI-BIG", "C-BIG", "2026-10-20", "2026-11-19", "50000.00"),
    _cinv("CI-BIGM", "C-BIGMINUS", "2026-10-20", "2026-11-19", "49999.99"),
    _cinv("CI-ESC", "C-ESCRISK", "2026-10-13", "2026-11-12", "1000.00"),
    _cinv("CI-IDEAL", "C-ICPIDEAL", "2026-09-01", "2026-10-01", "100.00"),
    _cinv("CI-T0", "C-TERMS0", "2026-11-01", "2026-11-01", "100.00", terms="0"),
    _cinv("CI-TT-0", "C-TERMSTIE", "2026-01-01", "2026-01-01", "100.00", terms="0"),
    _cinv("CI-TT-A", "C-TERMSTIE", "2026-10-01", "2026-12-01", "100.00", terms="61", discount="3"),
    _cinv("CI-TT-B", "C-TERMSTIE", "2026-10-01", "2026-11-30", "100.00", terms="60", discount="0"),
    _cinv("CI-T61", "C-TERMS61", "2026-10-01", "2026-12-01", "100.00", terms="61"),
    _cinv("CI-TN-1", "C-TERMSNULL", "2026-09-01", "2026-10-01", "100.00", terms="30"),
    _cinv("CI-TN-2", "C-TERMSNULL", "2026-10-01", "2026-10-31", "100.00", terms="", discount="5"),
    _cinv("CI-TCN", "C-TERMSCN", "2026-09-01", "2026-10-02", "100.00", terms="31"),
    _cinv("CN-TCN", "C-TERMSCN", "2026-10-15", "", "-50.00", terms="0", kind="credit_note"),
    _cinv("CI-PAR", "C-PARENT", "2026-11-10", "2026-12-10", "1000.00"),
    _cinv("CI-CH1", "C-CHILD1", "2026-11-10", "2026-12-10", "200.00"),
    _cinv("CI-CH2", "C-CHILD2", "2026-11-10", "2026-12-10", "30.00"),
    _cinv("CI-GR", "C-GRAND", "2026-11-10", "2026-12-10", "4.00"),
    _cinv("CI-ORP", "C-ORPHAN", "2026-11-10", "2026-12-10", "50.00"),
    _cinv("CI-CK", "C-CLOSEDKID", "2026-11-10", "2026-12-10", "7.00"),
    _cinv("CI-TOP", "C-TOP", "2026-04-12", "2026-05-12", "23529.41", currency="USD"),
    _cinv("CI-PLT", "C-PLTIE", "2026-06-01", "2026-07-01", "1.00"),
]
CREDIT_LINES = [
    ["CI-TOP", "1", "hardware", "1", "23529.41", ""],
    ["CI-PLT", "1", "beta", "1", "0.50", "0.25"],
    ["CI-PLT", "2", "alpha", "1", "0.50", ""],
]

PAYMENT_HEADER = ["payment_id", "invoice_id", "account_id", "payment_date", "amount", "currency"]
# file date -> payment rows
TRICKY_PAYMENTS: dict[str, list] = {
    "2026-08-20": [_pay("PP-MULTI-1", "CI-MULTI-1", "2026-08-20", "40.00")],
    "2026-08-21": [_pay("PP-MULTI-1", "CI-MULTI-1", "2026-08-20", "400.00")],  # corrects the amount
    "2026-11-22": [
        _pay("PP-PART-1", "CI-PART-1", "2026-09-20", "300.00", account="C-PART"),
        _pay("PP-PART-2", "CI-PART-1", "2026-10-15", "200.00"),
        _pay("PP-MULTI-2", "CI-MULTI-1", "2026-09-05", "600.00", account="A-F01"),  # the invoice's account decides
        _pay("PP-MULTI-3", "CI-MULTI-2", "2026-09-30", "500.00"),
        _pay("PP-OVER-1", "CI-OVER-1", "2026-10-20", "900.00"),
        _pay("PP-OVER-2", "CI-OVER-2", "2026-10-25", "1000.00", currency="USD"),  # payment_currency_mismatch
        _pay("PP-OVER-3", "CI-OVER-2", "2026-11-23", "1000.00"),  # dated after D
        _pay("PP-OVER-DUP", "CI-OVER-2", "2026-10-26", "1000.00"),  # duplicate_key
        _pay("PP-OVER-DUP", "CI-OVER-2", "2026-10-26", "1000.00"),
        _pay("PP-OVER-BAD", "CI-OVER-2", "2026-10-27", "1.000,00"),  # invalid_value
        _pay("PP-NOINV", "CI-NOPE", "2026-10-27", "1000.00"),  # unknown_invoice
        _pay("PP-DISC-1", "CI-DISC-1", "2026-10-08", "979.99"),  # 1000 x 0.98 - 0.01: paid
        _pay("PP-DISC-2", "CI-DISC-2", "2026-10-15", "979.98"),  # one cent short: open for 20.02
        *_P25[1], *_ME[1], *_IRREG[1], *_NEAR[1], *_MODE[1], *_LOOKBACK[1], *_PROMPT[1],
        _pay("PP-DSP-3", "CI-DSP-3", "2025-12-01", "100.00"),
        _pay("PP-WIN-1", "CI-WIN-1", "2025-12-02", "100.00"),
        _pay("PP-WIN-2", "CI-WIN-2", "2025-11-28", "100.00"),
        _pay("PP-S30", "CI-S30", "2026-10-31", "100.00"),
        _pay("PP-IDEAL", "CI-IDEAL", "2026-09-15", "100.00"),
        _pay("PP-T0", "CI-T0", "2026-11-01", "100.00"),
        _pay("PP-TT-0", "CI-TT-0", "2026-01-01", "100.00"),
        _pay("PP-TN-1", "CI-TN-1", "2026-09-15", "100.00"),
        _pay("PP-TN-2", "CI-TN-2", "2026-10-10", "100.00"),
        _pay("PP-TCN", "CI-TCN", "2026-09-20", "100.00"),
        _pay("PP-TOP", "CI-TOP", "2026-05-10", "10000.00", currency="usd "),
        _pay("PP-PLT", "CI-PLT", "2026-06-15", "1.00"),
        _pay("PP-CN", "CN-1", "2026-03-01", "500.00"),  # on a credit note: settles nothing
    ],
    # dated after the as-of date: never read
    "2026-11-23": [_pay("PP-OVER-LATER", "CI-OVER-2", "2026-11-20", "1000.00")],
}

BUREAU_HEADER = ["bureau_ref", "duns_number", "registration_number", "country_code", "credit_score", "report_date",
                 "recommended_limit", "limit_currency", "payment_index", "insolvency_flag", "rating"]


def _report(ref, duns="", registration="", country="NL", score="50", day="2026-10-01", limit="", currency="",
            insolvent="no"):
    return [ref, duns, registration, country, score, day, limit, currency, "50", insolvent, ""]


TRICKY_BUREAU = [
    _report("B-1", "123456789", "NL123", score="70", day="2026-10-15"),
    _report("B-2", "123456789", score="80", day="2026-11-01"),  # the newest on or before D
    _report("B-3", "123456789", score="10", day="2026-11-30"),  # after D
    _report("B-DZ-4", "12345678", score="10"),  # leading zero lost: another DUNS
    _report("B-DZ-5", "012345678", score="60", limit="1000.00", currency="EUR"),
    _report("BR-REG-A", registration="NL123456", score="55", day="2026-09-01"),
    _report("BR-REG-B", registration="nl123456", score="45", day="2026-09-01"),  # same day: greatest bureau_ref
    _report("BR-REG-C", registration="NL-123456", country="BE", score="5"),  # another country
    _report("B-DR-9", "999999999", country="DE", score="5", day="2026-12-15"),  # DUNS only after D: registration
    _report("B-DR-10", registration="DE-777", country="DE", score="90", day="2026-06-01"),
    _report("B-ST-11", "555555555", score="20", day="2025-11-21"),  # D - 366: stale
    _report("B-ST-12", registration="NL555", score="99"),  # a stale DUNS match does not fall back
    _report("B-FR-13", "444444444", score="50", day="2025-11-22"),  # D - 365: not stale
    _report("B-DUP", "777777777", score="50"),
    _report("B-DUP", "777777777", score="50"),
    _report("B-SN", "333333333", score=""),
    _report("B-INS", "222222222", score="8", insolvent="YES"),
    _report("B-BAD", "666666666", score="140"),  # invalid: takes no part (registration route)
    _report("B-BAD-REG", registration="NL 666", score="30", day="2026-09-01"),
    _report("B-UK", "121212121", country="UK", score="50"),  # unknown country code: invalid
    _report("B-R25", "250000000", score="77.5"),
    _report("B-R249", "249000000", score="77.625"),
    _report("B-R50", "500000000", score="46.25"),
    _report("B-R75", "750000000", score="15"),
    _report("B-RH", "300500000", score="71.1875"),
    _report("B-ESC", "100000000", score="0"),
    _report("B-PAR", "888888888", score="60", limit="2000.00"),  # limit in the base currency
    _report("B-CH1", "888888881", score="60", limit="100.00", currency="usd"),
    _report("B-CH2", registration="nl 888.2", score="60", limit="0"),
    _report("B-GR", "888888883", score="60", limit="500.00", currency="JPY"),  # no JPY rate
]

OPPORTUNITY_HEADER = ["opportunity_id", "account_id", "stage", "amount", "currency", "close_date", "product_line"]
TRICKY_OPPORTUNITIES = [
    ["O-HOT", "A-F01", " Proposal ", "1000.00", "EUR", "2026-11-22", "services"],
    ["O-HOT90", "A-F02", "negotiation", "20000.00", "USD", "2027-02-20", "services"],
    ["O-WARM91", "A-F03", "proposal", "", "EUR", "2027-02-21", "services"],
    ["O-PAST", "A-F04", "proposal", "500.00", "EUR", "2026-11-21", "services"],
    ["O-WON", "A-F04", "closed_won", "99999.00", "EUR", "2026-11-01", "services"],
    ["O-LOST", "A-F05", "Closed_Lost", "100.00", "EUR", "2026-10-01", "services"],
    ["O-QUAL", "A-F08", "qualification", "150000.00", "EUR", "2026-12-01", "services"],
    ["O-MICRO", "A-CN2", "prospecting", "50000.00", "EUR", "2027-01-01", "services"],
    ["O-BADSTAGE", "A-F06", "won", "1000.00", "EUR", "2026-12-01", "services"],
    ["O-DUP", "A-F06", "proposal", "10.00", "EUR", "2026-12-01", "services"],
    ["O-DUP", "A-F06", "proposal", "10.00", "EUR", "2026-12-01", "services"],
    ["O-UNKNOWN", "A-NOPE", "proposal", "10.00", "EUR", "2026-12-01", "services"],
    ["O-JPY", "A-F07", "proposal", "1000.00", "JPY", "2026-12-01", "services"],
    ["O-DIGIT", "A-DIGIT", "proposal", "5000.00", "EUR", "2026-12-01", "services"],
]

def _write_csv(path: Path, header: list[str], rows: list, bom: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))


def _padded(rows: list, width: int) -> list:
    return [[*row, *[""] * (width - len(row))] for row in rows]


def write_tricky_landing(root: Path) -> Path:
    _write_csv(root / "crm/accounts/2026-11-21.csv", ACCOUNT_HEADER, [("A-OLD", "Superseded Snapshot", *[""] * 10,
                                                                         CREATED, "")])
    accounts = [[*row, "drift", "", "", "", "", ""] for row in TRICKY_ACCOUNTS]
    accounts += [[*row, "drift", *extra] for row, extra in CREDIT_ACCOUNTS]
    _write_csv(root / "crm/accounts/2026-11-22.csv", ACCOUNT_HEADER + ACCOUNT_EXTRA_HEADER, accounts, bom=True)
    invoice_header = INVOICE_HEADER + CREDIT_INVOICE_HEADER
    deltas = {**TRICKY_DELTAS, "2026-11-21": (CREDIT_INVOICES, CREDIT_LINES)}
    for day, (invoices, lines) in deltas.items():
        _write_csv(root / f"finance/invoices/{day}.csv", invoice_header, _padded(invoices, len(invoice_header)))
        _write_csv(root / f"finance/invoice_lines/{day}.csv", LINE_HEADER, lines)
    for day, payments in TRICKY_PAYMENTS.items():
        _write_csv(root / f"finance/payments/{day}.csv", PAYMENT_HEADER, payments)
    fx = root / "finance/fx_rates/2026-11-22.parquet"
    fx.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table({
            "currency": pa.array([r[0] for r in TRICKY_FX]),
            "rate_date": pa.array([date.fromisoformat(r[1]) for r in TRICKY_FX], pa.date32()),
            "rate_to_base": pa.array([Decimal(r[2]) for r in TRICKY_FX], pa.decimal128(18, 6)),
        }),
        fx,
    )
    # snapshots: only the newest file on or before D is read (the others would match C-NOMATCH, make A-F06 warm)
    bureau = root / "bureau/company_scores"
    _write_csv(bureau / "2026-10-01.csv", BUREAU_HEADER, [_report("B-OLD", "777777777", score="99")])
    _write_csv(bureau / "2026-11-01.csv", BUREAU_HEADER, TRICKY_BUREAU)
    _write_csv(bureau / "2026-12-01.csv", BUREAU_HEADER, [_report("B-NEW", "777777777", score="98")])
    _write_csv(root / "crm/opportunities/2026-11-21.csv", OPPORTUNITY_HEADER,
               [["O-OLD", "A-F06", "proposal", "10.00", "EUR", "2026-12-01", "services"]])
    _write_csv(root / "crm/opportunities/2026-11-22.csv", OPPORTUNITY_HEADER, TRICKY_OPPORTUNITIES)
    _write_csv(root / "overrides.csv", ["account_id", "dimension", "segment", "reason", "owner", "valid_until"],
               OVERRIDE_ROWS)
    return root


# What the rules give on the tricky folder, worked out by hand: the reference must say so.
TRICKY_EXPECTED = {
    # BOM file, quoted comma, " nl ", "Business ", punctuation in industry, exactly 100 000.00, 1000 employees
    "A-BOM": dict(account_name="Smith, Jones & Co", country_code="NL", market="domestic", region="benelux",
                  party_type="business", value_tier="high", pareto_class="A", lifecycle_stage="key",
                  industry_vertical="financial_services", size_tier="enterprise", revenue_12m=100000.00,
                  margin_12m=70000.00, margin_pct_12m=0.7),
    # the later delta file corrects the due date and line 1; line 2 of the first file stays
    "A-CORR": dict(revenue_12m=700.00, margin_12m=450.00, margin_pct_12m=0.6429, industry_vertical="technology",
                   size_tier="mid_market", tenure="existing", first_invoice_date=date(2026, 3, 1)),
    # re-sent as " VOID ": counts for nothing; the tenure override expired, the lifecycle one holds on D
    "A-VOID": dict(revenue_12m=50.00, first_invoice_date=date(2026, 6, 1), tenure="new", lifecycle_stage="dormant",
                   industry_vertical="healthcare", size_tier="mid_market"),
    # invoice + credit note: no revenue; the credit note is no invoice date; pareto_class overridden
    "A-CN": dict(revenue_12m=0.00, margin_12m=0.00, margin_pct_12m=None, value_tier="none", pareto_class="A",
                 lifecycle_stage="existing", first_invoice_date=date(2025, 12, 1), industry_vertical="technology",
                 owner_id=None),
    "A-CN2": dict(revenue_12m=1700.00, margin_12m=1300.00, margin_pct_12m=0.7647, first_invoice_date=date(2026, 1, 10),
                  industry_vertical="healthcare", size_tier="micro"),
    # USD at the 2026-04-01 rate (both 2026-04-10 rates quarantined): 9 999.995 -> 10 000.00 -> medium;
    # the GBP invoice has no rate on or before its date (quarantined); the region overrides conflict
    "A-FX": dict(revenue_12m=10000.00, value_tier="medium", pareto_class="A", region="north_america",
                 industry_vertical="other", size_tier="micro", country_code="US"),
    "A-FX2": dict(revenue_12m=90.00, margin_12m=81.00, industry_vertical="manufacturing", size_tier="small"),
    "A-SUB": dict(party_type="to_be_defined", industry_vertical="financial_services", size_tier="enterprise",
                  region="rest_of_world", tenure="prospect", lifecycle_stage="prospect", first_invoice_date=None),
    "A-UNI": dict(industry_vertical="manufacturing", size_tier="mid_market"),
    "A-DIGIT": dict(industry_vertical="technology", size_tier="to_be_defined", region="rest_of_world"),
    "A-HOSP": dict(party_type="individual", size_tier="consumer", industry_vertical="other"),
    "A-PUNCT": dict(industry_vertical="other", market="international"),
    "A-ECOM": dict(industry_vertical="other", region="benelux"),
    "A-NL": dict(industry_vertical="financial_services"),
    "A-NEW180": dict(tenure="existing", lifecycle_stage="existing", industry_vertical="manufacturing"),
    "A-NEW179": dict(tenure="new", lifecycle_stage="new", value_tier="high", revenue_12m=500.00,
                     industry_vertical="healthcare"),
    "A-DORM365": dict(revenue_12m=0.00, value_tier="none", lifecycle_stage="dormant", tenure="existing"),
    "A-DORM364": dict(revenue_12m=700.00, lifecycle_stage="existing", last_invoice_date=date(2025, 11, 23)),
    "A-TODAY": dict(revenue_12m=42.50, margin_12m=30.25, margin_pct_12m=0.7118, tenure="new"),
    "A-FUTURE": dict(tenure="prospect", revenue_12m=0.00, last_invoice_date=None),
    "A-STRAT": dict(lifecycle_stage="key", pareto_class="C"),
    "A-DK": dict(revenue_12m=300.00),
    "A-LINES": dict(revenue_12m=550.00),
    "A-BADINV": dict(revenue_12m=10000.00, value_tier="medium", pareto_class="A"),
    "A-TZ1": dict(tenure="prospect"),
    "A-F03": dict(tenure="existing", first_invoice_date=date(2025, 7, 1), last_invoice_date=date(2026, 6, 1)),
    "A-TSDATE": dict(tenure="prospect", first_invoice_date=None),
    "A-F06": dict(pareto_class="A"),
    "A-F07": dict(pareto_class="B"),
    "A-F01": dict(pareto_class="B"),
    "A-F02": dict(pareto_class="C"),
    "A-TIE1": dict(pareto_class="B", margin_pct_12m=0.8),
}
# not published: duplicated id, created after D in UTC, "UK", 12.5 employees, unknown status, closed,
# superseded snapshot
TRICKY_UNPUBLISHED = {"A-DUP", "A-TZ2", "A-UK", "A-EMP", "A-INACT", "A-CLOSED", "A-OLD"}

# The credit and remaining dimensions, worked out by hand (D = 2026-11-22). Risk: 0.4 external
# (100 - bureau_score) + 0.4 internal (min(100, 2 x avg_days_late); 100 when defaulting) + 0.1 industry
# + 0.1 region; one of the first two missing: 0.8 x the other.
CREDIT_EXPECTED = {
    # partial payments: 1000 - 300 - 200 open, 52 days overdue; 2 payment dates: no pay day;
    # internal min(100, 104) alone: 80 + 3.5 (technology) + 2 = 85.5
    "C-PART": dict(open_ar=500.00, overdue_ar=500.00, max_days_overdue=52, avg_days_late=52.00, on_time_rate=0.0,
                   payment_behaviour="very_slow", typical_pay_day=None, risk_score=85.5, risk_profile="very_high",
                   credit_hold=False, dunning_strategy="escalate", collector_level="senior", bureau_score=None,
                   payment_terms_bucket="net_30", early_payment_discount=False, icp_score=50, icp_fit="fair",
                   sales_channel_group="to_be_defined", service_level="standard", potential_value=5000.00,
                   potential_tier="low", credit_limit_utilisation=None, group_open_ar=500.00,
                   primary_product_line="none", product_mix="none", disputes_12m=0, open_disputes=0),
    # 400 (the corrected delta row, not 40) + 600 reach 1000 on 09-05 (5 days late); 500 paid on time;
    # capped days 20, 5, 28: mode 5 (ties: smallest) covers 1 of 3: no pay day
    "C-MULTI": dict(open_ar=0.00, overdue_ar=0.00, max_days_overdue=0, avg_days_late=2.50, on_time_rate=0.5,
                    payment_behaviour="slow", typical_pay_day=None, risk_score=11.0, risk_profile="low",
                    dunning_strategy="none", collector_level="none", sales_channel_group="to_be_defined"),
    # 900 on 800: paid; on CI-OVER-2 the USD, duplicated, malformed, after-D and later-file payments all
    # count for nothing: open 1000, 18 days; the computed strategy (standard) is overridden to personal
    "C-OVER": dict(open_ar=1000.00, overdue_ar=1000.00, max_days_overdue=18, avg_days_late=9.00, on_time_rate=0.5,
                   payment_behaviour="slow", risk_score=21.4, risk_profile="low", dunning_strategy="personal",
                   collector_level="junior", credit_hold=False),
    # 2 % discount: 979.99 reaches 1000 x 0.98 - 0.01; 979.98 does not (20.02 open, 13 days)
    "C-DISC": dict(open_ar=20.02, overdue_ar=20.02, max_days_overdue=13, avg_days_late=6.50, on_time_rate=0.5,
                   payment_behaviour="slow", early_payment_discount=True, payment_terms_bucket="net_30",
                   risk_score=17.4, risk_profile="low", dunning_strategy="standard", collector_level="junior",
                   sales_channel_group="direct"),
    # pays on the 25th (4 days late each month), November's invoice 1 day overdue
    "C-PAY25": dict(typical_pay_day=25, open_ar=1000.00, overdue_ar=1000.00, max_days_overdue=1, avg_days_late=3.50,
                    on_time_rate=0.0, payment_behaviour="slow", risk_score=12.6, risk_profile="low",
                    dunning_strategy="wait_for_pay_day", collector_level="junior", payment_terms_bucket="net_30"),
    # pays on month ends (30, 31, 31, 30, 31 -> 28), on time; the last invoice 3 days overdue
    "C-MONTHEND": dict(typical_pay_day=28, avg_days_late=0.50, on_time_rate=0.8333, payment_behaviour="prompt",
                       overdue_ar=1000.00, max_days_overdue=3, risk_score=7.8, dunning_strategy="wait_for_pay_day",
                       collector_level="junior", icp_score=35, icp_fit="to_be_defined"),
    "C-IRREG": dict(typical_pay_day=None, payment_behaviour="prompt", avg_days_late=0.00, on_time_rate=1.0,
                    dunning_strategy="none"),
    # 24, 25, 26, 25, 10: mode 25, 4 of 5 within one day (80 %)
    "C-NEAR": dict(typical_pay_day=25, open_ar=0.00, dunning_strategy="none"),
    # 5, 5, 6, 6: the tie goes to 5; 4 paid on time + 1 open 3 days: 0.60 / 0.8 -> prompt;
    # internal 1.2: 0.96 + 7 = 7.96 -> 8.0
    "C-MODE": dict(typical_pay_day=5, avg_days_late=0.60, on_time_rate=0.8, payment_behaviour="prompt",
                   risk_score=8.0, dunning_strategy="wait_for_pay_day", collector_level="junior"),
    # the payment of D - 180 is outside (D - 180, D]: two dates left
    "C-LOOKBACK": dict(typical_pay_day=None, payment_behaviour="prompt"),
    # opened on D counts, opened on D - 365 does not; resolved on D closes, resolved on D + 1 does not;
    # opened after D: nothing; 2 disputes with open_ar > 0: credit hold
    "C-DISPUTE": dict(disputes_12m=2, open_disputes=2, open_ar=5100.00, overdue_ar=2000.00, max_days_overdue=22,
                      avg_days_late=11.00, on_time_rate=0.5, payment_behaviour="slow", risk_score=24.6,
                      risk_profile="low", credit_hold=True, dunning_strategy="escalate", collector_level="senior"),
    "C-HOLD90": dict(max_days_overdue=91, payment_behaviour="defaulting", credit_hold=True, avg_days_late=91.00,
                     risk_score=87.0, risk_profile="very_high"),
    "C-DAYS90": dict(max_days_overdue=90, payment_behaviour="very_slow", credit_hold=False, avg_days_late=90.00,
                     risk_score=87.0, risk_profile="very_high", dunning_strategy="escalate", collector_level="senior"),
    # due on D - 365 (not evaluated), D - 364 (5 days late), D (open, not overdue), D - 1 (1 day)
    "C-WINDOW": dict(avg_days_late=3.00, on_time_rate=0.0, open_ar=1000.00, overdue_ar=300.00, max_days_overdue=1,
                     payment_behaviour="slow"),
    # exactly 5.00 days and 80 % on time: prompt; bureau by DUNS, the newest report on or before D (80);
    # 0.4 x 20 + 0.4 x 10 + 4 + 2 = 18.0; ICP 30 + 20 + 10 + 15 = 75
    "C-PROMPT": dict(avg_days_late=5.00, on_time_rate=0.8, payment_behaviour="prompt", bureau_score=80.0,
                     risk_score=18.0, risk_profile="low", industry_vertical="manufacturing",
                     sales_channel_group="direct", icp_score=75, icp_fit="good", typical_pay_day=None,
                     credit_limit_utilisation=None),
    "C-SLOW30": dict(avg_days_late=30.00, payment_behaviour="slow", risk_score=55.0, risk_profile="high",
                     dunning_strategy="none", collector_level="none"),
    # due before the window and open: defaulting without any evaluated invoice
    "C-ANCIENT": dict(max_days_overdue=660, payment_behaviour="defaulting", avg_days_late=None, on_time_rate=None,
                      risk_score=87.0, credit_hold=True, lifecycle_stage="dormant", dunning_strategy="escalate",
                      collector_level="senior"),
    "C-KEY": dict(lifecycle_stage="key", overdue_ar=1000.00, max_days_overdue=5, avg_days_late=3.50, risk_score=12.6,
                  risk_profile="low", dunning_strategy="personal", collector_level="senior", service_level="gold",
                  sales_channel_group="online"),
    "C-BIG": dict(overdue_ar=50000.00, risk_score=11.8, dunning_strategy="standard", collector_level="senior",
                  sales_channel_group="affiliate"),
    "C-BIGMINUS": dict(overdue_ar=49999.99, dunning_strategy="standard", collector_level="junior"),
    # 0.4 x 100 + 0.4 x 20 + 5 + 2 = 55.0 (high): escalate, senior; the risk_profile override feeds nothing
    "C-ESCRISK": dict(bureau_score=0.0, avg_days_late=10.00, risk_score=55.0, risk_profile="low",
                      dunning_strategy="escalate", collector_level="senior"),
    "C-ICPIDEAL": dict(icp_score=100, icp_fit="ideal", service_level="platinum", payment_behaviour="prompt",
                       size_tier="mid_market", sales_channel_group="direct", risk_score=6.0, potential_value=None,
                       potential_tier="to_be_defined"),
    "C-POOR": dict(icp_score=0, icp_fit="poor", sales_channel_group="partner", risk_score=None,
                   risk_profile="to_be_defined", payment_behaviour="to_be_defined", region="north_america",
                   buying_readiness="cold", payment_terms_bucket="to_be_defined", early_payment_discount=False),
    "C-ICP60": dict(icp_score=60, icp_fit="good", sales_channel_group="direct"),
    "C-ICP40": dict(icp_score=40, icp_fit="fair", sales_channel_group="direct"),
    "C-TERMS0": dict(payment_terms_bucket="immediate"),
    # two invoices on the latest date: the greatest invoice_id (CI-TT-B, 60 days, no discount)
    "C-TERMSTIE": dict(payment_terms_bucket="net_60", early_payment_discount=False, open_ar=200.00, overdue_ar=0.00),
    "C-TERMS61": dict(payment_terms_bucket="net_90_plus", early_payment_discount=False),
    "C-TERMSNULL": dict(payment_terms_bucket="to_be_defined", early_payment_discount=True),
    # a later credit note is no invoice: the terms are those of CI-TCN (31)
    "C-TERMSCN": dict(payment_terms_bucket="net_60"),
    # groups: C-PARENT + its children (one level); C-GRAND's group is C-CHILD1's
    "C-PARENT": dict(open_ar=1000.00, group_open_ar=1230.00, credit_limit_utilisation=0.5, bureau_score=60.0),
    "C-CHILD1": dict(open_ar=200.00, group_open_ar=1230.00, credit_limit_utilisation=2.2222),  # 200 / (100 x 0.90)
    "C-CHILD2": dict(group_open_ar=1230.00, credit_limit_utilisation=None, bureau_score=60.0),  # limit 0
    "C-GRAND": dict(group_open_ar=204.00, credit_limit_utilisation=None),  # no JPY rate
    "C-ORPHAN": dict(group_open_ar=50.00),
    "C-CLOSEDKID": dict(group_open_ar=7.00),
    "C-DUNSZERO": dict(bureau_score=60.0, risk_score=39.0, risk_profile="medium", credit_limit_utilisation=0.0),
    "C-REG": dict(bureau_score=45.0, risk_score=51.0, risk_profile="high"),
    "C-DUNSREG": dict(bureau_score=90.0, risk_score=15.5, risk_profile="low", region="europe"),
    "C-STALE": dict(bureau_score=None, risk_score=None, risk_profile="to_be_defined"),
    "C-FRESH365": dict(bureau_score=50.0, risk_score=47.0, risk_profile="medium"),
    "C-NOMATCH": dict(bureau_score=None, risk_score=None, risk_profile="to_be_defined"),
    "C-SCORENULL": dict(bureau_score=None, risk_score=None, risk_profile="to_be_defined"),
    "C-INSOLV": dict(bureau_score=8.0, risk_score=80.6, risk_profile="very_high", credit_hold=True, icp_fit="excluded",
                     dunning_strategy="none", collector_level="none"),
    "C-BADREP": dict(bureau_score=30.0, risk_score=63.0, risk_profile="high"),
    "C-RISK25": dict(risk_score=25.0, risk_profile="medium"),
    "C-RISK249": dict(risk_score=24.9, risk_profile="low"),
    "C-RISK50": dict(risk_score=50.0, risk_profile="high"),
    "C-RISK75": dict(risk_score=75.0, risk_profile="very_high"),
    "C-RISKHALF": dict(risk_score=30.1, risk_profile="medium"),  # 30.05 rounded half away from zero
    # USD: revenue at the invoice-date rate (0.85: 19 999.9985), open_ar at D (0.90 x 13 529.41)
    "C-TOP": dict(revenue_12m=20000.00, pareto_class="A", value_tier="medium", lifecycle_stage="key",
                  open_ar=12176.47, overdue_ar=12176.47, max_days_overdue=194, payment_behaviour="defaulting",
                  credit_hold=True, dunning_strategy="escalate", collector_level="senior",
                  primary_product_line="hardware", product_mix="single_line", service_level="gold",
                  potential_value=0.00, potential_tier="none"),
    "C-PLTIE": dict(revenue_12m=1.00, margin_12m=0.75, pareto_class="C", primary_product_line="alpha",
                    product_mix="multi_line", potential_value=4999.00, potential_tier="low"),
}

# the new columns on the original cases. Peer benchmarks: (small, to_be_defined) has 10 accounts with
# revenue: 75th percentile of 2000 2000 3000 4000 5000 5000 5000 7000 7000 8000 = 5000 + 0.75 x 2000 =
# 6500; groups under 5 fall back to size_tier small (21 accounts: its 16th value, 5000).
ORIGINAL_EXPECTED_CREDIT = {
    "A-BOM": dict(open_ar=121000.00, overdue_ar=121000.00, max_days_overdue=281, avg_days_late=281.00,
                  payment_behaviour="defaulting", credit_hold=True, risk_score=85.0, primary_product_line="hardware",
                  product_mix="multi_line", service_level="gold", dunning_strategy="escalate",
                  collector_level="senior", payment_terms_bucket="to_be_defined", potential_tier="to_be_defined"),
    "A-CORR": dict(primary_product_line="services", product_mix="multi_line", open_ar=800.00, max_days_overdue=236),
    "A-LINES": dict(primary_product_line="support", product_mix="multi_line"),
    # the credit note settles nothing (nor does a payment on it)
    "A-CN": dict(primary_product_line="none", product_mix="none", open_ar=1000.00, max_days_overdue=326),
    "A-CN2": dict(primary_product_line="licences", product_mix="single_line", open_ar=2000.00,
                  buying_readiness="warm", potential_value=None, potential_tier="to_be_defined"),
    "A-FX": dict(open_ar=10588.23, primary_product_line="hardware"),
    "A-SUB": dict(service_level="silver"),
    "A-TODAY": dict(open_ar=42.50, overdue_ar=0.00, payment_behaviour="to_be_defined", dunning_strategy="none"),
    "A-DORM365": dict(primary_product_line="none", product_mix="none"),
    "A-DIGIT": dict(buying_readiness="hot", potential_value=None, potential_tier="to_be_defined"),
    "A-HOSP": dict(potential_value=None, potential_tier="to_be_defined"),
    "A-F01": dict(buying_readiness="hot", potential_value=5500.00, potential_tier="low"),
    "A-F02": dict(buying_readiness="hot", potential_value=22500.00, potential_tier="medium"),  # + 20 000 USD x 0.90
    "A-F03": dict(buying_readiness="warm", potential_value=3500.00),
    "A-F04": dict(buying_readiness="warm", potential_value=3000.00),
    "A-F05": dict(buying_readiness="hot", potential_value=1500.00),  # cold, overridden
    "A-F06": dict(buying_readiness="cold", potential_value=0.00, potential_tier="none"),
    "A-F07": dict(buying_readiness="cold", potential_value=0.00),
    "A-F08": dict(buying_readiness="warm", potential_value=150000.00, potential_tier="high"),
    "A-TZ1": dict(buying_readiness="cold", potential_value=6500.00),
    "A-STRAT": dict(potential_value=4990.00),
    "A-BADINV": dict(potential_value=0.00, potential_tier="none"),
}

# the collections worklist: selected rows, and their relative order (earliest date; senior before
# junior; escalate, personal, standard, wait_for_pay_day; overdue desc)
WORKLIST_EXPECTED = {
    "C-DISPUTE": dict(earliest_action_date=AS_OF, dunning_strategy="escalate", collector_level="senior",
                      overdue_ar=2000.00, oldest_overdue_invoice_id="CI-DSP-1",
                      oldest_overdue_due_date=date(2026, 10, 31), credit_hold=True),
    "C-ESCRISK": dict(earliest_action_date=AS_OF, dunning_strategy="escalate", risk_profile="low"),
    "C-KEY": dict(earliest_action_date=AS_OF, dunning_strategy="personal", collector_level="senior",
                  oldest_overdue_invoice_id="CI-KEY-1", oldest_overdue_due_date=date(2026, 11, 17)),
    "C-BIG": dict(earliest_action_date=AS_OF, dunning_strategy="standard", collector_level="senior"),
    "C-OVER": dict(earliest_action_date=AS_OF, dunning_strategy="personal", collector_level="junior"),
    "C-BIGMINUS": dict(earliest_action_date=AS_OF, dunning_strategy="standard", collector_level="junior"),
    "C-DISC": dict(earliest_action_date=AS_OF, overdue_ar=20.02, oldest_overdue_invoice_id="CI-DISC-2"),
    "C-PAY25": dict(earliest_action_date=date(2026, 11, 26), typical_pay_day=25),  # the 25th, acted on the 26th
    "C-MONTHEND": dict(earliest_action_date=date(2026, 12, 1), typical_pay_day=28),  # 28: November 30
    "C-MODE": dict(earliest_action_date=date(2026, 12, 6), typical_pay_day=5),  # the 5th is past: December
    "C-PARENT": None,  # nothing overdue: not on the list
    "A-TODAY": None,
}
WORKLIST_ORDER = ["C-DISPUTE", "C-ESCRISK", "C-KEY", "C-BIG", "C-OVER", "C-BIGMINUS", "C-DISC", "C-PAY25",
                  "C-MONTHEND", "C-MODE"]

PRODUCT_LINES_EXPECTED = {
    ("A-BOM", "hardware"): dict(revenue_12m=60000.00, margin_12m=30000.00, adopted=True),
    ("A-BOM", "services"): dict(revenue_12m=40000.00, margin_12m=40000.00, adopted=True),
    ("A-CN", "licences"): dict(revenue_12m=0.00, margin_12m=0.00, adopted=False),
    ("A-FX", "hardware"): dict(revenue_12m=10000.00, adopted=True),
    ("C-PLTIE", "alpha"): dict(revenue_12m=0.50, margin_12m=0.50, adopted=True),
    ("C-PLTIE", "beta"): dict(revenue_12m=0.50, margin_12m=0.25, adopted=True),
    ("A-DORM365", "consulting"): None,  # its only invoice is dated D - 365: outside the window
}

def _run_pipeline(landing: Path, warehouse: Path, as_of: date, config_file: Path | None = None) -> dict:
    outcome = run_nightly_job(RunPaths.resolve(landing, warehouse, config_file=config_file), as_of)
    assert outcome.published, outcome.summary()
    tables = {name: read_published(warehouse, name)
              for name in ("segmented_accounts", "account_product_lines", "collections_worklist")}
    missing = [c for c in BASE_COLUMNS if c not in tables["segmented_accounts"].columns]
    assert not missing, f"analytics.segmented_accounts lacks {missing}"
    return tables


@pytest.fixture(scope="module")
def tricky_landing(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tricky")
    config = root / "gate.yml"  # a handful of quarantined accounts among ~100: lift the 2 % gate
    config.write_text(GATE_CONFIG)
    return write_tricky_landing(root / "landing"), config


@pytest.fixture(scope="module")
def tricky_reference_tables(tricky_landing) -> dict:
    landing, config = tricky_landing
    return compute_reference(landing, AS_OF, config)


@pytest.fixture(scope="module")
def tricky_reference(tricky_reference_tables) -> pd.DataFrame:
    return tricky_reference_tables["segmented_accounts"]


@pytest.fixture(scope="module")
def tricky_published(tricky_landing) -> dict:
    landing, config = tricky_landing
    return _run_pipeline(landing, landing.parent / "warehouse" / "segments.duckdb", AS_OF, config)


def _wrong_cells(frame: pd.DataFrame, expected: dict) -> list:
    return [
        (key, column, frame.at[key, column], value)
        for key, cells in expected.items() if cells is not None
        for column, value in cells.items()
        if not _exactly(frame.at[key, column], value)
    ]


def test_reference_on_tricky_cases(tricky_reference):
    """The reference itself, on values worked out by hand from the rules."""
    ref = tricky_reference.set_index("account_id", drop=False)
    assert not TRICKY_UNPUBLISHED & set(ref.index)
    expected_ids = {row[0] for row in TRICKY_ACCOUNTS} - TRICKY_UNPUBLISHED
    expected_ids |= {row[0] for row, _ in CREDIT_ACCOUNTS}
    assert set(ref.index) == expected_ids
    assert list(tricky_reference.columns) == REFERENCE_COLUMNS
    wrong = _wrong_cells(ref, TRICKY_EXPECTED) + _wrong_cells(ref, ORIGINAL_EXPECTED_CREDIT)
    wrong += _wrong_cells(ref, CREDIT_EXPECTED)
    assert not wrong, "\n".join(f"{a} {c}: reference={r!r} expected={e!r}" for a, c, r, e in wrong)
    assert tricky_reference.attrs["overridden_dimensions"] == {
        "A-CN": ["pareto_class"], "A-NEW179": ["value_tier"], "A-VOID": ["lifecycle_stage"],
        "A-F05": ["buying_readiness"], "C-ESCRISK": ["risk_profile"], "C-OVER": ["dunning_strategy"],
    }
    computed = tricky_reference.attrs["computed"].set_index("account_id")
    assert computed.at["C-OVER", "dunning_strategy"] == "standard"
    assert computed.at["C-ESCRISK", "risk_profile"] == "high"
    assert computed.at["A-F05", "buying_readiness"] == "cold"
    assert (tricky_reference["as_of_date"] == AS_OF).all()
    # never null: every segment dimension and the booleans
    dimensions = REFERENCE_COLUMNS[REFERENCE_COLUMNS.index("party_type"): REFERENCE_COLUMNS.index("revenue_12m")]
    assert not tricky_reference[dimensions].isna().any().any()


def test_reference_worklist_and_product_lines_on_tricky_cases(tricky_reference, tricky_reference_tables):
    worklist = tricky_reference_tables["collections_worklist"].set_index("account_id", drop=False)
    ref = tricky_reference.set_index("account_id")
    assert set(worklist.index) == set(ref.index[ref["overdue_ar"] > 0])
    assert list(worklist["work_order"]) == list(range(1, len(worklist) + 1))
    wrong = _wrong_cells(worklist, {k: v for k, v in WORKLIST_EXPECTED.items() if v is not None})
    assert not wrong, "\n".join(f"{a} {c}: reference={r!r} expected={e!r}" for a, c, r, e in wrong)
    assert not {k for k, v in WORKLIST_EXPECTED.items() if v is None} & set(worklist.index)
    order = [a for a in worklist["account_id"] if a in WORKLIST_ORDER]
    assert order == WORKLIST_ORDER
    # the whole list is sorted as a collector works it
    level = worklist["collector_level"].map({"senior": 0, "junior": 1})
    strategy = worklist["dunning_strategy"].map({"escalate": 0, "personal": 1, "standard": 2, "wait_for_pay_day": 3})
    keys = list(zip(worklist["earliest_action_date"], level, strategy, -worklist["overdue_ar"], worklist["account_id"]))
    assert keys == sorted(keys)

    lines = tricky_reference_tables["account_product_lines"].set_index(["account_id", "product_line"], drop=False)
    wrong = _wrong_cells(lines, {k: v for k, v in PRODUCT_LINES_EXPECTED.items() if v is not None})
    assert not wrong, "\n".join(f"{a} {c}: reference={r!r} expected={e!r}" for a, c, r, e in wrong)
    assert not {k for k, v in PRODUCT_LINES_EXPECTED.items() if v is None} & set(lines.index)
    # the account's revenue is the sum of its lines' (each rounded: within a cent per line)
    per_account = tricky_reference_tables["account_product_lines"].groupby("account_id")["revenue_12m"]
    gap = (per_account.sum() - ref.loc[per_account.sum().index, "revenue_12m"]).abs()
    assert (gap <= 0.01 * per_account.size() + 1e-9).all()
    assert set(per_account.sum().index) <= set(ref.index)


def test_tricky_cases_agree(tricky_published, tricky_reference):
    """Every cell of every published account, overrides included."""
    assert_agree(tricky_published["segmented_accounts"], tricky_reference, what="segmented_accounts")


def test_tricky_overridden_dimensions_agree(tricky_published, tricky_reference):
    published = tricky_published["segmented_accounts"]
    published = {
        account: sorted(dimensions)
        for account, dimensions in zip(published["account_id"], published["overridden_dimensions"])
        if dimensions is not None and len(dimensions) > 0
    }
    assert published == tricky_reference.attrs["overridden_dimensions"]


def _nothing_in_window(frame: pd.DataFrame, keys: list) -> list:
    """The keys of rows that do not say "no revenue, no margin, not adopted"."""
    rows = frame.set_index(["account_id", "product_line"])
    return [
        k for k in keys
        if not (_cell_equal(rows.at[k, "revenue_12m"], 0) and _cell_equal(rows.at[k, "margin_12m"], 0)
                and _as_text(rows.at[k, "adopted"]) == "false")
    ]


def _assert_table_agrees(published_tables: dict, reference_tables: dict, table: str, keys) -> None:
    published = published_tables[table]
    if published is None:
        pytest.skip(f"analytics.{table} is not published yet")
    reference = reference_tables[table]
    if table == "account_product_lines":
        # Which (account, product line) pairs get a row is a reading of the contract: the reference has
        # the pairs with lines in the window; a denser table (every account x every product line) is
        # equivalent when each extra row says 0 / 0 / not adopted, for a published account.
        problems = compare(published, reference, keys)
        extra = problems.pop("_key", [])
        only_pub = [k for k, p, _ in extra if p is not None]
        only_ref = [k for k, p, _ in extra if p is None]
        assert not _nothing_in_window(published, only_pub), "published-only product-line rows with revenue"
        assert not _nothing_in_window(reference, only_ref), "reference-only product-line rows with revenue"
        published_accounts = set(published_tables["segmented_accounts"]["account_id"])
        assert {a for a, _ in only_pub} <= published_accounts, "product-line rows of unpublished accounts"
        assert not problems, f"{table}: published table and pandas reference disagree:\n" + describe(problems)
        return
    assert_agree(published, reference, keys, what=table)
    if table == "collections_worklist" and "work_order" not in published.columns:
        # no rank column: the table's own row order must be the collector's order
        assert list(published["account_id"]) == list(reference["account_id"]), "worklist order differs"


def test_tricky_product_lines_agree(tricky_published, tricky_reference_tables):
    _assert_table_agrees(tricky_published, tricky_reference_tables, "account_product_lines",
                         ["account_id", "product_line"])


def test_tricky_worklist_agrees(tricky_published, tricky_reference_tables):
    _assert_table_agrees(tricky_published, tricky_reference_tables, "collections_worklist", ["account_id"])


# --- the demo data --------------------------------------------------------------------------------

# An earlier as-of date than the demo's default keeps the test short (fewer daily delta files).
DEMO_AS_OF = date(2025, 2, 28)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[dict, dict]:
    from pipeline.demo_data import generate_demo_data

    root = tmp_path_factory.mktemp("demo")
    landing = root / "landing"
    generate_demo_data(landing, accounts=2000, seed=42, as_of=DEMO_AS_OF)
    published = _run_pipeline(landing, root / "warehouse" / "segments.duckdb", DEMO_AS_OF)
    reference = compute_reference(landing, DEMO_AS_OF)
    assert len(reference["segmented_accounts"]) > 1000
    return published, reference


def test_demo_data_agrees(demo_run):
    published, reference = demo_run
    assert_agree(published["segmented_accounts"], reference["segmented_accounts"], what="segmented_accounts")


def test_demo_product_lines_agree(demo_run):
    _assert_table_agrees(*demo_run, "account_product_lines", ["account_id", "product_line"])


def test_demo_worklist_agrees(demo_run):
    _assert_table_agrees(*demo_run, "collections_worklist", ["account_id"])
