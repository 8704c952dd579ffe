"""The broker's own figures behind the bridge's backlog gauge and stall watch, on a private broker: each
partition's oldest and next offsets and the group's commit; nothing, rather than old figures, while the broker is
away; and never a wait on the bridge's loop."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from streaming.broker_offsets import BrokerOffsets, PartitionEnds
from streaming.kafka import create_admin
from streaming.offsets import PartitionKey
from tests.streaming.support import PrivateKafka, create_topic, produce, rfq_messages, unique, wait_until


def _refreshed(offsets: BrokerOffsets, keys: Sequence[PartitionKey], calls: list[float]) -> None:
    started = time.monotonic()
    offsets.refresh(keys)
    calls.append(time.monotonic() - started)


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
        offsets = BrokerOffsets(admin, group, interval_s=0.2, request_timeout_s=3.0)
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
    finally:
        broker.stop()
