"""Structured logs for Cloud Logging: one JSON object per line with severity, message and trace."""

from __future__ import annotations

import logging
import sys
from typing import Any

from orchestrator.logs import JsonFormatter, log_event

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


def configure_reporter_logging(level: int = logging.INFO) -> None:
    """JSON lines on stderr for the reporter's logger (Cloud Run collects them)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.handlers = [handler]
    log.setLevel(level)
    log.propagate = False


def event_log(level: int, message: str, **fields: Any) -> None:
    """Log one event of the reporter with structured fields; None values are left out."""
    log_event(log, level, message, **fields)
