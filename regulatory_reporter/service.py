"""The reporter: claim an event in the ledger, enrich it, submit it with retries, record the outcome."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from regulatory_reporter.events import (
    ReportableEvent,
    build_submission,
    check_submission,
    missing_reference,
    parse_event,
)
from regulatory_reporter.exceptions import (
    LeaseLostError,
    ReferenceUnavailableError,
    RegulatorRejectedError,
    RegulatorUnavailableError,
    SubmissionInvalidError,
)
from regulatory_reporter.ledger import ClaimResult, Ledger, LedgerEntry, NewEntry
from regulatory_reporter.logs import DEAD_LETTER_ALERT, event_log
from regulatory_reporter.metrics import ReporterMetrics
from regulatory_reporter.reference import ReferenceCache
from regulatory_reporter.regulator import RegulatorClient
from regulatory_reporter.retry import Backoff

# Outcomes of handling one delivery; all but IN_PROGRESS mean the ledger holds the final state.
SUBMITTED = "SUBMITTED"
DEAD_LETTERED = "DEAD_LETTERED"
DUPLICATE = "DUPLICATE"
IN_PROGRESS = "IN_PROGRESS"


def utc_now() -> dt.datetime:
    """The current UTC time."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery of an event."""

    status: str
    event_id: str
    entry: LedgerEntry | None
    detail: str = ""

    @property
    def acknowledge(self) -> bool:
        """True when the ledger reflects the event's final state, so the message may be acknowledged."""
        return self.status != IN_PROGRESS

    def as_dict(self) -> dict[str, object]:
        """For the push response and `mdp dlq replay --json`."""
        entry = self.entry
        return {
            "event_id": self.event_id,
            "outcome": self.status,
            "state": entry.state if entry else None,
            "regulator_reference": entry.regulator_reference if entry else None,
            "reason": entry.reason if entry else None,
            "detail": self.detail,
        }


class Reporter:
    """Exactly-once submission: the ledger claim decides who submits, the event id makes the call idempotent."""

    def __init__(
        self,
        ledger: Ledger,
        regulator: RegulatorClient,
        cache: ReferenceCache,
        backoff: Backoff,
        lease_s: float,
        owner: str,
        metrics: ReporterMetrics | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.ledger = ledger
        self.regulator = regulator
        self.cache = cache
        self.backoff = backoff
        self.lease_s = lease_s
        self.owner = owner
        self.metrics = metrics or ReporterMetrics()
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random()

    def handle(self, event: ReportableEvent, message_id: str | None = None, trace: str | None = None) -> Outcome:
        """Handle one delivery of an event; the returned outcome says whether to acknowledge it."""
        started = time.perf_counter()
        self._require_reference(event.event_id)
        claim = self.ledger.claim(
            NewEntry(event.event_id, event.fields, event.event_type, event.event_at, message_id),
            self.owner,
            self._clock(),
            self.lease_s,
        )
        if claim.result is ClaimResult.FINISHED:
            self.metrics.events.labels(DUPLICATE).inc()
            event_log(
                logging.INFO,
                "duplicate delivery: event already has its outcome",
                event_id=event.event_id,
                state=claim.entry.state,
                message_id=message_id,
                trace=trace,
            )
            return Outcome(DUPLICATE, event.event_id, claim.entry, "already " + claim.entry.state)
        if claim.result is ClaimResult.BUSY:
            self.metrics.events.labels(IN_PROGRESS).inc()
            return Outcome(IN_PROGRESS, event.event_id, claim.entry, "another instance holds the claim")
        if claim.result is ClaimResult.RESUMED:
            event_log(
                logging.WARNING,
                "resuming an event whose claim expired (crashed instance)",
                event_id=event.event_id,
                message_id=message_id,
                trace=trace,
            )
        return self._submit(event, claim.entry, started, trace)

    def replay(self, event_id: str) -> Outcome:
        """Resubmit a dead-lettered event through the same claim and idempotency key."""
        started = time.perf_counter()
        self._require_reference(event_id)
        entry = self.ledger.reopen(event_id, self.owner, self._clock(), self.lease_s)
        event = parse_event(json.dumps(dict(entry.event)).encode(), entry.message_id)
        event_log(logging.INFO, "replaying a dead-lettered event", event_id=event_id, replays=entry.replays)
        return self._submit(event, entry, started, None)

    def _require_reference(self, event_id: str) -> None:
        # An empty cache would dead-letter every event as "reference data missing"; waiting is the safe answer.
        if self.cache.data.loaded_at is None:
            raise ReferenceUnavailableError(event_id, self.cache.status()["last_error"])

    def _submit(self, event: ReportableEvent, entry: LedgerEntry, started: float, trace: str | None) -> Outcome:
        missing = missing_reference(event, self.cache.data)
        if missing:
            return self._dead_letter(event, f"reference data missing: {', '.join(missing)}", 0, started, 0.0, trace)
        submission = build_submission(event, self.cache.data)
        try:
            check_submission(event.event_id, submission)
        except SubmissionInvalidError as error:
            return self._dead_letter(event, str(error), 0, started, 0.0, trace)
        regulator_s = 0.0
        last_error: RegulatorUnavailableError | None = None
        attempts = 0
        for retry in range(self.backoff.retries + 1):
            if retry:
                delay = self.backoff.delay(retry - 1, self._rng)
                self._sleep(delay)
                regulator_s += delay
                try:
                    self.ledger.record_attempt(event.event_id, self.owner, attempts, self._clock())
                except LeaseLostError as error:
                    return Outcome(IN_PROGRESS, event.event_id, None, str(error))
            attempts += 1
            call_started = time.perf_counter()
            try:
                acknowledgement = self.regulator.submit(event.event_id, submission)
            except RegulatorRejectedError as error:
                regulator_s += time.perf_counter() - call_started
                self.metrics.regulator_calls.labels("rejected").inc()
                reason = f"regulator rejected the submission (HTTP {error.status}): {error.message}"
                return self._dead_letter(event, reason, attempts, started, regulator_s, trace)
            except RegulatorUnavailableError as error:
                regulator_s += time.perf_counter() - call_started
                self.metrics.regulator_calls.labels("unavailable").inc()
                last_error = error
                event_log(
                    logging.WARNING,
                    "regulator unavailable; retrying with backoff",
                    event_id=event.event_id,
                    attempt=attempts,
                    detail=error.detail,
                    trace=trace,
                )
                continue
            regulator_s += time.perf_counter() - call_started
            self.metrics.regulator_calls.labels("duplicate" if acknowledgement.duplicate else "accepted").inc()
            now = self._clock()
            latency_ms = int((now - event.event_at).total_seconds() * 1000)
            try:
                final = self.ledger.mark_submitted(
                    event.event_id, self.owner, acknowledgement.reference, now, latency_ms, attempts
                )
            except LeaseLostError as error:
                return Outcome(IN_PROGRESS, event.event_id, None, str(error))
            self._observe(SUBMITTED, started, regulator_s)
            self.metrics.event_to_ack_seconds.observe(max(latency_ms, 0) / 1000)
            event_log(
                logging.INFO,
                "submitted to the regulator",
                event_id=event.event_id,
                regulator_reference=acknowledgement.reference,
                duplicate=acknowledgement.duplicate,
                attempts=attempts,
                latency_ms=latency_ms,
                trace=trace,
            )
            return Outcome(SUBMITTED, event.event_id, final)
        assert last_error is not None
        reason = f"regulator unavailable after {attempts} attempts: {last_error.detail}"
        return self._dead_letter(event, reason, attempts, started, regulator_s, trace)

    def _dead_letter(
        self, event: ReportableEvent, reason: str, attempts: int, started: float, regulator_s: float, trace: str | None
    ) -> Outcome:
        try:
            final = self.ledger.mark_dead_lettered(event.event_id, self.owner, reason, self._clock(), attempts)
        except LeaseLostError as error:
            return Outcome(IN_PROGRESS, event.event_id, None, str(error))
        self._observe(DEAD_LETTERED, started, regulator_s)
        event_log(
            logging.ERROR,
            f"regulatory submission dead-lettered: {reason}",
            event_id=event.event_id,
            alert=DEAD_LETTER_ALERT,
            reason=reason,
            attempts=attempts,
            trace=trace,
        )
        return Outcome(DEAD_LETTERED, event.event_id, final, reason)

    def _observe(self, status: str, started: float, regulator_s: float) -> None:
        elapsed = time.perf_counter() - started
        self.metrics.events.labels(status).inc()
        self.metrics.processing_seconds.observe(elapsed)
        self.metrics.overhead_seconds.observe(max(elapsed - regulator_s, 0.0))
