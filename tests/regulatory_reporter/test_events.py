"""Pure event handling: push envelopes, the event schema, the deterministic event id, the submission schema."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from orchestrator.identity import event_id, trade_id
from regulatory_reporter.events import (
    build_submission,
    check_submission,
    load_schema,
    missing_reference,
    parse_event,
    parse_push_envelope,
    schema_problems,
)
from regulatory_reporter.exceptions import InvalidEventError, SubmissionInvalidError
from regulatory_reporter.reference import Counterparty, Instrument, ReferenceData, Trader
from tests.regulatory_reporter.support import make_event, push_body

REFERENCE = ReferenceData(
    traders={"T001": Trader("Ada Lovelace", "RATES")},
    instruments={"US0378331005": Instrument("APPLE INC", "EQUITY", "USD")},
    counterparties={"5493001KJTIIGC8Y1R12": Counterparty("ACME BANK", "US")},
)


def test_event_id_is_pinned_and_extends_the_trade_identity() -> None:
    assert event_id("trading", "MUREX", "MX0000000001", "EV1") == "79e4ec16057ce98c56fb08c2789df104"
    assert event_id("trading", "MUREX", "MX0000000001", "EV1") != trade_id("trading", "MUREX", "MX0000000001")


def test_push_envelope_and_event_parse() -> None:
    message = parse_push_envelope(push_body(make_event(1), message_id="42"))
    event = parse_event(message.data, message.message_id)
    assert message.message_id == "42"
    assert event.event_id == event_id("trading", "MUREX", "MX0000000001", "EV0000000001")
    assert event.trade_id == trade_id("trading", "MUREX", "MX0000000001")
    assert event.event_at.isoformat() == "2026-11-20T10:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"not json", "not JSON", id="not-json"),
        pytest.param(b'{"subscription": "s"}', "no 'message' object", id="no-message"),
        pytest.param(b'{"message": {"data": "e30="}}', "no messageId", id="no-message-id"),
        pytest.param(b'{"message": {"messageId": "1", "data": "%%%"}}', "not base64", id="bad-base64"),
    ],
)
def test_malformed_envelopes_say_why(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidEventError, match=reason):
        parse_push_envelope(body)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"\xff\xfe", "not JSON", id="binary"),
        pytest.param(json.dumps({**make_event(1), "side": "HOLD"}).encode(), "side", id="bad-side"),
        pytest.param(
            json.dumps({k: v for k, v in make_event(1).items() if k != "isin"}).encode(),
            "'isin' is a required",
            id="missing-isin",
        ),
        pytest.param(
            json.dumps({**make_event(1), "event_at": "2026-11-20T10:00:00+"}).encode(), "event_at", id="bad-time"
        ),
        pytest.param(
            json.dumps({**make_event(1), "event_at": "2026-11-20T10:00:00.000"}).encode(), "event_at", id="naive-time"
        ),
    ],
)
def test_events_breaking_the_schema_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidEventError, match=reason):
        parse_event(data, "9")


def test_submission_follows_its_schema_and_is_enriched() -> None:
    event = parse_event(json.dumps(make_event(1)).encode())
    submission = build_submission(event, REFERENCE)
    check_submission(event.event_id, submission)
    assert submission["trader"] == {"trader_id": "T001", "name": "Ada Lovelace", "desk": "RATES"}
    assert submission["event_at"] == "2026-11-20T10:00:00Z"
    assert load_schema("submission")["properties"]["schema_version"]["const"] == submission["schema_version"]


def test_submission_breaking_the_schema_is_refused() -> None:
    event = parse_event(json.dumps(make_event(1)).encode())
    submission = {**build_submission(event, REFERENCE), "unexpected": 1}
    with pytest.raises(SubmissionInvalidError, match="unexpected"):
        check_submission(event.event_id, submission)


def test_missing_reference_names_table_and_key() -> None:
    event = parse_event(json.dumps(make_event(1, trader_id="T999", isin="GB0002634946")).encode())
    assert missing_reference(event, REFERENCE) == ["dim_trader.trader_id=T999", "dim_instrument.isin=GB0002634946"]


def test_base64_payload_round_trip() -> None:
    data = base64.b64encode(b"{}").decode()
    assert parse_push_envelope(json.dumps({"message": {"messageId": "1", "data": data}}).encode()).data == b"{}"


def _mutations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with one field removed, retyped or reshaped, for every field at every depth."""
    wrong_values: list[Any] = [None, 12345, 1.5, True, "", "x" * 300, "lower case", "1.2.3", "ZZ", {"a": 1}, ["A"]]
    for key, value in document.items():
        yield {k: v for k, v in document.items() if k != key}
        for wrong in wrong_values:
            yield {**document, key: wrong}
        if isinstance(value, dict):
            for inner in _mutations(value):
                yield {**document, key: inner}
    yield {**document, "unexpected": 1}


@pytest.mark.parametrize("name", ["event", "submission"])
def test_the_fast_schema_check_never_passes_what_the_reference_validator_refuses(name: str) -> None:
    event = parse_event(json.dumps(make_event(1)).encode())
    valid = dict(event.fields) if name == "event" else build_submission(event, REFERENCE)
    reference = jsonschema.Draft202012Validator(load_schema(name))
    documents = [valid, *_mutations(valid)]
    refused = [document for document in documents if not reference.is_valid(document)]
    assert len(refused) > 50
    assert [document for document in refused if not schema_problems(name, document)] == []
    assert schema_problems(name, valid) == []
