"""The ledger contract, run on both implementations: SQLite (embedded default) and Firestore (emulator)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from regulatory_reporter.exceptions import EventNotFoundError, LeaseLostError, NotReplayableError
from regulatory_reporter.firestore_ledger import FirestoreLedger, firestore_client
from regulatory_reporter.ledger import (
    DEAD_LETTERED,
    RECEIVED,
    SUBMITTED,
    ClaimResult,
    Ledger,
    NewEntry,
)
from regulatory_reporter.sqlite_ledger import SqliteLedger
from tests.regulatory_reporter.support import make_event

T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
LEASE_S = 60.0


@pytest.fixture(params=["sqlite", "firestore"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """Each contract test runs once per implementation."""
    if request.param == "sqlite":
        implementation: Ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    else:
        collection = request.getfixturevalue("firestore_collection")
        implementation = FirestoreLedger(firestore_client("mdp-test-reporter"), collection)
    try:
        yield implementation
    finally:
        implementation.close()


def _new(number: int) -> NewEntry:
    event = make_event(number)
    return NewEntry(f"{number:032x}", event, "NEW", T0, message_id=str(number))


def test_first_claim_creates_received_entry(ledger: Ledger) -> None:
    claim = ledger.claim(_new(1), "a", T0, LEASE_S)
    assert claim.result is ClaimResult.ACQUIRED
    assert claim.entry.state == RECEIVED
    assert claim.entry.owner == "a"
    assert claim.entry.event["source_event_id"] == "EV0000000001"
    assert claim.entry.event_at == T0


def test_second_claim_within_lease_is_busy(ledger: Ledger) -> None:
    ledger.claim(_new(1), "a", T0, LEASE_S)
    claim = ledger.claim(_new(1), "b", T0 + dt.timedelta(seconds=5), LEASE_S)
    assert claim.result is ClaimResult.BUSY
    assert claim.entry.owner == "a"


def test_expired_claim_is_resumed_and_old_owner_loses_it(ledger: Ledger) -> None:
    ledger.claim(_new(1), "crashed", T0, LEASE_S)
    later = T0 + dt.timedelta(seconds=LEASE_S + 1)
    claim = ledger.claim(_new(1), "b", later, LEASE_S)
    assert claim.result is ClaimResult.RESUMED
    assert claim.entry.owner == "b"
    with pytest.raises(LeaseLostError):
        ledger.mark_submitted(_new(1).event_id, "crashed", "REG-1", later, 10, 1)
    entry = ledger.mark_submitted(_new(1).event_id, "b", "REG-2", later, 10, 1)
    assert (entry.state, entry.regulator_reference) == (SUBMITTED, "REG-2")


def test_claim_after_outcome_is_finished(ledger: Ledger) -> None:
    ledger.claim(_new(1), "a", T0, LEASE_S)
    ledger.mark_submitted(_new(1).event_id, "a", "REG-1", T0, 1500, 2)
    claim = ledger.claim(_new(1), "b", T0 + dt.timedelta(hours=1), LEASE_S)
    assert claim.result is ClaimResult.FINISHED
    assert claim.entry.state == SUBMITTED
    assert claim.entry.latency_ms == 1500
    assert claim.entry.attempts == 2


def test_concurrent_claims_acquire_once(ledger: Ledger) -> None:
    barrier = threading.Barrier(6)
    results: list[ClaimResult] = []

    def claim(owner: str) -> None:
        barrier.wait()
        results.append(ledger.claim(_new(7), owner, T0, LEASE_S).result)

    threads = [threading.Thread(target=claim, args=(f"owner-{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.value for r in results) == ["acquired"] + ["busy"] * 5


def test_concurrent_takeovers_of_expired_claim_resume_once(ledger: Ledger) -> None:
    ledger.claim(_new(8), "crashed", T0, LEASE_S)
    later = T0 + dt.timedelta(seconds=LEASE_S * 2)
    barrier = threading.Barrier(4)
    results: list[ClaimResult] = []

    def claim(owner: str) -> None:
        barrier.wait()
        results.append(ledger.claim(_new(8), owner, later, LEASE_S).result)

    threads = [threading.Thread(target=claim, args=(f"owner-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.value for r in results) == ["busy"] * 3 + ["resumed"]


def test_dead_letter_and_replay(ledger: Ledger) -> None:
    ledger.claim(_new(2), "a", T0, LEASE_S)
    ledger.record_attempt(_new(2).event_id, "a", 3, T0)
    dead = ledger.mark_dead_lettered(_new(2).event_id, "a", "regulator rejected: bad MIC", T0, 6)
    assert (dead.state, dead.reason, dead.attempts) == (DEAD_LETTERED, "regulator rejected: bad MIC", 6)
    with pytest.raises(LeaseLostError):
        ledger.record_attempt(_new(2).event_id, "a", 7, T0)
    reopened = ledger.reopen(_new(2).event_id, "replayer", T0 + dt.timedelta(minutes=5), LEASE_S)
    assert (reopened.state, reopened.owner, reopened.replays) == (RECEIVED, "replayer", 1)
    with pytest.raises(NotReplayableError):
        ledger.reopen(_new(2).event_id, "other", T0, LEASE_S)


def test_replay_resumes_a_stuck_claim_but_not_a_live_one(ledger: Ledger) -> None:
    ledger.claim(_new(3), "crashed", T0, LEASE_S)
    with pytest.raises(NotReplayableError, match="RECEIVED"):
        ledger.reopen(_new(3).event_id, "replayer", T0 + dt.timedelta(seconds=1), LEASE_S)
    reopened = ledger.reopen(_new(3).event_id, "replayer", T0 + dt.timedelta(seconds=LEASE_S + 1), LEASE_S)
    assert (reopened.state, reopened.owner) == (RECEIVED, "replayer")


def test_reopen_unknown_event_names_it(ledger: Ledger) -> None:
    with pytest.raises(EventNotFoundError, match="event_id=nope"):
        ledger.reopen("nope", "a", T0, LEASE_S)


def test_listing_counting_and_increments(ledger: Ledger) -> None:
    for number in range(1, 5):
        ledger.claim(_new(number), "a", T0 + dt.timedelta(seconds=number), LEASE_S)
    ledger.mark_submitted(_new(1).event_id, "a", "REG-1", T0 + dt.timedelta(seconds=10), 10, 1)
    ledger.mark_dead_lettered(_new(2).event_id, "a", "why", T0 + dt.timedelta(seconds=11), 1)
    ledger.mark_dead_lettered(_new(3).event_id, "a", "why", T0 + dt.timedelta(seconds=12), 1)
    assert ledger.counts() == {RECEIVED: 1, SUBMITTED: 1, DEAD_LETTERED: 2}
    assert [e.event_id for e in ledger.entries(DEAD_LETTERED)] == [_new(3).event_id, _new(2).event_id]
    assert ledger.get("absent") is None
    increment = ledger.updated_since(T0 + dt.timedelta(seconds=4))
    assert [e.event_id for e in increment] == [_new(1).event_id, _new(2).event_id, _new(3).event_id]
    assert [e.event_id for e in ledger.updated_since(None, limit=2)] == [_new(4).event_id, _new(1).event_id]
