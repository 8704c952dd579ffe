"""Structured logs for Cloud Logging: one JSON object per line with severity, message and trace."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

LOGGER_NAME = "mdp.reporter"
# Alerting matches dead-letter events on this field: jsonPayload.alert="REGULATORY_SUBMISSION_DEAD_LETTERED".
DEAD_LETTER_ALERT = "REGULATORY_SUBMISSION_DEAD_LETTERED"
TRACE_FIELD = "logging.googleapis.com/trace"

log = logging.getLogger(LOGGER_NAME)


def trace_name(header: str | None, project: str) -> str | None:
    """`projects/P/traces/T` from an `X-Cloud-Trace-Context: T/SPAN;o=1` header, or None."""
    if not header:
        return None
    trace = header.split("/", 1)[0].strip()
    return f"projects/{project}/traces/{trace}" if trace else None


class JsonFormatter(logging.Formatter):
    """severity, message, time, logger, then the record's `fields` (event_id, trace, alert, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line."""
        payload: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "logger": record.name,
        }
        payload.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_reporter_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the reporter's logger (Cloud Run collects them)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers = [handler]
    log.setLevel(level)
    log.propagate = False


def event_log(level: int, message: str, **fields: Any) -> None:
    """Log one event with structured fields; None values are left out."""
    log.log(level, message, extra={"fields": {k: v for k, v in fields.items() if v is not None}})
