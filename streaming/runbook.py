"""Services behind the streaming runbook commands: the hourly dbt build, lag, sequence gaps, rejected events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from orchestrator.backends import warehouse_dbt_target
from orchestrator.dbt_runner import DbtResult, run_dbt
from orchestrator.exceptions import DbtFailedError
from orchestrator.settings import Settings
from orchestrator.warehouse.base import Warehouse, missing_columns
from streaming.exceptions import StreamModelOutdatedError, StreamModelsNotBuiltError

STREAMING_DBT_BUILD = ("build", "--select", "tag:streaming")
STREAMING_DBT_TEST = ("test", "--select", "tag:streaming")
SEVERITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# What a build found is read from these control models.
BUILD_FINDINGS_TABLES = ("streaming_rejected_events", "streaming_confirmed_gaps")


def build_streaming_models(
    settings: Settings, variables: Mapping[str, Any] | None = None, full_refresh: bool = False
) -> DbtResult:
    """The streaming lane's dbt build (dedupe, hourly merge, gaps, lag); `DbtFailedError` when a node fails.
    `full_refresh` rebuilds the curated streams from every message raw keeps."""
    command: tuple[str, ...] = STREAMING_DBT_BUILD
    if full_refresh:
        command = (*command, "--full-refresh")
        variables = {**(variables or {}), "stream_staging_window_hours": 0}
    result = run_dbt(settings, warehouse_dbt_target(settings), command, variables or {})
    if result.status != "success":
        raise DbtFailedError(result.command, result.message)
    return result


def check_streaming_models(settings: Settings) -> DbtResult:
    """Every data test of the streaming models over whole tables, where the hourly build tests only the partitions
    it can change; `DbtFailedError` names the tests that fail (a copy of an event beyond the duplicate horizon)."""
    result = run_dbt(settings, warehouse_dbt_target(settings), STREAMING_DBT_TEST, {"stream_test_scope": "all"})
    if result.status != "success":
        raise DbtFailedError(result.command, result.message)
    return result


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}


def _built_table(warehouse: Warehouse, name: str, columns: str) -> str:
    """The qualified name of a streaming control model built with every column of `columns` (a select list);
    `StreamModelsNotBuiltError` while it does not exist, `StreamModelOutdatedError` while it lacks one."""
    missing = missing_columns(warehouse, "control", name, columns)
    if missing is None:
        raise StreamModelsNotBuiltError(f"control.{name}")
    if missing:
        raise StreamModelOutdatedError(f"control.{name}", missing)
    return warehouse.table("control", name)


def lag(warehouse: Warehouse, hours: int) -> list[dict[str, Any]]:
    """Lag per source, topic and partition over the last `hours` ingested hours (from `control.streaming_lag`)."""
    columns = (
        "source, kafka_topic, kafka_partition, events, lag_minutes_p95, lag_minutes_max, pipeline_lag_seconds_p99, "
        "ingested_hour"
    )
    table = _built_table(warehouse, "streaming_lag", columns)
    last_hour = warehouse.query(f"select max(ingested_hour) as last_hour from {table}")[0]["last_hour"]
    if last_hour is None:
        return []
    rows = warehouse.query(
        f"select source, kafka_topic, kafka_partition, sum(events) as events, "
        f"max(lag_minutes_p95) as worst_lag_minutes_p95, max(lag_minutes_max) as lag_minutes_max, "
        f"max(pipeline_lag_seconds_p99) as worst_pipeline_lag_seconds_p99, max(ingested_hour) as last_hour "
        f"from {table} where ingested_hour >= @since "
        f"group by source, kafka_topic, kafka_partition order by source, kafka_topic, kafka_partition",
        {"since": last_hour - dt.timedelta(hours=hours - 1)},
    )
    return [_jsonable(row) for row in rows]


def gaps(warehouse: Warehouse, min_severity: str, confirmed_only: bool) -> list[dict[str, Any]]:
    """Missing sequence ranges at or above a severity, largest first (from `control.streaming_sequence_gaps`)."""
    rank = " ".join(f"when '{name}' then {position}" for position, name in enumerate(SEVERITIES))
    columns = (
        "source, kafka_topic, kafka_partition, first_missing_sequence, last_missing_sequence, missing_count, "
        "severity, is_confirmed, detected_at"
    )
    rows = warehouse.query(
        f"select {columns} from {_built_table(warehouse, 'streaming_sequence_gaps', columns)} "
        f"where case severity {rank} end >= @min_rank and (is_confirmed or not @confirmed_only) "
        f"order by missing_count desc, source, kafka_topic, kafka_partition, first_missing_sequence",
        {"min_rank": SEVERITIES.index(min_severity), "confirmed_only": confirmed_only},
    )
    return [_jsonable(row) for row in rows]


_REJECT_COLUMNS = (
    "source, event_id, kafka_topic, kafka_partition, kafka_offset, sequence_number, rejection_reason, "
    "ingested_at, _recorded_at as recorded_at"
)


def rejects(
    warehouse: Warehouse, hours: int, source: str | None = None, limit: int = 100, with_payload: bool = False
) -> list[dict[str, Any]]:
    """Events their stream spec rejected, first ingested in the last `hours`, newest first
    (from `control.streaming_rejected_events`); `with_payload` adds each event's payload."""
    since = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=hours)
    payload = ", rejected_payload" if with_payload else ""
    params: dict[str, Any] = {"since": since}
    if source is not None:
        params["source"] = source
    rows = warehouse.query(
        f"select {_REJECT_COLUMNS}{payload} "
        f"from {_built_table(warehouse, 'streaming_rejected_events', _REJECT_COLUMNS + payload)} "
        f"where ingested_at >= @since{' and source = @source' if source is not None else ''} "
        f"order by ingested_at desc, source, event_id limit {int(limit)}",
        params,
    )
    return [_jsonable(row) for row in rows]


def rejected_since(warehouse: Warehouse, recorded_since: dt.datetime) -> dict[str, int]:
    """Rejected events per stream that builds started at or after `recorded_since` (naive UTC) recorded."""
    rows = warehouse.query(
        "select source, count(*) as rejected "
        f"from {_built_table(warehouse, 'streaming_rejected_events', 'source, _recorded_at')} "
        f"where _recorded_at >= @since group by source order by source",
        # The build stamps its start to the second.
        {"since": recorded_since.replace(microsecond=0)},
    )
    return {str(row["source"]): int(row["rejected"]) for row in rows}


def confirmed_gaps_since(warehouse: Warehouse, recorded_since: dt.datetime) -> list[dict[str, Any]]:
    """Gaps per stream and severity that builds started at or after `recorded_since` (naive UTC) confirmed."""
    rows = warehouse.query(
        f"select source, severity, count(*) as gaps, sum(missing_count) as missing "
        f"from {_built_table(warehouse, 'streaming_confirmed_gaps', 'source, severity, missing_count, _recorded_at')} "
        "where _recorded_at >= @since "
        f"group by source, severity order by source, severity",
        {"since": recorded_since.replace(microsecond=0)},
    )
    return [
        {"source": row["source"], "severity": row["severity"], "gaps": int(row["gaps"]), "missing": int(row["missing"])}
        for row in rows
    ]
