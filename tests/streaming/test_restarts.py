"""The bridge rides out a Kafka broker restart and a Pub/Sub emulator restart without losing a message. Both use
instances private to the test: the shared ones serve every other test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import services
from tests.streaming.support import (
    BridgeThread,
    Collector,
    Gate,
    PrivateKafka,
    PrivatePubSub,
    committed_offsets,
    create_topic,
    create_topics_and_subscriptions,
    end_offsets,
    fresh_stream_spec,
    produce,
    rfq_messages,
    stream_topics,
    unique,
    wait_until,
)

PARTITIONS = 2


def _coordinates(topic: str, bootstrap: str) -> set[tuple[str, int, int]]:
    ends = end_offsets(bootstrap, topic, PARTITIONS)
    return {(topic, partition, offset) for partition, end in ends.items() for offset in range(end)}


def test_a_broker_killed_mid_run_and_restarted_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = services.pubsub_project()
    kafka = PrivateKafka(tmp_path)
    kafka.start()
    # The bridge reaches Pub/Sub through a gate: shut, it holds the bridge paused on its in-flight bound while the
    # broker is away, the case where the group takes paused partitions away and gives them back.
    gate = Gate(int(services.pubsub_emulator_host().rsplit(":", 1)[1]))
    try:
        spec = fresh_stream_spec()
        topic = spec.kafka_topics[0]
        create_topic(kafka.bootstrap, topic, PARTITIONS)
        produce(kafka.bootstrap, topic, rfq_messages(30_000, PARTITIONS))
        with (
            stream_topics(project, spec, unique("rfq-dead-letters-sub-")),
            Collector(project, spec.subscription) as collector,
        ):
            monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{gate.port}")
            with BridgeThread(
                spec, kafka.bootstrap, project, max_in_flight_messages=2000, session_timeout_ms=10_000
            ) as bridge:
                health = bridge.bridge.health
                wait_until("the bridge is under way", lambda: len(collector.coordinates()) >= 3000, 60, bridge.check)
                gate.shut()
                wait_until("the bridge pauses on its in-flight bound", lambda: health()[1]["paused"], 60, bridge.check)
                kafka.kill()
                # Down past the session timeout: the group takes the partitions away.
                wait_until("the bridge loses its partitions", lambda: health()[1]["partitions"] == 0, 60, bridge.check)
                kafka.start()
                gate.open()
                produce(kafka.bootstrap, topic, rfq_messages(10_000, PARTITIONS, first=30_000))
                wanted = _coordinates(topic, kafka.bootstrap)
                assert len(wanted) == 40_000
                collector.wait_for(wanted, timeout=180, progress=bridge.check)
                wait_until(
                    "every offset is committed",
                    lambda: (
                        committed_offsets(kafka.bootstrap, spec.consumer_group, topic, PARTITIONS)
                        == end_offsets(kafka.bootstrap, topic, PARTITIONS)
                    ),
                    120,
                    bridge.check,
                )
                bridge.stop()
        assert set(collector.coordinates()) == wanted
    finally:
        gate.close()
        kafka.stop()


def test_an_emulator_killed_mid_run_and_restarted_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    emulator = PrivatePubSub(tmp_path)
    emulator.start()
    # The bridge reaches the emulator through a gate, so the test can recreate the topics (Terraform's part)
    # before the bridge's retries get through: a publish to a topic without subscription is dropped.
    gate = Gate(emulator.port)
    try:
        spec = fresh_stream_spec()
        topic = spec.kafka_topics[0]
        dead_letters = unique("rfq-dead-letters-sub-")
        create_topic(bootstrap, topic, PARTITIONS)
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
        create_topics_and_subscriptions(project, spec, dead_letters)
        produce(bootstrap, topic, rfq_messages(10_000, PARTITIONS))
        with Collector(project, spec.subscription) as collector:
            monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{gate.port}")
            with BridgeThread(spec, bootstrap, project, max_in_flight_messages=4000) as bridge:
                collector.wait_for(_coordinates(topic, bootstrap), timeout=60, progress=bridge.check)
                gate.shut()
                emulator.kill()
                produce(bootstrap, topic, rfq_messages(10_000, PARTITIONS, first=10_000))
                wait_until("the bridge pauses on its in-flight bound", lambda: bridge.bridge.health()[1]["paused"], 30)
                emulator.start()
                monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host)
                create_topics_and_subscriptions(project, spec, dead_letters)
                gate.open()
                wanted = _coordinates(topic, bootstrap)
                collector.wait_for(wanted, timeout=180, progress=bridge.check)
                report = bridge.stop()
        assert set(collector.coordinates()) == wanted
        assert report.published >= 20_000
        assert committed_offsets(bootstrap, spec.consumer_group, topic, PARTITIONS) == end_offsets(
            bootstrap, topic, PARTITIONS
        )
    finally:
        gate.close()
        emulator.stop()
