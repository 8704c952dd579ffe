"""The submission ledger seam: one entry per event, created if absent, moved by conditional updates only."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

RECEIVED = "RECEIVED"
SUBMITTED = "SUBMITTED"
DEAD_LETTERED = "DEAD_LETTERED"
STATES = (RECEIVED, SUBMITTED, DEAD_LETTERED)
FINAL_STATES = (SUBMITTED, DEAD_LETTERED)


class ClaimResult(enum.Enum):
    """What a claim found."""

    ACQUIRED = "acquired"
    """The entry was created now: this instance submits."""
    RESUMED = "resumed"
    """A RECEIVED entry whose lease had expired (a crashed instance) is now ours: this instance submits."""
    FINISHED = "finished"
    """The event already has its outcome: nothing to submit, acknowledge the message."""
    BUSY = "busy"
    """Another live instance holds the claim: do not acknowledge, the message comes back."""


@dataclass(frozen=True)
class LedgerEntry:
    """One event's ledger entry."""

    event_id: str
    state: str
    event: Mapping[str, Any]
    event_type: str
    event_at: dt.datetime
    received_at: dt.datetime
    updated_at: dt.datetime
    message_id: str | None = None
    owner: str | None = None
    lease_expires_at: dt.datetime | None = None
    attempts: int = 0
    regulator_reference: str | None = None
    submitted_at: dt.datetime | None = None
    latency_ms: int | None = None
    reason: str | None = None
    dead_lettered_at: dt.datetime | None = None
    replays: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Every field, for JSON output."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim and the entry as it stands after it."""

    result: ClaimResult
    entry: LedgerEntry


@dataclass(frozen=True)
class NewEntry:
    """What a claim writes when the event is seen for the first time."""

    event_id: str
    event: Mapping[str, Any]
    event_type: str
    event_at: dt.datetime
    message_id: str | None = None


# --- the state machine, shared by every implementation -------------------------------------------------------
# Each transition is the set of fields it writes, by LedgerEntry field name; an implementation stores them its own
# way, under its own atomic condition (create-if-absent, or unchanged since read).


def received_fields(new: NewEntry, owner: str, now: dt.datetime, lease_s: float) -> dict[str, Any]:
    """A new entry, RECEIVED and claimed by `owner` (every field but event_id)."""
    return {
        "state": RECEIVED,
        "event": dict(new.event),
        "event_type": new.event_type,
        "event_at": new.event_at,
        "received_at": now,
        "updated_at": now,
        "message_id": new.message_id,
        "owner": owner,
        "lease_expires_at": now + dt.timedelta(seconds=lease_s),
        "attempts": 0,
        "replays": 0,
    }


def claim_of_existing(existing: LedgerEntry, now: dt.datetime) -> ClaimResult | None:
    """What a claim finds in an entry that exists already: FINISHED, BUSY, or None when its lease has expired and
    the claim may take it over with `takeover_fields`."""
    if existing.state != RECEIVED:
        return ClaimResult.FINISHED
    if existing.lease_expires_at is not None and existing.lease_expires_at > now:
        return ClaimResult.BUSY
    return None


def takeover_fields(owner: str, now: dt.datetime, lease_s: float) -> dict[str, Any]:
    """A RECEIVED entry whose lease expired, claimed by `owner`."""
    return {"owner": owner, "lease_expires_at": now + dt.timedelta(seconds=lease_s), "updated_at": now}


def claim_after_takeover(taken: bool, current: LedgerEntry) -> ClaimResult:
    """RESUMED when the takeover wrote; otherwise another instance got there first, and the entry says how far."""
    if taken:
        return ClaimResult.RESUMED
    return ClaimResult.BUSY if current.state == RECEIVED else ClaimResult.FINISHED


def attempt_fields(attempts: int, now: dt.datetime) -> dict[str, Any]:
    """One more regulator attempt."""
    return {"attempts": attempts, "updated_at": now}


def submitted_fields(reference: str, now: dt.datetime, latency_ms: int, attempts: int) -> dict[str, Any]:
    """RECEIVED → SUBMITTED with the regulator's reference."""
    return {
        "state": SUBMITTED,
        "regulator_reference": reference,
        "submitted_at": now,
        "latency_ms": latency_ms,
        "updated_at": now,
        "lease_expires_at": None,
        "reason": None,
        "attempts": attempts,
    }


def dead_lettered_fields(reason: str, now: dt.datetime, attempts: int) -> dict[str, Any]:
    """RECEIVED → DEAD_LETTERED with the reason."""
    return {
        "state": DEAD_LETTERED,
        "reason": reason,
        "dead_lettered_at": now,
        "updated_at": now,
        "lease_expires_at": None,
        "attempts": attempts,
    }


def replayable(entry: LedgerEntry, now: dt.datetime) -> bool:
    """A replay may reopen a dead letter, or a RECEIVED entry whose claim expired (its instance is gone)."""
    if entry.state == DEAD_LETTERED:
        return True
    return entry.state == RECEIVED and (entry.lease_expires_at is None or entry.lease_expires_at <= now)


def reopen_fields(entry: LedgerEntry, owner: str, now: dt.datetime, lease_s: float) -> dict[str, Any]:
    """A replayable entry back to RECEIVED, claimed by `owner`, its attempts counted afresh."""
    return {
        "state": RECEIVED,
        "owner": owner,
        "lease_expires_at": now + dt.timedelta(seconds=lease_s),
        "updated_at": now,
        "attempts": 0,
        "replays": entry.replays + 1,
    }


class Ledger(Protocol):
    """Exactly-once bookkeeping; every implementation passes tests/regulatory_reporter/test_ledger_contract.py."""

    def claim(self, new: NewEntry, owner: str, now: dt.datetime, lease_s: float) -> Claim:
        """Create the entry as RECEIVED if absent, or resume it if its lease expired; never both for two callers."""
        ...

    def record_attempt(self, event_id: str, owner: str, attempts: int, now: dt.datetime) -> None:
        """Count a regulator attempt; LeaseLostError if the claim is no longer ours."""
        ...

    def mark_submitted(
        self, event_id: str, owner: str, reference: str, now: dt.datetime, latency_ms: int, attempts: int
    ) -> LedgerEntry:
        """RECEIVED → SUBMITTED with the regulator's reference; LeaseLostError if the claim is no longer ours."""
        ...

    def mark_dead_lettered(
        self, event_id: str, owner: str, reason: str, now: dt.datetime, attempts: int
    ) -> LedgerEntry:
        """RECEIVED → DEAD_LETTERED with the reason; LeaseLostError if the claim is no longer ours."""
        ...

    def reopen(self, event_id: str, owner: str, now: dt.datetime, lease_s: float) -> LedgerEntry:
        """DEAD_LETTERED (or RECEIVED with an expired claim) → RECEIVED claimed by `owner`, for a replay."""
        ...

    def get(self, event_id: str) -> LedgerEntry | None:
        """The entry of an event, if any."""
        ...

    def entries(self, state: str | None = None, limit: int = 100) -> Sequence[LedgerEntry]:
        """Entries in a state (all states when None), most recently updated first."""
        ...

    def updated_since(self, since: dt.datetime | None, limit: int = 1000) -> Sequence[LedgerEntry]:
        """Entries updated strictly after `since`, oldest first: the audit mirror's increment."""
        ...

    def counts(self) -> dict[str, int]:
        """Entries per state."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
