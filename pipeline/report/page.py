"""One self-contained HTML page of sections, plotly figures and small tables.

The page must open on a machine without network (a file mailed around, a CI
artifact), so plotly.js is embedded once in the head and nothing refers to another
host. Each figure travels as a JSON island (`<script type="application/json"
class="figure-data">`) drawn by one loader at the end of the page: the figures stay
machine-readable (the tests read them back) and the shared plotly template is
embedded once rather than in every figure.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs

TEMPLATE_NAME = "plotly_white"
# Colours a person reads the same way across charts: neutral for "stayed", warm for "moved / too high".
NEUTRAL = "#4c78a8"
ALERT = "#e45756"
MUTED = "#b0b7c3"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2933;
       background: #f5f7fa; }
header { background: #1f2933; color: #fff; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .4rem 0; font-size: 1.5rem; }
header .facts { display: flex; flex-wrap: wrap; gap: .6rem 2rem; font-size: .95rem; }
header .facts span b { color: #9fb3c8; font-weight: normal; margin-right: .3rem; }
nav { background: #fff; padding: .5rem 2rem; border-bottom: 1px solid #d9e2ec; font-size: .9rem; }
nav a { margin-right: 1rem; color: #334e68; }
main { padding: 1rem 2rem 3rem 2rem; }
section { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 1rem 1.5rem;
          margin: 1rem 0; }
section h2 { margin-top: .2rem; font-size: 1.2rem; }
p.note { color: #52606d; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 1rem; }
.figure { min-height: 200px; }
table { border-collapse: collapse; font-size: .9rem; margin: .5rem 0; }
th, td { border-bottom: 1px solid #e4e7eb; padding: .3rem .7rem; text-align: left; vertical-align: top; }
th { background: #f0f4f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""

# Draws every figure island into the div before it; runs once plotly.js (in the head) is loaded.
_LOADER = """
(function () {
  var template = JSON.parse(document.getElementById("plotly-template").textContent);
  var islands = document.querySelectorAll("script.figure-data");
  for (var i = 0; i < islands.length; i++) {
    var figure = JSON.parse(islands[i].textContent);
    var layout = figure.layout || {};
    layout.template = template;
    Plotly.newPlot(islands[i].getAttribute("data-target"), figure.data, layout,
                   {responsive: true, displaylogo: false});
  }
})();
"""


def _json_for_script(value: Any) -> str:
    """JSON that cannot close the script element it sits in."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _figure_json(figure: go.Figure) -> dict[str, Any]:
    data = json.loads(pio.to_json(figure, validate=True))
    data.get("layout", {}).pop("template", None)
    return data


@dataclass
class Table:
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]
    numeric: frozenset[int] = frozenset()

    def render(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.columns)
        body = []
        for row in self.rows:
            cells = []
            for i, value in enumerate(row):
                css = ' class="num"' if i in self.numeric else ""
                cells.append(f"<td{css}>{html.escape('' if value is None else str(value))}</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


@dataclass
class Section:
    anchor: str
    title: str
    parts: list[str] = field(default_factory=list)
    _figures_open: bool = False

    def note(self, text: str) -> "Section":
        self._close_grid()
        self.parts.append(f'<p class="note">{html.escape(text)}</p>')
        return self

    def table(self, table: Table) -> "Section":
        self._close_grid()
        self.parts.append(table.render())
        return self

    def figure(self, figure: go.Figure, figure_id: str, grid: bool = False) -> "Section":
        """A figure; consecutive figures added with grid=True share one responsive grid."""
        if grid and not self._figures_open:
            self.parts.append('<div class="grid">')
            self._figures_open = True
        elif not grid:
            self._close_grid()
        div_id = f"figure-{figure_id}"
        self.parts.append(
            f'<div class="figure" id="{html.escape(div_id)}"></div>'
            f'<script type="application/json" class="figure-data" data-target="{html.escape(div_id)}">'
            f"{_json_for_script(_figure_json(figure))}</script>"
        )
        return self

    def _close_grid(self) -> None:
        if self._figures_open:
            self.parts.append("</div>")
            self._figures_open = False

    def render(self) -> str:
        self._close_grid()
        return (
            f'<section id="{html.escape(self.anchor)}"><h2>{html.escape(self.title)}</h2>'
            f"{''.join(self.parts)}</section>"
        )


@dataclass
class Page:
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def section(self, anchor: str, title: str) -> Section:
        section = Section(anchor, title)
        self.sections.append(section)
        return section

    def render(self) -> str:
        facts = "".join(
            f"<span><b>{html.escape(label)}</b>{html.escape(value)}</span>" for label, value in self.facts
        )
        nav = "".join(f'<a href="#{html.escape(s.anchor)}">{html.escape(s.title)}</a>' for s in self.sections)
        template = json.loads(to_json_plotly(pio.templates[TEMPLATE_NAME]))
        return (
            "<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_STYLE}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script>'
            f'<script type="application/json" id="plotly-template">{_json_for_script(template)}</script>'
            "</head><body>"
            f'<header><h1>{html.escape(self.title)}</h1><div class="facts">{facts}</div></header>'
            f"<nav>{nav}</nav><main>{''.join(s.render() for s in self.sections)}</main>"
            f'<script type="text/javascript">{_LOADER}</script>'
            "</body></html>\n"
        )

    def write(self, out_path: Path) -> Path:
        """Write atomically: someone opening the report never sees half a page."""
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.render())
            # mkstemp creates the file private; a report is for everyone who may read the warehouse.
            os.chmod(temp_name, 0o644)
            os.replace(temp_name, out_path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return out_path
