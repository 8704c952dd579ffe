"""The cloud ledger: one Firestore document per event; `create()` is the atomic create-if-absent."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from google.api_core import exceptions as google_exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.base_document import DocumentSnapshot

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

_T = TypeVar("_T")
Snapshot = DocumentSnapshot[Any]
_FIELDS = tuple(LedgerEntry.__dataclass_fields__)
# A conditional update that loses a race is re-read and retried this often before giving up as lost.
_CONFLICT_RETRIES = 3


def firestore_client(project: str) -> firestore.Client:
    """A Firestore client; anonymous against the emulator (FIRESTORE_EMULATOR_HOST), default credentials otherwise."""
    if os.environ.get("FIRESTORE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return firestore.Client(project=project, credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    return firestore.Client(project=project)


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    assert isinstance(value, dt.datetime)
    return dt.datetime.fromtimestamp(value.timestamp(), dt.UTC)


def _entry(snapshot: Snapshot, changes: dict[str, Any] | None = None) -> LedgerEntry:
    return _entry_from(snapshot.id, {**(snapshot.to_dict() or {}), **(changes or {})})


def _entry_from(event_id: str, data: dict[str, Any]) -> LedgerEntry:
    values: dict[str, Any] = {name: data.get(name) for name in _FIELDS}
    for name in ("event_at", "received_at", "updated_at", "lease_expires_at", "submitted_at", "dead_lettered_at"):
        values[name] = _utc(values[name])
    values["event_id"] = event_id
    values["event"] = dict(values["event"] or {})
    values["attempts"] = int(values["attempts"] or 0)
    values["replays"] = int(values["replays"] or 0)
    return LedgerEntry(**values)


class FirestoreLedger:
    """Ledger in a Firestore collection; state changes are updates preconditioned on the version read."""

    def __init__(self, client: firestore.Client, collection: str) -> None:
        self._client = client
        self._collection = client.collection(collection)
        self.collection = collection
        # The version and data of documents this instance wrote last, while it holds their claim: an owned update
        # then needs one preconditioned write instead of a read and a write. A stale entry only costs the read.
        self._written: dict[str, tuple[Any, dict[str, Any]]] = {}

    def _call(self, what: str, function: Callable[[], _T]) -> _T:
        try:
            return function()
        except (google_exceptions.AlreadyExists, google_exceptions.FailedPrecondition):
            raise
        except (google_exceptions.GoogleAPICallError, google_exceptions.RetryError) as error:
            raise LedgerUnavailableError(
                f"ledger=firestore/{self.collection}: {what} failed ({error}); the message will be delivered again"
            ) from error

    def _snapshot(self, event_id: str) -> Snapshot | None:
        snapshot = self._call(f"read event_id={event_id}", self._collection.document(event_id).get)
        return snapshot if snapshot.exists else None

    def get(self, event_id: str) -> LedgerEntry | None:
        """The entry of an event, if any."""
        snapshot = self._snapshot(event_id)
        return _entry(snapshot) if snapshot else None

    def _require(self, event_id: str) -> Snapshot:
        snapshot = self._snapshot(event_id)
        if snapshot is None:
            raise EventNotFoundError(event_id)
        return snapshot

    def _update_at_version(self, event_id: str, version: Any, changes: dict[str, Any]) -> Any:
        """The new version, or None when the document changed since `version`."""
        option = self._client.write_option(last_update_time=version)
        reference = self._collection.document(event_id)
        try:
            result = self._call(f"update event_id={event_id}", lambda: reference.update(changes, option=option))
        except google_exceptions.FailedPrecondition:
            return None
        return result.update_time

    def _update_if_unchanged(self, snapshot: Snapshot, changes: dict[str, Any]) -> bool:
        version = self._update_at_version(snapshot.id, snapshot.update_time, changes)
        if version is None:
            return False
        self._remember(snapshot.id, version, {**(snapshot.to_dict() or {}), **changes})
        return True

    def _remember(self, event_id: str, version: Any, data: dict[str, Any]) -> None:
        if data.get("state") == RECEIVED:
            self._written[event_id] = (version, data)
        else:
            self._written.pop(event_id, None)

    def claim(self, new: NewEntry, owner: str, now: dt.datetime, lease_s: float) -> Claim:
        """`create()`; on AlreadyExists, resume only if the previous lease expired."""
        document = transitions.received_fields(new, owner, now, lease_s)
        reference = self._collection.document(new.event_id)
        try:
            result = self._call(f"create event_id={new.event_id}", lambda: reference.create(document))
            self._remember(new.event_id, result.update_time, document)
            # What we wrote is what is stored: no read-back needed.
            return Claim(ClaimResult.ACQUIRED, _entry_from(new.event_id, document))
        except google_exceptions.AlreadyExists:
            pass
        snapshot = self._require(new.event_id)
        existing = _entry(snapshot)
        found = transitions.claim_of_existing(existing, now)
        if found is not None:
            return Claim(found, existing)
        taken = self._update_if_unchanged(snapshot, transitions.takeover_fields(owner, now, lease_s))
        current = _entry(self._require(new.event_id))
        return Claim(transitions.claim_after_takeover(taken, current), current)

    def _owned_update(self, event_id: str, owner: str, changes: dict[str, Any]) -> LedgerEntry:
        written = self._written.get(event_id)
        if written is not None and written[1].get("owner") == owner:
            version = self._update_at_version(event_id, written[0], changes)
            if version is not None:
                data = {**written[1], **changes}
                self._remember(event_id, version, data)
                return _entry_from(event_id, data)
        for _ in range(_CONFLICT_RETRIES):
            snapshot = self._require(event_id)
            entry = _entry(snapshot)
            if entry.state != RECEIVED or entry.owner != owner:
                raise LeaseLostError(event_id)
            if self._update_if_unchanged(snapshot, changes):
                return _entry(snapshot, changes)
        raise LeaseLostError(event_id)

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
        snapshot = self._require(event_id)
        entry = _entry(snapshot)
        if not transitions.replayable(entry, now):
            raise NotReplayableError(event_id, entry.state)
        if not self._update_if_unchanged(snapshot, transitions.reopen_fields(entry, owner, now, lease_s)):
            raise NotReplayableError(event_id, _entry(self._require(event_id)).state)
        return _entry(self._require(event_id))

    def entries(self, state: str | None = None, limit: int = 100) -> Sequence[LedgerEntry]:
        """Most recently updated first (a composite index on state, updated_at serves it)."""
        query: Any = self._collection
        if state:
            query = query.where(filter=firestore.FieldFilter("state", "==", state))
        query = query.order_by("updated_at", direction=firestore.Query.DESCENDING).limit(limit)
        return self._call("list entries", lambda: [_entry(s) for s in query.stream()])

    def updated_since(self, since: dt.datetime | None, limit: int = 1000) -> Sequence[LedgerEntry]:
        """Oldest first."""
        query: Any = self._collection
        if since is not None:
            query = query.where(filter=firestore.FieldFilter("updated_at", ">", since))
        query = query.order_by("updated_at").limit(limit)
        return self._call("list updated entries", lambda: [_entry(s) for s in query.stream()])

    def counts(self) -> dict[str, int]:
        """Entries per state, by aggregation queries."""

        def count(state: str) -> int:
            query: Any = self._collection.where(filter=firestore.FieldFilter("state", "==", state)).count()
            return int(query.get()[0][0].value)

        return {state: self._call(f"count {state}", lambda state=state: count(state)) for state in STATES}  # type: ignore[misc]

    def close(self) -> None:
        """Close the gRPC channel."""
        self._client.close()  # type: ignore[no-untyped-call]
