"""The embedded ledger: one SQLite file, safe for several threads and processes on one machine."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from regulatory_reporter import ledger as transitions
from regulatory_reporter.exceptions import (
    EventNotFoundError,
    LeaseLostError,
    LedgerUnavailableError,
    NotReplayableError,
)
from regulatory_reporter.ledger import (
    RECEIVED,
    STATES,
    Claim,
    ClaimResult,
    LedgerEntry,
    NewEntry,
)

_DDL = """
create table if not exists ledger (
    event_id text primary key,
    state text not null,
    event text not null,
    event_type text not null,
    event_at text not null,
    received_at text not null,
    updated_at text not null,
    message_id text,
    owner text,
    lease_expires_at text,
    attempts integer not null default 0,
    regulator_reference text,
    submitted_at text,
    latency_ms integer,
    reason text,
    dead_lettered_at text,
    replays integer not null default 0
);
create index if not exists ledger_state_updated on ledger (state, updated_at);
create index if not exists ledger_updated on ledger (updated_at);
"""
_COLUMNS = (
    "event_id, state, event, event_type, event_at, received_at, updated_at, message_id, owner, lease_expires_at, "
    "attempts, regulator_reference, submitted_at, latency_ms, reason, dead_lettered_at, replays"
)
_TIMESTAMPS = ("event_at", "received_at", "updated_at", "lease_expires_at", "submitted_at", "dead_lettered_at")


def _text(value: dt.datetime) -> str:
    # One fixed-width UTC format, so text order is time order in queries.
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _entry(row: sqlite3.Row) -> LedgerEntry:
    values: dict[str, Any] = dict(row)
    values["event"] = json.loads(values["event"])
    for name in _TIMESTAMPS:
        if values[name] is not None:
            values[name] = dt.datetime.fromisoformat(values[name])
    return LedgerEntry(**values)


def _stored(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _text(value)
    if isinstance(value, Mapping):
        return json.dumps(dict(value), sort_keys=True)
    return value


def _assignments(fields: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`name = ?, ...` and the stored values of a transition's fields."""
    return ", ".join(f"{name} = ?" for name in fields), [_stored(value) for value in fields.values()]


class SqliteLedger:
    """Ledger in a SQLite file: a primary-key insert is the atomic create-if-absent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection().executescript(_DDL)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                connection.execute("pragma journal_mode=wal")
                connection.execute("pragma synchronous=normal")
            except sqlite3.Error as error:
                raise LedgerUnavailableError(f"ledger={self.path}: cannot open ({error})") from error
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._connection().execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise LedgerUnavailableError(f"ledger={self.path}: {error}; the message will be delivered again") from error

    def get(self, event_id: str) -> LedgerEntry | None:
        """The entry of an event, if any."""
        row = self._execute(f"select {_COLUMNS} from ledger where event_id = ?", [event_id]).fetchone()
        return _entry(row) if row else None

    def _require(self, event_id: str) -> LedgerEntry:
        entry = self.get(event_id)
        if entry is None:
            raise EventNotFoundError(event_id)
        return entry

    def claim(self, new: NewEntry, owner: str, now: dt.datetime, lease_s: float) -> Claim:
        """Insert as RECEIVED; on a duplicate key, resume only if the previous lease expired."""
        fields = transitions.received_fields(new, owner, now, lease_s)
        try:
            self._execute(
                f"insert into ledger (event_id, {', '.join(fields)}) values (?{', ?' * len(fields)})",
                [new.event_id, *(_stored(value) for value in fields.values())],
            )
            return Claim(ClaimResult.ACQUIRED, self._require(new.event_id))
        except sqlite3.IntegrityError:
            pass
        existing = self._require(new.event_id)
        found = transitions.claim_of_existing(existing, now)
        if found is not None:
            return Claim(found, existing)
        # Take over only the exact claim we read: if another instance took it first, this updates nothing.
        assignments, values = _assignments(transitions.takeover_fields(owner, now, lease_s))
        cursor = self._execute(
            f"update ledger set {assignments} "
            "where event_id = ? and state = ? and owner is ? and lease_expires_at is ?",
            [*values, new.event_id, RECEIVED, existing.owner, _stored(existing.lease_expires_at)],
        )
        current = self._require(new.event_id)
        return Claim(transitions.claim_after_takeover(cursor.rowcount == 1, current), current)

    def _owned_update(self, event_id: str, owner: str, fields: Mapping[str, Any]) -> LedgerEntry:
        assignments, values = _assignments(fields)
        cursor = self._execute(
            f"update ledger set {assignments} where event_id = ? and state = ? and owner = ?",
            [*values, event_id, RECEIVED, owner],
        )
        if cursor.rowcount != 1:
            raise LeaseLostError(event_id)
        return self._require(event_id)

    def record_attempt(self, event_id: str, owner: str, attempts: int, now: dt.datetime) -> None:
        """Count a regulator attempt."""
        self._owned_update(event_id, owner, transitions.attempt_fields(attempts, now))

    def mark_submitted(
        self, event_id: str, owner: str, reference: str, now: dt.datetime, latency_ms: int, attempts: int
    ) -> LedgerEntry:
        """RECEIVED → SUBMITTED."""
        return self._owned_update(event_id, owner, transitions.submitted_fields(reference, now, latency_ms, attempts))

    def mark_dead_lettered(
        self, event_id: str, owner: str, reason: str, now: dt.datetime, attempts: int
    ) -> LedgerEntry:
        """RECEIVED → DEAD_LETTERED."""
        return self._owned_update(event_id, owner, transitions.dead_lettered_fields(reason, now, attempts))

    def reopen(self, event_id: str, owner: str, now: dt.datetime, lease_s: float) -> LedgerEntry:
        """DEAD_LETTERED, or RECEIVED with an expired claim, → RECEIVED claimed by `owner`, for a replay."""
        entry = self._require(event_id)
        if not transitions.replayable(entry, now):
            raise NotReplayableError(event_id, entry.state)
        # Only the entry as read: a concurrent replay or claim changed updated_at, and this updates nothing.
        assignments, values = _assignments(transitions.reopen_fields(entry, owner, now, lease_s))
        cursor = self._execute(
            f"update ledger set {assignments} where event_id = ? and state = ? and updated_at = ?",
            [*values, event_id, entry.state, _text(entry.updated_at)],
        )
        if cursor.rowcount != 1:
            raise NotReplayableError(event_id, self._require(event_id).state)
        return self._require(event_id)

    def entries(self, state: str | None = None, limit: int = 100) -> Sequence[LedgerEntry]:
        """Most recently updated first."""
        where, params = ("where state = ?", [state]) if state else ("", [])
        rows = self._execute(
            f"select {_COLUMNS} from ledger {where} order by updated_at desc limit ?", [*params, limit]
        ).fetchall()
        return [_entry(row) for row in rows]

    def updated_since(self, since: dt.datetime | None, limit: int = 1000) -> Sequence[LedgerEntry]:
        """Oldest first."""
        rows = self._execute(
            f"select {_COLUMNS} from ledger where updated_at > ? order by updated_at limit ?",
            [_text(since) if since else "", limit],
        ).fetchall()
        return [_entry(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Entries per state."""
        found = dict(self._execute("select state, count(*) from ledger group by state").fetchall())
        return {state: int(found.get(state, 0)) for state in STATES}

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()
