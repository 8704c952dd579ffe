"""What the batch lane alerts on-call to (orchestrator.alerts): a file that failed validation or matched no spec,
a cycle that failed, and after each good build what the dbt model `control.delivery_alerts` lists. A state that
lasts (a missing source) is logged by every cycle until it ends."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from orchestrator import runbook
from orchestrator.alerts import Alert, raise_alert
from orchestrator.warehouse.base import Warehouse


def alert_on_file(key: str, source: str | None, status: str, reasons: Sequence[str]) -> None:
    """A file that failed validation, or that matches no source spec, raises its alert."""
    if status == "failed":
        raise_alert(
            Alert.FILE_VALIDATION_FAILED,
            f"file {key} of source {source} failed validation: {'; '.join(reasons)}",
            source=source,
            file=key,
        )
    elif status == "unmatched":
        raise_alert(Alert.FILE_UNMATCHED, f"file {key} matches no source spec's landing pattern", file=key)


def alert_on_cycle_failure(run_id: str, error: str) -> None:
    """The cycle itself failed (dbt, the warehouse, a bucket): nothing after the failing step happened."""
    raise_alert(Alert.BATCH_CYCLE_FAILED, f"cycle {run_id} failed: {error}", logging.ERROR, run_id=run_id)


def _anomaly_reason(row: dict[str, Any]) -> str:
    if row["anomaly_kind"] == "z_score":
        return f"z-score {row['rows_z_score']:.1f} against a trailing mean of {row['trailing_mean_rows']:.0f} rows"
    if row["anomaly_kind"] == "typical_rows":
        return "outside its spec's typical_rows"
    return f"a flat history of {row['trailing_mean_rows']:.0f} rows"


def alert_on_deliveries(warehouse: Warehouse) -> list[dict[str, Any]]:
    """After a good build, one alert per row of `control.delivery_alerts` (which decides what pages on-call: a
    source short of files past its deadline, a complete delivery with an anomalous row count). Returns the rows."""
    rows = runbook.delivery_alerts(warehouse)
    for row in rows:
        if row["alert"] == Alert.SOURCE_MISSING:
            raise_alert(
                Alert.SOURCE_MISSING,
                f"source {row['source']} is {row['delivery_status']} for {row['business_date']}: "
                f"{row['files_loaded']} files loaded by its deadline {row['deadline_at']}, "
                f"{row['files_failed']} failed",
                source=row["source"],
                business_date=row["business_date"],
                delivery_status=row["delivery_status"],
            )
        else:
            raise_alert(
                Alert.VOLUME_ANOMALY,
                f"source {row['source']} loaded {row['rows_loaded']} rows for {row['business_date']}: "
                f"{_anomaly_reason(row)}",
                source=row["source"],
                business_date=row["business_date"],
            )
    return rows
