"""Kafka: the bridge's consumer configuration and client (confluent-kafka / librdkafka)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from streaming.exceptions import KafkaFatalError

log = logging.getLogger("mdp.streaming.kafka")

CommitCallback = Callable[[KafkaError | None, list[TopicPartition]], None]


def consumer_config(
    bootstrap_servers: str,
    group_id: str,
    instance_id: str | None,
    session_timeout_ms: int,
    on_commit: CommitCallback,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka settings of a bridge replica: manual commits only, cooperative rebalancing."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        # The bridge commits itself, and only offsets whose messages Pub/Sub has acknowledged.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # A new group starts at the oldest retained message: nothing is skipped.
        "auto.offset.reset": "earliest",
        # Adding or removing a replica moves only the partitions that change owner.
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": session_timeout_ms,
        # Once its local queue is full (queued.min.messages), librdkafka waits this long before fetching again;
        # at the default (1 s) a replica draining a backlog emptied the queue in a fraction of that and then
        # sat idle: gaps of 0.6 s in every 1.6 s of drain, measured by `make bench-streaming`.
        "fetch.queue.backoff.ms": 10,
        # How long the broker holds a fetch when nothing new is there (default 500 ms). Requests on a connection
        # are answered in order, so a fetch held at the end of a partition delayed the restart after a resume.
        "fetch.wait.max.ms": 100,
        "on_commit": on_commit,
        "error_cb": _ErrorLog(),
    }
    if instance_id:
        # Static membership: a replica restarted under the same id takes its partitions back at once,
        # without a rebalance of the whole group.
        config["group.instance.id"] = instance_id
    config.update(extra or {})
    return config


def create_consumer(config: Mapping[str, Any]) -> Consumer:
    """A consumer; it connects lazily, on subscribe."""
    try:
        return Consumer(dict(config))
    except KafkaException as error:
        raise KafkaFatalError(f"kafka consumer: invalid configuration: {error}") from error


def create_commit_reader(bootstrap_servers: str, group_id: str) -> Consumer:
    """A consumer of the group that never subscribes, so never joins it: it only reads the group's commits."""
    return create_consumer({"bootstrap.servers": bootstrap_servers, "group.id": group_id, "enable.auto.commit": False})


def create_admin(bootstrap_servers: str) -> AdminClient:
    """An admin client for the broker's own figures (watermarks, topics, the group's members); it connects at once and
    reconnects by itself, reporting failures through the same throttled log as the consumer."""
    # The typed configuration holds plain values only; callbacks go in as keywords, which librdkafka's wrapper merges.
    return AdminClient({"bootstrap.servers": bootstrap_servers}, error_cb=_ErrorLog())


class _ErrorLog:
    """librdkafka's error callback: one line per kind of error per 10 s (it reports every failed reconnect)."""

    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def __call__(self, error: KafkaError) -> None:
        # Broker outages are reported here and retried by librdkafka; fatal errors also end the bridge (in poll).
        name, now = error.name(), self._clock()
        if now - self._last.get(name, float("-inf")) < self._every_s and not error.fatal():
            self._suppressed[name] = self._suppressed.get(name, 0) + 1
            return
        self._last[name] = now
        repeats = self._suppressed.pop(name, 0)
        log.warning(
            "kafka: %s (code=%s, fatal=%s%s)",
            error.str(),
            name,
            error.fatal(),
            f", {repeats} more since the last report" if repeats else "",
        )
