"""The reporter against the regulator sandbox: retries, dead letters, idempotency, enrichment."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from regulatory_reporter.events import ReportableEvent, parse_event
from regulatory_reporter.ledger import DEAD_LETTERED, SUBMITTED
from regulatory_reporter.logs import DEAD_LETTER_ALERT
from regulatory_reporter.runtime import open_reporter
from regulatory_reporter.service import DUPLICATE, Reporter
from regulatory_reporter.settings import ReporterSettings
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.regulatory_reporter.support import make_event


@pytest.fixture
def reporter(sandbox: RegulatorSandbox, make_settings: Callable[..., ReporterSettings]) -> Iterator[Reporter]:
    """A reporter on a SQLite ledger, retrying after 10, 20, 40, 80, 160 ms, with a 0.5 s regulator timeout."""
    with open_reporter(make_settings(sandbox.url), refresh_in_background=False) as opened:
        yield opened


def _event(number: int, **overrides: str) -> ReportableEvent:
    return parse_event(json.dumps(make_event(number, **overrides)).encode(), str(number))


def test_event_is_submitted_once_with_idempotency_key(reporter: Reporter, sandbox: RegulatorSandbox) -> None:
    event = _event(1)
    outcome = reporter.handle(event, "m1")
    assert outcome.status == SUBMITTED
    assert outcome.entry is not None
    assert outcome.entry.regulator_reference == sandbox.accepted[event.event_id]
    assert outcome.entry.attempts == 1
    [request] = sandbox.requests_for(event.event_id)
    assert request.body is not None
    assert request.body["trader"] == {"trader_id": "T001", "name": "Ada Lovelace", "desk": "RATES"}
    again = reporter.handle(event, "m1-redelivered")
    assert again.status == DUPLICATE
    assert again.acknowledge
    assert len(sandbox.requests_for(event.event_id)) == 1


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [
        pytest.param(lambda s: s.fail_next(3, 503), 4, id="5xx-burst"),
        pytest.param(lambda s: s.fail_next(2, 429), 3, id="throttled"),
        pytest.param(lambda s: s.hang_next(1, 0.8), 2, id="timeout"),
    ],
)
def test_transient_faults_are_retried_then_submitted(
    reporter: Reporter, sandbox: RegulatorSandbox, fault: Callable[[RegulatorSandbox], None], attempts: int
) -> None:
    fault(sandbox)
    event = _event(2)
    outcome = reporter.handle(event)
    assert outcome.status == SUBMITTED
    assert outcome.entry is not None
    assert outcome.entry.attempts == attempts
    assert sandbox.first_accepts() == 1
    assert {r.idempotency_key for r in sandbox.requests} == {event.event_id}


def test_connection_refused_is_retried_then_dead_lettered(
    make_settings: Callable[..., ReporterSettings], caplog: pytest.LogCaptureFixture
) -> None:
    closed = RegulatorSandbox().start()
    closed.stop()
    with open_reporter(make_settings(closed.url), refresh_in_background=False) as reporter:
        outcome = reporter.handle(_event(3))
    assert outcome.status == DEAD_LETTERED
    assert outcome.entry is not None
    assert outcome.entry.attempts == 6
    assert "regulator unavailable after 6 attempts: connection error" in (outcome.entry.reason or "")


def test_exhausted_retries_dead_letter_with_an_alertable_error_log(
    reporter: Reporter, sandbox: RegulatorSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.fail_next(6, 502)
    event = _event(4)
    with caplog.at_level(logging.INFO, logger="mdp.reporter"):
        outcome = reporter.handle(event)
    assert outcome.status == DEAD_LETTERED
    assert outcome.entry is not None
    assert outcome.entry.reason == "regulator unavailable after 6 attempts: HTTP 502: sandbox injected HTTP 502"
    assert len(sandbox.requests) == 6
    assert sandbox.accepted_count() == 0
    alerts = [r for r in caplog.records if getattr(r, "fields", {}).get("alert") == DEAD_LETTER_ALERT]
    assert len(alerts) == 1
    assert alerts[0].levelname == "ERROR"
    assert alerts[0].fields["event_id"] == event.event_id  # type: ignore[attr-defined]


def test_rejection_is_not_retried_and_keeps_the_regulators_message(
    reporter: Reporter, sandbox: RegulatorSandbox
) -> None:
    event = _event(5)
    sandbox.reject(event.event_id, 422, "field trade.venue_mic: unknown MIC")
    outcome = reporter.handle(event)
    assert outcome.status == DEAD_LETTERED
    assert outcome.entry is not None
    assert outcome.entry.reason == ("regulator rejected the submission (HTTP 422): field trade.venue_mic: unknown MIC")
    assert len(sandbox.requests_for(event.event_id)) == 1


def test_duplicate_reference_answer_counts_as_submitted(reporter: Reporter, sandbox: RegulatorSandbox) -> None:
    event = _event(6)
    sandbox.accepted[event.event_id] = "REG-EARLIER"
    outcome = reporter.handle(event)
    assert outcome.status == SUBMITTED
    assert outcome.entry is not None
    assert outcome.entry.regulator_reference == "REG-EARLIER"
    assert sandbox.first_accepts() == 0


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        pytest.param({"trader_id": "T999"}, "dim_trader.trader_id=T999", id="unknown-trader"),
        pytest.param({"isin": "DE0005140008"}, "dim_instrument.isin=DE0005140008", id="unknown-instrument"),
        pytest.param(
            {"counterparty_lei": "HWUPKR0MPOU8FGXBT394"},
            "dim_counterparty.counterparty_lei=HWUPKR0MPOU8FGXBT394",
            id="unknown-counterparty",
        ),
    ],
)
def test_missing_reference_dead_letters_without_calling_the_regulator(
    reporter: Reporter, sandbox: RegulatorSandbox, overrides: dict[str, str], reason: str
) -> None:
    outcome = reporter.handle(_event(7, **overrides))
    assert outcome.status == DEAD_LETTERED
    assert outcome.entry is not None
    assert outcome.entry.reason == f"reference data missing: {reason}"
    assert sandbox.requests == []


def test_replay_resubmits_a_dead_letter_through_the_same_key(reporter: Reporter, sandbox: RegulatorSandbox) -> None:
    sandbox.fail_next(6, 500)
    event = _event(8)
    assert reporter.handle(event).status == DEAD_LETTERED
    outcome = reporter.replay(event.event_id)
    assert outcome.status == SUBMITTED
    assert outcome.entry is not None
    assert outcome.entry.replays == 1
    assert sandbox.first_accepts() == 1
    assert {r.idempotency_key for r in sandbox.requests} == {event.event_id}


def test_api_key_is_sent_as_bearer_token(
    sandbox: RegulatorSandbox, make_settings: Callable[..., ReporterSettings]
) -> None:
    settings = dataclasses.replace(make_settings(sandbox.url), regulator_api_key="key-from-secret-manager")
    with open_reporter(settings, refresh_in_background=False) as reporter:
        event = _event(7)
        assert reporter.handle(event, "m7").status == SUBMITTED
    [request] = sandbox.requests_for(event.event_id)
    assert request.authorization == "Bearer key-from-secret-manager"
    assert "key-from-secret-manager" not in repr(settings)
