"""The bad-input corpus: small mutations of a clean landing folder, each with the outcome
the data contract (section 1 and 3) and the quarantine rules of segmentation-rules.md
expect.

Expected outcomes:

* ``publishes`` — the run publishes; the bad rows are quarantined with the named reason
  code (or, for a harmless oddity, used as delivered).
* ``stops`` — a file that cannot be accepted: nothing is published, the previous
  publication is intact, and the message names the file, the line or column where
  applicable, and what to do.
* ``ignored_with_warning`` — something outside the contract's naming (or a missing
  optional entity): it is not read, the run publishes, and a warning names it.

A mutation returns `Facts`: what the observation must find (the file and line/column the
message names, the rows that must be quarantined, the warning text, extra checks).
"""

from __future__ import annotations

import csv
import io
import os
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Literal

import duckdb

Expected = Literal["publishes", "stops", "ignored_with_warning"]

BOM = b"\xef\xbb\xbf"
SQL_NAME = "'); drop table x; --"
SQL_COLUMN = '"); DROP TABLE raw.crm__accounts; --'
FAKE_INVOICE = "INV-OUTSIDE-0000001"
FAKE_ACCOUNT = "ACC-FUTURE-0000001"


@dataclass
class Facts:
    """What a mutation did, i.e. what the run must show."""

    file: str | None = None  # landing-relative path the message (stops) or a warning must name
    where: tuple[str, ...] = ()  # further fragments the stop message must contain (line N, a column)
    quarantined: tuple[tuple[str, str, str], ...] = ()  # (source/entity, record_key, reason_code)
    warning: tuple[str, ...] = ()  # fragments one warning must contain (publishes / ignored)
    # (work_db, warehouse) -> problem or None; run only when the run published
    checks: tuple[Callable[[Path, Path], str | None], ...] = ()


@dataclass(frozen=True)
class CaseContext:
    landing: Path
    as_of: date
    outside: Path  # a folder outside the landing folder

    def path(self, rel: str) -> Path:
        return self.landing / rel

    @property
    def day(self) -> str:
        return self.as_of.isoformat()

    @property
    def accounts_rel(self) -> str:
        return f"crm/accounts/{self.day}.csv"

    @property
    def invoices_rel(self) -> str:
        return f"finance/invoices/{self.day}.csv"


@dataclass(frozen=True)
class Case:
    name: str
    expected: Expected
    description: str
    mutate: Callable[[CaseContext], Facts] = field(repr=False)


# --- CSV helpers -----------------------------------------------------------------------


@dataclass
class CsvFile:
    header: list[str]
    rows: list[list[str]]
    bom: bool
    newline: str

    @classmethod
    def read(cls, path: Path) -> "CsvFile":
        data = path.read_bytes()
        bom = data.startswith(BOM)
        text = data[len(BOM):].decode("utf-8") if bom else data.decode("utf-8")
        newline = "\r\n" if "\r\n" in text else "\n"
        records = list(csv.reader(io.StringIO(text, newline="")))
        return cls(records[0], records[1:], bom, newline)

    def col(self, name: str) -> int:
        return [h.strip().lower() for h in self.header].index(name)

    def render(self, delimiter: str = ",") -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator=self.newline)
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return (BOM if self.bom else b"") + buffer.getvalue().encode("utf-8")

    def write(self, path: Path) -> None:
        path.write_bytes(self.render())

    def line_of(self, row_index: int) -> int:
        """1-based physical line where data row `row_index` starts, in the rendered file."""
        data = self.render()
        head = CsvFile(self.header, self.rows[:row_index], self.bom, self.newline).render()
        assert data.startswith(head)
        return head.count(b"\n") + 1


def _active_account_row(f: CsvFile) -> int:
    """A plain active account (no quotes or line breaks in its values)."""
    status = f.col("status")
    for i, row in enumerate(f.rows):
        if (row[status] or "active").lower() == "active" and not any(("\n" in v or '"' in v or "," in v) for v in row):
            return i
    raise RuntimeError("no plain active account in the clean landing folder")


def _newest_invoice(ctx: CaseContext) -> tuple[Path, CsvFile, int]:
    """The newest delivered invoice (an open/paid invoice of a known account)."""
    accounts = CsvFile.read(ctx.path(ctx.accounts_rel))
    ids = {r[accounts.col("account_id")] for r in accounts.rows}
    for path in sorted(ctx.path("finance/invoices").glob("*.csv"), reverse=True):
        f = CsvFile.read(path)
        for i, row in enumerate(f.rows):
            if (
                row[f.col("account_id")] in ids
                and row[f.col("invoice_type")] in ("invoice", "")
                and row[f.col("status")] in ("open", "paid")
                and row[f.col("invoice_id")].startswith("INV-")
                and "9000" not in row[f.col("invoice_id")]
            ):
                return path, f, i
    raise RuntimeError("no invoice in the clean landing folder")


def _rel(ctx: CaseContext, path: Path) -> str:
    return path.relative_to(ctx.landing).as_posix()


def _query(db: Path, sql: str, params: list) -> list[tuple]:
    conn = duckdb.connect(str(db), read_only=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _published_account(account_id: str, name: str | None = None) -> Callable[[Path, Path], str | None]:
    def check(work_db: Path, warehouse: Path) -> str | None:
        rows = _query(warehouse, "select account_name from analytics.segmented_accounts where account_id = ?", [account_id])
        if not rows:
            return f"account {account_id} is not published"
        if name is not None and rows[0][0] != name:
            return f"account {account_id} is published as {rows[0][0][:40]!r}, not as delivered"
        return None

    return check


def _not_read(table: str, column: str, key: str) -> Callable[[Path, Path], str | None]:
    def check(work_db: Path, warehouse: Path) -> str | None:
        rows = _query(work_db, f"select count(*) from raw.{table} where {column} = ?", [key])
        return f"{key} was read into raw.{table}" if rows[0][0] else None

    return check


def _tables_intact(work_db: Path, warehouse: Path) -> str | None:
    tables = {r[0] for r in _query(warehouse, "select table_name from information_schema.tables", [])}
    return None if "segmented_accounts" in tables else "analytics.segmented_accounts is missing"


# --- the mutations -------------------------------------------------------------------


def empty_file(ctx: CaseContext) -> Facts:
    ctx.path(ctx.invoices_rel).write_bytes(b"")
    return Facts(file=ctx.invoices_rel, where=("empty",))


def header_only(ctx: CaseContext) -> Facts:
    path, f, _ = _newest_invoice(ctx)
    f.rows = []
    f.write(path)
    return Facts()


def truncated_last_line(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    line = f.line_of(len(f.rows) - 1)
    data = f.render()
    last_start = data.rstrip(b"\r\n").rfind(b"\n") + 1
    cut = last_start + (len(data.rstrip(b"\r\n")) - last_start) // 2  # half of the last record
    path.write_bytes(data[:cut])
    return Facts(file=ctx.accounts_rel, where=(f"line {line}",))


def latin1_in_utf8(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    i = _active_account_row(f)
    line = f.line_of(i)
    marker = "Zz-LATIN1-MARKER"
    f.rows[i][f.col("account_name")] = marker
    path.write_bytes(f.render().replace(marker.encode(), "Müller Gärten GmbH".encode("latin-1")))
    return Facts(file=ctx.accounts_rel, where=(f"line {line}", "UTF-8"))


def utf16_file(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.invoices_rel)
    text = path.read_bytes().decode("utf-8")
    path.write_bytes(text.encode("utf-16"))
    return Facts(file=ctx.invoices_rel, where=("UTF-16",))


def binary_garbage(ctx: CaseContext) -> Facts:
    rng = random.Random(5)
    garbage = bytes([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + bytes(rng.getrandbits(8) for _ in range(4096))
    ctx.path(ctx.invoices_rel).write_bytes(garbage)
    return Facts(file=ctx.invoices_rel, where=("line 1", "UTF-8"))


def _accounts_to_parquet(ctx: CaseContext, select: str = "*") -> Path:
    source = ctx.path(ctx.accounts_rel)
    target = source.with_suffix(".parquet")
    conn = duckdb.connect()
    try:
        conn.execute(
            f"copy (select {select} from read_csv(?, all_varchar = true, header = true)) to '{target}' (format parquet)",
            [str(source)],
        )
    finally:
        conn.close()
    return target


def parquet_zero_byte(ctx: CaseContext) -> Facts:
    ctx.path(ctx.accounts_rel).unlink()
    ctx.path(ctx.accounts_rel).with_suffix(".parquet").write_bytes(b"")
    rel = ctx.accounts_rel.replace(".csv", ".parquet")
    return Facts(file=rel, where=("empty",))


def parquet_corrupt(ctx: CaseContext) -> Facts:
    target = _accounts_to_parquet(ctx)
    ctx.path(ctx.accounts_rel).unlink()
    data = bytearray(target.read_bytes())
    middle = len(data) // 2
    data[8:middle] = bytes(random.Random(3).getrandbits(8) for _ in range(middle - 8))
    target.write_bytes(bytes(data[: len(data) - 40]) + b"PAR1")
    return Facts(file=target.relative_to(ctx.landing).as_posix(), where=("Parquet",))


def parquet_wrong_type(ctx: CaseContext) -> Facts:
    f = CsvFile.read(ctx.path(ctx.accounts_rel))
    i = _active_account_row(f)
    account_id = f.rows[i][f.col("account_id")]
    # employee_count as a text column (not an integer), one value not a number;
    # created_at as a native timestamp, annual_revenue as a double
    _accounts_to_parquet(
        ctx,
        "* replace (case when account_id = '" + account_id + "' then 'about fifty' else employee_count end "
        "as employee_count, cast(created_at as timestamptz) as created_at, "
        "cast(annual_revenue as double) as annual_revenue)",
    )
    ctx.path(ctx.accounts_rel).unlink()
    return Facts(quarantined=(("crm/accounts", account_id, "invalid_value"),))


def duplicated_header(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    first, second = f.col("account_name") + 1, f.col("industry") + 1
    f.header[second - 1] = "Account_Name"
    f.write(path)
    return Facts(file=ctx.accounts_rel, where=("'account_name' twice", f"columns {first} and {second}"))


def missing_required_column(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    c = f.col("country_code")
    f.header.pop(c)
    for row in f.rows:
        row.pop(c)
    f.write(path)
    return Facts(file=ctx.accounts_rel, where=("country_code",))


def semicolon_separated(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.invoices_rel)
    f = CsvFile.read(path)
    path.write_bytes(f.render(delimiter=";"))
    return Facts(file=ctx.invoices_rel, where=("invoice_id",))


def unterminated_quote(ctx: CaseContext) -> Facts:
    path, f, i = _newest_invoice(ctx)
    line = f.line_of(len(f.rows))
    data = f.render() + b'INV-BROKEN-0001,"ACC-0000001,invoice,2023-03-01\n'
    path.write_bytes(data)
    return Facts(file=_rel(ctx, path), where=("quote",))


def ragged_row(ctx: CaseContext) -> Facts:
    path, f, i = _newest_invoice(ctx)
    line = f.line_of(i)
    f.rows[i].append("extra")
    f.write(path)
    return Facts(file=_rel(ctx, path), where=(f"line {line}",))


def _mutate_invoice(ctx: CaseContext, column: str, value: str, reason: str) -> Facts:
    path, f, i = _newest_invoice(ctx)
    key = f.rows[i][f.col("invoice_id")]
    f.rows[i][f.col(column)] = value
    f.write(path)
    return Facts(quarantined=(("finance/invoices", key, reason),))


def _mutate_account(ctx: CaseContext, column: str, value: str, reason: str | None) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    i = _active_account_row(f)
    key = f.rows[i][f.col("account_id")]
    f.rows[i][f.col(column)] = value
    f.write(path)
    if reason is None:
        return Facts(checks=(_published_account(key, value if column == "account_name" else None),))
    return Facts(quarantined=(("crm/accounts", key, reason),))


def text_in_numeric(ctx: CaseContext) -> Facts:
    return _mutate_invoice(ctx, "total_amount", "twelve hundred", "invalid_value")


def impossible_date(ctx: CaseContext) -> Facts:
    return _mutate_invoice(ctx, "invoice_date", f"{ctx.as_of.year}-02-30", "invalid_value")


def negative_amount(ctx: CaseContext) -> Facts:
    return _mutate_invoice(ctx, "total_amount", "-1250.00", "negative_total_on_invoice")


def far_future_date(ctx: CaseContext) -> Facts:
    return _mutate_account(ctx, "created_at", "9999-12-31T00:00:00Z", "created_after_as_of")


def unknown_country_code(ctx: CaseContext) -> Facts:
    return _mutate_account(ctx, "country_code", "XX", "unknown_country_code")


def missing_mandatory_value(ctx: CaseContext) -> Facts:
    return _mutate_account(ctx, "account_name", "", "missing_mandatory_field")


def one_mb_field(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    i = _active_account_row(f)
    key = f.rows[i][f.col("account_id")]
    f.rows[i][f.col("industry")] = "x" * (1 << 20)
    f.write(path)
    return Facts(checks=(_published_account(key),))


def sql_in_names(ctx: CaseContext) -> Facts:
    facts = _mutate_account(ctx, "account_name", SQL_NAME, None)
    return Facts(checks=(*facts.checks, _tables_intact))


def sql_in_header(ctx: CaseContext) -> Facts:
    path = ctx.path(ctx.accounts_rel)
    f = CsvFile.read(path)
    f.header.append(SQL_COLUMN)
    for row in f.rows:
        row.append("1")
    f.write(path)
    return Facts(file=ctx.accounts_rel, warning=("schema drift", "DROP TABLE"), checks=(_tables_intact,))


def traversal_file_name(ctx: CaseContext) -> Facts:
    name = "..\\..\\..\\etc\\" + ctx.day + ".csv"
    (ctx.path("finance/invoices") / name).write_bytes(ctx.path(ctx.invoices_rel).read_bytes())
    return Facts(file=f"finance/invoices/{name}", warning=("ignored",))


def undated_file_name(ctx: CaseContext) -> Facts:
    (ctx.path("crm/accounts") / "accounts_latest.csv").write_bytes(ctx.path(ctx.accounts_rel).read_bytes())
    return Facts(file="crm/accounts/accounts_latest.csv", warning=("ignored",))


def invalid_date_file_name(ctx: CaseContext) -> Facts:
    name = f"{ctx.as_of.year}-02-30.csv"
    (ctx.path("finance/invoices") / name).write_bytes(ctx.path(ctx.invoices_rel).read_bytes())
    return Facts(file=f"finance/invoices/{name}", warning=("ignored",))


def _fake_invoice_file(ctx: CaseContext, target: Path) -> None:
    f = CsvFile.read(ctx.path(ctx.invoices_rel))
    _, source, i = _newest_invoice(ctx)
    row = list(source.rows[i])
    row[source.col("invoice_id")] = FAKE_INVOICE
    f.rows = [row]
    f.write(target)


def symlink_outside(ctx: CaseContext) -> Facts:
    target = ctx.outside / "invoices.csv"
    _fake_invoice_file(ctx, target)
    day = (date(ctx.as_of.year - 5, 1, 1)).isoformat()
    link = ctx.path(f"finance/invoices/{day}.csv")
    os.symlink(target, link)
    return Facts(
        file=f"finance/invoices/{day}.csv",
        warning=("outside the landing folder",),
        checks=(_not_read("finance__invoices", "invoice_id", FAKE_INVOICE),),
    )


def symlink_entity_dir_outside(ctx: CaseContext) -> Facts:
    """The whole contacts folder (an optional entity) is a symlink leaving the landing folder."""
    target = ctx.outside / "contacts"
    os.rename(ctx.path("crm/contacts"), target)
    os.symlink(target, ctx.path("crm/contacts"))
    return Facts(file="crm/contacts", warning=("outside the landing folder",))


def fifo_extract(ctx: CaseContext) -> Facts:
    day = (date(ctx.as_of.year - 5, 1, 2)).isoformat()
    os.mkfifo(ctx.path(f"finance/invoices/{day}.csv"))
    return Facts(file=f"finance/invoices/{day}.csv", warning=("not a regular file",))


def unknown_entity(ctx: CaseContext) -> Facts:
    folder = ctx.path("crm/leads")
    folder.mkdir()
    (folder / f"{ctx.day}.csv").write_text("lead_id,name\nL1,Someone\n", encoding="utf-8")
    return Facts(file="crm/leads", warning=("unknown entity",))


def unknown_source(ctx: CaseContext) -> Facts:
    folder = ctx.path("marketing/campaigns")
    folder.mkdir(parents=True)
    (folder / f"{ctx.day}.csv").write_text("campaign_id\nC1\n", encoding="utf-8")
    return Facts(file="marketing", warning=("unknown source",))


def stray_file_at_root(ctx: CaseContext) -> Facts:
    ctx.path(f"accounts_{ctx.day}.csv").write_bytes(ctx.path(ctx.accounts_rel).read_bytes())
    return Facts(file=f"accounts_{ctx.day}.csv", warning=("ignored",))


def future_extract(ctx: CaseContext) -> Facts:
    f = CsvFile.read(ctx.path(ctx.accounts_rel))
    row = list(f.rows[_active_account_row(f)])
    row[f.col("account_id")] = FAKE_ACCOUNT
    f.rows.append(row)
    f.write(ctx.path(f"crm/accounts/{(ctx.as_of + timedelta(days=10)).isoformat()}.csv"))
    return Facts(checks=(_not_read("crm__accounts", "account_id", FAKE_ACCOUNT),))


def same_date_csv_and_parquet(ctx: CaseContext) -> Facts:
    _accounts_to_parquet(ctx)
    return Facts(file=ctx.accounts_rel, where=(ctx.accounts_rel.replace(".csv", ".parquet"), "same date"))


def missing_required_entity(ctx: CaseContext) -> Facts:
    for p in ctx.path("crm/accounts").iterdir():
        p.unlink()
    return Facts(file="crm/accounts", where=(ctx.day,))


def missing_optional_entity(ctx: CaseContext) -> Facts:
    for p in ctx.path("crm/opportunities").iterdir():
        p.unlink()
    return Facts(file="crm/opportunities", warning=("optional",))


def stale_extract(ctx: CaseContext) -> Facts:
    day = (ctx.as_of - timedelta(days=3)).isoformat()
    os.rename(ctx.path(ctx.accounts_rel), ctx.path(f"crm/accounts/{day}.csv"))
    return Facts(file=f"crm/accounts/{day}.csv", warning=("days old",))


def bom_crlf(ctx: CaseContext) -> Facts:
    path, f, _ = _newest_invoice(ctx)
    f.bom, f.newline = True, "\r\n"
    f.write(path)
    return Facts()


def duplicate_key_in_delta(ctx: CaseContext) -> Facts:
    path, f, i = _newest_invoice(ctx)
    key = f.rows[i][f.col("invoice_id")]
    f.rows.append(list(f.rows[i]))
    f.write(path)
    return Facts(quarantined=(("finance/invoices", key, "duplicate_key"),))


CASES: tuple[Case, ...] = (
    Case("empty_file", "stops", "a zero-byte CSV (finance/invoices of the as-of date)", empty_file),
    Case("header_only", "publishes", "the newest invoices delta has its header only: a valid empty extract", header_only),
    Case("truncated_last_line", "stops", "crm/accounts cut in the middle of its last record", truncated_last_line),
    Case("latin1_in_utf8", "stops", "Latin-1 bytes (ü, ä) in an account name of a UTF-8 file", latin1_in_utf8),
    Case("utf16_file", "stops", "an invoices extract re-encoded as UTF-16", utf16_file),
    Case("binary_garbage", "stops", "an invoices .csv holding random binary bytes", binary_garbage),
    Case("parquet_zero_byte", "stops", "crm/accounts delivered as a zero-byte .parquet", parquet_zero_byte),
    Case("parquet_corrupt", "stops", "crm/accounts as a .parquet with corrupted pages and footer", parquet_corrupt),
    Case("parquet_wrong_type", "publishes", "crm/accounts Parquet: employee_count as text ('about fifty' once)",
         parquet_wrong_type),
    Case("duplicated_header", "stops", "crm/accounts names account_name twice (case differs)", duplicated_header),
    Case("missing_required_column", "stops", "crm/accounts without its country_code column", missing_required_column),
    Case("semicolon_separated", "stops", "an invoices extract separated by ';'", semicolon_separated),
    Case("unterminated_quote", "stops", "an invoices extract whose last record opens a quote it never closes",
         unterminated_quote),
    Case("ragged_row", "stops", "an invoices record with one field more than the header", ragged_row),
    Case("text_in_numeric", "publishes", "total_amount 'twelve hundred' on an invoice", text_in_numeric),
    Case("impossible_date", "publishes", "invoice_date YYYY-02-30 on an invoice", impossible_date),
    Case("far_future_date", "publishes", "an account created on 9999-12-31", far_future_date),
    Case("negative_amount", "publishes", "a negative total on an invoice (not a credit note)", negative_amount),
    Case("unknown_country_code", "publishes", "an account with country code 'XX'", unknown_country_code),
    Case("missing_mandatory_value", "publishes", "an account with an empty account_name", missing_mandatory_value),
    Case("duplicate_key_in_delta", "publishes", "an invoice twice in the same delta file", duplicate_key_in_delta),
    Case("one_mb_field", "publishes", "a 1 MiB industry text on an account", one_mb_field),
    Case("sql_in_names", "publishes", f"account_name {SQL_NAME!r}: published verbatim", sql_in_names),
    Case("sql_in_header", "ignored_with_warning", f"an extra column named {SQL_COLUMN!r} in crm/accounts",
         sql_in_header),
    Case("bom_crlf", "publishes", "an invoices extract with a UTF-8 BOM and CRLF line ends (allowed)", bom_crlf),
    Case("traversal_file_name", "ignored_with_warning", "a file named ..\\..\\..\\etc\\<date>.csv in finance/invoices",
         traversal_file_name),
    Case("undated_file_name", "ignored_with_warning", "crm/accounts/accounts_latest.csv", undated_file_name),
    Case("invalid_date_file_name", "ignored_with_warning", "finance/invoices/YYYY-02-30.csv", invalid_date_file_name),
    Case("symlink_outside", "ignored_with_warning", "a dated invoices extract that is a symlink to a file outside",
         symlink_outside),
    Case("symlink_entity_dir_outside", "ignored_with_warning", "crm/contacts is a symlink to a folder outside",
         symlink_entity_dir_outside),
    Case("fifo_extract", "ignored_with_warning", "a named pipe with an extract's name", fifo_extract),
    Case("unknown_entity", "ignored_with_warning", "crm/leads/<date>.csv: an entity the contract does not know",
         unknown_entity),
    Case("unknown_source", "ignored_with_warning", "marketing/campaigns/<date>.csv: an unknown source", unknown_source),
    Case("stray_file_at_root", "ignored_with_warning", "accounts_<date>.csv dropped at the landing root",
         stray_file_at_root),
    Case("future_extract", "publishes", "crm/accounts dated 10 days after the as-of date (with an extra account): "
         "not read", future_extract),
    Case("same_date_csv_and_parquet", "stops", "crm/accounts as .csv and .parquet of the same date",
         same_date_csv_and_parquet),
    Case("missing_required_entity", "stops", "no crm/accounts extract at all", missing_required_entity),
    Case("missing_optional_entity", "ignored_with_warning", "no crm/opportunities extract: reads as empty",
         missing_optional_entity),
    Case("stale_extract", "publishes", "the newest crm/accounts is 3 days old: freshness warning", stale_extract),
)

# about 8 cases covering each outcome kind: what the test suite runs
REPRESENTATIVE: tuple[str, ...] = (
    "empty_file",
    "latin1_in_utf8",
    "missing_required_column",
    "same_date_csv_and_parquet",
    "text_in_numeric",
    "sql_in_names",
    "unknown_entity",
    "symlink_outside",
)


def select_cases(names: list[str] | None = None, full: bool = False) -> list[Case]:
    by_name = {c.name: c for c in CASES}
    if names:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise KeyError(f"unknown case(s): {', '.join(unknown)} (known: {', '.join(by_name)})")
        return [by_name[n] for n in names]
    if full:
        return list(CASES)
    return [by_name[n] for n in REPRESENTATIVE]
