"""A stream's dead letters: list them without taking them off the subscription, and replay them once fixed.

Two kinds reach a stream's dead-letter topic. The bridge's poison messages carry `reason`, `reason_detail` and
their Kafka coordinates (streaming/messages.py). Messages the stream's subscription could not deliver (the
BigQuery subscription's failed writes) are forwarded by Pub/Sub itself, with `CloudPubSubDeadLetterSource*`
attributes beside the bridge's. Replaying puts a bridge dead letter through the stream spec as it is now (the
usual fix is a spec pull request: a renamed field, a new Avro schema) and a forwarded one back as it was.

Nothing is lost either way: a dead letter is acknowledged only after its replay was acknowledged by Pub/Sub,
and every other one is released to the subscription again. A replay interrupted between the two publishes a
message twice, which the staging model deduplicates by event id, like any repeat of the at-least-once lane.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from google.pubsub_v1.types import ReceivedMessage

from streaming.messages import MessageRouter, Outgoing
from streaming.pubsub import acknowledge, lease, publish_all, pull, release
from streaming.spec import StreamSpec

SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
"""Set by Pub/Sub on a message it forwards after too many delivery attempts (with the other
`CloudPubSubDeadLetterSource*` attributes: https://cloud.google.com/pubsub/docs/handling-failures)."""
_FORWARDING_PREFIX = "CloudPubSubDeadLetterSource"
REPLAYED_FROM = "replayed_dead_letter_id"
"""Attribute of a replayed message: the message id of the dead letter it came from."""
NOT_DELIVERED = "not_delivered"
"""The reason shown for a forwarded dead letter: its subscription gave up on it."""

_HOLD_S = 600
"""While a command works on them, pulled dead letters are leased this long (Pub/Sub's maximum), so that the
next pull returns others; the command releases or acknowledges every one before it ends."""
_PULL_MAX = 1000
_PULL_TIMEOUT_S = 2.0
"""A pull's deadline; the first pull that returns nothing ends the listing. Servers answer before it, with
messages or none; a pull abandoned instead may lease messages to nobody until their ack deadline (60 s): they
stay on the subscription, missing from this one listing."""
_PREVIEW_CHARACTERS = 120


class Outcome(StrEnum):
    """What a replay did with one dead letter."""

    REPLAYED = "replayed"
    """Published to the stream's topic and acknowledged on the dead-letter subscription."""
    WOULD_REPLAY = "would_replay"
    """--dry-run: it passes the spec now; left on the subscription."""
    STILL_DEAD = "still_dead"
    """It still breaks the spec (or Pub/Sub rejected it); left on the subscription with the reason now."""
    SKIPPED = "skipped"
    """Nothing to replay it from (no payload, no Kafka coordinates, another stream's); left on the subscription."""


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter subscription, as pulled."""

    ack_id: str
    message_id: str
    published_at: dt.datetime
    data: bytes
    attributes: dict[str, str]
    ordering_key: str = ""

    @classmethod
    def from_received(cls, received: ReceivedMessage) -> DeadLetter:
        """From a pulled message."""
        message = received.message
        return cls(
            ack_id=received.ack_id,
            message_id=message.message_id,
            published_at=message.publish_time,
            data=bytes(message.data),
            attributes=dict(message.attributes),
            ordering_key=message.ordering_key,
        )

    @property
    def forwarded_from(self) -> str | None:
        """The subscription Pub/Sub forwarded it from, if it is not one of the bridge's."""
        return self.attributes.get(SOURCE_SUBSCRIPTION)

    @property
    def reason(self) -> str:
        """The bridge's reason, or `not_delivered` for a forwarded message."""
        if self.forwarded_from is not None:
            return NOT_DELIVERED
        return self.attributes.get("reason", "unknown")

    @property
    def detail(self) -> str:
        """The bridge's detail of the reason, or how often the subscription tried to deliver it."""
        if self.forwarded_from is not None:
            attempts = self.attributes.get(f"{_FORWARDING_PREFIX}DeliveryCount", "?")
            return f"subscription {self.forwarded_from} gave up after {attempts} delivery attempts"
        return self.attributes.get("reason_detail", "")

    @property
    def coordinates(self) -> tuple[str, int, int] | None:
        """(Kafka topic, partition, offset) of the message it came from, when it says."""
        try:
            attributes = self.attributes
            return attributes["kafka_topic"], int(attributes["kafka_partition"]), int(attributes["kafka_offset"])
        except (KeyError, ValueError):
            return None

    def row(self, with_data: bool = False) -> dict[str, Any]:
        """For `mdp stream dead-letters list`: what it is, why, where it came from; `with_data` adds the payload
        (text, or base64 with `data_encoding`) and every attribute."""
        topic, partition, offset = self.coordinates or (None, None, None)
        row: dict[str, Any] = {
            "message_id": self.message_id,
            "published_at": self.published_at.isoformat(),
            "reason": self.reason,
            "detail": self.detail if with_data else _preview(self.detail),
            "source": self.attributes.get("source"),
            "kafka_topic": topic,
            "kafka_partition": partition,
            "kafka_offset": offset,
            "event_id": self.attributes.get("event_id"),
            "bytes": int(self.attributes.get("original_bytes", len(self.data))),
        }
        if with_data:
            row["attributes"] = self.attributes
            try:
                row["data"], row["data_encoding"] = self.data.decode(), "utf-8"
            except UnicodeDecodeError:
                row["data"], row["data_encoding"] = base64.b64encode(self.data).decode(), "base64"
        return row


def _oldest_first(letter: DeadLetter) -> tuple[dt.datetime, tuple[str, int, int], str]:
    """By publish time, then (one batch shares it) by Kafka coordinates."""
    return letter.published_at, letter.coordinates or ("", -1, -1), letter.message_id


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW_CHARACTERS else text[: _PREVIEW_CHARACTERS - 3] + "..."


class DeadLetterLease:
    """Dead letters pulled and held from one subscription; every one is released on exit unless acknowledged."""

    def __init__(self, subscriber: Any, subscription_path: str) -> None:
        self._subscriber = subscriber
        self._path = subscription_path
        self._held: dict[str, DeadLetter] = {}

    def __enter__(self) -> DeadLetterLease:
        return self

    def __exit__(self, *exc: object) -> None:
        release(self._subscriber, self._path, [letter.ack_id for letter in self._held.values()])
        self._held.clear()

    def take(self, limit: int) -> list[DeadLetter]:
        """Up to `limit` dead letters, oldest first; fewer when the subscription has no more."""
        while len(self._held) < limit:
            received = pull(self._subscriber, self._path, min(_PULL_MAX, limit - len(self._held)), _PULL_TIMEOUT_S)
            fresh = [DeadLetter.from_received(item) for item in received]
            if not fresh:
                break
            lease(self._subscriber, self._path, [letter.ack_id for letter in fresh], _HOLD_S)
            before = len(self._held)
            # A message delivered twice (its lease ran out) counts once, under its newest ack id.
            self._held.update((letter.message_id, letter) for letter in fresh)
            if len(self._held) == before:
                break
        return sorted(self._held.values(), key=_oldest_first)[:limit]

    def acknowledge(self, letters: Sequence[DeadLetter]) -> None:
        """Take these off the subscription for good."""
        acknowledge(self._subscriber, self._path, [letter.ack_id for letter in letters])
        for letter in letters:
            self._held.pop(letter.message_id, None)


@dataclass
class ReplayReport:
    """What `mdp stream dead-letters replay` did, letter by letter."""

    stream: str
    subscription: str
    dry_run: bool
    rows: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Dead letters per outcome."""
        counts = {outcome.value: 0 for outcome in Outcome}
        for row in self.rows:
            counts[row["outcome"]] += 1
        return counts

    @property
    def left(self) -> int:
        """Dead letters still on the subscription that a replay did not fix (dry runs: would not fix)."""
        counts = self.counts()
        return counts[Outcome.STILL_DEAD] + counts[Outcome.SKIPPED]

    def as_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {
            "stream": self.stream,
            "subscription": self.subscription,
            "dry_run": self.dry_run,
            **self.counts(),
            "dead_letters": self.rows,
        }


@dataclass(frozen=True)
class Plan:
    """What replaying one dead letter would do: the outcome, the reason and detail it is reported with, and the
    message to publish (none unless the outcome is `replayed`)."""

    letter: DeadLetter
    outcome: Outcome
    reason: str
    detail: str
    message: Outgoing | None = None


class DeadLetterReplay:
    """Replays the dead letters of one stream's subscription to the stream's topic."""

    def __init__(self, spec: StreamSpec, router: MessageRouter, publisher_api: Any, topic_path: str) -> None:
        self._spec = spec
        self._router = router
        self._publisher_api = publisher_api
        self._topic_path = topic_path

    def run(self, leased: DeadLetterLease, subscription: str, limit: int, dry_run: bool) -> ReplayReport:
        """Replay up to `limit` dead letters, oldest first; those not replayed are released by the lease."""
        report = ReplayReport(self._spec.name, subscription, dry_run)
        plans = [self.plan(letter) for letter in leased.take(limit)]
        # Publish errors by the letter's message id: None when Pub/Sub took the replay.
        errors: dict[str, BaseException | None] = {}
        ready = [(plan.letter, plan.message) for plan in plans if plan.message is not None]
        if ready and not dry_run:
            outcomes = publish_all(
                self._publisher_api,
                self._topic_path,
                [message for _, message in ready],
                ordered=self._spec.ordering_key_field is not None,
            )
            errors = {letter.message_id: error for (letter, _), error in zip(ready, outcomes, strict=True)}
            leased.acknowledge([letter for letter, _ in ready if errors[letter.message_id] is None])
        for plan in plans:
            outcome, reason, detail = plan.outcome, plan.reason, plan.detail
            error = errors.get(plan.letter.message_id)
            if dry_run and outcome is Outcome.REPLAYED:
                outcome = Outcome.WOULD_REPLAY
            elif error is not None:
                outcome, reason, detail = Outcome.STILL_DEAD, "rejected_by_pubsub", f"{type(error).__name__}: {error}"
            report.rows.append(_row(plan.letter, outcome, reason, detail))
        return report

    def plan(self, letter: DeadLetter) -> Plan:
        """What replaying this letter would publish, or why it cannot be."""
        if letter.forwarded_from is not None:
            # It passed the spec once; its subscription could not deliver it. It goes back as it was.
            attributes = {k: v for k, v in letter.attributes.items() if not k.startswith(_FORWARDING_PREFIX)}
            attributes[REPLAYED_FROM] = letter.message_id
            message = Outgoing(letter.data, attributes, letter.ordering_key)
            return Plan(letter, Outcome.REPLAYED, letter.reason, letter.detail, message)
        source = letter.attributes.get("source")
        if source != self._spec.name:
            return Plan(
                letter,
                Outcome.SKIPPED,
                letter.reason,
                f"not a dead letter of stream {self._spec.name}: source is {source!r}",
            )
        coordinates = letter.coordinates
        if coordinates is None:
            return Plan(letter, Outcome.SKIPPED, letter.reason, "no Kafka coordinates to replay it under")
        if "original_bytes" in letter.attributes or not letter.data:
            # Cut to 1 MB, or sent without its payload: the message itself is only in Kafka, at its coordinates.
            detail = f"the dead letter does not hold the whole message; it is in Kafka at {_where(coordinates)}"
            return Plan(letter, Outcome.SKIPPED, letter.reason, detail)
        topic, partition, offset = coordinates
        outgoing = self._router.route(
            letter.data, _kafka_key(letter.attributes), topic, partition, offset, _timestamp(letter.attributes)
        )
        if outgoing.dead_letter is not None:
            return Plan(letter, Outcome.STILL_DEAD, outgoing.dead_letter.value, outgoing.attributes["reason_detail"])
        outgoing.attributes[REPLAYED_FROM] = letter.message_id
        return Plan(letter, Outcome.REPLAYED, letter.reason, letter.detail, outgoing)


def _row(letter: DeadLetter, outcome: Outcome, reason: str, detail: str) -> dict[str, Any]:
    topic, partition, offset = letter.coordinates or (None, None, None)
    return {
        "message_id": letter.message_id,
        "outcome": outcome.value,
        "reason": reason,
        "detail": detail,
        "kafka_topic": topic,
        "kafka_partition": partition,
        "kafka_offset": offset,
        "event_id": letter.attributes.get("event_id"),
    }


def _where(coordinates: tuple[str, int, int]) -> str:
    topic, partition, offset = coordinates
    return f"topic {topic} partition {partition} offset {offset}"


def _kafka_key(attributes: dict[str, str]) -> bytes | None:
    """The Kafka key as the bridge read it (the attribute is text, or base64 for a key that is not UTF-8)."""
    key = attributes.get("kafka_key")
    if key is None:
        return None
    return base64.b64decode(key) if attributes.get("kafka_key_encoding") == "base64" else key.encode()


def _timestamp(attributes: dict[str, str]) -> int:
    try:
        return int(attributes.get("kafka_timestamp", "-1"))
    except ValueError:
        return -1


def listing(leased: DeadLetterLease, limit: int, reason: str | None = None) -> list[DeadLetter]:
    """Among the `limit` oldest dead letters, those of `reason` (default all), newest first; they stay on the
    subscription."""
    return [letter for letter in reversed(leased.take(limit)) if reason is None or letter.reason == reason]
