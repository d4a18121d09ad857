"""The per-run HTML report: what a publication looks like, for people who look rather than read.

Everything is aggregated in DuckDB and only small results are fetched (at most a few
hundred rows per section), so a warehouse of a million accounts costs a few window
functions, not a DataFrame of a million rows. The report reads only the published
warehouse, opened read-only: it can run at any time, also while a run publishes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipeline.config import ConfigError, load_config
from pipeline.report.charts import NOT_PUBLISHED, migration_heatmap, ordered_segments
from pipeline.report.page import ALERT, MUTED, NEUTRAL, Page, Section, Table

PUBLISHED_SCHEMA = "analytics"
PREVIOUS_SCHEMA = "analytics_previous"  # pipeline.publish keeps the replaced publication here
PARETO_POINTS = 200
TO_BE_DEFINED = "to_be_defined"


class ReportError(ValueError):
    """The warehouse holds nothing to report on for this run."""


@dataclass(frozen=True)
class Publication:
    run_id: str
    as_of_date: date
    ruleset_version: str | None
    rows_published: int | None
    rows_quarantined: int | None
    check_results: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class Settings:
    """What the report takes from the configuration: thresholds it draws and the segment order."""

    base_currency: str = "EUR"
    to_be_defined_warning_share: float = 0.10
    segment_share_move_warning: float = 0.05
    declared: dict[str, list[str]] | None = None

    @classmethod
    def load(cls, config_file: str | Path | None) -> "Settings":
        try:
            config = load_config(config_file)
        except ConfigError:
            # The report must still show the publication; a broken file only costs the lines.
            return cls()
        gate = config.gate
        return cls(
            base_currency=config.general.base_currency,
            to_be_defined_warning_share=float(gate.to_be_defined_warning_share),
            segment_share_move_warning=float(getattr(gate, "segment_share_move_warning", 0.05)),
            declared=config.declared_segments(),
        )

    def dimension_order(self, dimensions: set[str]) -> list[str]:
        known = [d for d in (self.declared or {}) if d in dimensions]
        return known + sorted(dimensions - set(known))

    def segments_of(self, dimension: str) -> list[str]:
        return [*(self.declared or {}).get(dimension, []), TO_BE_DEFINED]


def report_path(warehouse: Path, as_of: date, run_id: str) -> Path:
    """Where a run's report lives: beside the warehouse, one file per publication."""
    warehouse = Path(warehouse)
    return warehouse.parent / f"{warehouse.stem}.reports" / f"{as_of.isoformat()}_{run_id[:8]}.html"


def write_run_report(
    warehouse: Path, run_id: str, out_path: Path | None = None, *, config_file: str | Path | None = None
) -> Path:
    """Write the report of publication `run_id` of `warehouse`; returns its path.

    `config_file` is the run's configuration overlay, when it had one: the report draws
    its warning thresholds. Raises ReportError when the warehouse no longer holds the
    publication's tables (only the current and the previous one are kept)."""
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise ReportError(f"{warehouse}: no such warehouse file")
    settings = Settings.load(config_file)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        page = _RunReport(con, run_id, settings).build()
        as_of = page.as_of
    finally:
        con.close()
    return page.page.write(out_path or report_path(warehouse, as_of, run_id))


@dataclass
class _Built:
    page: Page
    as_of: date


class _RunReport:
    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, settings: Settings):
        self.con = con
        self.run_id = run_id
        self.settings = settings
        self.tables = {
            (schema, name)
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()"
            ).fetchall()
        }

    # -- reading ---------------------------------------------------------------------------

    def has(self, table: str) -> bool:
        return (self.schema, table) in self.tables

    def rows(self, sql: str, params: list[Any] | dict[str, Any] | None = None) -> list[tuple]:
        return self.con.execute(sql.format(s=self.schema), params or []).fetchall()

    def _publication(self) -> Publication:
        if (PUBLISHED_SCHEMA, "publications") not in self.tables:
            raise ReportError("the warehouse has no analytics.publications table: nothing was published")
        rows = self.con.execute(
            f"""select run_id, as_of_date, ruleset_version, rows_published, rows_quarantined, check_results,
                       published_at
                from {PUBLISHED_SCHEMA}.publications where run_id = ? order by published_at""",
            [self.run_id],
        ).fetchall()
        if not rows:
            raise ReportError(f"run {self.run_id} is not a publication of this warehouse")
        # A rollback re-adds the restored run with a later time; the first row is its publication.
        first = Publication(*rows[0])
        return Publication(*rows[0][:5], rows[-1][5], first.published_at)

    def _data_schema(self) -> str:
        """The schema holding this run's tables: the current publication or the one it replaced."""
        for schema in (PUBLISHED_SCHEMA, PREVIOUS_SCHEMA):
            if (schema, "publications") not in self.tables:
                continue
            newest = self.con.execute(
                f"select run_id from {schema}.publications order by published_at desc limit 1"
            ).fetchone()
            if newest is not None and newest[0] == self.run_id:
                return schema
        raise ReportError(
            f"run {self.run_id} was published, but its tables are no longer in the warehouse "
            "(it keeps the current publication and the one before it)"
        )

    def _previous(self, publication: Publication) -> tuple[str, date, datetime] | None:
        return self.con.execute(
            f"""select run_id, as_of_date, published_at from {PUBLISHED_SCHEMA}.publications
                where run_id <> ? and published_at < ? order by published_at desc limit 1""",
            [self.run_id, publication.published_at],
        ).fetchone()

    # -- the page --------------------------------------------------------------------------

    def build(self) -> _Built:
        publication = self._publication()
        self.schema = self._data_schema()
        previous = self._previous(publication)
        self.publication = publication
        self.previous = previous

        page = Page(f"Account segmentation as of {publication.as_of_date.isoformat()}")
        page.facts = [
            ("as of", publication.as_of_date.isoformat()),
            ("run", publication.run_id),
            ("ruleset", publication.ruleset_version or "unknown"),
            ("rows published", _count(publication.rows_published)),
            ("rows quarantined", _count(publication.rows_quarantined)),
            ("previous publication",
             f"as of {previous[1].isoformat()} (run {previous[0][:8]})" if previous else "none"),
            ("published at", f"{publication.published_at:%Y-%m-%d %H:%M} UTC" if publication.published_at else "?"),
            ("checks", _checks_summary(publication.check_results)),
        ]
        if self.schema == PREVIOUS_SCHEMA:
            page.facts.append(("note", "no longer the current publication (read from analytics_previous)"))

        self._segments(page.section("segments", "Segments per dimension"))
        self._pareto(page.section("pareto", "Revenue concentration (Pareto)"))
        self._migration(page.section("migration", "Segment moves since the previous publication"))
        self._to_be_defined(page.section("to-be-defined", "Accounts without a segment (to_be_defined)"))
        self._share_moves(page.section("share-moves", "Segment shares that moved"))
        self._quarantine(page.section("quarantine", "Quarantined input rows"))
        self._owners(page.section("owners", "Owners over capacity"))
        return _Built(page, publication.as_of_date)

    def _missing(self, section: Section, table: str) -> None:
        section.note(
            f"This warehouse has no {self.schema}.{table} table (it was published by a version of the "
            "pipeline before that table existed), so this section is empty."
        )

    def _segments(self, section: Section) -> None:
        if not self.has("segment_kpis"):
            return self._missing(section, "segment_kpis")
        rows = self.rows(
            """select dimension, segment, accounts, share_of_accounts, revenue::double, share_of_revenue
               from {s}.segment_kpis"""
        )
        if not rows:
            section.note("No segment figures were published for this run.")
            return
        by_dimension: dict[str, dict[str, tuple]] = {}
        for dimension, segment, *values in rows:
            by_dimension.setdefault(dimension, {})[segment] = tuple(values)
        currency = self.settings.base_currency
        section.note(
            f"Accounts (left) and revenue of the last 12 months in {currency} (right) of each segment; "
            "the labels give the share of all published accounts and of all revenue."
        )
        for dimension in self.settings.dimension_order(set(by_dimension)):
            values = by_dimension[dimension]
            segments = ordered_segments(values, self.settings.segments_of(dimension))
            accounts = [values[s][0] or 0 for s in segments]
            revenue = [values[s][2] or 0.0 for s in segments]
            figure = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                                   subplot_titles=("accounts", f"revenue, last 12 months ({currency})"))
            figure.add_trace(go.Bar(
                x=accounts, y=segments, orientation="h", marker_color=NEUTRAL, name="accounts",
                text=[f"{a:,} ({_pct(values[s][1])})" for a, s in zip(accounts, segments)],
                textposition="auto", hovertemplate="%{y}: %{x:,} accounts<extra></extra>",
            ), row=1, col=1)
            figure.add_trace(go.Bar(
                x=revenue, y=segments, orientation="h", marker_color="#72b7b2", name="revenue",
                text=[f"{r:,.0f} ({_pct(values[s][3])})" for r, s in zip(revenue, segments)],
                textposition="auto", hovertemplate="%{y}: %{x:,.0f} " + currency + "<extra></extra>",
            ), row=1, col=2)
            figure.update_layout(
                title=f"{dimension}: accounts and revenue per segment", showlegend=False,
                height=max(260, 130 + 34 * len(segments)), margin=dict(l=20, r=20, t=80, b=50),
            )
            figure.update_yaxes(title_text="segment", autorange="reversed", type="category", row=1, col=1)
            figure.update_xaxes(title_text="accounts", row=1, col=1)
            figure.update_xaxes(title_text=currency, row=1, col=2)
            section.figure(figure, f"segments-{dimension}", grid=True)

    def _pareto(self, section: Section) -> None:
        if not self.has("segmented_accounts"):
            return self._missing(section, "segmented_accounts")
        columns = {
            name for (name,) in self.con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = current_database() and table_schema = ? and table_name = 'segmented_accounts'",
                [self.schema],
            ).fetchall()
        }
        # Thin the curve to about PARETO_POINTS points in SQL: a million accounts stay a few hundred rows.
        points = self.rows(
            f"""with ranked as (
                    select row_number() over (order by revenue_12m desc, account_id) as r,
                           count(*) over () as n,
                           sum(revenue_12m) over (order by revenue_12m desc, account_id
                                                  rows between unbounded preceding and current row) as cumulative,
                           sum(revenue_12m) over () as total
                    from {{s}}.segmented_accounts where revenue_12m > 0
                )
                select r::double / n, (cumulative / total)::double
                from ranked
                where r = 1 or r = n or r % greatest(1, ceil(n / {PARETO_POINTS}.0))::bigint = 0
                order by r"""
        )
        if not points:
            section.note("No published account has revenue in the last 12 months: there is no curve to draw.")
            return
        x = [0.0] + [p[0] for p in points]
        y = [0.0] + [p[1] for p in points]
        figure = go.Figure()
        figure.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="every account earns the same",
                                    line=dict(color=MUTED, dash="dot"), hoverinfo="skip"))
        figure.add_trace(go.Scatter(
            x=x, y=y, mode="lines", name="accounts ranked by revenue", line=dict(color=NEUTRAL, width=3),
            hovertemplate="top %{x:.1%} of accounts earn %{y:.1%} of revenue<extra></extra>",
        ))
        text = None
        if "pareto_class" in columns:
            accounts_a, revenue_a, accounts, revenue = self.rows(
                """select count(*) filter (where pareto_class = 'A'),
                          coalesce(sum(revenue_12m) filter (where pareto_class = 'A'), 0)::double,
                          count(*), sum(revenue_12m)::double
                   from {s}.segmented_accounts where revenue_12m > 0"""
            )[0]
            share_accounts, share_revenue = accounts_a / accounts, revenue_a / revenue
            text = (f"Class A: {accounts_a:,} accounts ({share_accounts:.1%} of those with revenue) "
                    f"earn {share_revenue:.1%} of revenue")
            figure.add_trace(go.Scatter(
                x=[0, share_accounts, share_accounts], y=[share_revenue, share_revenue, 0], mode="lines",
                name="class A", line=dict(color=ALERT, dash="dash"), hoverinfo="skip",
            ))
            figure.add_trace(go.Scatter(
                x=[share_accounts], y=[share_revenue], mode="markers+text", name="class A share",
                marker=dict(color=ALERT, size=10), text=[f"class A: {share_revenue:.0%} of revenue"],
                textposition="bottom right", hovertemplate=text + "<extra></extra>", showlegend=False,
            ))
        figure.update_layout(
            title="Cumulative share of revenue (last 12 months) by share of accounts, highest revenue first",
            height=480, margin=dict(l=20, r=20, t=70, b=50), legend=dict(x=0.55, y=0.1),
            xaxis=dict(title="share of accounts with revenue (ranked by revenue, highest first)",
                       tickformat=".0%", range=[0, 1]),
            yaxis=dict(title="cumulative share of revenue", tickformat=".0%", range=[0, 1.02]),
        )
        if text:
            section.note(text + ".")
        section.figure(figure, "pareto")

    def migration_counts(self, from_date: date, to_date: date) -> dict[str, dict[tuple[str, str], int]]:
        """Accounts per dimension, segment on `from_date` and segment on `to_date` (type 2 history).

        A row valid on both dates is a (segment, same segment) count without looking at
        its account; only the few accounts whose row differs between the dates are
        grouped per account (a group per account and dimension of the whole history
        took 9 s at a million accounts)."""
        on_from = "valid_from <= $from_date and (valid_to is null or valid_to > $from_date)"
        on_to = "valid_from <= $to_date and (valid_to is null or valid_to > $to_date)"
        rows = self.rows(
            f"""select dimension, coalesce(segment_value, '(empty)'), coalesce(segment_value, '(empty)'), count(*)
                from {{s}}.segment_history
                where {on_from} and {on_to}
                group by all
                union all
                select dimension, coalesce(from_segment, '{NOT_PUBLISHED}'), coalesce(to_segment, '{NOT_PUBLISHED}'),
                       count(*)
                from (
                    select dimension, account_id,
                           max(coalesce(segment_value, '(empty)')) filter (where {on_from}) as from_segment,
                           max(coalesce(segment_value, '(empty)')) filter (where {on_to}) as to_segment
                    from {{s}}.segment_history
                    where ({on_from} or {on_to}) and not ({on_from} and {on_to})
                    group by dimension, account_id
                ) as moved
                group by all""",
            {"from_date": from_date, "to_date": to_date},
        )
        counts: dict[str, dict[tuple[str, str], int]] = {}
        for dimension, source, target, accounts in rows:
            cells = counts.setdefault(dimension, {})
            cells[(source, target)] = cells.get((source, target), 0) + accounts
        return counts

    def _migration(self, section: Section) -> None:
        if self.previous is None:
            section.note("This is the first publication of this warehouse: there is no previous one to compare with.")
            return
        if not self.has("segment_history"):
            return self._missing(section, "segment_history")
        previous_as_of, as_of = self.previous[1], self.publication.as_of_date
        counts = self.migration_counts(previous_as_of, as_of)
        if not counts:
            section.note(f"The segment history holds no account on {previous_as_of} or {as_of}.")
            return
        moved, entered_or_left, compared = {}, {}, {}
        for dimension, cells in counts.items():
            compared[dimension] = sum(cells.values())
            moved[dimension] = sum(v for (a, b), v in cells.items() if a != b and NOT_PUBLISHED not in (a, b))
            entered_or_left[dimension] = sum(v for (a, b), v in cells.items() if a != b and NOT_PUBLISHED in (a, b))
        order = self.settings.dimension_order(set(counts))
        section.note(
            f"Each account's segment on {previous_as_of} (the previous publication's as-of date) against its "
            f"segment on {as_of}, from the segment history. Grey cells stayed, red cells moved; "
            f"'{NOT_PUBLISHED}' is an account that was not published on that day."
        )
        summary = go.Figure()
        summary.add_trace(go.Bar(
            y=order, x=[moved[d] for d in order], orientation="h", name="changed segment", marker_color=ALERT,
            hovertemplate="%{y}: %{x:,} accounts changed segment<extra></extra>",
        ))
        summary.add_trace(go.Bar(
            y=order, x=[entered_or_left[d] for d in order], orientation="h", marker_color=MUTED,
            name="entered or left the publication",
            hovertemplate="%{y}: %{x:,} accounts entered or left<extra></extra>",
        ))
        summary.update_layout(
            barmode="stack", title=f"Accounts whose segment changed between {previous_as_of} and {as_of}",
            height=max(300, 120 + 24 * len(order)), margin=dict(l=20, r=20, t=60, b=50),
            # Whole accounts only: a day's moves are often single digits, where plotly would tick at 0.5.
            xaxis=dict(title="accounts", dtick=1 if max(moved[d] + entered_or_left[d] for d in order) <= 10 else None),
            yaxis=dict(title="dimension", autorange="reversed", type="category"),
            legend=dict(orientation="h", y=-0.12),
        )
        section.figure(summary, "migration-summary")
        # Accounts entering or leaving the publication touch every dimension alike: the summary
        # counts them, a heatmap is drawn only where published accounts changed segment.
        unchanged = [d for d in order if moved[d] == 0]
        for dimension in order:
            if dimension in unchanged:
                continue
            figure = migration_heatmap(
                counts[dimension], declared=self.settings.segments_of(dimension),
                title=f"{dimension}: {moved[dimension]:,} of {compared[dimension]:,} accounts changed segment",
                from_label=f"segment on {previous_as_of}", to_label=f"segment on {as_of}",
            )
            section.figure(figure, f"migration-{dimension}", grid=True)
        if unchanged:
            section.note("No account published on both days changed segment in: " + ", ".join(unchanged) + ".")

    def _to_be_defined(self, section: Section) -> None:
        if not self.has("segment_kpis"):
            return self._missing(section, "segment_kpis")
        rows = dict(self.rows(
            f"""select dimension,
                       coalesce(max(share_to_be_defined),
                                sum(share_of_accounts) filter (where segment = '{TO_BE_DEFINED}'), 0)::double
                from {{s}}.segment_kpis group by dimension"""
        ))
        if not rows:
            section.note("No segment figures were published for this run.")
            return
        threshold = self.settings.to_be_defined_warning_share
        order = self.settings.dimension_order(set(rows))
        shares = [rows[d] for d in order]
        over = [d for d in order if rows[d] > threshold]
        figure = go.Figure(go.Bar(
            x=order, y=shares, marker_color=[ALERT if s > threshold else NEUTRAL for s in shares],
            text=[f"{s:.1%}" for s in shares], textposition="outside",
            hovertemplate="%{x}: %{y:.1%} of accounts are to_be_defined<extra></extra>",
        ))
        figure.add_hline(y=threshold, line=dict(color="#1f2933", dash="dash", width=2), layer="above",
                         annotation_text=f"warning above {threshold:.0%}", annotation_position="top right")
        figure.update_layout(
            title="Share of accounts left to_be_defined, per dimension", height=460,
            margin=dict(l=20, r=20, t=60, b=130),
            xaxis=dict(title="dimension", type="category", tickangle=-45),
            yaxis=dict(title="share of published accounts", tickformat=".0%",
                       range=[0, max([threshold, *shares]) * 1.2 or 0.1]),
        )
        section.note(
            f"Above {threshold:.0%}: " + ", ".join(over) + "." if over
            else f"No dimension has more than {threshold:.0%} of its accounts to_be_defined."
        )
        section.figure(figure, "to-be-defined")

    def _share_moves(self, section: Section) -> None:
        if not self.has("segment_kpis"):
            return self._missing(section, "segment_kpis")
        threshold = self.settings.segment_share_move_warning
        compared = self.rows("select count(share_of_accounts_change) from {s}.segment_kpis")[0][0]
        if not compared:
            section.note("There is no previous publication to compare segment shares with.")
            return
        rows = self.rows(
            """select dimension, segment, previous_accounts, accounts, previous_share_of_accounts,
                      share_of_accounts, share_of_accounts_change
               from {s}.segment_kpis where abs(share_of_accounts_change) > ?
               order by abs(share_of_accounts_change) desc, dimension, segment""",
            [threshold],
        )
        if not rows:
            section.note(
                f"No segment's share of accounts moved by more than {threshold * 100:.0f} percentage points "
                "since the previous publication."
            )
            return
        section.note(
            f"Segments whose share of accounts moved by more than {threshold * 100:.0f} percentage points since "
            "the previous publication: either the business changed or the data broke."
        )
        section.table(Table(
            ["dimension", "segment", "accounts before", "accounts now", "share before", "share now", "change"],
            [(d, s, _count(pa), _count(a), _pct(ps), _pct(sh), f"{ch * 100:+.1f} pp")
             for d, s, pa, a, ps, sh, ch in rows],
            numeric=frozenset({2, 3, 4, 5, 6}),
        ))

    def _quarantine(self, section: Section) -> None:
        if not self.has("quarantine"):
            return self._missing(section, "quarantine")
        rows = self.rows(
            """select source, entity, reason_code, count(*) as input_rows
               from {s}.quarantine group by all order by input_rows desc, source, entity, reason_code"""
        )
        if not rows:
            section.note("No input row was quarantined.")
            return
        total = sum(r[3] for r in rows)
        section.note(f"{total:,} input rows were rejected; each is in analytics.quarantine with its detail.")
        labels = [f"{source}/{entity}: {reason}" for source, entity, reason, _ in rows]
        figure = go.Figure(go.Bar(
            x=[r[3] for r in rows], y=labels, orientation="h", marker_color=ALERT,
            text=[f"{r[3]:,}" for r in rows], textposition="auto",
            hovertemplate="%{y}: %{x:,} rows<extra></extra>",
        ))
        figure.update_layout(
            title="Quarantined input rows by source, entity and reason", height=max(260, 120 + 28 * len(rows)),
            margin=dict(l=20, r=20, t=60, b=50), xaxis=dict(title="input rows"),
            yaxis=dict(title="source/entity: reason", autorange="reversed", type="category"),
        )
        section.figure(figure, "quarantine")
        section.table(Table(["source", "entity", "reason", "input rows"],
                            [(a, b, c, _count(n)) for a, b, c, n in rows], numeric=frozenset({3})))

    def _owners(self, section: Section) -> None:
        if not self.has("owner_portfolios"):
            return self._missing(section, "owner_portfolios")
        owners, overloaded = self.rows(
            "select count(*), count(*) filter (where is_overloaded) from {s}.owner_portfolios"
        )[0]
        rows = self.rows(
            """select owner_id, accounts, max_accounts, key_accounts, max_key_accounts, overload_reason,
                      revenue_12m::double
               from {s}.owner_portfolios where is_overloaded
               order by accounts - max_accounts desc, owner_id"""
        )
        if not rows:
            section.note(f"None of the {owners:,} account owners is over capacity.")
            return
        section.note(f"{overloaded:,} of {owners:,} account owners are over capacity.")
        currency = self.settings.base_currency
        section.table(Table(
            ["owner", "accounts", "capacity", "key accounts", "key account capacity", "why",
             f"revenue 12m ({currency})"],
            [(o, _count(a), _count(ma), _count(k), _count(mk), reason, f"{rev:,.0f}" if rev is not None else "")
             for o, a, ma, k, mk, reason, rev in rows],
            numeric=frozenset({1, 2, 3, 4, 6}),
        ))


def _count(value: int | None) -> str:
    return "" if value is None else f"{int(value):,}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _checks_summary(check_results: str | None) -> str:
    try:
        checks = json.loads(check_results or "[]")
    except ValueError:
        return "unreadable"
    if not isinstance(checks, list):
        return "unreadable"
    checks = [c for c in checks if isinstance(c, dict) and c.get("name") != "rollback"]
    passed = sum(1 for c in checks if c.get("passed"))
    failed = [str(c.get("name")) for c in checks if not c.get("passed")]
    return f"{passed} passed" + (f", not passed: {', '.join(failed)}" if failed else "")
