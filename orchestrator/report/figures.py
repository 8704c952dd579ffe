"""Plotly figures of the status report, built from the values the queries return."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
from plotly.colors import qualitative  # type: ignore[import-untyped]
from plotly.subplots import make_subplots  # type: ignore[import-untyped]

from orchestrator.report.queries import RECONCILIATION_STATUS_COLUMNS, Window

# Completeness statuses of control.source_completeness, in heat-map order, with their colours. NOT_EXPECTED marks a
# cell the model has no row for: a weekend for a weekdays source, a date before the source's go-live (expected_from),
# or a date outside the window of its last build.
COMPLETENESS_COLOURS: dict[str, str] = {
    "ON_TIME": "#2e7d32",
    "LATE": "#f9a825",
    "PARTIAL": "#ef6c00",
    "MISSING": "#c62828",
    "PENDING": "#5c6bc0",
    "NOT_EXPECTED": "#d9d9d9",
}
SEVERITY_COLOURS = {"error": "#c62828", "warning": "#f9a825"}
GAP_SEVERITY_COLOURS = {"LOW": "#90caf9", "MEDIUM": "#f9a825", "HIGH": "#ef6c00", "CRITICAL": "#b71c1c"}
# Labels and colours of the reconciliation statuses, in the order of their columns.
RECONCILIATION_STYLES = dict(
    zip(
        RECONCILIATION_STATUS_COLUMNS,
        (
            ("submitted on time", "#2e7d32"),
            ("submitted late", "#f9a825"),
            ("dead-lettered", "#c62828"),
            ("missed", "#6a1b9a"),
            ("pending", "#90a4ae"),
        ),
        strict=True,
    )
)
_LEGEND_CHARS = 48
# Ledger states get fixed colours; anything else takes plotly's palette.
CATEGORY_COLOURS = {
    "SUBMITTED": "#2e7d32",
    "RECEIVED": "#90a4ae",
    "DEAD_LETTERED": "#c62828",
}

_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 30, "t": 50, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}


def _figure(figure: go.Figure, title: str, height: int = 420) -> go.Figure:
    figure.update_layout(title={"text": title}, height=height, **_LAYOUT)
    return figure


def _day(value: Any) -> str:
    return value.isoformat()[:10] if isinstance(value, dt.date | dt.datetime) else str(value)[:10]


def files_and_rows(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Files landed (all outcomes) and rows loaded, per source per business date."""
    days = [date.isoformat() for date in window.dates]
    sources = sorted({row["source"] for row in rows})
    palette: list[str] = qualitative.Plotly
    figure = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=("files landed", "rows loaded")
    )
    for number, source in enumerate(sources):
        colour = palette[number % len(palette)]
        files: dict[str, int] = defaultdict(int)
        loaded: dict[str, int] = defaultdict(int)
        outcomes: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row["source"] != source:
                continue
            day = _day(row["business_date"])
            files[day] += int(row["files"])
            loaded[day] += int(row["rows_loaded"])
            outcomes[day].append(f"{row['outcome']} {row['files']}")
        hover = [", ".join(outcomes[day]) or "no files" for day in days]
        figure.add_trace(
            go.Bar(
                name=source,
                legendgroup=source,
                x=days,
                y=[files[day] for day in days],
                marker_color=colour,
                customdata=hover,
                hovertemplate="%{x} " + source + ": %{y} file(s) (%{customdata})<extra></extra>",
            ),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Bar(
                name=source,
                legendgroup=source,
                showlegend=False,
                marker_color=colour,
                x=days,
                y=[loaded[day] for day in days],
                hovertemplate="%{x} " + source + ": %{y:,} rows loaded<extra></extra>",
            ),
            row=2,
            col=1,
        )
    figure.update_layout(barmode="group")
    figure.update_xaxes(type="category")
    return _figure(figure, "Files and rows per source per day", height=560)


def quarantine_by_source(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Share of received rows quarantined, per source."""
    figure = go.Figure(
        go.Bar(
            x=[row["source"] for row in rows],
            y=[100 * row["rate"] for row in rows],
            customdata=[[row["rows_quarantined"], row["rows_total"]] for row in rows],
            hovertemplate="%{x}: %{y:.3f}% (%{customdata[0]:,} of %{customdata[1]:,} rows)<extra></extra>",
            marker_color="#6a1b9a",
        )
    )
    figure.update_yaxes(title_text="% of rows quarantined")
    return _figure(figure, "Quarantine rate by source", height=360)


def quarantine_by_rule(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Share of a source's rows failing each row-level rule, coloured by severity (errors quarantine the row)."""
    ordered = sorted(rows, key=lambda row: row["rate"])
    figure = go.Figure()
    for severity in sorted({row["severity"] for row in ordered}):
        selected = [row for row in ordered if row["severity"] == severity]
        figure.add_trace(
            go.Bar(
                name=severity,
                orientation="h",
                y=[f"{row['source']} · {row['rule']}" for row in selected],
                x=[100 * row["rate"] for row in selected],
                customdata=[[row["failed_rows"], row["rows_total"]] for row in selected],
                hovertemplate="%{y}: %{x:.3f}% (%{customdata[0]:,} of %{customdata[1]:,} rows)<extra></extra>",
                marker_color=SEVERITY_COLOURS.get(severity, "#607d8b"),
            )
        )
    figure.update_xaxes(title_text="% of the source's rows failing the rule")
    figure.update_yaxes(type="category", automargin=True)
    return _figure(figure, "Quarantine rate by rule", height=max(360, 120 + 22 * len(ordered)))


def completeness_heatmap(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Source by day: on time, late, partial, missing, pending, or not expected."""
    statuses = list(COMPLETENESS_COLOURS)
    days = [date.isoformat() for date in window.dates]
    by_cell = {(row["source"], _day(row["business_date"])): row for row in rows}
    sources = sorted({row["source"] for row in rows}, reverse=True)
    codes: list[list[int]] = []
    labels: list[list[str]] = []
    for source in sources:
        cells = [by_cell.get((source, day)) for day in days]
        status_row = [cell["status"] if cell else "NOT_EXPECTED" for cell in cells]
        codes.append([statuses.index(status) if status in statuses else 0 for status in status_row])
        labels.append(
            [
                f"{status}<br>{cell['files_loaded']} loaded, {cell['files_late']} late" if cell else status
                for status, cell in zip(status_row, cells, strict=True)
            ]
        )
    # A stepped colour scale: each status code owns one equal band.
    steps = len(statuses)
    colourscale: list[list[Any]] = []
    for index, status in enumerate(statuses):
        colourscale += [
            [index / steps, COMPLETENESS_COLOURS[status]],
            [(index + 1) / steps, COMPLETENESS_COLOURS[status]],
        ]
    figure = go.Figure(
        go.Heatmap(
            z=codes,
            x=days,
            y=sources,
            text=[[label.split("<br>")[0].replace("_", " ").lower() for label in line] for line in labels],
            customdata=labels,
            texttemplate="%{text}",
            hovertemplate="%{y} %{x}: %{customdata}<extra></extra>",
            colorscale=colourscale,
            zmin=-0.5,
            zmax=steps - 0.5,
            showscale=False,
            xgap=2,
            ygap=2,
        )
    )
    figure.update_xaxes(type="category", side="top")
    figure.update_yaxes(type="category")
    return _figure(figure, "Source completeness", height=max(300, 120 + 40 * len(sources)))


# Where loaded rows went, in the order the row accounting chart stacks them: (label, colour).
ROW_FATES: dict[str, tuple[str, str]] = {
    "current": ("current trade version", "#2e7d32"),
    "superseded": ("superseded by a later version", "#90a4ae"),
    "not_curated": ("latest version not in curation", "#ef6c00"),
    "reference": ("reference rows", "#5c6bc0"),
    "quarantined": ("quarantined", "#c62828"),
}


def _row_fates(row: dict[str, Any]) -> dict[str, int]:
    if row["rows_current"] is None:  # a reference file: its rows feed the dimensions
        return {"reference": int(row["rows_in_raw"]), "quarantined": int(row["rows_quarantined"] or 0)}
    return {
        "current": int(row["rows_current"]),
        "superseded": int(row["rows_superseded"]),
        "not_curated": int(row["rows_not_curated"]),
        "quarantined": int(row["rows_quarantined"] or 0),
    }


def row_accounting(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Rows of the files loaded per business date by where they went, and the files that do not reconcile."""
    days = [date.isoformat() for date in window.dates]
    totals: dict[str, dict[str, int]] = {fate: defaultdict(int) for fate in ROW_FATES}
    breaks: dict[str, int] = defaultdict(int)
    for row in rows:
        day = _day(row["business_date"])
        for fate, count in _row_fates(row).items():
            totals[fate][day] += count
        breaks[day] += row["reconciliation_status"] != "BALANCED"
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for fate, (label, colour) in ROW_FATES.items():
        figure.add_trace(
            go.Bar(
                name=label,
                x=days,
                y=[totals[fate][day] for day in days],
                hovertemplate="%{x}: %{y:,} " + label + "<extra></extra>",
                marker_color=colour,
            ),
            secondary_y=False,
        )
    figure.add_trace(
        go.Scatter(
            name="files not balanced",
            mode="markers",
            x=days,
            y=[breaks[day] or None for day in days],  # a cross only where a file does not reconcile
            hovertemplate="%{x}: %{y} files not balanced<extra></extra>",
            marker={"color": "#6a1b9a", "size": 10, "symbol": "x"},
        ),
        secondary_y=True,
    )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text="rows", rangemode="tozero", secondary_y=False)
    figure.update_yaxes(title_text="files not balanced", rangemode="tozero", dtick=1, secondary_y=True)
    return _figure(figure, "Row accounting")


def extract_trend(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Extract size (bytes) and trades per date, one series per format."""
    days = [date.isoformat() for date in window.dates]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for fmt in sorted({row["format"] for row in rows}):
        by_day = {_day(row["date"]): row for row in rows if row["format"] == fmt}
        figure.add_trace(
            go.Bar(
                name=f"{fmt} size (MB)",
                x=days,
                y=[by_day[day]["size_bytes"] / 1e6 if day in by_day else None for day in days],
                hovertemplate="%{x}: %{y:.2f} MB<extra></extra>",
            ),
            secondary_y=False,
        )
        figure.add_trace(
            go.Scatter(
                name=f"{fmt} trades",
                mode="lines+markers",
                x=days,
                y=[by_day[day]["rows"] if day in by_day else None for day in days],
                hovertemplate="%{x}: %{y:,} trades<extra></extra>",
            ),
            secondary_y=True,
        )
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text="size (MB)", rangemode="tozero", secondary_y=False)
    figure.update_yaxes(title_text="trades", rangemode="tozero", secondary_y=True)
    return _figure(figure, "Extract size trend")


def streaming_lag(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Per stream and ingestion hour, the worst partition: event-to-warehouse p95 and Kafka-to-warehouse p99."""
    worst: dict[tuple[str, Any], dict[str, float]] = defaultdict(dict)
    for row in rows:
        stream = f"{row['source']} ({row['kafka_topic']})"
        cell = worst[(stream, row["ingested_hour"])]
        for column in ("lag_minutes_p95", "pipeline_lag_seconds_p99"):
            if row[column] is not None:
                cell[column] = max(cell.get(column, float("-inf")), float(row[column]))
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=("event to warehouse, p95 (minutes)", "Kafka to warehouse, p99 (seconds)"),
    )
    palette: list[str] = qualitative.Plotly
    for number, stream in enumerate(sorted({stream for stream, _ in worst})):
        hours = sorted(hour for name, hour in worst if name == stream)
        for row_number, column in ((1, "lag_minutes_p95"), (2, "pipeline_lag_seconds_p99")):
            figure.add_trace(
                go.Scatter(
                    name=stream,
                    legendgroup=stream,
                    showlegend=row_number == 1,
                    mode="lines+markers",
                    line_color=palette[number % len(palette)],
                    x=hours,
                    y=[worst[(stream, hour)].get(column) for hour in hours],
                ),
                row=row_number,
                col=1,
            )
    return _figure(figure, "Streaming lag", height=520)


def sequence_gaps(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Messages missing from sequence gaps per day of detection, stacked by severity."""
    days = [date.isoformat() for date in window.dates]
    figure = go.Figure()
    for severity, colour in GAP_SEVERITY_COLOURS.items():
        missing: dict[str, int] = defaultdict(int)
        gaps: dict[str, int] = defaultdict(int)
        for row in rows:
            if row["severity"] == severity:
                missing[_day(row["detected_at"])] += int(row["missing_count"])
                gaps[_day(row["detected_at"])] += 1
        figure.add_trace(
            go.Bar(
                name=severity.lower(),
                x=days,
                y=[missing[day] for day in days],
                customdata=[gaps[day] for day in days],
                hovertemplate="%{x}: %{y:,} missing in %{customdata} gap(s)<extra></extra>",
                marker_color=colour,
            )
        )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text="messages missing")
    return _figure(figure, "Sequence gaps")


def rejected_stream_events(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Events rejected by their stream spec per day of ingestion, stacked by stream."""
    days = [date.isoformat() for date in window.dates]
    figure = go.Figure()
    palette: list[str] = qualitative.Plotly
    for number, stream in enumerate(sorted({str(row["source"]) for row in rows})):
        rejected: dict[str, int] = defaultdict(int)
        for row in rows:
            if row["source"] == stream:
                rejected[_day(row["ingested_date"])] += int(row["rejected_events"])
        figure.add_trace(
            go.Bar(
                name=stream,
                x=days,
                y=[rejected[day] for day in days],
                hovertemplate=f"%{{x}}: %{{y:,}} {stream} events rejected<extra></extra>",
                marker_color=palette[number % len(palette)],
            )
        )
    figure.update_layout(barmode="stack", showlegend=True)
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text="events rejected", rangemode="tozero")
    return _figure(figure, "Rejected stream events", height=360)


def submission_latency(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Seconds from event to acknowledgement per event day (median, p95, max) against the SLA."""
    days = [date.isoformat() for date in window.dates]
    by_day = {_day(row["event_date"]): row for row in rows}
    figure = go.Figure()
    for name, column in (
        ("median", "seconds_to_submit_p50"),
        ("p95", "seconds_to_submit_p95"),
        ("max", "seconds_to_submit_max"),
    ):
        values = [by_day[day][column] if day in by_day else None for day in days]
        figure.add_trace(go.Scatter(name=name, mode="lines+markers", x=days, y=values))
    for sla in sorted({float(row["sla_seconds"]) for row in rows}):
        figure.add_hline(y=sla, line_dash="dash", line_color="#c62828", annotation_text="SLA")
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text="seconds from event to acknowledgement", rangemode="tozero")
    return _figure(figure, "Regulatory submission latency")


def reconciliation(rows: Sequence[dict[str, Any]], window: Window) -> go.Figure:
    """Events per event day, stacked by reconciliation status."""
    days = [date.isoformat() for date in window.dates]
    by_day = {_day(row["event_date"]): row for row in rows}
    figure = go.Figure()
    for column, (label, colour) in RECONCILIATION_STYLES.items():
        figure.add_trace(
            go.Bar(
                name=label,
                x=days,
                y=[int(by_day[day][column]) if day in by_day else 0 for day in days],
                hovertemplate="%{x}: %{y:,} " + label + "<extra></extra>",
                marker_color=colour,
            )
        )
    figure.update_layout(barmode="stack")
    figure.update_xaxes(type="category")
    figure.update_yaxes(title_text="events")
    return _figure(figure, "Reconciliation by status", height=360)


def counts_by_day(
    rows: Sequence[dict[str, Any]], window: Window, time_column: str, category: str, title: str
) -> go.Figure:
    """Rows per day stacked by a category column (submission state, dead-letter reason)."""
    days = [date.isoformat() for date in window.dates]
    figure = go.Figure()
    for value in sorted({str(row[category]) for row in rows}):
        counts: dict[str, int] = defaultdict(int)
        for row in rows:
            if str(row[category]) == value:
                counts[_day(row[time_column])] += 1
        # Long reasons would crowd the legend; the hover shows the full text.
        label = value if len(value) <= _LEGEND_CHARS else value[: _LEGEND_CHARS - 1] + "…"
        figure.add_trace(
            go.Bar(
                name=label,
                x=days,
                y=[counts[day] for day in days],
                hovertext=value,
                hovertemplate="%{x}: %{y} (%{hovertext})<extra></extra>",
                marker_color=CATEGORY_COLOURS.get(value),
            )
        )
    figure.update_layout(barmode="stack", showlegend=True)
    figure.update_xaxes(type="category")
    return _figure(figure, title, height=360)
