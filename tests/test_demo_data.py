"""The demo-data generator: layout, contract columns, determinism, consecutive nights,
realistic content and the deliberately malformed rows (checked against an independent
re-implementation of the quarantine rules of segmentation-rules.md in DuckDB)."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pycountry
import pytest

from pipeline import demo_data
from pipeline.config import load_entity_specs
from pipeline.demo_data import HISTORY_START, DemoDataSummary, generate_demo_data

AS_OF = date(2025, 6, 30)  # a Monday, late in a month
ENTITIES = [s for s in load_entity_specs() if s.load_mode != "file"]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> DemoDataSummary:
    """2 000 accounts, CSV: the default demo."""
    return generate_demo_data(tmp_path_factory.mktemp("demo") / "landing", accounts=2000, seed=42, as_of=AS_OF)


@pytest.fixture(scope="module")
def con(world) -> duckdb.DuckDBPyConnection:
    return _connect(world)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _header(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    first = path.read_bytes().split(b"\n", 1)[0].decode("utf-8").lstrip("\ufeff").rstrip("\r")
    return first.split(",")


def _glob(summary: DemoDataSummary, source: str, entity: str) -> tuple[str, str]:
    folder = summary.out_dir / source / entity
    ext = {p.suffix for p in folder.iterdir()}
    assert len(ext) == 1, f"{folder}: mixed formats {ext}"
    return str(folder / f"*{ext.pop()}"), "parquet" if ".parquet" in str(next(folder.iterdir())) else "csv"


def _reader(pattern: str, kind: str) -> str:
    """All columns as text, plus the extract date of the file (as the pipeline reads them)."""
    if kind == "parquet":
        src = f"read_parquet('{pattern}', filename = true, union_by_name = true)"
    else:
        # every file of an entity has the same header: no sniffing of thousands of small files
        header = _header(sorted(Path(pattern).parent.glob("*.csv"))[0])
        columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in header) + "}"
        src = (f"read_csv('{pattern}', header = true, auto_detect = false, columns = {columns}, delim = ',', "
               f"quote = '\"', escape = '\"', filename = true)")
    return (
        f"select columns(lambda c: c <> 'filename')::varchar, "
        f"regexp_extract(filename, '(\\d{{4}}-\\d{{2}}-\\d{{2}})\\.[a-z]+$', 1)::date as _file_date from {src}"
    )


def _connect(summary: DemoDataSummary) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    d = summary.as_of.isoformat()
    for spec in ENTITIES:
        pattern, kind = _glob(summary, spec.source, spec.entity)
        name = f"{spec.source}__{spec.entity}"
        con.execute(f"create table all_{name} as {_reader(pattern, kind)}")
        key = ", ".join(spec.key)
        if spec.load_mode == "snapshot":
            # the newest file dated on or before the as-of date
            con.execute(f"""create table {name} as select * from all_{name}
                where _file_date = (select max(_file_date) from all_{name} where _file_date <= date '{d}')""")
        else:
            # the union of all files, per key the rows of the newest file holding it
            con.execute(f"""create table {name} as select * from all_{name} where _file_date <= date '{d}'
                qualify _file_date = max(_file_date) over (partition by {key})""")
    return con


# ----------------------------------------------------------------------------- layout, columns


def test_every_entity_with_the_contract_columns(world):
    out = world.out_dir
    assert (out / "overrides.csv").is_file()
    for spec in ENTITIES:
        folder = out / spec.source / spec.entity
        files = sorted(folder.iterdir())
        assert files, f"no file for {spec.source}/{spec.entity}"
        for f in files:
            date.fromisoformat(f.stem)  # <YYYY-MM-DD>.csv
            assert f.suffix == ".csv"
            assert [c.lower() for c in _header(f)] == list(spec.columns) or sorted(
                c.lower() for c in _header(f)
            ) == sorted(spec.columns), f"{f}: columns differ from sources.yml"
        newest = date.fromisoformat(files[-1].stem)
        assert newest <= world.as_of
        # fresh on the as-of date: crm and finance dated as_of, the bureau within 35 days
        assert (world.as_of - newest).days <= (spec.max_age_days if spec.source == "bureau" else 0)
    overrides_header = _header(out / "overrides.csv")
    assert overrides_header == ["account_id", "dimension", "segment", "reason", "owner", "valid_until"]


def test_file_dates(world):
    out = world.out_dir
    snapshot_days = {(world.as_of - timedelta(days=i)).isoformat() for i in range(7)}
    for source, entity in [("crm", "accounts"), ("crm", "contacts"), ("crm", "opportunities"), ("finance", "fx_rates")]:
        assert {p.stem for p in (out / source / entity).iterdir()} == snapshot_days
    bureau = sorted(p.stem for p in (out / "bureau" / "company_scores").iterdir())
    assert bureau == ["2025-04-01", "2025-05-01", "2025-06-01"]
    # delta entities: one file per night, from the start of history to as_of
    nights = (world.as_of - HISTORY_START).days + 1
    for entity in ("invoices", "invoice_lines", "payments"):
        stems = sorted(p.stem for p in (out / "finance" / entity).iterdir())
        assert len(stems) == nights and stems[0] == HISTORY_START.isoformat() and stems[-1] == AS_OF.isoformat()
    assert set(world.files) == {p for p in out.rglob("*") if p.is_file()}


def test_files_parse_and_row_counts_match_the_summary(world, con):
    for spec in ENTITIES:
        name = f"{spec.source}__{spec.entity}"
        written = con.execute(f"select count(*) from all_{name}").fetchone()[0]
        assert written == world.rows_written[f"{spec.source}/{spec.entity}"], name
    assert con.execute("select count(*) from crm__accounts").fetchone()[0] == world.rows["crm/accounts"]
    assert con.execute("select count(*) from finance__invoices").fetchone()[0] == world.rows["finance/invoices"]


# ----------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = generate_demo_data(tmp_path / "a", accounts=300, seed=7, as_of=AS_OF, file_format="mixed")
    b = generate_demo_data(tmp_path / "b", accounts=300, seed=7, as_of=AS_OF, file_format="mixed")
    assert _digests(a.out_dir) == _digests(b.out_dir)
    assert a.malformed == b.malformed and a.rows == b.rows
    c = generate_demo_data(tmp_path / "c", accounts=300, seed=8, as_of=AS_OF, file_format="mixed")
    assert _digests(c.out_dir) != _digests(a.out_dir)


def test_a_later_as_of_keeps_the_earlier_files_and_adds_new_ones(tmp_path):
    early, late = date(2025, 3, 30), date(2025, 4, 2)  # across a month boundary
    e = generate_demo_data(tmp_path / "e", accounts=300, seed=3, as_of=early)
    night = tmp_path / "nights"
    generate_demo_data(night, accounts=300, seed=3, as_of=early)
    before = _digests(night)
    generate_demo_data(night, accounts=300, seed=3, as_of=late)  # the next nights, same folder
    after = _digests(night)
    assert {k: after[k] for k in before} == before  # nothing earlier changed
    new = set(after) - set(before)
    assert {Path(k).stem for k in new if "finance/invoices" in k} == {"2025-03-31", "2025-04-01", "2025-04-02"}
    assert "bureau/company_scores/2025-04-01.csv" in new
    assert "crm/accounts/2025-04-02.csv" in new
    # a fresh generation for the later date holds the same files for every date they share
    fresh = _digests(generate_demo_data(tmp_path / "l", accounts=300, seed=3, as_of=late).out_dir)
    earlier = _digests(e.out_dir)
    shared = set(fresh) & set(earlier)
    assert len(shared) > 2000
    assert {k: fresh[k] for k in shared} == {k: earlier[k] for k in shared}


def test_rendering_in_small_chunks_gives_the_same_bytes(tmp_path, monkeypatch):
    """The CSV writer renders a bounded number of rows at a time: the chunking never shows."""
    whole = generate_demo_data(tmp_path / "whole", accounts=300, seed=4, as_of=AS_OF, file_format="mixed")
    monkeypatch.setattr(demo_data, "_CSV_CHUNK_ROWS", 37)  # snapshot files span many chunks
    chunked = generate_demo_data(tmp_path / "chunked", accounts=300, seed=4, as_of=AS_OF, file_format="mixed")
    assert _digests(whole.out_dir) == _digests(chunked.out_dir)
    assert whole.rows_written == chunked.rows_written


def test_finance_history_is_streamed_month_by_month(tmp_path, monkeypatch):
    """Only the finance rows extracted in later months are held while a month is written."""
    queued: list[int] = []
    route_block = demo_data._Generator._route_block

    def spy(self, m):
        route_block(self, m)
        queued.append(sum(len(p["file" if "file" in p else "date"]) for b in self._pending.values()
                          for parts in b.values() for p in parts))

    monkeypatch.setattr(demo_data._Generator, "_route_block", spy)
    s = generate_demo_data(tmp_path / "s", accounts=1000, seed=9, as_of=date(2026, 6, 30))
    total = sum(s.rows_written[f"finance/{e}"] for e in ("invoices", "invoice_lines", "payments"))
    months = (2026 - 2023) * 12 + 6
    assert len(queued) == months + 1  # each block generated once (and the next month's, for early extracts)
    assert max(queued) < 0.15 * total  # a few months' worth, not the history (about 2 % per month)


# ----------------------------------------------------------------------------- malformed rows


def test_malformed_rows_are_present_and_few(world):
    reasons = Counter((f"{r.source}/{r.entity}", r.reason) for r in world.malformed if r.reason)
    for expected in [
        ("crm/accounts", "unknown_country_code"),
        ("crm/accounts", "missing_mandatory_field"),
        ("crm/accounts", "created_after_as_of"),
        ("crm/accounts", "duplicate_key"),
        ("crm/accounts", "invalid_value"),
        ("finance/invoices", "unknown_account"),
        ("finance/invoices", "due_date_before_invoice_date"),
        ("finance/invoices", "missing_fx_rate"),
        ("finance/invoices", "invalid_value"),
        ("finance/invoices", "negative_total_on_invoice"),
        ("finance/invoices", "missing_mandatory_field"),
        ("finance/invoice_lines", "unknown_invoice"),
        ("finance/invoice_lines", "duplicate_key"),
        ("finance/payments", "payment_currency_mismatch"),
        ("finance/payments", "unknown_invoice"),
        ("finance/fx_rates", "invalid_value"),
        ("bureau/company_scores", "invalid_value"),
        ("crm/opportunities", "unknown_account"),
        ("crm/contacts", "missing_mandatory_field"),
    ]:
        assert reasons[expected] >= 1, expected
    assert world.expected_quarantine()[("crm/accounts", "duplicate_key")] == 2  # both copies
    # well under the publish gate's 2 % of quarantined accounts
    assert len(world.quarantined_account_ids()) / world.rows["crm/accounts"] < 0.005
    for row in world.malformed + world.cascaded:
        assert (world.out_dir / row.file).is_file(), row


def test_the_raw_text_of_some_malformed_rows(world):
    out = world.out_dir
    acc = (out / "crm/accounts" / f"{AS_OF}.csv").read_text(encoding="utf-8")
    assert ",UK," in acc and ",50-100," in acc
    jan25 = (out / "finance/invoices/2023-01-25.csv").read_text(encoding="utf-8")
    assert '"1.250,00"' in jan25  # quoted: it holds a comma


@pytest.mark.parametrize("file_format", ["csv", "parquet", "mixed"])
def test_quarantine_by_an_independent_check_equals_the_summary(tmp_path, file_format):
    summary = generate_demo_data(tmp_path / "q", accounts=400, seed=11, as_of=AS_OF, file_format=file_format)
    actual = _quarantine(_connect(summary))
    expected = Counter(
        (f"{r.source}/{r.entity}", r.key, r.reason) for r in summary.malformed + summary.cascaded if r.reason
    )
    assert actual == expected
    not_quarantined = {(f"{r.source}/{r.entity}", r.key) for r in summary.malformed if r.reason is None}
    assert not_quarantined and not not_quarantined & {(e, k) for e, k, _ in actual}


def test_the_default_world_has_only_the_announced_quarantine(world, con):
    expected = Counter((f"{r.source}/{r.entity}", r.key, r.reason) for r in world.malformed + world.cascaded if r.reason)
    assert _quarantine(con) == expected


def _quarantine(con: duckdb.DuckDBPyConnection) -> Counter:
    """The rules of segmentation-rules.md ("Mandatory fields and quarantine"), re-implemented."""
    d = con.execute("select max(_file_date) from crm__accounts").fetchone()[0].isoformat()
    codes = [c.alpha_2 for c in pycountry.countries]
    con.execute("create or replace table countries as select unnest($1::varchar[]) as code", [codes])
    con.execute("""
        create or replace macro blank(x) as x is null or trim(x) = '';
        create or replace macro num_ok(x) as blank(x) or regexp_full_match(trim(x), '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)');
        create or replace macro int_ok(x) as blank(x) or regexp_full_match(trim(x), '[+-]?[0-9]{1,18}');
        create or replace macro date_ok(x) as blank(x) or try_cast(left(trim(x), 10) as date) is not null;
        create or replace macro ts_ok(x) as blank(x) or try_cast(trim(x) as timestamptz) is not null;
        create or replace macro bool_ok(x) as blank(x) or lower(trim(x)) in ('true', 'false', '1', '0', 'yes', 'no');
        create or replace macro enum_ok(x, vals) as blank(x) or list_contains(vals, lower(trim(x)));
        create or replace macro pct_ok(x) as blank(x) or (num_ok(x) and x::double between 0 and 100);
    """)
    con.execute(f"""create or replace table q_accounts as select account_id as key, case
        when not (int_ok(employee_count) and num_ok(annual_revenue) and bool_ok(is_strategic) and ts_ok(created_at)
                  and enum_ok(status, ['active', 'closed'])) then 'invalid_value'
        when blank(account_id) or blank(account_name) or blank(country_code) or blank(created_at) then 'missing_mandatory_field'
        when upper(trim(country_code)) not in (select code from countries) then 'unknown_country_code'
        when trim(created_at)::timestamptz::date > date '{d}' then 'created_after_as_of'
        when count(*) over (partition by account_id) > 1 then 'duplicate_key' end as reason
        from crm__accounts""")
    con.execute("""create or replace table q_fx as select currency || '|' || rate_date as key, *, case
        when not (num_ok(rate_to_base) and date_ok(rate_date)) or rate_to_base::double <= 0 then 'invalid_value'
        when blank(currency) or blank(rate_date) or blank(rate_to_base) then 'missing_mandatory_field'
        when count(*) over (partition by currency, rate_date) > 1 then 'duplicate_key' end as reason
        from finance__fx_rates""")
    con.execute("""create or replace table fx_ok as select upper(trim(currency)) as currency, rate_date::date as rate_date
        from q_fx where reason is null""")
    con.execute("""create or replace macro has_rate(cur, day) as upper(trim(cur)) = 'EUR'
        or exists (select 1 from fx_ok where fx_ok.currency = upper(trim(cur)) and fx_ok.rate_date <= day)""")
    con.execute(f"""create or replace table q_invoices as select invoice_id as key, *, case
        when not (num_ok(total_amount) and date_ok(invoice_date) and date_ok(due_date) and int_ok(payment_terms_days)
                  and enum_ok(invoice_type, ['invoice', 'credit_note']) and enum_ok(status, ['open', 'paid', 'void'])
                  and num_ok(early_payment_discount_pct) and bool_ok(disputed) and date_ok(dispute_opened_at)
                  and date_ok(dispute_resolved_at)) then 'invalid_value'
        when blank(invoice_id) or blank(account_id) or blank(invoice_date) or blank(currency) or blank(total_amount)
             or (coalesce(lower(trim(invoice_type)), 'invoice') = 'invoice' and blank(due_date)) then 'missing_mandatory_field'
        when account_id not in (select account_id from crm__accounts where account_id is not null) then 'unknown_account'
        when account_id in (select key from q_accounts where reason is not null) then 'account_quarantined'
        when due_date::date < invoice_date::date then 'due_date_before_invoice_date'
        when coalesce(lower(trim(invoice_type)), 'invoice') = 'invoice' and total_amount::double < 0
             then 'negative_total_on_invoice'
        when not has_rate(currency, invoice_date::date) then 'missing_fx_rate'
        when count(*) over (partition by invoice_id) > 1 then 'duplicate_key' end as reason
        from finance__invoices""")
    con.execute("""create or replace table q_lines as select invoice_id || '|' || line_number as key, case
        when not (int_ok(line_number) and num_ok(quantity) and num_ok(net_amount) and num_ok(cost_amount)) then 'invalid_value'
        when invoice_id not in (select invoice_id from finance__invoices) then 'unknown_invoice'
        when invoice_id in (select key from q_invoices where reason is not null) then 'invoice_quarantined'
        when blank(product_line) or blank(net_amount) or blank(line_number) then 'missing_mandatory_field'
        when count(*) over (partition by invoice_id, line_number) > 1 then 'duplicate_key' end as reason
        from finance__invoice_lines""")
    con.execute("""create or replace table q_payments as select p.payment_id as key, case
        when not (num_ok(p.amount) and date_ok(p.payment_date)) then 'invalid_value'
        when p.invoice_id not in (select invoice_id from finance__invoices) then 'unknown_invoice'
        when p.invoice_id in (select key from q_invoices where reason is not null) then 'invoice_quarantined'
        when blank(p.payment_id) or blank(p.payment_date) or blank(p.amount) or blank(p.currency) then 'missing_mandatory_field'
        when count(*) over (partition by p.payment_id) > 1 then 'duplicate_key'
        when upper(trim(p.currency)) <> upper(trim(i.currency)) then 'payment_currency_mismatch' end as reason
        from finance__payments p left join (select distinct invoice_id, currency from finance__invoices) i using (invoice_id)""")
    con.execute(f"""create or replace table q_opportunities as select opportunity_id as key, case
        when not (num_ok(amount) and date_ok(close_date) and enum_ok(stage, ['prospecting', 'qualification', 'proposal',
                  'negotiation', 'closed_won', 'closed_lost'])) then 'invalid_value'
        when blank(opportunity_id) or blank(account_id) or blank(stage) then 'missing_mandatory_field'
        when account_id not in (select account_id from crm__accounts where account_id is not null) then 'unknown_account'
        when account_id in (select key from q_accounts where reason is not null) then 'account_quarantined'
        when not blank(currency) and not has_rate(currency, date '{d}') then 'missing_fx_rate'
        when count(*) over (partition by opportunity_id) > 1 then 'duplicate_key' end as reason
        from crm__opportunities""")
    con.execute("""create or replace table q_contacts as select contact_id as key, case
        when not bool_ok(is_primary) then 'invalid_value'
        when blank(contact_id) or blank(account_id) then 'missing_mandatory_field'
        when account_id not in (select account_id from crm__accounts where account_id is not null) then 'unknown_account'
        when account_id in (select key from q_accounts where reason is not null) then 'account_quarantined'
        when count(*) over (partition by contact_id) > 1 then 'duplicate_key' end as reason
        from crm__contacts""")
    con.execute("""create or replace table q_bureau as select bureau_ref as key, case
        when not (pct_ok(credit_score) and pct_ok(payment_index) and num_ok(recommended_limit) and bool_ok(insolvency_flag)
                  and date_ok(report_date) and (blank(country_code) or upper(trim(country_code)) in (select code from countries)))
             then 'invalid_value'
        when blank(bureau_ref) or blank(country_code) or blank(report_date) then 'missing_mandatory_field'
        when count(*) over (partition by bureau_ref) > 1 then 'duplicate_key' end as reason
        from bureau__company_scores""")
    result: Counter = Counter()
    for table, entity in [("q_accounts", "crm/accounts"), ("q_contacts", "crm/contacts"),
                          ("q_opportunities", "crm/opportunities"), ("q_invoices", "finance/invoices"),
                          ("q_lines", "finance/invoice_lines"), ("q_payments", "finance/payments"),
                          ("q_fx", "finance/fx_rates"), ("q_bureau", "bureau/company_scores")]:
        for key, reason in con.execute(f"select key, reason from {table} where reason is not null").fetchall():
            result[(entity, key, reason)] += 1
    return result


# ----------------------------------------------------------------------------- realistic content


def _one(con, sql):
    return con.execute(sql).fetchone()


def test_invoice_history_currencies_credit_notes_voids(con):
    first, last = _one(con, "select min(invoice_date::date), max(invoice_date::date) from finance__invoices")
    # 24+ months of history; a few monthly invoices are extracted up to 3 days before their invoice date
    assert first <= AS_OF - timedelta(days=730) and AS_OF <= last <= AS_OF + timedelta(days=3)
    currencies = {c for (c,) in con.execute("select distinct upper(trim(currency)) from finance__invoices").fetchall()}
    assert {"EUR", "USD", "GBP", "CHF", "SEK"} <= currencies
    credit_notes, positive = _one(con, """select count(*), count(*) filter (where total_amount::double >= 0)
        from finance__invoices where lower(trim(invoice_type)) = 'credit_note'""")
    assert credit_notes > 50 and positive == 0
    assert _one(con, """select count(*) from finance__invoice_lines l join finance__invoices i using (invoice_id)
        where lower(trim(i.invoice_type)) = 'credit_note' and l.net_amount::double < 0""")[0] > 50
    # voids are re-sent: the same invoice earlier as open, later as void
    assert _one(con, """select count(*) from finance__invoices v join all_finance__invoices o using (invoice_id)
        where lower(v.status) = 'void' and lower(o.status) = 'open' and o._file_date < v._file_date""")[0] > 20
    # every non-EUR currency has daily (business-day) rates over the whole period
    for cur, n, lo in con.execute("select currency, count(*), min(rate_date::date) from finance__fx_rates group by 1").fetchall():
        assert lo <= HISTORY_START and n > 600, cur


def test_heavy_tail_and_value_tiers(con):
    con.execute(f"""create or replace table revenue as
        with lines as (
            select i.account_id, i.invoice_date::date as d, upper(trim(i.currency)) as cur, l.net_amount::double as net
            from finance__invoice_lines l join finance__invoices i using (invoice_id)
            where lower(i.status) <> 'void' and try_cast(i.total_amount as double) is not null
              and i.invoice_date::date > date '{AS_OF}' - 365 and i.invoice_date::date <= date '{AS_OF}'),
        fx as (select upper(currency) as cur, rate_date::date as d, rate_to_base::double as rate
               from finance__fx_rates where rate_to_base::double > 0)
        select account_id, sum(net * coalesce(fx.rate, 1)) as revenue
        from lines asof left join fx on lines.cur = fx.cur and lines.d >= fx.d
        group by 1""")
    top20, n = _one(con, """with r as (select revenue, row_number() over (order by revenue desc) as rk, count(*) over () as n
        from revenue where revenue > 0) select sum(revenue) filter (where rk <= ceil(0.2 * n)) / sum(revenue), any_value(n) from r""")
    assert top20 > 0.5 and n > 800
    high, medium, low = _one(con, """select count(*) filter (where revenue >= 100000),
        count(*) filter (where revenue >= 10000 and revenue < 100000), count(*) filter (where revenue > 0 and revenue < 10000)
        from revenue""")
    assert high >= 20 and medium >= 200 and low >= 200


def test_lifecycle_mix(con, world):
    new, dormant, customers = _one(con, f"""with f as (
        select account_id, min(invoice_date::date) as first, max(invoice_date::date) as last from finance__invoices
        where lower(trim(invoice_type)) = 'invoice' and lower(status) <> 'void' group by 1)
        select count(*) filter (where first > date '{AS_OF}' - 180), count(*) filter (where last <= date '{AS_OF}' - 365),
               count(*) from f""")
    prospects = world.rows["crm/accounts"] - customers
    assert new >= 10 and dormant >= 50 and prospects >= 100
    closed = _one(con, "select count(*) from crm__accounts where lower(trim(status)) = 'closed'")[0]
    assert closed >= 20


def test_payment_behaviours(con):
    # partial payments and several payments on one invoice
    assert _one(con, "select count(*) from (select invoice_id from finance__payments group by 1 having count(*) > 1)")[0] > 100
    # early-payment discounts taken: one payment of total * (1 - pct / 100)
    assert _one(con, """select count(*) from finance__payments p join finance__invoices i using (invoice_id)
        where i.early_payment_discount_pct::double > 0
          and abs(p.amount::double - round(i.total_amount::double * (1 - i.early_payment_discount_pct::double / 100), 2)) < 0.006
          and p.payment_date::date <= i.invoice_date::date + 10""")[0] > 100
    # disputes: resolved ones and open ones
    resolved, still_open = _one(con, """select count(*) filter (where dispute_resolved_at is not null),
        count(*) filter (where dispute_resolved_at is null) from finance__invoices where dispute_opened_at is not null""")
    assert resolved > 50 and still_open > 5
    # regular pay-day payers: every payment of the last 180 days on the 25th
    assert _one(con, f"""select count(*) from (select account_id from finance__payments
        where payment_date::date > date '{AS_OF}' - 180 and account_id is not null group by 1
        having count(distinct payment_date) >= 3 and bool_and(day(payment_date::date) = 25))""")[0] >= 20
    # accounts more than 90 days overdue (open invoices, nothing or not enough paid)
    overdue = _one(con, f"""with paid as (select invoice_id, sum(amount::double) as paid from finance__payments group by 1)
        select count(distinct account_id) from finance__invoices i left join paid using (invoice_id)
        where lower(trim(invoice_type)) = 'invoice' and lower(status) <> 'void' and try_cast(total_amount as double) > 0
          and due_date::date < date '{AS_OF}' - 90
          and coalesce(paid, 0) < total_amount::double * (1 - coalesce(early_payment_discount_pct::double, 0) / 100) - 0.01""")[0]
    assert 10 <= overdue <= 200


def test_bureau_matching_material(con):
    duns_matches, leading_zero = _one(con, """select count(*), count(*) filter (where a.duns_number like '0%')
        from crm__accounts a join bureau__company_scores b on a.duns_number = b.duns_number""")
    assert duns_matches > 500 and leading_zero > 10
    normalised = "regexp_replace(upper({}), '[ .\\-]', '', 'g')"
    reg_only, reformatted = _one(con, f"""select count(*), count(*) filter (where a.registration_number <> b.registration_number)
        from crm__accounts a join bureau__company_scores b
          on {normalised.format('a.registration_number')} = {normalised.format('b.registration_number')}
         and upper(trim(a.country_code)) = b.country_code
        where a.duns_number is null""")
    assert reg_only > 100 and reformatted > 50
    stale = _one(con, f"select count(*) from bureau__company_scores where report_date::date < date '{AS_OF}' - 365")[0]
    insolvent = _one(con, "select count(*) from bureau__company_scores where lower(insolvency_flag) in ('yes', 'true')")[0]
    assert stale > 10 and insolvent >= 3
    assert _one(con, """select count(*) from (select a.account_id from crm__accounts a join bureau__company_scores b
        on a.duns_number = b.duns_number group by 1 having count(*) > 1)""")[0] > 5


def test_crm_variety(con, world):
    acc = "crm__accounts"
    assert _one(con, f"select count(*) from {acc} where account_type is null")[0] > 20
    assert _one(con, f"select count(*) from {acc} where industry_code is null and industry is not null")[0] > 100
    assert _one(con, f"select count(*) from {acc} where industry_code is null and industry is null")[0] > 20
    assert _one(con, f"select count(*) from {acc} where employee_count is null and annual_revenue is not null")[0] > 100
    assert _one(con, f"select count(*) from {acc} where sales_channel is null")[0] > 20
    lengths = {n for (n,) in con.execute(f"select distinct length(industry_code) from {acc} where industry_code is not null").fetchall()}
    assert {2, 3, 4, 5, 6} <= lengths
    channels = {c for (c,) in con.execute(f"select distinct sales_channel from {acc}").fetchall()}
    assert {"Field - Sales", " Inside Sales", "webshop", "VAR"} <= channels
    countries = dict(con.execute(f"select upper(trim(country_code)), count(*) from {acc} group by 1").fetchall())
    assert all(countries.get(c, 0) > 50 for c in ["NL", "BE", "DE", "FR", "GB", "US"]) and len(countries) > 15
    assert _one(con, f"select count(*) from {acc} where lower(trim(is_strategic)) in ('true', '1', 'yes')")[0] > 20
    assert _one(con, f"select count(distinct trim(parent_account_id)) from {acc}")[0] > 10
    assert _one(con, f"select count(*) from {acc} where account_name like '%,%'")[0] > 20
    assert _one(con, f"select count(*) from {acc} where account_name like '%' || chr(10) || '%'")[0] > 5
    offsets = _one(con, f"select count(*) from {acc} where regexp_matches(created_at, '([+-][0-9]{{2}}:[0-9]{{2}}|Z)$')")[0]
    assert offsets > 20
    stages = {s for (s,) in con.execute("select distinct lower(stage) from crm__opportunities").fetchall()}
    assert stages == {"prospecting", "qualification", "proposal", "negotiation", "closed_won", "closed_lost"}
    assert _one(con, f"""select count(*) from crm__opportunities where lower(stage) in ('proposal', 'negotiation')
        and close_date::date between date '{AS_OF}' and date '{AS_OF}' + 90""")[0] > 5
    assert _one(con, "select count(*) from crm__contacts where email like '%@%'")[0] > 2000
    expected = Counter(o.expected.split(":")[0] for o in world.overrides)
    assert expected == Counter({"applied": 3, "expired": 1, "invalid": 1})


def test_parquet_has_native_types(tmp_path):
    s = generate_demo_data(tmp_path / "p", accounts=200, seed=5, as_of=AS_OF, file_format="parquet")
    inv = pq.read_table(s.out_dir / "finance/invoices/2023-01-02.parquet")
    assert inv.schema.field("invoice_date").type == pa.date32()
    assert pa.types.is_decimal(inv.schema.field("total_amount").type)
    assert inv.schema.field("disputed").type == pa.bool_()
    acc = pq.read_table(s.out_dir / "crm/accounts" / f"{AS_OF}.parquet")
    assert pa.types.is_timestamp(acc.schema.field("created_at").type)
    assert acc.schema.field("duns_number").type == pa.string()  # leading zeros kept
    assert not list((s.out_dir / "crm/accounts").glob("*.csv"))
    # the CSV-only malformed values (text in a numeric column) cannot exist in Parquet and are not announced
    assert not [r for r in s.malformed if "'1.250,00'" in r.description or "'50-100'" in r.description]
    assert [r for r in s.malformed if "'proforma'" in r.description]  # an enumeration value can


def test_mixed_formats(tmp_path):
    s = generate_demo_data(tmp_path / "m", accounts=200, seed=5, as_of=AS_OF, file_format="mixed")
    suffixes = {p.parent.relative_to(s.out_dir).as_posix(): p.suffix for p in s.files if p.name != "overrides.csv"}
    assert set(suffixes.values()) == {".csv", ".parquet"}


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="file_format"):
        generate_demo_data(tmp_path, file_format="xlsx", as_of=AS_OF)
    with pytest.raises(ValueError, match="as_of"):
        generate_demo_data(tmp_path, as_of=date(2022, 12, 31))
    with pytest.raises(ValueError, match="accounts"):
        generate_demo_data(tmp_path, accounts=0, as_of=AS_OF)
