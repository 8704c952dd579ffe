"""Routing one Kafka message: the Pub/Sub message and its attributes, or a dead letter with its reason."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest

from streaming.messages import (
    DEAD_LETTER_MAX_DATA_BYTES,
    DeadLetterReason,
    MessageRouter,
    Outgoing,
    dead_letter,
)
from streaming.spec import StreamSpec, find_stream_spec

REPO = Path(__file__).resolve().parents[2]
TOPIC = "markets.rfq.events.v1"


@pytest.fixture(scope="module")
def spec() -> StreamSpec:
    """The shipped rfq stream spec."""
    return find_stream_spec(REPO / "source_specs", "rfq")


def _event(**changes: object) -> bytes:
    event: dict[str, object] = {
        "event_id": "RFQ-1-E1",
        "sequence": 41,
        "event_at": "2026-11-20T10:00:00.123Z",
        "rfq_id": "RFQ-1",
    }
    event.update(changes)
    return json.dumps({k: v for k, v in event.items() if v is not None}).encode()


def _route(spec: StreamSpec, value: bytes | None, key: bytes | None = b"RFQ-1") -> Outgoing:
    return MessageRouter(spec).route(value, key, TOPIC, 3, 1234, 1795441964104)


def test_a_valid_event_keeps_its_bytes_and_carries_its_coordinates(spec: StreamSpec) -> None:
    value = _event()
    routed = _route(spec, value)
    assert routed.dead_letter is None
    assert routed.data == value
    assert routed.ordering_key == ""
    assert routed.attributes == {
        "source": "rfq",
        "schema_version": "1",
        "kafka_topic": TOPIC,
        "kafka_partition": "3",
        "kafka_offset": "1234",
        "kafka_timestamp": "1795441964104",
        "kafka_key": "RFQ-1",
        "event_id": "RFQ-1-E1",
        "sequence": "41",
    }


def test_a_binary_key_travels_base64_encoded(spec: StreamSpec) -> None:
    routed = _route(spec, _event(), key=b"\xff\x00key")
    assert routed.attributes["kafka_key"] == base64.b64encode(b"\xff\x00key").decode()
    assert routed.attributes["kafka_key_encoding"] == "base64"


def test_a_message_without_key_has_no_key_attribute(spec: StreamSpec) -> None:
    assert "kafka_key" not in _route(spec, _event(), key=None).attributes


def test_the_ordering_key_comes_from_the_spec_field(spec: StreamSpec) -> None:
    ordered = dataclasses.replace(spec, ordering_key_field="rfq_id")
    assert _route(ordered, _event()).ordering_key == "RFQ-1"
    missing = _route(ordered, _event(rfq_id=None))
    assert missing.dead_letter is DeadLetterReason.SPEC_VIOLATION
    assert missing.attributes["reason_detail"] == "field 'rfq_id' is missing"


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        pytest.param(None, DeadLetterReason.UNDECODABLE, "empty value (tombstone)", id="tombstone"),
        pytest.param(b"RFQ;1;QUOTE", DeadLetterReason.UNDECODABLE, "not JSON: unexpected character", id="not-json"),
        pytest.param(b'{"event_id": "E1", "price": NaN}', DeadLetterReason.UNDECODABLE, "not JSON", id="nan"),
        pytest.param(b'{"event_id": "\\ud800"}', DeadLetterReason.UNDECODABLE, "not JSON", id="lone-surrogate"),
        pytest.param(b"\xff\xfe{}", DeadLetterReason.UNDECODABLE, "not JSON", id="not-utf8"),
        pytest.param(b"[1, 2]", DeadLetterReason.UNDECODABLE, "not a JSON object", id="json-array"),
        pytest.param(
            _event(event_id=None), DeadLetterReason.SPEC_VIOLATION, "field 'event_id' is missing", id="no-event-id"
        ),
        pytest.param(_event(event_id=""), DeadLetterReason.SPEC_VIOLATION, "is empty", id="empty-event-id"),
        pytest.param(
            _event(sequence=None), DeadLetterReason.SPEC_VIOLATION, "field 'sequence' is missing", id="no-sequence"
        ),
        pytest.param(_event(sequence="41"), DeadLetterReason.SPEC_VIOLATION, "non-negative integer", id="text-seq"),
        pytest.param(_event(sequence=-1), DeadLetterReason.SPEC_VIOLATION, "non-negative integer", id="negative-seq"),
        pytest.param(_event(sequence=True), DeadLetterReason.SPEC_VIOLATION, "non-negative integer", id="bool-seq"),
        pytest.param(_event(sequence=4.5), DeadLetterReason.SPEC_VIOLATION, "non-negative integer", id="float-seq"),
        pytest.param(_event(event_at=None), DeadLetterReason.SPEC_VIOLATION, "'event_at' is missing", id="no-time"),
        pytest.param(_event(event_at=1795441964), DeadLetterReason.SPEC_VIOLATION, "ISO 8601", id="epoch-time"),
        pytest.param(
            _event(padding="x" * 10_000_000), DeadLetterReason.TOO_LARGE, "over Pub/Sub's 10000000", id="over-10mb"
        ),
    ],
)
def test_poison_messages_become_dead_letters_with_their_reason(
    spec: StreamSpec, value: bytes | None, reason: DeadLetterReason, detail: str
) -> None:
    routed = _route(spec, value)
    assert routed.dead_letter is reason
    assert routed.attributes["reason"] == reason.value
    assert detail in routed.attributes["reason_detail"]
    assert routed.attributes["kafka_topic"] == TOPIC
    assert routed.attributes["kafka_partition"] == "3"
    assert routed.attributes["kafka_offset"] == "1234"
    assert len(routed.data) <= DEAD_LETTER_MAX_DATA_BYTES


def test_a_message_just_under_the_limit_is_published(spec: StreamSpec) -> None:
    value = _event(padding="x" * 9_900_000)
    assert _route(spec, value).dead_letter is None


def test_a_key_over_the_attribute_limit_is_dead_lettered(spec: StreamSpec) -> None:
    routed = _route(spec, _event(), key=b"k" * 1025)
    assert routed.dead_letter is DeadLetterReason.TOO_LARGE
    assert routed.attributes["kafka_key"] == "k" * 1024, "cut to the limit, so the dead letter can be published"


def test_a_dead_letter_of_an_oversized_payload_keeps_its_head_and_size() -> None:
    letter = dead_letter(b"y" * 12_000_000, {"kafka_offset": "7"}, DeadLetterReason.TOO_LARGE, "too big")
    assert letter.data == b"y" * DEAD_LETTER_MAX_DATA_BYTES
    assert letter.attributes == {
        "kafka_offset": "7",
        "reason": "too_large",
        "reason_detail": "too big",
        "original_bytes": "12000000",
    }
