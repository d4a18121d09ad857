"""Figures shared by the run report and the what-if report."""

from __future__ import annotations

from typing import Iterable, Mapping

import plotly.graph_objects as go

from pipeline.report.page import ALERT, MUTED, NEUTRAL

NOT_PUBLISHED = "(not published)"


def ordered_segments(values: Iterable[str], declared: Iterable[str] = ()) -> list[str]:
    """Declared order first (how the rules list them), then the others sorted, absent last."""
    present = set(values)
    order = [s for s in declared if s in present]
    order += sorted(s for s in present if s not in order and s != NOT_PUBLISHED)
    if NOT_PUBLISHED in present:
        order.append(NOT_PUBLISHED)
    return order


def migration_heatmap(
    counts: Mapping[tuple[str, str], int],
    *,
    title: str,
    from_label: str,
    to_label: str,
    declared: Iterable[str] = (),
) -> go.Figure:
    """from x to counts. Accounts that stayed are grey and accounts that moved are
    coloured on their own scale: otherwise the diagonal's thousands wash out the few
    moves a person is looking for."""
    segments = ordered_segments([s for pair in counts for s in pair], declared)
    stayed = [[None] * len(segments) for _ in segments]
    moved = [[None] * len(segments) for _ in segments]
    index = {s: i for i, s in enumerate(segments)}
    for (source, target), accounts in counts.items():
        grid = stayed if source == target else moved
        grid[index[source]][index[target]] = int(accounts)

    def labels(grid):
        return [["" if v is None else f"{v:,}" for v in row] for row in grid]

    hover = "%{z:,} accounts<br>from %{y}<br>to %{x}<extra></extra>"
    figure = go.Figure()
    # A trace without a single value would throw plotly's cell layout off by half a cell.
    for name, grid, colours in (("stayed", stayed, [[0, "#eef1f5"], [1, MUTED]]),
                                ("moved", moved, [[0, "#fdd9d3"], [1, ALERT]])):
        if any(v is not None for row in grid for v in row):
            figure.add_trace(go.Heatmap(
                z=grid, x=segments, y=segments, name=name, text=labels(grid), texttemplate="%{text}",
                colorscale=colours, showscale=False, hovertemplate=hover, xgap=2, ygap=2,
            ))
    size = 140 + 46 * len(segments)
    figure.update_layout(
        title=title, height=max(320, size), margin=dict(l=20, r=20, t=60, b=20),
        xaxis=dict(title=to_label, type="category", side="bottom"),
        yaxis=dict(title=from_label, type="category", autorange="reversed"),
    )
    return figure


def moves_per_dimension_bar(moved: Mapping[str, int], compared: Mapping[str, int], *, title: str) -> go.Figure:
    """How many accounts changed segment in each dimension, largest first."""
    dimensions = sorted(moved, key=lambda d: (-moved[d], d))
    shares = [moved[d] / compared[d] if compared.get(d) else None for d in dimensions]
    figure = go.Figure(go.Bar(
        x=[moved[d] for d in dimensions], y=dimensions, orientation="h", marker_color=ALERT,
        text=[f"{moved[d]:,}" + (f" ({s:.1%})" if s is not None else "") for d, s in zip(dimensions, shares)],
        textposition="auto", hovertemplate="%{y}: %{x:,} accounts changed segment<extra></extra>",
    ))
    figure.update_layout(
        title=title, height=max(260, 110 + 26 * len(dimensions)), margin=dict(l=20, r=20, t=60, b=40),
        xaxis=dict(title="accounts that changed segment"),
        yaxis=dict(title="dimension", autorange="reversed", type="category"),
    )
    return figure


__all__ = ["NOT_PUBLISHED", "NEUTRAL", "migration_heatmap", "moves_per_dimension_bar", "ordered_segments"]
