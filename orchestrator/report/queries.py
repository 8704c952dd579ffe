"""The figures of the status report: SQL on the control tables and dbt control models, returned as plain values."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from orchestrator.storage import ObjectStore, read_bytes
from orchestrator.warehouse.base import Warehouse

PanelState = Literal["ok", "no_data", "table_missing", "columns_missing"]

DEFAULT_DAYS = 7
MAX_DAYS = 366


@dataclass(frozen=True)
class Window:
    """The business dates a report covers: `days` days ending on `end`, inclusive."""

    end: dt.date
    days: int

    @property
    def start(self) -> dt.date:
        """The first business date of the window."""
        return self.end - dt.timedelta(days=self.days - 1)

    @property
    def dates(self) -> list[dt.date]:
        """Every date of the window, oldest first."""
        return [self.start + dt.timedelta(days=offset) for offset in range(self.days)]

    def params(self) -> dict[str, dt.date]:
        """The window as SQL parameters `@start` and `@end`."""
        return {"start": self.start, "end": self.end}


@dataclass(frozen=True)
class LaneTable:
    """A table another lane writes, the columns the report reads from it and the timestamp that places a row."""

    schema: str
    name: str
    columns: tuple[str, ...]
    time_column: str
    latest_of: tuple[str, str] | None = None
    """For append-only mirrors: (key columns, version column); only the latest version of each key is read."""


# Event counts per reconciliation status in control.regulatory_submission_daily, in the order the chart stacks them.
RECONCILIATION_STATUS_COLUMNS = ("submitted_on_time", "submitted_late", "dead_lettered", "missed", "pending")

# Tables of the streaming and regulatory lanes. They may not exist yet (each lane creates its own); the report
# shows "table not present" until they do. The lanes' dbt tests check these contracts against the built models.
# The regulatory ones mirror the reporter's ledger (orchestrator/warehouse/control_tables.py): one row per ledger
# change, so the report reads the latest row of each event.
LANE_TABLES: dict[str, LaneTable] = {
    # dbt models of the streaming lane (dbt_project/models/streaming/control): one row per source, topic,
    # partition and ingestion hour; one row per run of missing sequence numbers; one row per source and day.
    "streaming_lag": LaneTable(
        "control",
        "streaming_lag",
        ("source", "kafka_topic", "ingested_hour", "events", "lag_minutes_p95", "pipeline_lag_seconds_p99"),
        "ingested_hour",
    ),
    "sequence_gaps": LaneTable(
        "control",
        "streaming_sequence_gaps",
        ("source", "kafka_topic", "kafka_partition", "missing_count", "severity", "is_confirmed", "detected_at"),
        "detected_at",
    ),
    # Rejected stream events per stream and day (a view over control.streaming_rejected_events).
    "stream_rejections": LaneTable(
        "control",
        "streaming_rejected_daily",
        ("source", "ingested_date", "rejected_events"),
        "ingested_date",
    ),
    "regulatory_submissions": LaneTable(
        "control",
        "regulatory_submissions",
        ("event_id", "state", "event_at", "updated_at"),
        "event_at",
        latest_of=("event_id", "updated_at"),
    ),
    "dead_letters": LaneTable(
        "control",
        "regulatory_dead_letter",
        ("event_id", "dead_lettered_at", "reason", "updated_at"),
        "dead_lettered_at",
        latest_of=("event_id, dead_lettered_at", "updated_at"),
    ),
    # dbt model of the regulatory lane (dbt_project/models/regulatory/control): one row per event date.
    "submission_daily": LaneTable(
        "control",
        "regulatory_submission_daily",
        (
            "event_date",
            *RECONCILIATION_STATUS_COLUMNS,
            "seconds_to_submit_p50",
            "seconds_to_submit_p95",
            "seconds_to_submit_max",
            "sla_seconds",
        ),
        "event_date",
    ),
}

# The dbt model behind the completeness heat-map; it does not exist before the first `dbt build`.
COMPLETENESS_MODEL = LaneTable(
    "control",
    "source_completeness",
    ("source", "business_date", "status", "files_loaded", "files_late"),
    "business_date",
)


# The dbt model behind the row accounting chart: every loaded file's rows, from validation to curation.
RECONCILIATION_MODEL = LaneTable(
    "control",
    "file_reconciliation",
    (
        "source",
        "business_date",
        "landing_key",
        "file_id",
        "processed_at",
        "reconciliation_status",
        "rows_quarantined",
        "rows_in_raw",
        "rows_current",
        "rows_superseded",
        "rows_not_curated",
    ),
    "business_date",
)


@dataclass(frozen=True)
class Panel:
    """Rows for one chart, or why there are none."""

    state: PanelState
    rows: list[dict[str, Any]]
    table: str
    detail: str = ""


def table_state(warehouse: Warehouse, table: LaneTable) -> tuple[PanelState, list[str]]:
    """Whether the table exists and has the columns the report reads; the missing columns when it does not."""
    present = set(warehouse.table_columns(table.schema, table.name))
    if not present:
        return "table_missing", list(table.columns)
    missing = [name for name in table.columns if name not in present]
    return ("columns_missing", missing) if missing else ("ok", [])


def lane_panel(warehouse: Warehouse, table: LaneTable, window: Window) -> Panel:
    """The table's rows whose time column falls in the window, oldest first (then by every column); or its
    absence."""
    qualified = f"{table.schema}.{table.name}"
    state, missing = table_state(warehouse, table)
    if state != "ok":
        return Panel(state, [], qualified, ", ".join(missing))
    columns = ", ".join(table.columns)
    in_window = (
        f"select {columns} from {warehouse.table(table.schema, table.name)} "
        f"where cast({table.time_column} as date) between @start and @end"
    )
    if table.latest_of is not None:
        key, version = table.latest_of
        in_window = (
            f"select {columns} from (select {columns}, "
            f"row_number() over (partition by {key} order by {version} desc) as version_rank "
            f"from ({in_window}) as rows_in_window) as ranked where version_rank = 1"
        )
    # Every column after the time: rows of the same time come in one order on every engine.
    rows = warehouse.query(f"{in_window} order by {table.time_column}, {columns}", window.params())
    return Panel("ok" if rows else "no_data", rows, qualified)


def files_and_rows(warehouse: Warehouse, window: Window) -> list[dict[str, Any]]:
    """Files by outcome and rows loaded and quarantined, per source and business date of the window."""
    return warehouse.query(
        "select coalesce(source, '(no spec)') as source, business_date, outcome, count(*) as files, "
        "coalesce(sum(rows_loaded), 0) as rows_loaded, coalesce(sum(rows_quarantined), 0) as rows_quarantined "
        f"from {warehouse.table('control', 'ingested_files')} "
        "where business_date between @start and @end "
        # Positions, not names: the output column `source` shadows the table's, which BigQuery finds ambiguous.
        "group by 1, 2, 3 order by 1, 2, 3",
        window.params(),
    )


def unmatched_files(warehouse: Warehouse, window: Window) -> int:
    """Files no spec matched (they have no business date), landed during the window."""
    rows = warehouse.query(
        f"select count(*) as files from {warehouse.table('control', 'ingested_files')} "
        "where outcome = 'unmatched' and cast(landed_at as date) between @start and @end",
        window.params(),
    )
    return int(rows[0]["files"])


def rule_failure_rates(warehouse: Warehouse, window: Window) -> list[dict[str, Any]]:
    """Per source and row-level rule: rows failing it and their share of the source's rows in loaded files."""
    files = warehouse.table("control", "ingested_files")
    rules = warehouse.table("control", "rule_results")
    rows = warehouse.query(
        f"""
        with loaded_files as (
            select distinct file_id, source, rows_total from {files}
            where outcome = 'loaded' and business_date between @start and @end
        ),
        rows_per_source as (
            select source, sum(rows_total) as rows_total from loaded_files group by source
        ),
        failures as (
            select rule_results.source, rule_results.rule, rule_results.severity,
                sum(rule_results.failed_rows) as failed_rows
            from {rules} as rule_results
            inner join loaded_files on rule_results.file_id = loaded_files.file_id
            where rule_results.level = 'row'
            group by rule_results.source, rule_results.rule, rule_results.severity
        )
        select failures.source, failures.rule, failures.severity, failures.failed_rows, rows_per_source.rows_total
        from failures
        inner join rows_per_source on failures.source = rows_per_source.source
        order by failures.failed_rows desc, failures.source, failures.rule
        """,
        window.params(),
    )
    return [{**row, "rate": row["failed_rows"] / row["rows_total"] if row["rows_total"] else 0.0} for row in rows]


def quarantine_rates(warehouse: Warehouse, window: Window) -> list[dict[str, Any]]:
    """Per source: rows received in loaded files, rows quarantined and their share."""
    rows = warehouse.query(
        "select source, sum(rows_total) as rows_total, sum(rows_quarantined) as rows_quarantined "
        f"from {warehouse.table('control', 'ingested_files')} "
        "where outcome = 'loaded' and business_date between @start and @end group by source order by source",
        window.params(),
    )
    return [{**row, "rate": row["rows_quarantined"] / row["rows_total"] if row["rows_total"] else 0.0} for row in rows]


def completeness(warehouse: Warehouse, window: Window) -> Panel:
    """`control.source_completeness` rows in the window (status per source and date), or its absence."""
    return lane_panel(warehouse, COMPLETENESS_MODEL, window)


def last_cycles(warehouse: Warehouse, limit: int = 5) -> list[dict[str, Any]]:
    """The latest hourly cycles, newest first."""
    return warehouse.query(
        "select run_id, started_at, status, files_loaded, files_failed, rows_loaded, rows_quarantined, dbt_status "
        f"from {warehouse.table('control', 'validation_runs')} order by started_at desc limit @limit",
        {"limit": limit},
    )


def extract_sizes(extracts: ObjectStore, window: Window) -> list[dict[str, Any]]:
    """The manifest of each extract written for a date of the window: rows, bytes, format, when written."""
    manifests: list[dict[str, Any]] = []
    for date in window.dates:
        for info in extracts.list(f"{date.isoformat()}/"):
            if not info.key.endswith(".manifest.json"):
                continue
            manifest = json.loads(read_bytes(extracts, info.key))
            manifests.append(
                {
                    "date": date,
                    "format": manifest["format"],
                    "rows": manifest["rows"],
                    "size_bytes": manifest["size_bytes"],
                    "generated_at": manifest["generated_at"],
                }
            )
    return manifests


def jsonable(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with dates and timestamps as ISO 8601 text."""
    return [
        {key: value.isoformat() if isinstance(value, dt.date | dt.datetime) else value for key, value in row.items()}
        for row in rows
    ]


def row_accounting(warehouse: Warehouse, window: Window) -> Panel:
    """`control.file_reconciliation` rows of the window (where each loaded file's rows went), or its absence."""
    return lane_panel(warehouse, RECONCILIATION_MODEL, window)


def reconciliation_breaks(warehouse: Warehouse, window: Window, accounting: Panel) -> list[dict[str, Any]]:
    """Files that do not reconcile, for a business date of the window or loaded during it; none when the row
    accounting panel found the model absent or without its columns.

    The second half catches a backfill: a file for a business date older than the window, loaded in it.
    """
    if accounting.state not in ("ok", "no_data"):
        return []
    return warehouse.query(
        f"select {', '.join(RECONCILIATION_MODEL.columns)} "
        f"from {warehouse.table(RECONCILIATION_MODEL.schema, RECONCILIATION_MODEL.name)} "
        "where reconciliation_status <> 'BALANCED' "
        "and (business_date between @start and @end or cast(processed_at as date) between @start and @end) "
        "order by business_date, source, landing_key",
        window.params(),
    )
