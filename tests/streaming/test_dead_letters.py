"""`mdp stream dead-letters`: listing leaves every dead letter on its subscription; a replay after the spec's fix
publishes what passes now, acknowledges only that, and leaves the rest with its reason. Against the real Kafka
broker and Pub/Sub emulator, through the bridge and Pub/Sub's own dead-letter forwarding."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streaming.dead_letters import REPLAYED_FROM, DeadLetter, DeadLetterReplay, Outcome
from streaming.messages import DeadLetterReason, MessageRouter, dead_letter
from streaming.pubsub import close, publish_all, publisher_client, subscriber_client
from streaming.spec import StreamSpec
from tests import services
from tests.streaming.support import (
    MDP,
    BridgeThread,
    Collector,
    committed_offsets,
    create_topic,
    fresh_stream_spec,
    produce,
    replayed_messages,
    rfq_event,
    stream_specs_dir,
    stream_topics,
    unique,
    wait_until,
)

RENAMED = {"event_time": "2026-11-20T10:00:00.250Z", "event_at": None}
"""A producer renamed `event_at` to `event_time`; the stream spec follows in a pull request."""


@pytest.fixture
def stream() -> Iterator[StreamSpec]:
    """A stream on fresh topics, its dead-letter subscription named like its topic (as Terraform makes it)."""
    services.pubsub_emulator_host()
    spec = fresh_stream_spec()
    with stream_topics(services.pubsub_project(), spec, spec.dead_letter_topic):
        yield spec


def _mdp(specs_dir: Path, *arguments: str, status: int = 0) -> Any:
    completed = subprocess.run(
        [MDP, *arguments],
        env={**os.environ, "MDP_SPECS_DIR": str(specs_dir), "MDP_PUBSUB_PROJECT": services.pubsub_project()},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == status, f"{arguments}: exit {completed.returncode}\n{completed.stderr}"
    return json.loads(completed.stdout)


def _renamed(number: int) -> bytes:
    event = json.loads(rfq_event(number, number))
    event.pop("event_at")
    return json.dumps({**event, "event_time": RENAMED["event_time"]}).encode()


def test_a_replay_after_the_spec_fix_publishes_what_passes_and_leaves_the_rest(
    stream: StreamSpec, tmp_path: Path
) -> None:
    spec = stream
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    topic = spec.kafka_topics[0]
    create_topic(bootstrap, topic, 1)
    messages: list[tuple[int, bytes | None, bytes | None]] = [
        (0, b"RFQ00000000", rfq_event(0, 0)),
        (0, b"RFQ00000000", _renamed(1)),
        (0, b"RFQ00000000", rfq_event(2, 2)),
        (0, b"RFQ00000000", _renamed(3)),
        (0, b"RFQ00000001", b"RFQ;4;QUOTE;99.5"),
        (0, b"\xff\xfe", _renamed(5)),
    ]
    produce(bootstrap, topic, messages)
    with BridgeThread(spec, bootstrap, project) as bridge:
        wait_until(
            "every offset is committed",
            lambda: committed_offsets(bootstrap, spec.consumer_group, topic, 1)[0] == len(messages),
            120,
            bridge.check,
        )
        assert bridge.stop().dead_lettered == {"spec_violation": 3, "undecodable": 1}

    before_fix = stream_specs_dir(tmp_path / "before", spec)
    listed = _mdp(before_fix, "stream", "dead-letters", "list", "rfq", "--json")
    assert [(row["kafka_offset"], row["reason"]) for row in listed] == [
        (5, "spec_violation"),
        (4, "undecodable"),
        (3, "spec_violation"),
        (1, "spec_violation"),
    ]
    assert listed[0]["detail"] == "field 'event_at' is missing"
    assert (listed[1]["data"], listed[1]["data_encoding"]) == ("RFQ;4;QUOTE;99.5", "utf-8")
    assert listed[0]["attributes"]["kafka_key"] == base64.b64encode(b"\xff\xfe").decode()
    # Listing takes nothing: the same letters again, and one reason alone.
    assert _mdp(before_fix, "stream", "dead-letters", "list", "rfq", "--json") == listed
    undecodable = _mdp(before_fix, "stream", "dead-letters", "list", "rfq", "--reason", "undecodable", "--json")
    assert [row["kafka_offset"] for row in undecodable] == [4]

    after_fix = stream_specs_dir(tmp_path / "after", dataclasses.replace(spec, event_time_field="event_time"))
    with Collector(project, spec.subscription) as published:
        unfixed = _mdp(before_fix, "stream", "dead-letters", "replay", "rfq", "--json", status=1)
        assert (unfixed["replayed"], unfixed["still_dead"]) == (0, 4)
        dry = _mdp(after_fix, "stream", "dead-letters", "replay", "rfq", "--dry-run", "--json", status=1)
        assert (dry["would_replay"], dry["still_dead"], dry["replayed"]) == (3, 1, 0)
        time.sleep(2)
        assert replayed_messages(published) == [], "neither a replay that fixes nothing nor a dry run publishes"

        replay = _mdp(after_fix, "stream", "dead-letters", "replay", "rfq", "--json", status=1)
        assert (replay["replayed"], replay["still_dead"], replay["skipped"]) == (3, 1, 0)
        still_dead = [row for row in replay["dead_letters"] if row["outcome"] == Outcome.STILL_DEAD]
        assert [(row["kafka_offset"], row["reason"]) for row in still_dead] == [(4, "undecodable")]
        wait_until("the replayed messages arrive", lambda: len(replayed_messages(published)) >= 3, 30)
        time.sleep(1)

    ids = {row["kafka_offset"]: row["message_id"] for row in listed}
    replayed = replayed_messages(published)
    by_offset = {message.coordinates[2]: message for message in replayed}
    assert sorted(by_offset) == [1, 3, 5]
    assert len(replayed) == 3
    for offset, message in by_offset.items():
        assert message.data == messages[offset][2]
        assert message.attributes[REPLAYED_FROM] == ids[offset]
        assert message.attributes["event_id"] == f"EV{offset:09d}"
        assert "reason" not in message.attributes
    # The key and timestamp are the Kafka message's, as the bridge gave them the first time.
    assert by_offset[5].attributes["kafka_key_encoding"] == "base64"
    assert base64.b64decode(by_offset[5].attributes["kafka_key"]) == b"\xff\xfe"
    assert by_offset[1].attributes["kafka_key"] == "RFQ00000000"
    assert int(by_offset[1].attributes["kafka_timestamp"]) > 0

    # Only the replayed ones were taken off the subscription; a second replay finds just the undecodable one.
    left = _mdp(after_fix, "stream", "dead-letters", "list", "rfq", "--json")
    assert [row["kafka_offset"] for row in left] == [4]
    again = _mdp(after_fix, "stream", "dead-letters", "replay", "rfq", "--json", status=1)
    assert (again["replayed"], again["still_dead"]) == (0, 1)


def test_messages_the_subscription_gave_up_on_are_replayed_as_they_were(stream: StreamSpec, tmp_path: Path) -> None:
    """Pub/Sub forwards a message to the dead-letter topic after too many delivery attempts, as it does for the
    BigQuery subscription's failed writes; a replay publishes it again as the bridge first did."""
    spec = stream
    project = services.pubsub_project()
    router = MessageRouter(spec)
    sent = [
        router.route(rfq_event(n, n), b"RFQ00000000", spec.kafka_topics[0], 0, n, 1_763_632_800_000 + n)
        for n in range(2)
    ]
    failing = unique("rfq-warehouse-")
    publisher, subscriber = publisher_client(), subscriber_client()
    failing_path = subscriber.subscription_path(project, failing)
    try:
        subscriber.create_subscription(
            request={
                "name": failing_path,
                "topic": publisher.topic_path(project, spec.pubsub_topic),
                "ack_deadline_seconds": 10,
                "dead_letter_policy": {
                    "dead_letter_topic": publisher.topic_path(project, spec.dead_letter_topic),
                    "max_delivery_attempts": 5,
                },
            }
        )
        assert publish_all(publisher, publisher.topic_path(project, spec.pubsub_topic), sent) == [None, None]
        attempts = 0
        while attempts < 20:
            received = subscriber.pull(subscription=failing_path, max_messages=10, timeout=5).received_messages
            if not received:
                break
            attempts += 1
            subscriber.modify_ack_deadline(
                subscription=failing_path, ack_ids=[m.ack_id for m in received], ack_deadline_seconds=0
            )
        specs_dir = stream_specs_dir(tmp_path, spec)
        listed = _mdp(specs_dir, "stream", "dead-letters", "list", "rfq", "--json")
        assert sorted(row["kafka_offset"] for row in listed) == [0, 1]
        assert {row["reason"] for row in listed} == {"not_delivered"}
        assert {row["detail"] for row in listed} == {f"subscription {failing} gave up after 5 delivery attempts"}

        with Collector(project, spec.subscription) as published:
            replay = _mdp(specs_dir, "stream", "dead-letters", "replay", "rfq", "--json")
            assert (replay["replayed"], replay["still_dead"], replay["skipped"]) == (2, 0, 0)
            wait_until("the replayed messages arrive", lambda: len(published.messages) >= 2, 30)
        for message in published.messages:
            original = sent[message.coordinates[2]]
            assert message.data == original.data
            assert {k: v for k, v in message.attributes.items() if k != REPLAYED_FROM} == original.attributes
        assert _mdp(specs_dir, "stream", "dead-letters", "list", "rfq", "--json") == []
    finally:
        subscriber.delete_subscription(subscription=failing_path)
        close(subscriber)
        close(publisher)


def _letter(data: bytes, **attributes: str) -> DeadLetter:
    return DeadLetter("ack", "17", dt.datetime(2026, 11, 20, tzinfo=dt.UTC), data, attributes)


def test_a_dead_letter_that_does_not_hold_its_message_is_skipped_with_where_to_find_it() -> None:
    spec = fresh_stream_spec()
    replay = DeadLetterReplay(spec, MessageRouter(spec), publisher_api=None, topic_path="unused")
    coordinates = {"source": "rfq", "kafka_topic": "markets.rfq.events.v1", "kafka_partition": "2", "kafka_offset": "9"}
    oversized = dead_letter(b"x" * 2_000_000, {**coordinates}, DeadLetterReason.TOO_LARGE, "2000000 bytes")
    truncated = replay.plan(_letter(oversized.data, **oversized.attributes))
    assert truncated.outcome is Outcome.SKIPPED
    assert truncated.message is None
    assert truncated.detail.endswith("it is in Kafka at topic markets.rfq.events.v1 partition 2 offset 9")
    assert replay.plan(_letter(b"", **coordinates, reason="rejected_by_pubsub")).outcome is Outcome.SKIPPED
    other = replay.plan(_letter(rfq_event(1, 1), **{**coordinates, "source": "quotes"}))
    assert (other.outcome, other.detail) == (Outcome.SKIPPED, "not a dead letter of stream rfq: source is 'quotes'")
    lost = replay.plan(_letter(rfq_event(1, 1), source="rfq", reason="spec_violation"))
    assert (lost.outcome, lost.detail) == (Outcome.SKIPPED, "no Kafka coordinates to replay it under")
    fixed = replay.plan(_letter(rfq_event(1, 1), **coordinates, reason="spec_violation"))
    assert fixed.outcome is Outcome.REPLAYED
    assert fixed.message is not None
    assert fixed.message.attributes[REPLAYED_FROM] == "17"
