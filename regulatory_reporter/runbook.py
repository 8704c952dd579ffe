"""Runbook operations of the regulatory lane: status, dead-letter list/show/replay, and the audit mirror."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator.warehouse.base import Warehouse
from regulatory_reporter.exceptions import EventNotFoundError
from regulatory_reporter.ledger import DEAD_LETTERED, RECEIVED, Ledger, LedgerEntry

MIRROR_BATCH = 1000


def dead_letters(ledger: Ledger, limit: int) -> list[dict[str, Any]]:
    """Dead-lettered events, most recent first, with their reasons."""
    return [
        {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "event_at": e.event_at,
            "dead_lettered_at": e.dead_lettered_at,
            "attempts": e.attempts,
            "replays": e.replays,
            "reason": e.reason,
        }
        for e in ledger.entries(DEAD_LETTERED, limit)
    ]


def show_event(ledger: Ledger, event_id: str) -> dict[str, Any]:
    """One ledger entry with the event it holds."""
    entry = ledger.get(event_id)
    if entry is None:
        raise EventNotFoundError(event_id)
    return entry.as_dict()


def status(ledger: Ledger, now: dt.datetime, sla_minutes: float) -> dict[str, Any]:
    """Entries per state, events still RECEIVED past the SLA, and the latest dead letters."""
    counts = ledger.counts()
    received = ledger.entries(RECEIVED, 1000)
    deadline = dt.timedelta(minutes=sla_minutes)
    overdue = [
        {"event_id": e.event_id, "event_at": e.event_at, "owner": e.owner, "attempts": e.attempts}
        for e in received
        if now - e.event_at > deadline
    ]
    return {
        "counts": counts,
        "received_past_sla": overdue,
        "sla_minutes": sla_minutes,
        "latest_dead_letters": dead_letters(ledger, 5),
    }


def _submission_row(entry: LedgerEntry, mirrored_at: dt.datetime) -> dict[str, Any]:
    return {
        "event_id": entry.event_id,
        "state": entry.state,
        "event_type": entry.event_type,
        "event_at": entry.event_at,
        "received_at": entry.received_at,
        "submitted_at": entry.submitted_at,
        "dead_lettered_at": entry.dead_lettered_at,
        "regulator_reference": entry.regulator_reference,
        "latency_ms": entry.latency_ms,
        "attempts": entry.attempts,
        "replays": entry.replays,
        "reason": entry.reason,
        "updated_at": entry.updated_at,
        "mirrored_at": mirrored_at,
    }


def _naive_utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def mirror_ledger(ledger: Ledger, warehouse: Warehouse, now: dt.datetime) -> dict[str, int]:
    """Append ledger entries changed since the last mirror to the control tables; dbt keeps the latest per event."""
    table = warehouse.table("control", "regulatory_submissions")
    rows = warehouse.query(f"select max(updated_at) as last_updated_at from {table}")
    since = _naive_utc(rows[0]["last_updated_at"]) if rows else None
    mirrored = dead = 0
    while True:
        batch = ledger.updated_since(since, MIRROR_BATCH)
        if not batch:
            break
        # Timestamps go to the warehouse as naive UTC, the convention of every control table.
        submissions = [
            {k: v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v for k, v in _submission_row(e, now).items()}
            for e in batch
        ]
        warehouse.insert_rows("regulatory_submissions", submissions)
        dead_rows = [row for row in submissions if row["state"] == DEAD_LETTERED]
        warehouse.insert_rows(
            "regulatory_dead_letter",
            [
                {
                    k: row[k]
                    for k in (
                        "event_id",
                        "event_type",
                        "event_at",
                        "dead_lettered_at",
                        "attempts",
                        "reason",
                        "updated_at",
                        "mirrored_at",
                    )
                }
                for row in dead_rows
            ],
        )
        mirrored += len(batch)
        dead += len(dead_rows)
        since = batch[-1].updated_at
        if len(batch) < MIRROR_BATCH:
            break
    return {"entries_mirrored": mirrored, "dead_letters_mirrored": dead}
