"""The landing-folder reader and raw loader: real files, real DuckDB, in tmp_path."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipeline.config.sources import entity_spec
from pipeline.ingest import (
    LandingError,
    LoadResult,
    discover,
    load_entity,
    scan_landing,
)

AS_OF = date(2026, 11, 22)
ACCOUNTS = entity_spec("crm", "accounts")
CONTACTS = entity_spec("crm", "contacts")
INVOICES = entity_spec("finance", "invoices")
SCORES = entity_spec("bureau", "company_scores")
OVERRIDES = entity_spec("manual", "overrides")

ACCOUNTS_HEADER = "account_id,account_name,country_code,created_at"


@pytest.fixture
def conn():
    connection = duckdb.connect()
    connection.execute("SET threads = 4")
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


def write(landing: Path, rel: str, content: str | bytes) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def load(conn, landing: Path, spec=ACCOUNTS, as_of: date = AS_OF, **kwargs) -> LoadResult:
    return load_entity(conn, spec, discover(landing, as_of, spec, **kwargs))


def rows(conn, spec=ACCOUNTS, columns: str = "*", order: str = "_file_name, _row_number") -> list[tuple]:
    return conn.execute(f"SELECT {columns} FROM raw.{spec.name} ORDER BY {order}").fetchall()


# --- CSV dialect ---------------------------------------------------------------------


def test_bom_crlf_quoting_and_values_as_delivered(conn, landing):
    content = (
        "\ufeffaccount_id,account_name,country_code,created_at,industry\r\n"
        'A1,"Acme, Inc.",DE,2026-01-01T10:00:00,"multi\r\nline"\r\n'
        'A2,"He said ""hi""",FR,2026-01-02,  padded  \r\n'
        'A3,,"",2026-01-03,\r\n'
    )
    write(landing, "crm/accounts/2026-11-22.csv", content)
    result = load(conn, landing)
    assert result.rows == 3
    got = rows(conn, columns="account_id, account_name, country_code, created_at, industry, _row_number")
    assert got == [
        ("A1", "Acme, Inc.", "DE", "2026-01-01T10:00:00", "multi\r\nline", 1),
        ("A2", 'He said "hi"', "FR", "2026-01-02", "  padded  ", 2),  # not trimmed
        ("A3", None, None, "2026-01-03", None, 3),  # empty field and "" are null
    ]
    # the BOM did not end up in the first column name
    assert result.files[0].drift_columns == ()


def test_lf_and_quoted_newline_row_numbers(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f'{ACCOUNTS_HEADER}\nA1,"x\ny",DE,2026-01-01\nA2,b,FR,2026-01-02\n')
    load(conn, landing)
    assert rows(conn, columns="account_id, account_name, _row_number") == [("A1", "x\ny", 1), ("A2", "b", 2)]


def test_row_numbers_follow_file_order_at_scale(conn, landing):
    n = 200_000
    body = "".join(f"A{i},name {i},DE,2026-01-01\n" for i in range(1, n + 1))
    write(landing, "crm/accounts/2026-11-22.csv", ACCOUNTS_HEADER + "\n" + body)
    result = load(conn, landing)
    assert result.rows == n
    mismatched = conn.execute(
        "SELECT count(*) FROM raw.crm__accounts WHERE account_id <> 'A' || _row_number"
    ).fetchone()[0]
    assert mismatched == 0


def test_row_numbers_of_delta_files_read_in_one_scan(conn, landing):
    """Quote-free files of one layout are read together; a file whose rows differ from its
    line count (a blank line) sends the batch back to file-by-file reading, and every
    file's row numbers still follow its own lines."""
    header = "invoice_id,account_id,invoice_date,due_date,currency,total_amount\n"
    expected = {}
    for day in range(1, 13):
        name = f"finance/invoices/2026-11-{day:02d}.csv"
        lines = [f"I{day}-{i},A1,2026-11-{day:02d},2026-12-01,EUR,{i}" for i in range(1, 4 + day)]
        body = "\n".join(lines) + "\n"
        if day == 5:  # a blank line: one row fewer than the file has lines
            body = "\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n"
        write(landing, name, header + body)
        expected[name] = [(line.split(",")[0], number) for number, line in enumerate(lines, start=1)]
    load(conn, landing, spec=INVOICES)
    for name, rows_of_file in expected.items():
        got = conn.execute(
            "SELECT invoice_id, _row_number FROM raw.finance__invoices WHERE _file_name = ? ORDER BY _row_number",
            [name],
        ).fetchall()
        if name.endswith("-05.csv"):  # the row after the blank line is on the file's 4th data line
            assert [row[0] for row in got] == [row[0] for row in rows_of_file]
            assert [row[1] for row in got][:2] == [1, 2]
        else:
            assert got == rows_of_file, name


def test_parallel_scans_load_what_one_connection_loads(conn, landing, tmp_path):
    """Many delta files are read by several connections at once (parts of a batch in
    parallel): the raw table, row numbers included, is the one a single-threaded load
    (one scan after another) builds. A file that
    fails in one of the parallel scans is reported by name and leaves neither rows nor
    the loading table behind."""
    header = "invoice_id,account_id,invoice_date,due_date,currency,total_amount\n"
    for day in range(1, 31):
        lines = [f"I{day}-{i},A{i % 7},2026-11-{day:02d},2026-12-01,EUR,{i}" for i in range(1, 2 + (day * 7) % 23)]
        write(landing, f"finance/invoices/2026-11-{day:02d}.csv", header + "\n".join(lines) + "\n")
    parallel = load(conn, landing, spec=INVOICES, as_of=date(2026, 11, 30))
    sequential_conn = duckdb.connect()
    sequential_conn.execute("SET threads = 1")  # one connection, one scan after another
    sequential = load(sequential_conn, landing, spec=INVOICES, as_of=date(2026, 11, 30))
    assert rows(conn, INVOICES) == rows(sequential_conn, INVOICES)
    assert [f.rows for f in parallel.files] == [f.rows for f in sequential.files]
    assert sum(f.rows for f in parallel.files) == conn.execute("SELECT count(*) FROM raw.finance__invoices").fetchone()[0]

    before = rows(conn, INVOICES)
    write(landing, "finance/invoices/2026-12-01.csv", header + "I99,A1,2026-12-01,2026-12-31,EUR,1,extra\n")
    for day in range(2, 9):
        write(landing, f"finance/invoices/2026-12-{day:02d}.csv", header + f"J{day},A1,2026-12-{day:02d},2026-12-31,EUR,1\n")
    with pytest.raises(LandingError, match=r"finance/invoices/2026-12-01\.csv: cannot be read as CSV at line 2"):
        load(conn, landing, spec=INVOICES, as_of=date(2026, 12, 8))
    assert rows(conn, INVOICES) == before
    assert conn.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%loading%'").fetchone()[0] == 0


def test_headers_case_insensitive_reordered_and_trimmed(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", " Created_At ,COUNTRY_CODE,Account_Name, ACCOUNT_ID\n2026-01-01,DE,Acme,A1\n")
    result = load(conn, landing)
    assert rows(conn, columns="account_id, account_name, country_code, created_at") == [("A1", "Acme", "DE", "2026-01-01")]
    assert result.files[0].drift_columns == ()


def test_raw_table_layout(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nA1,Acme,DE,2026-01-01\n")
    load(conn, landing)
    described = conn.execute("DESCRIBE raw.crm__accounts").fetchall()
    assert [(r[0], r[1]) for r in described] == [(c, "VARCHAR") for c in ACCOUNTS.columns] + [
        ("_file_name", "VARCHAR"),
        ("_extract_date", "DATE"),
        ("_row_number", "BIGINT"),
    ]
    assert rows(conn, columns="_file_name, _extract_date") == [("crm/accounts/2026-11-22.csv", AS_OF)]


def test_extra_column_is_dropped_and_reported_as_drift(conn, landing):
    header = ACCOUNTS_HEADER + ',segment_hint,"we""ird",x\'); DROP TABLE raw.crm__accounts; --'
    write(landing, "crm/accounts/2026-11-22.csv", f'{header}\nA1,Acme,DE,2026-01-01,gold,q,z\n')
    result = load(conn, landing)
    drift = ("segment_hint", 'we"ird', "x'); DROP TABLE raw.crm__accounts; --")
    assert result.files[0].drift_columns == drift
    [warning] = [w for w in result.warnings if w.kind == "schema_drift"]
    assert warning.paths == ("crm/accounts/2026-11-22.csv",)
    assert warning.columns == drift
    assert "crm/accounts/2026-11-22.csv" in warning.message and "segment_hint" in warning.message
    assert [r[0] for r in conn.execute("DESCRIBE raw.crm__accounts").fetchall()][-4:-3] == ["created_at"]
    assert rows(conn, columns="account_id") == [("A1",)]


def test_missing_optional_column_reads_as_null(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nA1,Acme,DE,2026-01-01\n")
    result = load(conn, landing)
    assert rows(conn, columns="owner_id, status, industry") == [(None, None, None)]
    assert "owner_id" in result.files[0].missing_columns


def test_missing_required_column_names_file_and_column(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", "account_id,account_name,created_at\nA1,Acme,2026-01-01\n")
    with pytest.raises(LandingError) as info:
        load(conn, landing)
    assert "crm/accounts/2026-11-22.csv" in str(info.value)
    assert "'country_code'" in str(info.value)
    assert info.value.columns == ("country_code",)
    assert info.value.file == "crm/accounts/2026-11-22.csv"


def test_duplicated_header_is_refused(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER},Account_ID\nA1,Acme,DE,2026-01-01,A2\n")
    with pytest.raises(LandingError, match=r"crm/accounts/2026-11-22\.csv: the header names the column 'account_id' twice"):
        load(conn, landing)


def test_not_utf8_names_file_and_line(conn, landing):
    content = f"{ACCOUNTS_HEADER}\nA1,Acme,DE,2026-01-01\nA2,Caf\xe9 M\xfcller,DE,2026-01-01\n".encode("latin-1")
    write(landing, "crm/accounts/2026-11-22.csv", content)
    with pytest.raises(LandingError) as info:
        load(conn, landing)
    message = str(info.value)
    assert message.startswith("crm/accounts/2026-11-22.csv: not valid UTF-8 at line 3")
    assert "UTF-8" in message and info.value.line == 3


def test_row_with_wrong_field_count_names_line(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nA1,Acme,DE,2026-01-01\nA2,Acme, Inc.,DE,2026-01-01\n")
    with pytest.raises(LandingError) as info:
        load(conn, landing)
    assert info.value.line == 3
    assert "crm/accounts/2026-11-22.csv: cannot be read as CSV at line 3" in str(info.value)
    assert "5 fields where the header has 4" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_unterminated_quote_and_mixed_line_endings(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f'{ACCOUNTS_HEADER}\nA1,"Acme,DE,2026-01-01\nA2,b,DE,2026-01-01\n')
    with pytest.raises(LandingError, match=r"cannot be read as CSV at line 2: a quoted field is not closed"):
        load(conn, landing)
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\r\nA1,a,DE,2026-01-01\r\nA2,b,DE,2026-01-01\nA3,c,DE,2026-01-01\r\n")
    with pytest.raises(LandingError, match=r"mixes CRLF and LF"):
        load(conn, landing)


def test_empty_file_and_header_only_file(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", b"")
    with pytest.raises(LandingError, match=r"crm/accounts/2026-11-22\.csv: the file is empty"):
        load(conn, landing)
    write(landing, "crm/accounts/2026-11-22.csv", ACCOUNTS_HEADER + "\r\n")
    assert load(conn, landing).rows == 0


# --- Parquet ---------------------------------------------------------------------------


def test_parquet_native_types_give_the_same_raw_values_as_csv(conn, landing):
    write(
        landing,
        "crm/accounts/2026-11-21.csv",
        "account_id,account_name,country_code,created_at,employee_count,annual_revenue,is_strategic\n"
        "A1,Acme,DE,2026-01-02T03:04:05,12,1234.50,true\n"
        "A2,Beta,FR,2026-01-03T00:00:00.25,,0.00,false\n",
    )
    parquet = landing / "crm" / "accounts" / "2026-11-22.parquet"
    conn.execute(
        f"""COPY (SELECT * FROM (VALUES
              ('A1', 'Acme', 'DE', TIMESTAMP '2026-01-02 03:04:05', 12, 1234.50::DECIMAL(18,2), true),
              ('A2', 'Beta', 'FR', TIMESTAMP '2026-01-03 00:00:00.25', NULL, 0::DECIMAL(18,2), false))
            AS t("Account_ID", account_name, country_code, created_at, employee_count, annual_revenue, is_strategic))
           TO '{parquet}' (FORMAT parquet)"""
    )
    load(conn, landing, as_of=date(2026, 11, 21))
    from_csv = rows(conn, columns=", ".join(ACCOUNTS.columns) + ", _row_number")
    result = load(conn, landing)
    from_parquet = rows(conn, columns=", ".join(ACCOUNTS.columns) + ", _row_number")
    assert from_parquet == from_csv
    assert result.files[0].format == "parquet"
    assert result.files[0].sha256 == hashlib.sha256(parquet.read_bytes()).hexdigest()


def test_parquet_timestamptz_doubles_and_dates_as_text(conn, landing):
    conn.execute("SET TimeZone = 'America/New_York'")
    parquet = landing / "finance" / "invoices" / "2026-11-22.parquet"
    parquet.parent.mkdir(parents=True)
    conn.execute(
        f"""COPY (SELECT * FROM (VALUES
              ('I1', 'A1', DATE '2026-01-31', 'EUR', 10.5::DOUBLE, 0.00001::DOUBLE, TIMESTAMPTZ '2026-01-02 03:04:05+02', 30),
              ('I2', 'A1', DATE '2026-02-01', 'EUR', 1e16::DOUBLE, 0.02::DOUBLE, NULL, 0))
            AS t(invoice_id, account_id, invoice_date, currency, total_amount, early_payment_discount_pct,
                 dispute_opened_at, payment_terms_days))
           TO '{parquet}' (FORMAT parquet)"""
    )
    load(conn, landing, spec=INVOICES)
    got = rows(
        conn,
        INVOICES,
        "invoice_id, invoice_date, total_amount, early_payment_discount_pct, dispute_opened_at, payment_terms_days, _row_number",
    )
    assert got == [
        ("I1", "2026-01-31", "10.5", "0.00001", "2026-01-02T01:04:05+00:00", "30", 1),
        ("I2", "2026-02-01", "10000000000000000", "0.02", None, "0", 2),
    ]


def test_zero_byte_and_corrupt_parquet_are_refused(conn, landing):
    write(landing, "crm/accounts/2026-11-22.parquet", b"")
    with pytest.raises(LandingError, match=r"crm/accounts/2026-11-22\.parquet: the file is empty"):
        load(conn, landing)
    write(landing, "crm/accounts/2026-11-22.parquet", b"PAR1 this is not parquet at all PAR1")
    with pytest.raises(LandingError, match=r"crm/accounts/2026-11-22\.parquet: cannot be read as a Parquet file"):
        load(conn, landing)


def test_parquet_duplicate_and_missing_columns(conn, landing):
    parquet = landing / "crm" / "accounts" / "2026-11-22.parquet"
    parquet.parent.mkdir(parents=True)
    conn.execute(
        f"""COPY (SELECT 'A1' AS account_id, 'Acme' AS account_name, '2026-01-01' AS created_at, 'x' AS "we""ird")
           TO '{parquet}' (FORMAT parquet)"""
    )
    with pytest.raises(LandingError, match=r"2026-11-22\.parquet: the required column 'country_code' is missing"):
        load(conn, landing)
    conn.execute(
        f"""COPY (SELECT 'A1' AS account_id, 'Acme' AS account_name, 'DE' AS country_code,
                  '2026-01-01' AS created_at, 'x' AS "we""ird") TO '{parquet}' (FORMAT parquet)"""
    )
    result = load(conn, landing)
    assert result.files[0].drift_columns == ('we"ird',)
    assert rows(conn, columns="account_id, country_code, _row_number") == [("A1", "DE", 1)]


# --- selection -----------------------------------------------------------------------


def test_snapshot_uses_newest_file_on_or_before_as_of(conn, landing):
    write(landing, "crm/accounts/2026-11-20.csv", f"{ACCOUNTS_HEADER}\nOLD,a,DE,2026-01-01\n")
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nNEW,a,DE,2026-01-01\n")
    write(landing, "crm/accounts/2026-11-23.csv", f"{ACCOUNTS_HEADER}\nLATER,a,DE,2026-01-01\n")
    selection = discover(landing, AS_OF, ACCOUNTS)
    assert [f.relative_path for f in selection.files] == ["crm/accounts/2026-11-22.csv"]
    assert [f.relative_path for f in selection.future_files] == ["crm/accounts/2026-11-23.csv"]
    assert [n.severity for n in selection.notes] == ["info"]
    assert selection.warnings == ()
    result = load_entity(conn, ACCOUNTS, selection)
    assert rows(conn, columns="account_id") == [("NEW",)]
    assert result.ignored_later_files == ("crm/accounts/2026-11-23.csv",)
    assert result.superseded_files == ("crm/accounts/2026-11-20.csv",)


def test_delta_keeps_every_row_of_every_file_on_or_before_as_of(conn, landing):
    header = "invoice_id,account_id,invoice_date,currency,total_amount,status"
    write(landing, "finance/invoices/2026-11-20.csv", f"{header}\nI1,A1,2026-11-20,EUR,10,open\nI2,A1,2026-11-20,EUR,5,open\n")
    write(landing, "finance/invoices/2026-11-21.csv", f"{header}\nI1,A1,2026-11-20,EUR,10,paid\n")
    write(landing, "finance/invoices/2026-11-23.csv", f"{header}\nI1,A1,2026-11-20,EUR,10,void\n")
    result = load(conn, landing, spec=INVOICES)
    assert result.rows == 3
    assert [(f.relative_path, f.rows) for f in result.files] == [
        ("finance/invoices/2026-11-20.csv", 2),
        ("finance/invoices/2026-11-21.csv", 1),
    ]
    assert rows(conn, INVOICES, "invoice_id, status, _extract_date, _row_number") == [
        ("I1", "open", date(2026, 11, 20), 1),
        ("I2", "open", date(2026, 11, 20), 2),
        ("I1", "paid", date(2026, 11, 21), 1),
    ]


def test_same_date_csv_and_parquet_is_refused_naming_both(conn, landing):
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nA1,a,DE,2026-01-01\n")
    write(landing, "crm/accounts/2026-11-22.parquet", b"whatever")
    with pytest.raises(LandingError) as info:
        discover(landing, AS_OF, ACCOUNTS)
    assert "crm/accounts/2026-11-22.csv" in str(info.value)
    assert "crm/accounts/2026-11-22.parquet" in str(info.value)
    assert set(info.value.files) == {"crm/accounts/2026-11-22.csv", "crm/accounts/2026-11-22.parquet"}


def test_missing_required_entity_stops_the_run(landing):
    write(landing, "finance/invoices/2026-11-23.csv", "invoice_id\n")
    with pytest.raises(LandingError) as info:
        discover(landing, AS_OF, INVOICES)
    message = str(info.value)
    assert message.startswith("no extract for finance/invoices dated on or before 2026-11-22 in ")
    assert str(landing / "finance" / "invoices") in message
    assert "2026-11-23.csv" in message  # the later extract is mentioned
    assert message.endswith("deliver one or run with an earlier --as-of")


def test_missing_optional_entity_reads_as_empty_with_warning(conn, landing):
    result = load(conn, landing, spec=CONTACTS)
    assert result.rows == 0 and result.files == ()
    assert [w.kind for w in result.warnings] == ["missing_optional_entity"]
    assert "crm/contacts" in result.warnings[0].message
    assert rows(conn, CONTACTS) == []
    assert [r[0] for r in conn.execute("DESCRIBE raw.crm__contacts").fetchall()] == [*CONTACTS.columns, "_file_name", "_extract_date", "_row_number"]


def test_overrides_absent_default_and_explicit(conn, landing, tmp_path):
    result = load(conn, landing, spec=OVERRIDES)
    assert result.rows == 0
    assert [w.kind for w in result.warnings] == ["missing_overrides"]

    write(landing, "overrides.csv", "ACCOUNT_ID,dimension,segment,reason\nA1,value_tier,key,CFO request\n")
    result = load(conn, landing, spec=OVERRIDES)
    assert result.warnings == ()
    assert rows(conn, OVERRIDES, "account_id, dimension, segment, reason, owner, _file_name, _extract_date, _row_number") == [
        ("A1", "value_tier", "key", "CFO request", None, "overrides.csv", None, 1)
    ]

    elsewhere = tmp_path / "config" / "my overrides.csv"
    elsewhere.parent.mkdir()
    elsewhere.write_text("account_id,dimension,segment\nA2,risk,high\n", encoding="utf-8")
    result = load(conn, landing, spec=OVERRIDES, overrides_file=elsewhere)
    assert rows(conn, OVERRIDES, "account_id, _file_name") == [("A2", str(elsewhere.resolve()))]

    result = load(conn, landing, spec=OVERRIDES, overrides_file=tmp_path / "nope.csv")
    assert result.rows == 0 and [w.kind for w in result.warnings] == ["missing_overrides"]


def test_freshness_warning(conn, landing):
    write(landing, "crm/accounts/2026-11-19.csv", f"{ACCOUNTS_HEADER}\nA1,a,DE,2026-01-01\n")
    result = load(conn, landing)
    [warning] = result.warnings
    assert warning.kind == "stale_extract"
    assert "3 days old" in warning.message and "at most 1" in warning.message
    assert result.is_stale and result.extract_age_days == 3
    # the bureau is allowed 35 days
    header = "bureau_ref,country_code,report_date"
    write(landing, "bureau/company_scores/2026-10-25.csv", f"{header}\nB1,DE,2026-10-20\n")
    assert load(conn, landing, spec=SCORES).warnings == ()
    assert not load(conn, landing, spec=SCORES, as_of=date(2026, 11, 29)).is_stale  # exactly 35 days
    result = load(conn, landing, spec=SCORES, as_of=date(2026, 11, 30))
    assert result.is_stale and "36 days old" in result.warnings[0].message


def test_files_outside_the_contract_are_ignored_with_warnings(conn, landing, tmp_path):
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nA1,a,DE,2026-01-01\n")
    write(landing, "crm/accounts/accounts_latest.csv", "junk")
    write(landing, "crm/accounts/2026-02-30.csv", "junk")
    write(landing, "crm/accounts/2026-11-21.xlsx", "junk")
    write(landing, "crm/accounts/archive/2026-11-01.csv", "junk")
    write(landing, "crm/leads/2026-11-22.csv", "junk")
    write(landing, "marketing/campaigns/2026-11-22.csv", "junk")
    write(landing, "README.txt", "junk")
    write(landing, "overrides.csv", "account_id,dimension,segment\n")
    outside = tmp_path / "outside" / "2026-11-20.csv"
    outside.parent.mkdir()
    outside.write_text(f"{ACCOUNTS_HEADER}\nEVIL,a,DE,2026-01-01\n", encoding="utf-8")
    (landing / "crm" / "contacts").mkdir(parents=True)
    (landing / "crm" / "contacts" / "2026-11-22.csv").symlink_to(outside)

    selection = discover(landing, AS_OF, ACCOUNTS)
    assert [f.relative_path for f in selection.files] == ["crm/accounts/2026-11-22.csv"]
    assert {w.paths[0]: w.kind for w in selection.warnings} == {
        "crm/accounts/2026-02-30.csv": "bad_file_name",
        "crm/accounts/2026-11-21.xlsx": "bad_file_name",
        "crm/accounts/accounts_latest.csv": "bad_file_name",
        "crm/accounts/archive": "unexpected_directory",
    }

    by_path = {w.paths[0]: w.kind for w in scan_landing(landing, AS_OF)}
    assert by_path == {
        "README.txt": "unexpected_file",
        "crm/accounts/2026-02-30.csv": "bad_file_name",
        "crm/accounts/2026-11-21.xlsx": "bad_file_name",
        "crm/accounts/accounts_latest.csv": "bad_file_name",
        "crm/accounts/archive": "unexpected_directory",
        "crm/contacts/2026-11-22.csv": "outside_landing",
        "crm/leads": "unknown_entity",
        "marketing": "unknown_source",
    }

    # the symlink escaping the landing folder is never read
    contacts = load(conn, landing, spec=CONTACTS)
    assert contacts.rows == 0
    assert {w.kind for w in contacts.warnings} == {"outside_landing", "missing_optional_entity"}


# --- untrusted names, atomicity, metadata ----------------------------------------------


def test_landing_path_with_quote_and_glob_characters(conn, tmp_path):
    landing = tmp_path / "it's [landing]*?"
    decoy = tmp_path / "it's landing"  # matched by the same path read as a glob pattern
    for root, account in ((landing, "REAL"), (decoy, "DECOY")):
        write(root, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\n{account},a,DE,2026-01-01\n")
    result = load(conn, landing)
    assert rows(conn, columns="account_id, _file_name") == [("REAL", "crm/accounts/2026-11-22.csv")]
    assert result.rows == 1


def test_failed_load_keeps_the_previous_raw_table(conn, landing):
    write(landing, "crm/accounts/2026-11-21.csv", f"{ACCOUNTS_HEADER}\nA1,a,DE,2026-01-01\n")
    load(conn, landing, as_of=date(2026, 11, 21))
    header = "invoice_id,account_id,invoice_date,currency,total_amount"
    write(landing, "crm/accounts/2026-11-22.csv", f"{ACCOUNTS_HEADER}\nA2,a,DE,2026-01-01\nA3,b\n")
    with pytest.raises(LandingError):
        load(conn, landing)
    assert rows(conn, columns="account_id") == [("A1",)]
    # a delta whose second file is broken leaves nothing half-loaded either
    write(landing, "finance/invoices/2026-11-20.csv", f"{header}\nI1,A1,2026-11-20,EUR,1\n")
    load(conn, landing, spec=INVOICES)
    write(landing, "finance/invoices/2026-11-21.csv", f"{header}\nI2,A1,2026-11-21,EUR,1,extra\n")
    with pytest.raises(LandingError, match=r"finance/invoices/2026-11-21\.csv: cannot be read as CSV at line 2"):
        load(conn, landing, spec=INVOICES)
    assert rows(conn, INVOICES, "invoice_id") == [("I1",)]


def test_hashes_row_counts_and_metadata(conn, landing):
    header = "invoice_id,account_id,invoice_date,currency,total_amount,mystery"
    first = write(landing, "finance/invoices/2026-11-21.csv", f"{header}\nI1,A1,2026-11-20,EUR,10,x\nI2,A1,2026-11-20,EUR,5,y\n")
    second = write(landing, "finance/invoices/2026-11-22.csv", f"{header}\nI3,A1,2026-11-22,EUR,7,z\n")
    write(landing, "finance/invoices/2026-11-23.csv", f"{header}\nI4,A1,2026-11-23,EUR,7,z\n")
    result = load(conn, landing, spec=INVOICES)
    assert [(f.rows, f.sha256) for f in result.files] == [
        (2, hashlib.sha256(first.read_bytes()).hexdigest()),
        (1, hashlib.sha256(second.read_bytes()).hexdigest()),
    ]
    metadata = result.as_metadata()
    assert json.loads(json.dumps(metadata)) == metadata
    assert metadata["table"] == "raw.finance__invoices"
    assert metadata["rows"] == 3 and metadata["file_count"] == 2
    assert metadata["newest_extract_date"] == "2026-11-22" and metadata["stale"] is False
    assert metadata["ignored_later_files"] == ["finance/invoices/2026-11-23.csv"]
    assert metadata["drift_columns"] == ["mystery"]
    [drift] = [w for w in result.warnings if w.kind == "schema_drift"]
    assert drift.paths == ("finance/invoices/2026-11-21.csv", "finance/invoices/2026-11-22.csv")
    assert metadata["files"][0] == {
        "path": "finance/invoices/2026-11-21.csv",
        "extract_date": "2026-11-21",
        "format": "csv",
        "rows": 2,
        "sha256": hashlib.sha256(first.read_bytes()).hexdigest(),
        "size_bytes": first.stat().st_size,
        "drift_columns": ["mystery"],
        "missing_columns": list(result.files[0].missing_columns),
    }


def test_next_night_reuses_unchanged_files_and_equals_a_full_load(conn, landing, tmp_path):
    header = "invoice_id,account_id,invoice_date,currency,total_amount"
    for day in (18, 19, 20):
        write(landing, f"finance/invoices/2026-11-{day}.csv", f"{header}\nI{day},A1,2026-11-{day},EUR,{day}.00\n")
    first = load(conn, landing, INVOICES, as_of=date(2026, 11, 20))
    assert (first.reused_files, len(first.files)) == (0, 3)

    # one more night: only the new file is read
    write(landing, "finance/invoices/2026-11-21.csv", f"{header}\nI21,A1,2026-11-21,EUR,21.00\nI18,A1,2026-11-18,EUR,1.00\n")
    second = load(conn, landing, INVOICES, as_of=date(2026, 11, 21))
    assert (second.reused_files, len(second.files)) == (3, 4)
    assert [f.as_dict() for f in second.files][:3] == [f.as_dict() for f in first.files]

    # a file delivered again with other content is read again
    write(landing, "finance/invoices/2026-11-19.csv", f"{header}\nI19,A1,2026-11-19,EUR,190.00\nI19b,A1,2026-11-19,EUR,5.00\n")
    third = load(conn, landing, INVOICES, as_of=date(2026, 11, 21))
    assert third.reused_files == 3
    incremental = rows(conn, INVOICES)

    fresh = duckdb.connect()
    try:
        full = load(fresh, landing, INVOICES, as_of=date(2026, 11, 21))
        assert rows(fresh, INVOICES) == incremental
        assert [f.as_dict() for f in full.files] == [f.as_dict() for f in third.files]
    finally:
        fresh.close()

    # an older as-of date (a backfill) drops the rows of the later files
    back = load(conn, landing, INVOICES, as_of=date(2026, 11, 19))
    assert (back.reused_files, len(back.files)) == (2, 2)
    assert {r[0] for r in rows(conn, INVOICES, "_file_name")} == {
        "finance/invoices/2026-11-18.csv", "finance/invoices/2026-11-19.csv"}


def test_many_files_load_in_one_scan_with_row_numbers_per_file(conn, landing):
    header = "invoice_id,account_id,invoice_date,currency,total_amount"
    for day in range(1, 21):
        body = "".join(f"I{day}-{i},A1,2026-11-{day:02d},EUR,{i}.00\n" for i in range(1, day + 1))
        write(landing, f"finance/invoices/2026-11-{day:02d}.csv", f"{header}\n{body}")
    result = load(conn, landing, INVOICES, as_of=date(2026, 11, 20))
    assert [f.rows for f in result.files] == list(range(1, 21))
    mismatched = conn.execute(
        "SELECT count(*) FROM raw.finance__invoices "
        "WHERE invoice_id <> 'I' || day(_extract_date) || '-' || _row_number"
    ).fetchone()[0]
    assert mismatched == 0


def test_a_bad_file_among_many_is_named_with_its_line(conn, landing):
    header = "invoice_id,account_id,invoice_date,currency,total_amount"
    for day in (18, 19, 20):
        extra = ",unexpected" if day == 19 else ""
        write(landing, f"finance/invoices/2026-11-{day}.csv",
              f"{header}\nI{day},A1,2026-11-{day},EUR,1.00\nJ{day},A1,2026-11-{day},EUR,2.00{extra}\n")
    with pytest.raises(LandingError) as error:
        load(conn, landing, INVOICES, as_of=date(2026, 11, 20))
    assert "finance/invoices/2026-11-19.csv" in str(error.value) and "line 3" in str(error.value)
    assert not conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'finance__invoices'"
    ).fetchone()[0]


def test_an_unclosed_quote_in_the_last_of_many_files_still_stops_the_load(conn, landing):
    """DuckDB's multi-file CSV scan drops such a record silently: the loader must not."""
    header = "invoice_id,account_id,invoice_date,currency,total_amount"
    for day in range(1, 13):
        write(landing, f"finance/invoices/2026-11-{day:02d}.csv", f"{header}\nI{day},A1,2026-11-{day:02d},EUR,1.00\n")
    write(landing, "finance/invoices/2026-11-12.csv",
          f'{header}\nI12,A1,2026-11-12,EUR,1.00\nBROKEN,"A1,2026-11-12,EUR,2.00\n')
    with pytest.raises(LandingError) as error:
        load(conn, landing, INVOICES, as_of=date(2026, 11, 12))
    assert "finance/invoices/2026-11-12.csv" in str(error.value)
