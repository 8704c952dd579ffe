"""Structured logs for Cloud Logging: one JSON object per line, with severity, message and any named fields."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any


class JsonFormatter(logging.Formatter):
    """severity, message, time, logger, then the record's `fields` (stream, alert, event_id, ...).

    Cloud Logging parses such a line into `jsonPayload`, where log-based metrics and alerts match the fields."""

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


def log_event(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log one event with structured fields; None values are left out."""
    logger.log(level, message, extra={"fields": {k: v for k, v in fields.items() if v is not None}})
