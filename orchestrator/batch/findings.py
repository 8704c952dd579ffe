"""What the batch lane alerts on-call to (orchestrator.alerts): a file that failed validation or matched no spec,
a cycle that failed, and after each good build the sources still missing past their deadline and the volume
anomalies of complete deliveries. A state that lasts (a missing source) is logged by every cycle until it ends."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from orchestrator import runbook
from orchestrator.alerts import Alert, raise_alert
from orchestrator.warehouse.base import Warehouse

# Business dates a cycle looks at: the one it builds for and the one before (feeds that land the next morning).
ALERT_DAYS = 2
# A delivery this far along is complete: its row count can be judged.
COMPLETE = ("ON_TIME", "LATE")
# Short of files once its deadline has passed.
SHORT = ("MISSING", "PARTIAL")


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


def _moment(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=None)


def alert_on_deliveries(warehouse: Warehouse, as_of: dt.date, now: dt.datetime) -> list[dict[str, Any]]:
    """After a good build: each source short of files past its deadline, and each complete delivery whose row count
    is anomalous, on the business dates the cycle looks at. Returns the rows alerted on."""
    statuses = runbook.completeness(warehouse, as_of, ALERT_DAYS)
    short = [row for row in statuses if row["status"] in SHORT and _moment(row["deadline_at"]) <= now]
    for row in short:
        raise_alert(
            Alert.SOURCE_MISSING,
            f"source {row['source']} is {row['status']} for {row['business_date']}: "
            f"{row['files_loaded']} files loaded by its deadline {row['deadline_at']}, {row['files_failed']} failed",
            source=row["source"],
            business_date=row["business_date"],
            delivery_status=row["status"],
        )
    complete = {(row["source"], row["business_date"]) for row in statuses if row["status"] in COMPLETE}
    anomalous = [
        row
        for row in runbook.anomalies(warehouse, as_of, ALERT_DAYS)
        if (row["source"], row["business_date"]) in complete
    ]
    for row in anomalous:
        why = (
            f"z-score {row['rows_z_score']:.1f} against a trailing mean of {row['trailing_mean_rows']:.0f} rows"
            if row["is_z_score_anomaly"] and row["rows_z_score"] is not None
            else "outside its spec's typical_rows"
            if row["is_outside_typical_rows"]
            else f"a flat history of {row['trailing_mean_rows']:.0f} rows"
        )
        raise_alert(
            Alert.VOLUME_ANOMALY,
            f"source {row['source']} loaded {row['rows_loaded']} rows for {row['business_date']}: {why}",
            source=row["source"],
            business_date=row["business_date"],
        )
    return [*short, *anomalous]
