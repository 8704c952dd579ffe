"""What on-call is alerted to. Each alert is one JSON log line whose `alert` field names it; on GKE,
terraform/modules/monitoring counts the lines with one log-based metric and raises one policy per alert, linking
its section of docs/support_runbook.md. Lines that carry `source` or `stream` alert per source or stream."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from orchestrator.logs import log_event

log = logging.getLogger("mdp.alerts")


class Alert(StrEnum):
    """The `alert` field of a log line, and the alert policy that counts it."""

    FILE_VALIDATION_FAILED = "FILE_VALIDATION_FAILED"
    FILE_UNMATCHED = "FILE_UNMATCHED"
    SOURCE_MISSING = "SOURCE_MISSING"
    VOLUME_ANOMALY = "VOLUME_ANOMALY"
    FILE_RECONCILIATION_BREAK = "FILE_RECONCILIATION_BREAK"
    BATCH_CYCLE_FAILED = "BATCH_CYCLE_FAILED"
    VENDOR_EXTRACT_FAILED = "VENDOR_EXTRACT_FAILED"
    STREAM_EVENTS_REJECTED = "STREAM_EVENTS_REJECTED"
    STREAM_SEQUENCE_GAPS_CONFIRMED = "STREAM_SEQUENCE_GAPS_CONFIRMED"
    STREAM_BUILD_FAILED = "STREAM_BUILD_FAILED"
    STREAM_CHECK_FAILED = "STREAM_CHECK_FAILED"
    NAMESPACE_CHECK_FAILED = "NAMESPACE_CHECK_FAILED"
    REGULATORY_SUBMISSIONS_MISSED = "REGULATORY_SUBMISSIONS_MISSED"
    REGULATORY_RECONCILE_FAILED = "REGULATORY_RECONCILE_FAILED"


def raise_alert(alert: Alert, message: str, level: int = logging.WARNING, **fields: Any) -> None:
    """Log the line an alert policy counts: `message` says what happened and where, `fields` name the subject."""
    log_event(log, level, message, alert=alert.value, **fields)


@contextmanager
def alert_on_failure(alert: Alert, what: str, **fields: Any) -> Iterator[None]:
    """Raise `alert` when the block fails, with the error, and let the error go on."""
    try:
        yield
    except Exception as error:
        raise_alert(alert, f"{what} failed: {type(error).__name__}: {error}", logging.ERROR, **fields)
        raise
