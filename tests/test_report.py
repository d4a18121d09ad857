"""The per-run HTML report and the what-if report, on real DuckDB warehouse files.

The warehouses here are built with the published schemas (analytics.publications,
segmented_accounts, segment_kpis, segment_history, quarantine, owner_portfolios) and
known contents, so every number the report draws can be checked against the tables."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipeline.config import load_config
from pipeline.report import ReportError, report_path, write_run_report, write_what_if_report

DECLARED = load_config().declared_segments()
DIMENSIONS = list(DECLARED)
EXTRA_DIMENSIONS = ["primary_product_line", "early_payment_discount", "credit_hold"]
DAY_1, DAY_2 = date(2026, 11, 21), date(2026, 11, 22)
RUN_1, RUN_2 = "11111111-aaaa-4000-8000-000000000001", "22222222-bbbb-4000-8000-000000000002"


# -- a warehouse with known contents -------------------------------------------------------------

def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[list]) -> None:
    """Many rows in one statement (row-by-row inserts take minutes for a few thousand accounts)."""
    columns = [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_schema || '.' || table_name = ? "
        "order by ordinal_position", [table]).fetchall()]
    frame = pd.DataFrame(rows, columns=columns)
    con.register("new_rows", frame)
    con.execute(f"insert into {table} select * from new_rows")
    con.unregister("new_rows")


def _segment(dimension: str, i: int) -> str:
    segments = DECLARED[dimension] + ["to_be_defined"]
    # industry_vertical gets many to_be_defined accounts so the warning line has something to flag.
    if dimension == "industry_vertical" and i % 4 == 0:
        return "to_be_defined"
    return segments[(i * 7 + len(dimension)) % len(segments)]


def build_warehouse(path: Path, accounts: int = 60, publications: int = 2, with_new_tables: bool = True) -> dict:
    """A published warehouse: `publications` runs (DAY_1, DAY_2), the last one current.

    Between DAY_1 and DAY_2 every 5th account moves value_tier (to the next segment),
    account 0 leaves the publication and account `accounts` is new. Returns what was built."""
    con = duckdb.connect(str(path))
    con.execute("create schema analytics")
    con.execute(
        """create table analytics.publications(run_id varchar, as_of_date date, ruleset_version varchar,
           input_files varchar, rows_published bigint, rows_quarantined bigint, check_results varchar,
           published_at timestamp)"""
    )
    checks = json.dumps([{"name": "segmented_accounts_suite", "passed": True, "message": "", "examples": []},
                         {"name": "to_be_defined_share", "passed": False, "message": "warning", "examples": []}])
    runs = [(RUN_1, DAY_1), (RUN_2, DAY_2)][:publications]
    for n, (run_id, as_of) in enumerate(runs):
        con.execute(
            "insert into analytics.publications values (?, ?, 'abcdef123456', '[]', ?, 3, ?, ?)",
            [run_id, as_of, accounts, checks, datetime(2026, 11, 21, 2, 0) + timedelta(days=n)],
        )
    run_id, as_of = runs[-1]
    current_ids = list(range(1, accounts + 1)) if publications > 1 else list(range(accounts))
    previous_ids = list(range(accounts))

    def revenue(i: int) -> float:
        return 0.0 if i % 9 == 0 else round((i * 7919 % 1000) ** 2 / 7 + i, 2)

    dims_sql = ", ".join(f"{d} varchar" for d in DIMENSIONS)
    con.execute(
        f"""create table analytics.segmented_accounts(account_id varchar, account_name varchar, as_of_date date,
            country_code varchar, owner_id varchar, {dims_sql}, primary_product_line varchar,
            early_payment_discount boolean, credit_hold boolean, revenue_12m decimal(18,2),
            ruleset_version varchar, run_id varchar)"""
    )

    def state(i: int, day: date) -> dict[str, str]:
        values = {d: _segment(d, i) for d in DIMENSIONS if d != "pareto_class"}
        if day == DAY_1 and i % 5 == 0:
            tiers = DECLARED["value_tier"]
            values["value_tier"] = tiers[(tiers.index(values["value_tier"]) + 1) % len(tiers)] \
                if values["value_tier"] in tiers else tiers[0]
        values["primary_product_line"] = ["software", "services"][i % 2]
        values["early_payment_discount"] = "true" if i % 3 == 0 else "false"
        values["credit_hold"] = "true" if i % 11 == 0 else "false"
        return values

    published = []
    for i in current_ids:
        values = state(i, DAY_2)
        published.append([f"A{i:05d}", f"Account {i}", as_of, "NL", f"U{i % 4:03d}",
                          *[values.get(d, "C") for d in DIMENSIONS], values["primary_product_line"],
                          values["early_payment_discount"] == "true", values["credit_hold"] == "true", revenue(i),
                          "abcdef123456", run_id])
    insert_rows(con, "analytics.segmented_accounts", published)
    # pareto_class as the rules define it: rank r of n among revenue > 0, A if r <= ceil(0.2 n).
    con.execute(
        """update analytics.segmented_accounts s set pareto_class = case
               when r.rank <= ceil(0.2 * r.n) then 'A' when r.rank <= ceil(0.5 * r.n) then 'B' else 'C' end
           from (select account_id, row_number() over (order by revenue_12m desc, account_id) as rank,
                        count(*) over () as n
                 from analytics.segmented_accounts where revenue_12m > 0) r
           where s.account_id = r.account_id"""
    )
    con.execute("update analytics.segmented_accounts set pareto_class = 'none' where revenue_12m <= 0")

    con.execute(
        """create table analytics.quarantine(source varchar, entity varchar, record_key varchar,
           reason_code varchar, reason_detail varchar, file_name varchar, row_number bigint, as_of_date date,
           run_id varchar)"""
    )
    quarantined = [("crm", "accounts", "missing_mandatory_field")] * 2 + [("finance", "invoices", "unknown_account")]
    for n, (source, entity, reason) in enumerate(quarantined):
        con.execute("insert into analytics.quarantine values (?, ?, ?, ?, 'detail', 'f.csv', ?, ?, ?)",
                    [source, entity, f"K{n}", reason, n + 2, as_of, run_id])

    if not with_new_tables:
        con.close()
        return {"run_id": run_id, "as_of": as_of}

    con.execute(
        """create table analytics.segment_history(account_id varchar, dimension varchar, segment_value varchar,
           reason varchar, is_override boolean, change_cause varchar, ruleset_version varchar, valid_from date,
           valid_to date, run_id varchar)"""
    )
    history = []
    all_dimensions = [d for d in DIMENSIONS if d != "pareto_class"] + EXTRA_DIMENSIONS
    for i in sorted(set(previous_ids) | set(current_ids)):
        before = state(i, DAY_1) if i in previous_ids else None
        after = state(i, DAY_2) if i in current_ids and publications > 1 else None
        for d in all_dimensions:
            if before and after and before[d] == after[d]:
                history.append((f"A{i:05d}", d, before[d], DAY_1, None))
                continue
            if before:
                history.append((f"A{i:05d}", d, before[d], DAY_1, DAY_2 if publications > 1 else None))
            if after:
                history.append((f"A{i:05d}", d, after[d], DAY_2, None))
    insert_rows(con, "analytics.segment_history",
                [[a, d, s, "why", False, "data", "abcdef123456", f, t, run_id] for a, d, s, f, t in history])

    con.execute(
        """create table analytics.segment_kpis(as_of_date date, dimension varchar, segment varchar, accounts bigint,
           share_of_accounts double, revenue decimal(18,2), revenue_per_account decimal(18,2),
           share_of_revenue double, retention_rate double, avg_days_late decimal(10,2),
           share_to_be_defined double, previous_accounts bigint, previous_share_of_accounts double,
           share_of_accounts_change double, run_id varchar)"""
    )
    unpivot_columns = ", ".join(DIMENSIONS + ["primary_product_line"])
    con.execute(
        f"""insert into analytics.segment_kpis
            with long as (
                select account_id, revenue_12m, dimension, segment
                from (unpivot (select account_id, revenue_12m, {unpivot_columns},
                                      early_payment_discount::varchar as early_payment_discount,
                                      credit_hold::varchar as credit_hold
                               from analytics.segmented_accounts)
                      on {unpivot_columns}, early_payment_discount, credit_hold
                      into name dimension value segment)
            ), previous as (
                select dimension, segment_value as segment, count(*) as accounts,
                       count(*) / sum(count(*)) over (partition by dimension) as share
                from analytics.segment_history
                where valid_from <= '{DAY_1}' and (valid_to is null or valid_to > '{DAY_1}') and {publications} > 1
                group by dimension, segment_value
            ), current as (
                select dimension, segment, count(*) as accounts, sum(revenue_12m) as revenue,
                       count(*) / sum(count(*)) over (partition by dimension) as share,
                       sum(revenue_12m) / sum(sum(revenue_12m)) over (partition by dimension) as revenue_share
                from long group by dimension, segment
            )
            select '{as_of}'::date, c.dimension, c.segment, c.accounts, c.share, c.revenue, c.revenue / c.accounts,
                   c.revenue_share, null, null,
                   coalesce(sum(case when c.segment = 'to_be_defined' then c.share end)
                            over (partition by c.dimension), 0),
                   p.accounts, p.share, c.share - p.share, '{run_id}'
            from current c left join previous p using (dimension, segment)"""
    )
    con.execute(
        """create table analytics.owner_portfolios(owner_id varchar, accounts bigint, key_accounts bigint,
           max_accounts integer, max_key_accounts integer, is_overloaded boolean, overload_reason varchar,
           revenue_12m decimal(18,2), lifecycle_key bigint, value_tier_high bigint, as_of_date date, run_id varchar)"""
    )
    con.execute(
        """insert into analytics.owner_portfolios values
           ('U000', 16, 2, 10, 5, true, 'accounts 16 > 10', 123456.78, 2, 1, ?, ?),
           ('U001', 15, 1, 40, 5, false, null, 1000, 1, 0, ?, ?)""",
        [as_of, run_id, as_of, run_id],
    )
    con.close()
    return {"run_id": run_id, "as_of": as_of, "history": history}


# -- reading a report back ------------------------------------------------------------------------

class ReportParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.figures: list[dict] = []
        self.section_ids: list[str] = []
        self.external: list[str] = []
        self.texts: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._in_figure = False
        self._buffer: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            if tag in ("script", "link", "img", "iframe") and value and not value.startswith("#"):
                self.external.append(f"<{tag} {name}={value}>")
        if tag == "script" and "figure-data" in (attrs.get("class") or ""):
            self._in_figure, self._buffer = True, []
        if tag == "section":
            self.section_ids.append(attrs.get("id"))
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "script" and self._in_figure:
            self.figures.append(json.loads("".join(self._buffer)))
            self._in_figure = False
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_figure:
            self._buffer.append(data)
        elif self._cell is not None:
            self._cell.append(data)
        else:
            self.texts.append(data)


def read_report(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def title_of(figure: dict) -> str:
    title = figure["layout"].get("title")
    return title.get("text", "") if isinstance(title, dict) else (title or "")


def figures_titled(report: ReportParser, pattern: str) -> list[dict]:
    return [f for f in report.figures if re.search(pattern, title_of(f))]


def heatmap_counts(figure: dict) -> Counter:
    counts = Counter()
    for trace in figure["data"]:
        assert trace["type"] == "heatmap"
        for row_label, row in zip(trace["y"], trace["z"]):
            for column_label, value in zip(trace["x"], row):
                if value is not None:
                    counts[(row_label, column_label)] += value
    return counts


# -- the tests ------------------------------------------------------------------------------------

def test_report_path_is_beside_the_warehouse_and_creates_nothing(tmp_path):
    warehouse = tmp_path / "wh" / "segments.duckdb"
    path = report_path(warehouse, date(2026, 11, 22), "7d12605d-11fe-46ec-95ee-4df50380934f")
    assert path == tmp_path / "wh" / "segments.reports" / "2026-11-22_7d12605d.html"
    assert not (tmp_path / "wh").exists()


@pytest.fixture(scope="module")
def two_publications(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    warehouse = root / "segments.duckdb"
    built = build_warehouse(warehouse)
    path = write_run_report(warehouse, built["run_id"])
    return warehouse, built, path, read_report(path)


def test_run_report_is_written_beside_the_warehouse_with_every_section(two_publications):
    warehouse, built, path, report = two_publications
    assert path == report_path(warehouse, DAY_2, RUN_2)
    assert report.section_ids == ["segments", "pareto", "migration", "to-be-defined", "share-moves",
                                  "quarantine", "owners"]
    header = " ".join(report.texts)
    for fact in ("2026-11-22", RUN_2, "abcdef123456", "as of 2026-11-21 (run 11111111)", "not passed: to_be_defined_share"):
        assert fact in header


def test_every_figure_has_a_title_and_labelled_axes(two_publications):
    *_, report = two_publications
    segment_figures = figures_titled(report, r": accounts and revenue per segment$")
    assert sorted(title_of(f).split(":")[0] for f in segment_figures) == sorted(DIMENSIONS + EXTRA_DIMENSIONS)
    for figure in report.figures:
        assert title_of(figure)
        layout = figure["layout"]
        x_axes = [v for k, v in layout.items() if re.fullmatch(r"xaxis\d*", k)]
        assert x_axes and all(axis["title"]["text"] for axis in x_axes), title_of(figure)
        assert layout["yaxis"]["title"]["text"], title_of(figure)
    # One chart per dimension, the Pareto curve, the moves summary, one heatmap per dimension that moved,
    # the to_be_defined bars and the quarantine bars.
    assert len(report.figures) == len(segment_figures) + 1 + 1 + len(["value_tier"]) + 1 + 1


def test_the_page_is_self_contained_with_plotly_js_once(two_publications):
    *_, path, report = two_publications
    text = path.read_text(encoding="utf-8")
    assert report.external == []
    assert text.count("* plotly.js v") == 1
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=\s*[\"']?(https?:)?//", text, re.I)


def test_segment_bars_match_segment_kpis(two_publications):
    warehouse, *_, report = two_publications
    con = duckdb.connect(str(warehouse), read_only=True)
    expected = dict(((s, a) for s, a in con.execute(
        "select segment, accounts from analytics.segment_kpis where dimension = 'region'").fetchall()))
    con.close()
    (figure,) = figures_titled(report, r"^region: accounts")
    accounts_trace = figure["data"][0]
    assert dict(zip(accounts_trace["y"], accounts_trace["x"])) == expected


def test_migration_matrix_counts_equal_the_segment_history(two_publications):
    warehouse, built, _, report = two_publications
    state = {DAY_1: {}, DAY_2: {}}
    for account, dimension, segment, valid_from, valid_to in built["history"]:
        for day in state:
            if valid_from <= day and (valid_to is None or valid_to > day):
                state[day][(dimension, account)] = segment
    expected = {}
    for dimension in ("value_tier",):
        expected[dimension] = Counter()
        accounts = {a for (d, a) in state[DAY_1] | state[DAY_2] if d == dimension}
        for account in accounts:
            expected[dimension][(state[DAY_1].get((dimension, account), "(not published)"),
                                 state[DAY_2].get((dimension, account), "(not published)"))] += 1
        (figure,) = figures_titled(report, rf"^{dimension}: \d+ of \d+ accounts changed segment")
        assert heatmap_counts(figure) == expected[dimension]
    moved_in_value_tier = sum(n for (a, b), n in expected["value_tier"].items()
                              if a != b and "(not published)" not in (a, b))
    assert moved_in_value_tier == len([i for i in range(1, 60) if i % 5 == 0])
    # Account A00000 left and A00060 arrived: counted in the summary, no heatmap for region.
    (summary,) = figures_titled(report, "^Accounts whose segment changed")
    changed, entered_or_left = ({d: n for d, n in zip(t["y"], t["x"])} for t in summary["data"])
    assert changed["value_tier"] == moved_in_value_tier and changed["region"] == 0
    assert entered_or_left["region"] == 2
    assert not figures_titled(report, "^region: .* changed segment")
    assert "changed segment in: party_type" in " ".join(report.texts)


def test_pareto_curve_is_thin_monotone_and_marks_class_a(tmp_path):
    warehouse = tmp_path / "segments.duckdb"
    built = build_warehouse(warehouse, accounts=1500)
    report = read_report(write_run_report(warehouse, built["run_id"]))
    (figure,) = figures_titled(report, "Cumulative share of revenue")
    curve = next(t for t in figure["data"] if t["name"] == "accounts ranked by revenue")
    assert len(curve["x"]) <= 202
    assert curve["x"][0] == 0 and curve["y"][0] == 0
    assert math.isclose(curve["x"][-1], 1) and math.isclose(curve["y"][-1], 1)
    assert all(b >= a for a, b in zip(curve["y"], curve["y"][1:]))

    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select revenue_12m::double, pareto_class from analytics.segmented_accounts "
                       "where revenue_12m > 0").fetchall()
    con.close()
    revenue_a = sum(r for r, c in rows if c == "A") / sum(r for r, _ in rows)
    share_a = sum(1 for _, c in rows if c == "A") / len(rows)
    marker = next(t for t in figure["data"] if t["name"] == "class A share")
    assert math.isclose(marker["x"][0], share_a) and math.isclose(marker["y"][0], revenue_a)
    assert f"earn {revenue_a:.1%} of revenue" in " ".join(report.texts)


def test_to_be_defined_bars_and_the_configured_warning_line(two_publications):
    *_, report = two_publications
    (figure,) = figures_titled(report, "left to_be_defined")
    bars = dict(zip(figure["data"][0]["x"], figure["data"][0]["y"]))
    assert bars["industry_vertical"] > 0.10
    (line,) = [s for s in figure["layout"]["shapes"] if s["type"] == "line"]
    assert line["y0"] == line["y1"] == load_config().gate.to_be_defined_warning_share
    assert "Above 10%: " in " ".join(report.texts) and "industry_vertical" in " ".join(report.texts)


def test_share_moves_quarantine_and_owner_tables(two_publications):
    warehouse, *_, report = two_publications
    con = duckdb.connect(str(warehouse), read_only=True)
    big_moves = con.execute(
        "select dimension, segment from analytics.segment_kpis where abs(share_of_accounts_change) > 0.05"
    ).fetchall()
    con.close()
    tables = {tuple(t[0]): t[1:] for t in report.tables}
    moves = tables[("dimension", "segment", "accounts before", "accounts now", "share before", "share now", "change")]
    assert big_moves and sorted((r[0], r[1]) for r in moves) == sorted(big_moves)
    quarantine = tables[("source", "entity", "reason", "input rows")]
    assert quarantine == [["crm", "accounts", "missing_mandatory_field", "2"],
                          ["finance", "invoices", "unknown_account", "1"]]
    owners = next(rows for header, rows in tables.items() if header[0] == "owner")
    assert [row[:3] for row in owners] == [["U000", "16", "10"]]


def test_first_publication_says_there_is_nothing_to_compare(tmp_path):
    warehouse = tmp_path / "segments.duckdb"
    built = build_warehouse(warehouse, publications=1)
    report = read_report(write_run_report(warehouse, built["run_id"], tmp_path / "first.html"))
    text = " ".join(report.texts)
    assert "first publication of this warehouse" in text
    assert "no previous publication to compare segment shares with" in text
    assert not figures_titled(report, "changed segment")


def test_a_warehouse_from_before_the_report_tables_gets_a_report_all_the_same(tmp_path):
    warehouse = tmp_path / "segments.duckdb"
    built = build_warehouse(warehouse, with_new_tables=False)
    report = read_report(write_run_report(warehouse, built["run_id"]))
    text = " ".join(report.texts)
    for table in ("segment_kpis", "segment_history", "owner_portfolios"):
        assert f"no analytics.{table} table" in text
    assert figures_titled(report, "Cumulative share of revenue")
    assert figures_titled(report, "Quarantined input rows")


def test_a_run_that_is_not_a_publication_is_refused(tmp_path):
    warehouse = tmp_path / "segments.duckdb"
    build_warehouse(warehouse)
    with pytest.raises(ReportError, match="not a publication"):
        write_run_report(warehouse, "00000000-0000-0000-0000-000000000000")
    # RUN_1's tables were replaced by RUN_2's and no analytics_previous was kept here.
    with pytest.raises(ReportError, match="no longer in the warehouse"):
        write_run_report(warehouse, RUN_1)
    assert not (tmp_path / "segments.reports").exists()


def test_what_if_report_has_one_heatmap_per_dimension_with_moves_and_the_examples(tmp_path):
    moves = [
        {"dimension": "value_tier", "from_segment": "medium", "to_segment": "high", "accounts": 12,
         "examples": ["A00001", "A00002", "A00003", "A00004", "A00005", "A00006"]},
        {"dimension": "value_tier", "from_segment": "low", "to_segment": "medium", "accounts": 3,
         "examples": ["A00010"]},
        {"dimension": "risk_profile", "from_segment": "medium", "to_segment": "high", "accounts": 2,
         "examples": ["A00020", "A00021"]},
    ]
    path = write_what_if_report(
        tmp_path / "what-if" / "candidate.html", as_of=DAY_2, published_ruleset="abcdef123456",
        candidate_ruleset="0123456789ab", candidate_config="candidate.yml", moves=moves,
        totals={"value_tier": 100, "risk_profile": 100, "region": 100},
    )
    report = read_report(path)
    assert report.external == []
    heatmaps = {title_of(f).split(":")[0]: f for f in report.figures if "would move" in title_of(f)}
    assert set(heatmaps) == {"value_tier", "risk_profile"}
    assert heatmap_counts(heatmaps["value_tier"]) == Counter({("medium", "high"): 12, ("low", "medium"): 3})
    (table,) = [t for t in report.tables if t[0][0] == "dimension"]
    assert table[1] == ["value_tier", "medium", "high", "12", "12.0%", "A00001, A00002, A00003, A00004, A00005"]
    assert "no account moves in: region" in " ".join(report.texts)


def test_what_if_report_without_moves_says_so(tmp_path):
    path = write_what_if_report(
        tmp_path / "same.html", as_of=DAY_2, published_ruleset="abcdef123456", candidate_ruleset="abcdef123456",
        candidate_config="same.yml", moves=[], totals={"value_tier": 10},
    )
    report = read_report(path)
    assert report.figures == []
    assert "moves no account" in " ".join(report.texts)
