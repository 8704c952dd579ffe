"""The bridge's per-message work in compiled code (src/lib.rs): Kafka messages to framed Pub/Sub messages."""

from typing import Any

class Encoded:
    """What `StreamEncoder.encode` made of a list of messages."""

    frames: bytes
    """The encoded messages, each framed as an element of PublishRequest.messages, one after the other."""
    ends: list[int]
    """Per encoded message, where its frame ends in `frames`."""
    runs: list[tuple[tuple[str, int], int, int]]
    """The encoded messages in runs: ((topic, partition), start, stop) for messages `start` to `stop` (excluded)
    of one partition. A run ends where the partition changes, where a message was left to the router, and where an
    offset does not increase: each run is consecutive in Kafka."""
    others: list[int]
    """Positions (in the list given) of the messages left to the router: errors, and anything unusual."""

class StreamEncoder:
    """Encodes the Kafka messages of one JSON stream as framed Pub/Sub messages with the stream's attributes."""

    def __init__(
        self,
        source: str,
        schema_version: str,
        event_id_field: str,
        sequence_field: str,
        event_time_field: str,
        ordering_key_field: str | None = None,
    ) -> None: ...
    def encode(self, messages: list[Any]) -> Encoded:
        """Encode confluent-kafka messages: the usual ones in `frames`, the others' positions in `others`."""

def frame(data: bytes, attributes: dict[str, str], ordering_key: str = "") -> bytes:
    """One PubsubMessage framed as an element of PublishRequest.messages."""

def request_head(topic: str) -> bytes:
    """The start of a serialized PublishRequest: its topic field."""
