"""The compiled codec (streaming_codec): what it encodes, the router would have published unchanged; everything
else it leaves to the router. Compared with the router message by message, on chosen cases and on mutated ones."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, Message
from google.pubsub_v1.types import PublishRequest

from streaming.messages import PUBSUB_MAX_MESSAGE_BYTES, MessageRouter, Outgoing, stream_encoder
from streaming.spec import StreamSpec, find_stream_spec
from streaming_codec import Encoded, StreamEncoder, frame, request_head
from tests.streaming.support import rfq_event

REPO = Path(__file__).resolve().parents[2]
TOPIC = "markets.rfq.events.v1"
TIMESTAMP = 1795441964104


@pytest.fixture(scope="module")
def spec() -> StreamSpec:
    """The shipped rfq stream spec."""
    return find_stream_spec(REPO / "source_specs", "rfq")


def _encoder(spec: StreamSpec) -> StreamEncoder:
    encoder = stream_encoder(spec)
    assert encoder is not None
    return encoder


def _event(**changes: object) -> bytes:
    return rfq_event(1, 41, **changes)


def _message(value: bytes | None, key: bytes | None = b"RFQ-1", partition: int = 3, offset: int = 1234) -> Message:
    return Message(topic=TOPIC, partition=partition, offset=offset, key=key, value=value, timestamp=(1, TIMESTAMP))


def _decoded(frames: bytes) -> list[Any]:
    """The PubsubMessages of framed messages, read back with protobuf's own parser."""
    return list(PublishRequest.pb().FromString(request_head("projects/p/topics/t") + frames).messages)


def _as_published(message: Any) -> Outgoing:
    return Outgoing(bytes(message.data), dict(message.attributes), message.ordering_key)


def _compare(spec: StreamSpec, messages: list[Message]) -> tuple[int, int]:
    """Encode `messages` and check each against the router: an encoded message is exactly what the router
    publishes for it; a message left to the router is named in `others`. Returns (encoded, left)."""
    encoded = _encoder(spec).encode(messages)
    router = MessageRouter(spec)
    published = iter(_decoded(encoded.frames))
    others = set(encoded.others)
    for position, message in enumerate(messages):
        if position in others:
            continue
        partition, offset = message.partition(), message.offset()
        assert partition is not None
        assert offset is not None
        routed = router.route(message.value(), message.key(), TOPIC, partition, offset, TIMESTAMP)
        assert routed.dead_letter is None, f"encoded, but the router dead-letters it: {message.value()!r}"
        assert _as_published(next(published)) == routed, message.value()
    assert next(published, None) is None
    assert len(encoded.ends) == len(messages) - len(others)
    assert encoded.ends[-1:] == [len(encoded.frames)] or not encoded.ends
    _check_runs(encoded, messages)
    return len(messages) - len(others), len(others)


def _check_runs(encoded: Encoded, messages: list[Message]) -> None:
    """The runs cover the encoded messages in order, each run consecutive in the list given, of one partition, with
    increasing offsets."""
    others = set(encoded.others)
    positions = [position for position in range(len(messages)) if position not in others]
    covered = 0
    for key, start, stop in encoded.runs:
        assert start == covered < stop
        run = [messages[position] for position in positions[start:stop]]
        assert positions[stop - 1] - positions[start] == stop - 1 - start, "a run never straddles another message"
        assert {(message.topic(), message.partition()) for message in run} == {key}
        offsets = [offset for message in run if (offset := message.offset()) is not None]
        assert len(offsets) == len(run)
        assert offsets == sorted(set(offsets))
        covered = stop
    assert covered == len(positions)


def test_usual_events_are_encoded_as_the_router_publishes_them(spec: StreamSpec) -> None:
    messages = [
        _message(_event(event_id=f"E{n}", sequence=n, note='é ü 日本 \\ " \n'), key=key, partition=n % 3, offset=n)
        for n, key in enumerate([b"RFQ-1", None, b"", "ключ".encode(), b"k" * 1024] * 4)
    ]
    assert _compare(spec, messages) == (len(messages), 0)


def test_an_ordered_stream_carries_its_ordering_key(spec: StreamSpec) -> None:
    ordered = dataclasses.replace(spec, ordering_key_field="rfq_id")
    messages = [_message(_event(rfq_id="RFQ-9")), _message(_event(rfq_id=77)), _message(_event(event_id=5))]
    assert _compare(ordered, messages) == (2, 1), "an integer event id is the router's to judge"
    assert [m.ordering_key for m in _decoded(_encoder(ordered).encode(messages).frames)] == ["RFQ-9", "77"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="tombstone"),
        pytest.param(b"", id="empty"),
        pytest.param(b"RFQ;1;QUOTE", id="not-json"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t", "price": NaN}', id="nan"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t", "x": 1e400}', id="float-overflow"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t", "x": "\\ud800"}', id="lone-surrogate"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t", "\\udc00": 1}', id="lone-surrogate-key"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t", "x": "\x01"}', id="control-character"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t", "x": 01}', id="leading-zero"),
        pytest.param(b'{"event_id": "E1", "sequence": 1, "event_at": "t"} x', id="trailing-text"),
        pytest.param(b'\xef\xbb\xbf{"event_id": "E1", "sequence": 1, "event_at": "t"}', id="byte-order-mark"),
        pytest.param(b'{"event_id": "E\xff", "sequence": 1, "event_at": "t"}', id="not-utf8"),
        pytest.param(b"[1, 2]", id="json-array"),
        pytest.param(b'"text"', id="json-string"),
        pytest.param(_event(event_id=None), id="no-event-id"),
        pytest.param(_event(event_id=""), id="empty-event-id"),
        pytest.param(_event(event_id=41), id="integer-event-id"),
        pytest.param(_event(event_id="x" * 257), id="long-event-id"),
        pytest.param(_event(sequence=None), id="no-sequence"),
        pytest.param(_event(sequence="41"), id="text-sequence"),
        pytest.param(_event(sequence=-1), id="negative-sequence"),
        pytest.param(_event(sequence=True), id="bool-sequence"),
        pytest.param(_event(sequence=4.0), id="float-sequence"),
        pytest.param(_event(sequence=2**64), id="sequence-over-64-bits"),
        pytest.param(b'{"event_id": "E1", "sequence": -0, "event_at": "t"}', id="minus-zero-sequence"),
        pytest.param(_event(event_at=None), id="no-event-time"),
        pytest.param(_event(event_at=1795441964), id="epoch-event-time"),
        pytest.param(b'{"event_id": "E1", "event_id": "E2", "sequence": 1, "event_at": "t"}', id="repeated-field"),
        pytest.param(_event(padding="x" * (PUBSUB_MAX_MESSAGE_BYTES - 60_000)), id="near-the-size-limit"),
    ],
)
def test_anything_unusual_is_left_to_the_router(spec: StreamSpec, value: bytes | None) -> None:
    assert _compare(spec, [_message(value)]) == (0, 1)


@pytest.mark.parametrize("key", [b"\xff\x00key", b"k" * 1025], ids=["binary-key", "key-over-1024-bytes"])
def test_keys_the_router_must_judge_are_left_to_it(spec: StreamSpec, key: bytes) -> None:
    assert _compare(spec, [_message(_event(), key=key)]) == (0, 1)


def test_kafka_errors_are_left_to_the_loop_and_the_others_keep_their_order(spec: StreamSpec) -> None:
    end_of_partition = Message(topic=TOPIC, partition=1, offset=-1001, error=KafkaError(KafkaError._PARTITION_EOF))
    messages = [_message(_event(), offset=7), end_of_partition, _message(None, offset=8), _message(_event(), offset=9)]
    encoded = _encoder(spec).encode(messages)
    assert encoded.others == [1, 2]
    assert encoded.runs == [((TOPIC, 3), 0, 1), ((TOPIC, 3), 1, 2)], "a run ends at a message left to the router"
    assert _compare(spec, messages) == (2, 2)


def test_runs_end_where_the_partition_changes_or_an_offset_does_not_increase(spec: StreamSpec) -> None:
    placed = [(0, 10), (0, 11), (0, 12), (1, 5), (1, 6), (0, 13), (0, 3), (0, 4)]
    messages = [_message(_event(sequence=n), partition=p, offset=o) for n, (p, o) in enumerate(placed)]
    encoded = _encoder(spec).encode(messages)
    assert encoded.others == []
    assert encoded.runs == [((TOPIC, 0), 0, 3), ((TOPIC, 1), 3, 5), ((TOPIC, 0), 5, 6), ((TOPIC, 0), 6, 8)]
    assert encoded.runs[0][0] is encoded.runs[2][0], "a partition's key is made once and shared"
    assert _compare(spec, messages) == (8, 0)


def test_mutated_events_are_either_encoded_exactly_or_left_to_the_router(spec: StreamSpec) -> None:
    """2,000 events mutated at random (seeded): bytes flipped, cut or inserted, JSON tokens spliced in. Whatever
    the codec encodes must be what the router publishes; a fair share of each kind must occur."""
    chooser = random.Random(20261205)
    splices = [b"\\ud800", b"\\ude00", b"\\u0041", b"1e999", b"-0", b"NaN", b'"', b"\\", b",", b"}", b"\x00", b"\xc3"]
    messages = []
    for number in range(2000):
        value = bytearray(_event(event_id=f"E{number}", sequence=number, note="ü\\n"))
        for _ in range(chooser.randint(0, 2)):
            at = chooser.randrange(len(value))
            action = chooser.randrange(4)
            if action == 0:
                value[at] = chooser.randrange(256)
            elif action == 1:
                del value[at:]
            else:
                value[at:at] = chooser.choice(splices)
        messages.append(_message(bytes(value), offset=number))
    encoded, left = _compare(spec, messages)
    assert encoded > 300, left
    assert left > 300, encoded


def test_a_framed_message_is_the_pubsub_message_protobuf_would_serialize() -> None:
    attributes = {"source": "rfq", "kafka_key": "ключ", "empty": ""}
    framed = frame(b"\x00payload", attributes, "order-1")
    (message,) = _decoded(framed)
    assert _as_published(message) == Outgoing(b"\x00payload", attributes, "order-1")
    request = PublishRequest.pb().FromString(request_head("projects/p/topics/t") + framed + frame(b"x" * 300, {}))
    assert request.topic == "projects/p/topics/t"
    assert [bytes(m.data) for m in request.messages] == [b"\x00payload", b"x" * 300]
    with pytest.raises(ValueError, match='attribute "n" is not a string'):
        frame(b"x", {"n": 1})  # type: ignore[dict-item]
