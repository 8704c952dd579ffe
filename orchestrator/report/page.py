"""The status report as one self-contained HTML page: plotly.js inline once, every figure as a div."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from orchestrator.report.queries import PanelState

# Static charts are enough for a status page; the mode bar's links (plotly's "edit in Chart Studio") would need
# the network.
_PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["sendDataToCloud"],
}

NOTICE_TEXT: dict[PanelState, str] = {
    "ok": "",
    "no_data": "No data yet: {table} has no rows in this window.",
    "table_missing": "Table not present: {table} does not exist in the warehouse yet.",
    "columns_missing": "Table {table} lacks the columns the report reads: {detail}.",
}

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #212121; background: #fafafa; }
header { background: #263238; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #cfd8dc; }
nav { padding: 8px 32px; background: #eceff1; }
nav a { margin-right: 18px; color: #37474f; }
main { padding: 8px 32px 32px 32px; }
section { background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; margin: 18px 0; padding: 12px 18px; }
section h2 { margin: 4px 0; font-size: 18px; }
section > p { margin: 4px 0 8px 0; color: #546e7a; }
.notice { border: 2px dashed #b0bec5; background: #f5f7f8; color: #455a64; padding: 24px; margin: 8px 0;
  border-radius: 6px; font-size: 15px; }
.notice strong { display: block; margin-bottom: 4px; color: #263238; }
table.summary { border-collapse: collapse; margin: 8px 0; }
table.summary th, table.summary td { border: 1px solid #e0e0e0; padding: 4px 10px; text-align: left; font-size: 13px; }
table.summary th { background: #f5f5f5; }
.legend span { display: inline-block; padding: 2px 8px; margin: 2px 6px 2px 0; border-radius: 3px; color: #fff;
  font-size: 12px; }
"""


@dataclass(frozen=True)
class Block:
    """One chart, or a notice saying why there is none."""

    title: str
    state: PanelState
    figure: go.Figure | None = None
    table: str = ""
    detail: str = ""

    def notice(self) -> str:
        """The notice text for a block without a chart."""
        return NOTICE_TEXT[self.state].format(table=self.table, detail=self.detail)


@dataclass(frozen=True)
class Section:
    """A titled part of the page with its charts."""

    anchor: str
    title: str
    description: str
    blocks: Sequence[Block]
    extra_html: str = ""


def _cell(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return "" if value is None else str(value)


def table_html(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A small HTML table of rows."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(name)))}</td>" for name in columns) + "</tr>" for row in rows
    )
    return f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def legend_html(colours: dict[str, str]) -> str:
    """Coloured labels, e.g. the completeness statuses."""
    items = "".join(
        f'<span style="background:{colour}">{html.escape(name.replace("_", " ").lower())}</span>'
        for name, colour in colours.items()
    )
    return f'<div class="legend">{items}</div>'


def _block_html(block: Block, div_id: str) -> str:
    if block.figure is not None:
        rendered: str = block.figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOTLY_CONFIG
        )
        return f'<div class="chart" data-chart="{html.escape(div_id)}">{rendered}</div>'
    return (
        f'<div class="notice" data-state="{block.state}" data-panel="{html.escape(div_id)}">'
        f"<strong>{html.escape(block.title)}</strong>{html.escape(block.notice())}</div>"
    )


def render_page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page: header, navigation, sections; plotly.js is inlined once in the head."""
    nav = "".join(f'<a href="#{section.anchor}">{html.escape(section.title)}</a>' for section in sections)
    parts = []
    for section in sections:
        blocks = "".join(_block_html(block, f"{section.anchor}-{index}") for index, block in enumerate(section.blocks))
        parts.append(
            f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>'
            f"<p>{html.escape(section.description)}</p>{section.extra_html}{blocks}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head>'
        f"<body><header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{''.join(parts)}</main></body></html>\n"
    )
