"""`mdp report`: gather the figures for a window, draw them, write one self-contained HTML page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.exceptions import Terminal
from orchestrator.report import figures, queries
from orchestrator.report.page import Block, Section, legend_html, render_page, table_html
from orchestrator.report.queries import LANE_TABLES, MAX_DAYS, Panel, PanelState, Window
from orchestrator.storage import ObjectStore
from orchestrator.warehouse.base import Warehouse


class ReportWindowError(Terminal):
    """The requested window is empty or too long."""


@dataclass(frozen=True)
class ReportData:
    """Every value the page shows, gathered once."""

    window: Window
    generated_at: dt.datetime
    last_cycles: list[dict[str, Any]]
    files_and_rows: list[dict[str, Any]]
    unmatched_files: int
    quarantine_by_source: list[dict[str, Any]]
    quarantine_by_rule: list[dict[str, Any]]
    completeness: Panel
    row_accounting: Panel
    reconciliation_breaks: list[dict[str, Any]]
    extracts: list[dict[str, Any]]
    lanes: dict[str, Panel]

    def panel_states(self) -> dict[str, PanelState]:
        """State of every panel that may be absent: ok, no_data, table_missing or columns_missing."""
        own = {"completeness": self.completeness.state, "row_accounting": self.row_accounting.state}
        return own | {name: panel.state for name, panel in self.lanes.items()}

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape: the window, each panel's state and the figures' values."""
        return {
            "date": self.window.end.isoformat(),
            "days": self.window.days,
            "start": self.window.start.isoformat(),
            "generated_at": self.generated_at.isoformat(),
            "panels": self.panel_states(),
            "last_cycles": queries.jsonable(self.last_cycles),
            "files_and_rows": queries.jsonable(self.files_and_rows),
            "unmatched_files": self.unmatched_files,
            "quarantine_by_source": self.quarantine_by_source,
            "quarantine_by_rule": self.quarantine_by_rule,
            "completeness": queries.jsonable(self.completeness.rows),
            "row_accounting": queries.jsonable(self.row_accounting.rows),
            "reconciliation_breaks": queries.jsonable(self.reconciliation_breaks),
            "extracts": queries.jsonable(self.extracts),
            "lanes": {name: queries.jsonable(panel.rows) for name, panel in self.lanes.items()},
        }


@dataclass(frozen=True)
class ReportResult:
    """Where the page went and what it holds."""

    path: Path
    data: ReportData

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {"path": str(self.path), **self.data.as_dict()}


def gather(warehouse: Warehouse, extracts: ObjectStore, window: Window) -> ReportData:
    """Run every query of the report for the window."""
    accounting = queries.row_accounting(warehouse, window)
    return ReportData(
        window=window,
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        last_cycles=queries.last_cycles(warehouse),
        files_and_rows=queries.files_and_rows(warehouse, window),
        unmatched_files=queries.unmatched_files(warehouse, window),
        quarantine_by_source=queries.quarantine_rates(warehouse, window),
        quarantine_by_rule=queries.rule_failure_rates(warehouse, window),
        completeness=queries.completeness(warehouse, window),
        row_accounting=accounting,
        reconciliation_breaks=queries.reconciliation_breaks(warehouse, window, accounting),
        extracts=queries.extract_sizes(extracts, window),
        lanes={name: queries.lane_panel(warehouse, table, window) for name, table in LANE_TABLES.items()},
    )


def _block(title: str, panel: Panel, draw: Any) -> Block:
    if panel.state != "ok":
        return Block(title, panel.state, table=panel.table, detail=panel.detail)
    return Block(title, "ok", figure=draw(panel.rows), table=panel.table)


def _rows_block(title: str, rows: list[dict[str, Any]], source: str, draw: Any) -> Block:
    return _block(title, Panel("ok" if rows else "no_data", rows, source), draw)


def _breaks_html(accounted: Panel, breaks: list[dict[str, Any]]) -> str:
    """The files that do not reconcile (a backfill loaded in the window included), or that every one does."""
    if accounted.state != "ok" and not breaks:
        return ""
    if not breaks:
        return f"<p>All {len(accounted.rows)} files loaded in the window reconcile.</p>"
    # Every column the model gives, so the figure that is off can be read from the table.
    return table_html(breaks, queries.RECONCILIATION_MODEL.columns)


def sections(data: ReportData) -> list[Section]:
    """The page's sections, in reading order."""
    window = data.window
    lanes = data.lanes
    latest = data.last_cycles[:1]
    return [
        Section(
            "files-and-rows",
            "Files and rows per source per day",
            "Every landed file by business date (all outcomes) and the rows each source loaded. "
            f"Files no spec matched in the window: {data.unmatched_files}.",
            [
                _rows_block(
                    "Files and rows",
                    data.files_and_rows,
                    "control.ingested_files",
                    lambda rows: figures.files_and_rows(rows, window),
                )
            ],
            extra_html=table_html(
                latest, ["run_id", "started_at", "status", "files_loaded", "files_failed", "dbt_status"]
            )
            if latest
            else "",
        ),
        Section(
            "quarantine",
            "Quarantine rate by rule",
            "Share of rows received in loaded files that were quarantined, per source, and the share failing each "
            "row-level rule (error rules quarantine the row, warning rules only flag it).",
            [
                _rows_block(
                    "Quarantine rate by source",
                    data.quarantine_by_source,
                    "control.ingested_files",
                    figures.quarantine_by_source,
                ),
                _rows_block(
                    "Quarantine rate by rule",
                    data.quarantine_by_rule,
                    "control.rule_results",
                    figures.quarantine_by_rule,
                ),
            ],
        ),
        Section(
            "row-accounting",
            "Row accounting",
            "Where the rows of the files loaded for each business date went, counted in the warehouse by the dbt "
            "model control.file_reconciliation: the current version of their trade, superseded by a later "
            "version, the latest version of a trade curation does not hold, reference rows, or quarantined; and "
            "the files whose rows do not reconcile, for a business date of the window or loaded during it "
            "(`mdp files reconcile --breaks`).",
            [_block("Row accounting", data.row_accounting, lambda rows: figures.row_accounting(rows, window))],
            extra_html=_breaks_html(data.row_accounting, data.reconciliation_breaks),
        ),
        Section(
            "completeness",
            "Source completeness",
            "Status of each expected source on each day, from the dbt model control.source_completeness "
            "(grey: not expected that day, e.g. a weekend for a weekdays source, or outside the window of its "
            "last build).",
            [
                _block(
                    "Source completeness",
                    data.completeness,
                    lambda rows: figures.completeness_heatmap(rows, window),
                )
            ],
            extra_html=legend_html(figures.COMPLETENESS_COLOURS),
        ),
        Section(
            "extracts",
            "Extract size trend",
            "Size and trade count of the vendor extract written for each date, from the manifests in the "
            "extracts bucket.",
            [
                _rows_block(
                    "Extract size trend",
                    data.extracts,
                    "the extracts bucket",
                    lambda rows: figures.extract_trend(rows, window),
                )
            ],
        ),
        Section(
            "streaming",
            "Streaming lag, sequence gaps and rejected events",
            "How far each stream's warehouse copy lags behind the broker, messages missing from sequence gaps, and "
            "events their stream spec rejected (`mdp stream rejects` lists them with the reasons).",
            [
                _block("Streaming lag", lanes["streaming_lag"], figures.streaming_lag),
                _block("Sequence gaps", lanes["sequence_gaps"], lambda rows: figures.sequence_gaps(rows, window)),
                _block(
                    "Rejected stream events",
                    lanes["stream_rejections"],
                    lambda rows: figures.rejected_stream_events(rows, window),
                ),
            ],
        ),
        Section(
            "regulatory",
            "Regulatory submissions",
            "Latency from the event to the regulator's acknowledgement against the SLA, events by ledger state, "
            "dead letters by reason and the ledger reconciliation.",
            [
                _block(
                    "Submission latency",
                    lanes["submission_daily"],
                    lambda rows: figures.submission_latency(rows, window),
                ),
                _block(
                    "Events by ledger state",
                    lanes["regulatory_submissions"],
                    lambda rows: figures.counts_by_day(rows, window, "event_at", "state", "Events by ledger state"),
                ),
                _block(
                    "Dead letters",
                    lanes["dead_letters"],
                    lambda rows: figures.counts_by_day(rows, window, "dead_lettered_at", "reason", "Dead letters"),
                ),
                _block(
                    "Reconciliation",
                    lanes["submission_daily"],
                    lambda rows: figures.reconciliation(rows, window),
                ),
            ],
        ),
    ]


def write_report(warehouse: Warehouse, extracts: ObjectStore, date: dt.date, days: int, out: Path) -> ReportResult:
    """Gather, draw and write the page for `days` days ending on `date`."""
    if not 1 <= days <= MAX_DAYS:
        raise ReportWindowError(f"days={days}: the window must be 1 to {MAX_DAYS} days; pass --days in that range")
    window = Window(date, days)
    data = gather(warehouse, extracts, window)
    page = render_page(
        f"Markets Data Pipeline status, {window.start.isoformat()} to {window.end.isoformat()}",
        f"{days} business date(s) ending {date.isoformat()}; generated {data.generated_at.isoformat()}",
        sections(data),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return ReportResult(out, data)
