"""What the batch lane alerts on-call to (orchestrator.alerts): a file that failed validation or matched no spec,
a cycle that failed, and after each good build what the dbt models `control.delivery_alerts` and
`control.file_reconciliation` find. A state that lasts (a missing source, a break) is logged by every cycle until
it ends."""

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


def _reconciliation_break(row: dict[str, Any]) -> str:
    if row["reconciliation_status"] == "NOT_RECORDED":
        return (
            f"raw.{row['source']} holds {row['rows_in_raw']} rows of file_id {row['file_id']} "
            f"(business date {row['business_date']}) that no loaded file records"
        )
    if row["reconciliation_status"] == "NOT_CURATED":
        return (
            f"file {row['landing_key']} of source {row['source']} ({row['business_date']}) is NOT_CURATED: "
            f"{row['rows_not_curated']} of its {row['rows_in_raw']} rows in raw.{row['source']} are the latest "
            "version of a trade that curation.trades_enriched does not hold"
        )
    return (
        f"file {row['landing_key']} of source {row['source']} ({row['business_date']}) is "
        f"{row['reconciliation_status']}: {row['rows_total']} rows read, {row['rows_loaded']} loaded and "
        f"{row['rows_in_raw']} in raw.{row['source']}, {row['rows_quarantined']} quarantined and "
        f"{row['rows_in_quarantine']} in control.quarantined_rows"
    )


def alert_on_reconciliation(warehouse: Warehouse) -> list[dict[str, Any]]:
    """After a good build, one alert per file `control.file_reconciliation` does not find BALANCED: rows lost or
    loaded twice between validation and the warehouse, or trades missing from curation. Returns the rows."""
    rows = runbook.file_reconciliation(warehouse, breaks_only=True)
    for row in rows:
        raise_alert(
            Alert.FILE_RECONCILIATION_BREAK,
            _reconciliation_break(row),
            logging.ERROR,
            source=row["source"],
            file=row["landing_key"] or row["file_id"],
            business_date=row["business_date"],
            reconciliation_status=row["reconciliation_status"],
        )
    return rows
