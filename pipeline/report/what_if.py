"""The what-if report: which accounts a candidate ruleset would move, before it is adopted."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipeline.config import ConfigError, load_config
from pipeline.report.charts import migration_heatmap, moves_per_dimension_bar
from pipeline.report.page import Page, Table

EXAMPLES_SHOWN = 5


def write_what_if_report(
    out_path: Path,
    *,
    as_of: date,
    published_ruleset: str,
    candidate_ruleset: str,
    candidate_config: str,
    moves: list[dict],
    totals: dict[str, int],
) -> Path:
    """One page: a migration heatmap per dimension with moves and a table of the moves.

    `moves` rows: dimension, from_segment, to_segment, accounts, examples (account ids);
    only rows whose segment changes. `totals`: accounts compared per dimension."""
    by_dimension: dict[str, dict[tuple[str, str], int]] = {}
    examples: dict[tuple[str, str, str], list[str]] = {}
    for move in moves:
        dimension, source, target = str(move["dimension"]), str(move["from_segment"]), str(move["to_segment"])
        if source == target:
            continue
        cells = by_dimension.setdefault(dimension, {})
        cells[(source, target)] = cells.get((source, target), 0) + int(move["accounts"])
        examples.setdefault((dimension, source, target), []).extend(str(e) for e in move.get("examples") or [])

    moved = {d: sum(cells.values()) for d, cells in by_dimension.items()}
    page = Page(f"What if: candidate ruleset {candidate_ruleset} as of {as_of.isoformat()}")
    page.facts = [
        ("as of", as_of.isoformat()),
        ("published ruleset", published_ruleset),
        ("candidate ruleset", candidate_ruleset),
        ("candidate configuration", candidate_config),
        ("dimensions compared", f"{len(totals):,}"),
        ("dimensions with moves", f"{len(by_dimension):,}"),
    ]

    summary = page.section("summary", "Accounts that would change segment")
    if not by_dimension:
        summary.note(
            f"The candidate ruleset moves no account: every one of the {len(totals):,} dimensions compared "
            "keeps its published segments."
        )
        return page.write(out_path)
    unchanged = sorted(set(totals) - set(by_dimension))
    summary.note(
        f"Under the candidate ruleset, accounts would change segment in {len(by_dimension)} of {len(totals)} "
        "dimensions" + (f"; no account moves in: {', '.join(unchanged)}." if unchanged else ".")
    )
    summary.figure(moves_per_dimension_bar(
        moved, totals, title="Accounts that would change segment, per dimension (share of accounts compared)",
    ), "what-if-summary")

    try:
        # Only the order of the axes; a candidate's own segments still show, after the declared ones.
        declared = {d: [*s, "to_be_defined"] for d, s in load_config().declared_segments().items()}
    except ConfigError:
        declared = {}
    heatmaps = page.section("migration", "Where the accounts would go")
    heatmaps.note("Rows: the published segment; columns: the segment under the candidate ruleset. "
                  "Only accounts that would move are counted.")
    for dimension in sorted(by_dimension, key=lambda d: (-moved[d], d)):
        of = f" of {totals[dimension]:,}" if dimension in totals else ""
        heatmaps.figure(migration_heatmap(
            by_dimension[dimension],
            title=f"{dimension}: {moved[dimension]:,}{of} accounts would move",
            from_label="published segment", to_label="candidate segment", declared=declared.get(dimension, ()),
        ), f"what-if-{dimension}", grid=True)

    table = page.section("moves", "Moves with example accounts")
    rows = sorted(
        ((d, s, t, n) for d, cells in by_dimension.items() for (s, t), n in cells.items()),
        key=lambda r: (-moved[r[0]], r[0], -r[3], r[1], r[2]),
    )
    table.table(Table(
        ["dimension", "published segment", "candidate segment", "accounts", "share of compared", "examples"],
        [(d, s, t, f"{n:,}", f"{n / totals[d]:.1%}" if totals.get(d) else "",
          ", ".join(examples[(d, s, t)][:EXAMPLES_SHOWN])) for d, s, t, n in rows],
        numeric=frozenset({3, 4}),
    ))
    return page.write(out_path)
