"""A stream's consumer group as the broker sees it (`mdp bridge backlog`): for on-call without access to the pods,
which replica reads each partition, what the group committed, and how many messages wait behind the commit.

The broker's answer is the whole group's, where a replica's `/healthz` is its own partitions only: a partition
that no replica owns, or whose commit does not move, shows here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, TopicCollection, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._group import ConsumerGroupDescription

from streaming.broker_offsets import EARLIEST, LATEST, PartitionEnds, listed_offsets
from streaming.exceptions import KafkaUnavailableError, StreamSettingError
from streaming.kafka import create_admin, create_commit_reader

_UNKNOWN_TOPIC = KafkaError.UNKNOWN_TOPIC_OR_PART
T = TypeVar("T")
_COORDINATOR_MOVING = frozenset(
    {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE}
)


@dataclass(frozen=True)
class PartitionBacklog:
    """One partition of the stream: its reader, the group's commit and what waits behind it."""

    topic: str
    partition: int
    owner: str
    """The replica the group assigned it to (its static instance id, else its host); empty when none."""
    committed: int | None
    """The next offset the group reads after a restart; None when it committed none."""
    oldest: int
    newest: int
    """The offset the next produced message gets."""
    waiting: int
    """Messages from where the group reads on (its commit, or the oldest retained) to the newest."""


@dataclass(frozen=True)
class GroupBacklog:
    """The stream's consumer group: its state, its members and every partition of its topics."""

    group: str
    state: str
    """STABLE, EMPTY (no replica), PREPARING_REBALANCING, COMPLETING_REBALANCING, DEAD (no such group) or UNKNOWN."""
    members: list[str]
    partitions: list[PartitionBacklog]

    @property
    def waiting(self) -> int:
        """Messages waiting behind the group's commits, over all partitions."""
        return sum(partition.waiting for partition in self.partitions)

    def as_dict(self) -> dict[str, Any]:
        """For `--json`."""
        return {**asdict(self), "waiting": self.waiting}


def group_backlog(bootstrap_servers: str, topics: Sequence[str], group: str, timeout_s: float) -> GroupBacklog:
    """Ask the brokers; `KafkaUnavailableError` when they do not answer within `timeout_s`, `StreamSettingError`
    when a topic does not exist there."""
    admin = create_admin(bootstrap_servers)
    try:
        partitions = [
            TopicPartition(topic, number) for topic in topics for number in _partitions(admin, topic, timeout_s)
        ]
        low = admin.list_offsets(dict.fromkeys(partitions, EARLIEST), request_timeout=timeout_s)
        high = admin.list_offsets(dict.fromkeys(partitions, LATEST), request_timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        description: ConsumerGroupDescription = _while_coordinator_moves(
            lambda: admin.describe_consumer_groups([group], request_timeout=timeout_s)[group].result(timeout_s),
            deadline,
        )
        commits = _committed(bootstrap_servers, group, partitions, deadline)
        oldest, newest = listed_offsets(low, timeout_s), listed_offsets(high, timeout_s)
    except KafkaException as error:
        raise KafkaUnavailableError(f"kafka: group={group}: the brokers did not answer: {_reason(error)}") from error
    except TimeoutError as error:
        raise KafkaUnavailableError(
            f"kafka: group={group}: the brokers did not answer within {timeout_s:g}s"
        ) from error
    owners: dict[tuple[str, int], str] = {}
    members: list[str] = []
    for member in description.members:
        name = member.group_instance_id or member.host.lstrip("/")
        members.append(name)
        for assigned in member.assignment.topic_partitions:
            owners[(assigned.topic, assigned.partition)] = name
    rows = []
    for partition in partitions:
        key = (partition.topic, partition.partition)
        offset = commits.get(key, -1)
        ends = PartitionEnds(oldest[key], newest[key], offset if offset >= 0 else None)
        rows.append(
            PartitionBacklog(
                partition.topic,
                partition.partition,
                owners.get(key, ""),
                ends.committed,
                ends.low,
                ends.high,
                ends.high - ends.reading_from,
            )
        )
    return GroupBacklog(group, description.state.name, sorted(members), rows)


def _partitions(admin: AdminClient, topic: str, timeout_s: float) -> list[int]:
    # describe_topics, not a metadata request: brokers that auto-create topics would create one asked after.
    future = admin.describe_topics(TopicCollection([topic]), request_timeout=timeout_s)[topic]
    try:
        description = future.result(timeout_s)
    except KafkaException as error:
        if error.args and isinstance(error.args[0], KafkaError) and error.args[0].code() == _UNKNOWN_TOPIC:
            raise StreamSettingError(
                f"kafka: topic={topic}: not on the brokers; check the stream spec's topics"
            ) from error
        raise
    return sorted(partition.id for partition in description.partitions)


def _committed(
    bootstrap_servers: str, group: str, partitions: list[TopicPartition], deadline: float
) -> dict[tuple[str, int], int]:
    """The group's commits, asked by a consumer of the group that never joins it. Not the admin client's
    list_consumer_group_offsets: librdkafka crashes the process when that request meets a coordinator that moved
    or is loading (NOT_COORDINATOR: https://github.com/confluentinc/librdkafka/issues/5040), as it does the first
    time a freshly started broker is asked about a group."""
    consumer = create_commit_reader(bootstrap_servers, group)
    try:
        found = _while_coordinator_moves(
            lambda: consumer.committed(partitions, timeout=max(deadline - time.monotonic(), 0.1)), deadline
        )
    finally:
        consumer.close()
    return {(p.topic, p.partition): p.offset for p in found if p.error is None}


def _while_coordinator_moves(ask: Callable[[], T], deadline: float) -> T:
    """`ask()`, again while the group's coordinator is being found or loaded (a broker started, or moved it)."""
    while True:
        try:
            return ask()
        except KafkaException as error:
            code = error.args[0].code() if error.args and isinstance(error.args[0], KafkaError) else None
            if code not in _COORDINATOR_MOVING or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _reason(error: KafkaException) -> str:
    detail = error.args[0] if error.args else error
    return detail.str() if isinstance(detail, KafkaError) else str(detail)
