"""`mdp bridge backlog` on the test broker: the whole consumer group as the broker has it (which replica reads each
partition, the commit, what waits), a clear error naming a topic the brokers lack (without creating it) and one for
brokers that do not answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, TopicCollection, TopicPartition

from streaming.kafka import consumer_config, create_admin
from tests import services
from tests.streaming.support import (
    PrivateKafka,
    create_topic,
    free_port,
    fresh_stream_spec,
    produce,
    rfq_messages,
    stream_specs_dir,
    wait_until,
)

MDP = str(Path(sys.executable).with_name("mdp"))


def _backlog(specs_dir: Path, bootstrap: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MDP, "bridge", "backlog", "rfq", "--bootstrap-servers", bootstrap, *arguments],
        env={**os.environ, "MDP_SPECS_DIR": str(specs_dir)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _backlog_json(specs_dir: Path, bootstrap: str) -> dict[str, Any]:
    completed = _backlog(specs_dir, bootstrap, "--json")
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def test_the_backlog_shows_each_partitions_replica_commit_and_waiting_messages(tmp_path: Path) -> None:
    bootstrap = services.kafka_bootstrap_servers()
    spec = fresh_stream_spec()
    topic, group = spec.kafka_topics[0], spec.consumer_group
    specs_dir = stream_specs_dir(tmp_path, spec)
    create_topic(bootstrap, topic, 3)
    produce(bootstrap, topic, rfq_messages(30, 3))  # 10 messages per partition
    admin = create_admin(bootstrap)
    # Retention passed partition 2's first 4 messages.
    admin.delete_records([TopicPartition(topic, 2, 4)])[TopicPartition(topic, 2, 4)].result(timeout=30)

    replica = Consumer(consumer_config(bootstrap, group, "replica-a", 6_000, lambda error, partitions: None))
    try:
        replica.subscribe([topic])
        wait_until("the replica is assigned every partition", lambda: _assigned(replica) == 3, 60)
        replica.commit(offsets=[TopicPartition(topic, 0, 7)], asynchronous=False)
        read = _backlog_json(specs_dir, bootstrap)
        assert (read["group"], read["state"], read["members"]) == (group, "STABLE", ["replica-a"])
        assert [
            (p["partition"], p["owner"], p["committed"], p["oldest"], p["newest"], p["waiting"])
            for p in read["partitions"]
        ] == [(0, "replica-a", 7, 0, 10, 3), (1, "replica-a", None, 0, 10, 10), (2, "replica-a", None, 4, 10, 6)]
        assert read["waiting"] == 19
        table = _backlog(specs_dir, bootstrap)
        assert table.returncode == 0, table.stderr
        assert f"group {group} STABLE, replicas: replica-a, waiting: 19" in " ".join(table.stdout.split())
    finally:
        replica.close()

    # A static member does not leave on close: it keeps its partitions for its session (6 s), then the group is
    # empty and no partition has an owner; the commits stay.
    wait_until("the group is empty", lambda: _backlog_json(specs_dir, bootstrap)["state"] == "EMPTY", 60)
    left = _backlog_json(specs_dir, bootstrap)
    assert left["members"] == []
    assert [(p["owner"], p["committed"]) for p in left["partitions"]] == [("", 7), ("", None), ("", None)]


def _assigned(consumer: Consumer) -> int:
    consumer.poll(0.2)
    return len(consumer.assignment())


def test_a_topic_missing_on_the_brokers_is_named_and_not_created(tmp_path: Path) -> None:
    bootstrap = services.kafka_bootstrap_servers()
    spec = fresh_stream_spec()
    missing = spec.kafka_topics[0]
    completed = _backlog(stream_specs_dir(tmp_path, spec), bootstrap)
    assert completed.returncode == 2
    assert f"topic={missing}: not on the brokers" in completed.stderr
    admin = create_admin(bootstrap)
    described = admin.describe_topics(TopicCollection([missing]), request_timeout=10)[missing]
    with pytest.raises(KafkaException, match="Unknown topic"):
        described.result(timeout=30)


def test_brokers_that_do_not_answer_are_reported_within_the_timeout(tmp_path: Path) -> None:
    specs_dir = stream_specs_dir(tmp_path, fresh_stream_spec())
    completed = _backlog(specs_dir, f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert completed.returncode != 0
    assert "KafkaUnavailableError: kafka: group=" in completed.stderr
    assert "the brokers did not answer" in completed.stderr


def test_a_freshly_started_broker_whose_coordinator_is_still_loading_is_asked_again(tmp_path: Path) -> None:
    # The first question about a group to a new broker meets NOT_COORDINATOR: it is asked again. (The same answer
    # to the admin client's list_consumer_group_offsets crashed the process, librdkafka #5040, exit -11 in four
    # runs of four; the commits are asked by a consumer of the group instead.)
    broker = PrivateKafka(tmp_path)
    broker.start()
    try:
        spec = fresh_stream_spec()
        create_topic(broker.bootstrap, spec.kafka_topics[0], 2)
        read = _backlog_json(stream_specs_dir(tmp_path, spec), broker.bootstrap)
        assert (read["state"], read["waiting"]) == ("DEAD", 0)
        assert [(p["partition"], p["committed"]) for p in read["partitions"]] == [(0, None), (1, None)]
    finally:
        broker.stop()
