"""What the bridge does with one Kafka message: the Pub/Sub message to publish, or a dead letter and why.

Pure: takes the Kafka message's parts and the stream spec, returns the message to send. Limits are Pub/Sub's
(https://cloud.google.com/pubsub/quotas#resource_limits).
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import NamedTuple

import orjson

from streaming.avro import AvroDecodeError, AvroDecoder, read_avro_schema, to_json
from streaming.exceptions import SchemaRegistryError
from streaming.schema_registry import SchemaRegistry
from streaming.spec import StreamSpec
from streaming_codec import StreamEncoder

PUBSUB_MAX_MESSAGE_BYTES = 10_000_000
"""A publish request, and so one message with its attributes, is at most 10 MB."""
PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES = 1024
DEAD_LETTER_MAX_DATA_BYTES = 1_000_000
"""Dead letters of oversized messages keep this much of the payload; the rest stays in Kafka (see coordinates)."""
_REQUEST_OVERHEAD_BYTES = 1024
"""Room for the topic name and framing of a one-message publish request."""
_ALWAYS_SHORT_ENOUGH = PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES // 4
"""Characters of text that fit an attribute value whatever their UTF-8 length."""


class DeadLetterReason(StrEnum):
    """Why a message went to the dead-letter topic (its `reason` attribute)."""

    UNDECODABLE = "undecodable"
    """The value is empty, not one JSON object, or (format avro) not a record of the spec's Avro schemas."""
    TOO_LARGE = "too_large"
    """The message or its key is over a Pub/Sub limit."""
    SPEC_VIOLATION = "spec_violation"
    """A field the stream spec requires is missing or has the wrong type."""
    REJECTED = "rejected_by_pubsub"
    """Pub/Sub refused the publish as invalid (not retryable)."""


class Outgoing(NamedTuple):
    """A message ready for Pub/Sub; `dead_letter` says which topic it goes to."""

    data: bytes
    attributes: dict[str, str]
    ordering_key: str = ""
    dead_letter: DeadLetterReason | None = None


class _Violation(Exception):
    """Internal: the payload breaks the stream spec."""


def _attribute_bytes(attributes: dict[str, str]) -> int:
    return sum(len(k) + len(v.encode()) + 8 for k, v in attributes.items())


def _text(value: object, field: str) -> str:
    """A field's value as attribute text: a non-empty string or an integer, at most 1 KB."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Violation(f"field {field!r} must be a string or an integer, got {type(value).__name__}")
    text = str(value)
    if not text:
        raise _Violation(f"field {field!r} is empty")
    if len(text.encode()) > PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES:
        raise _Violation(f"field {field!r} is over {PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES} bytes")
    return text


class MessageRouter:
    """Turns Kafka messages of one stream into Pub/Sub messages: attributes, ordering key, or a dead letter."""

    def __init__(self, spec: StreamSpec) -> None:
        self._spec = spec
        self._event_id = spec.event_id_field
        self._sequence = spec.sequence_field
        self._event_time = spec.event_time_field
        self._ordering = spec.ordering_key_field

    def route(
        self, value: bytes | None, key: bytes | None, topic: str, partition: int, offset: int, timestamp_ms: int
    ) -> Outgoing:
        """The Pub/Sub message for one Kafka message; poison messages come back as dead letters."""
        attributes = self._attributes(key, topic, partition, offset, timestamp_ms)
        if key is not None and len(attributes["kafka_key"]) > PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES:
            return self._dead_letter(value, attributes, DeadLetterReason.TOO_LARGE, "key over 1024 bytes")
        if not value:
            return self._dead_letter(value, attributes, DeadLetterReason.UNDECODABLE, "empty value (tombstone)")
        # orjson: a third of json's time, the largest part of routing. It is also strict where the warehouse is:
        # NaN, Infinity, invalid UTF-8 and lone surrogates are not JSON and go to the dead-letter topic.
        try:
            payload = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            return self._dead_letter(value, attributes, DeadLetterReason.UNDECODABLE, f"not JSON: {error}")
        if type(payload) is not dict:
            return self._dead_letter(value, attributes, DeadLetterReason.UNDECODABLE, "not a JSON object")
        event_id, sequence = payload.get(self._event_id), payload.get(self._sequence)
        # The usual event passes these cheap tests; any other goes through every check, for its precise reason.
        if (
            type(event_id) is str
            and 0 < len(event_id) <= _ALWAYS_SHORT_ENOUGH
            and type(sequence) is int
            and sequence >= 0
            and type(payload.get(self._event_time)) is str
            and not self._ordering
        ):
            attributes["event_id"], attributes["sequence"], ordering_key = event_id, str(sequence), ""
        else:
            try:
                ordering_key = self._check(payload, attributes)
            except _Violation as violation:
                return self._dead_letter(value, attributes, DeadLetterReason.SPEC_VIOLATION, str(violation))
        # Cheap test first: only near the limit is the exact size worth computing.
        if len(value) > PUBSUB_MAX_MESSAGE_BYTES - 64_000 and (
            len(value) + _attribute_bytes(attributes) + len(ordering_key) + _REQUEST_OVERHEAD_BYTES
            > PUBSUB_MAX_MESSAGE_BYTES
        ):
            detail = f"{len(value)} bytes, over Pub/Sub's {PUBSUB_MAX_MESSAGE_BYTES}"
            return self._dead_letter(value, attributes, DeadLetterReason.TOO_LARGE, detail)
        return Outgoing(value, attributes, ordering_key)

    def _attributes(
        self, key: bytes | None, topic: str, partition: int, offset: int, timestamp_ms: int
    ) -> dict[str, str]:
        """The attributes every message of the stream carries: source, schema version, Kafka coordinates and key."""
        attributes = {
            "source": self._spec.name,
            "schema_version": self._spec.schema_version,
            "kafka_topic": topic,
            "kafka_partition": str(partition),
            "kafka_offset": str(offset),
            "kafka_timestamp": str(timestamp_ms),
        }
        if key is not None:
            try:
                attributes["kafka_key"] = key.decode()
            except UnicodeDecodeError:
                attributes["kafka_key"] = base64.b64encode(key).decode()
                attributes["kafka_key_encoding"] = "base64"
        return attributes

    def _check(self, payload: dict[str, object], attributes: dict[str, str]) -> str:
        """Every rule of the stream spec; adds event id and sequence to the attributes, returns the ordering key."""
        attributes["event_id"] = _text(self._required(payload, self._event_id), self._event_id)
        sequence = self._required(payload, self._sequence)
        if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < 0:
            raise _Violation(f"field {self._sequence!r} must be a non-negative integer, got {sequence!r}")
        attributes["sequence"] = str(sequence)
        if not isinstance(self._required(payload, self._event_time), str):
            raise _Violation(f"field {self._event_time!r} must be an ISO 8601 timestamp string")
        return _text(self._required(payload, self._ordering), self._ordering) if self._ordering else ""

    @staticmethod
    def _required(payload: dict[str, object], field: str) -> object:
        value = payload.get(field)
        if value is None:
            raise _Violation(f"field {field!r} is missing")
        return value

    @staticmethod
    def _dead_letter(
        value: bytes | None, attributes: dict[str, str], reason: DeadLetterReason, detail: str
    ) -> Outgoing:
        return dead_letter(value or b"", attributes, reason, detail)


class AvroMessageRouter(MessageRouter):
    """Turns Kafka messages of an Avro stream into Pub/Sub messages: each value is decoded (streaming/avro.py) and
    published as JSON, with its writer schema's id in `avro_schema_id`, after the same checks as a JSON stream. A
    dead letter keeps the Avro bytes as they were in Kafka. With `registry`, ids the spec does not list are looked
    up there."""

    def __init__(self, spec: StreamSpec, registry: SchemaRegistry | None = None) -> None:
        super().__init__(spec)
        self._decoder = AvroDecoder(
            [(schema_id, read_avro_schema(path)) for schema_id, path in spec.avro_schemas], registry
        )

    def route(
        self, value: bytes | None, key: bytes | None, topic: str, partition: int, offset: int, timestamp_ms: int
    ) -> Outgoing:
        """The Pub/Sub message (JSON) for one Kafka message (Avro); poison messages come back as dead letters."""
        if not value:
            return super().route(value, key, topic, partition, offset, timestamp_ms)
        try:
            record, schema_id = self._decoder.decode(value)
        except SchemaRegistryError as error:
            raise error.for_message(f"{topic}/{partition}@{offset}") from error
        except AvroDecodeError as error:
            attributes = self._attributes(key, topic, partition, offset, timestamp_ms)
            return dead_letter(value, attributes, DeadLetterReason.UNDECODABLE, str(error))
        outgoing = super().route(to_json(record), key, topic, partition, offset, timestamp_ms)
        outgoing.attributes["avro_schema_id"] = str(schema_id)
        if outgoing.dead_letter is not None:
            return dead_letter(value, outgoing.attributes, outgoing.dead_letter, outgoing.attributes["reason_detail"])
        return outgoing


def message_router(spec: StreamSpec, registry: SchemaRegistry | None = None) -> MessageRouter:
    """The router for the stream's payload format; `registry` serves Avro streams whose spec takes schemas from it."""
    return AvroMessageRouter(spec, registry) if spec.payload_format == "avro" else MessageRouter(spec)


def stream_encoder(spec: StreamSpec) -> StreamEncoder | None:
    """The compiled encoder of the stream's usual messages (`streaming_codec`), which leaves the rest to the router;
    None for Avro streams, whose every message the router decodes."""
    if spec.payload_format != "json":
        return None
    return StreamEncoder(
        spec.name,
        spec.schema_version,
        spec.event_id_field,
        spec.sequence_field,
        spec.event_time_field,
        spec.ordering_key_field,
    )


def dead_letter(data: bytes, attributes: dict[str, str], reason: DeadLetterReason, detail: str) -> Outgoing:
    """A dead letter: the payload (cut to 1 MB), the message's attributes, the reason and its detail."""
    # Cut to Pub/Sub's attribute limit, so the dead letter itself is always publishable.
    letter = {
        name: value.encode()[:PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES].decode(errors="ignore")
        for name, value in attributes.items()
        if name not in ("reason", "reason_detail")
    }
    letter["reason"] = reason.value
    letter["reason_detail"] = detail.encode()[:PUBSUB_MAX_ATTRIBUTE_VALUE_BYTES].decode(errors="ignore")
    if len(data) > DEAD_LETTER_MAX_DATA_BYTES:
        letter["original_bytes"] = str(len(data))
        data = data[:DEAD_LETTER_MAX_DATA_BYTES]
    return Outgoing(data, letter, "", reason)
