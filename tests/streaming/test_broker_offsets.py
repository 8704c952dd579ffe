"""The broker's own figures behind the bridge's backlog gauge and stall watch, on a private broker: each
partition's oldest and next offsets and the group's commit; nothing, rather than old figures, while the broker is
away; and never a wait on the bridge's loop."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from streaming.broker_offsets import BrokerOffsets, PartitionEnds
from streaming.kafka import create_admin, create_commit_reader
from streaming.offsets import PartitionKey
from tests.streaming.support import PrivateKafka, create_topic, produce, rfq_messages, unique, wait_until


def _answered(offsets: BrokerOffsets, keys: Sequence[PartitionKey]) -> bool:
    offsets.refresh(keys)
    return all(offsets.get(key) is not None for key in keys)


def _refreshed(offsets: BrokerOffsets, keys: Sequence[PartitionKey], calls: list[float]) -> None:
    started = time.monotonic()
    offsets.refresh(keys)
    calls.append(time.monotonic() - started)


def _broker_offsets(bootstrap: str, group: str) -> BrokerOffsets:
    """Asking every 0.2 s, each question given 3 s."""
    return BrokerOffsets(
        create_admin(bootstrap), create_commit_reader(bootstrap, group), interval_s=0.2, request_timeout_s=3.0
    )


def test_the_broker_answers_each_partitions_offsets_and_nothing_while_it_is_away(tmp_path: Path) -> None:
    broker = PrivateKafka(tmp_path)
    broker.start()
    try:
        topic, group = unique("offsets-"), unique("offsets-group-")
        create_topic(broker.bootstrap, topic, 2)
        produce(broker.bootstrap, topic, rfq_messages(10, 2))
        committer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
        committer.commit(offsets=[TopicPartition(topic, 0, 3)], asynchronous=False)
        committer.close()
        admin = create_admin(broker.bootstrap)
        # Retention passed partition 1's first two messages.
        admin.delete_records([TopicPartition(topic, 1, 2)])[TopicPartition(topic, 1, 2)].result(timeout=30)

        keys = [(topic, 0), (topic, 1)]
        offsets = _broker_offsets(broker.bootstrap, group)
        calls: list[float] = []

        def answered() -> bool:
            _refreshed(offsets, keys, calls)
            return all(offsets.get(key) is not None for key in keys)

        wait_until("the broker answers for both partitions", answered, 60)
        ends = [offsets.get(key) for key in keys]
        assert ends == [PartitionEnds(low=0, high=5, committed=3), PartitionEnds(low=2, high=5, committed=None)]
        assert [end.reading_from for end in ends if end is not None] == [3, 2]

        broker.kill()

        def forgotten() -> bool:
            _refreshed(offsets, keys, calls)
            return all(offsets.get(key) is None for key in keys)

        wait_until("the figures are dropped once the broker stops answering", forgotten, 60)
        # Questions take up to their 3 s timeout to fail; asking and looking never waited for them.
        assert max(calls) < 1.0, f"a refresh took {max(calls):.2f} s"
        offsets.close()
    finally:
        broker.stop()


def test_a_group_a_freshly_started_broker_has_never_seen_is_answered_without_a_crash(tmp_path: Path) -> None:
    # The first question about a group to a new broker meets NOT_COORDINATOR. Asked with the admin client's
    # list_consumer_group_offsets, that answer crashed the process (librdkafka #5040); the commits are now asked by
    # a consumer of the group, and a failed answer is asked again on the next interval.
    broker = PrivateKafka(tmp_path)
    broker.start()
    try:
        topic, group = unique("offsets-"), unique("offsets-group-")
        create_topic(broker.bootstrap, topic, 2)
        keys = [(topic, 0), (topic, 1)]
        offsets = _broker_offsets(broker.bootstrap, group)
        wait_until("the broker answers for both partitions", lambda: _answered(offsets, keys), 60)
        assert [offsets.get(key) for key in keys] == [PartitionEnds(0, 0, None), PartitionEnds(0, 0, None)]
        offsets.close()
    finally:
        broker.stop()
