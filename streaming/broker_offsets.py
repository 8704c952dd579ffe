"""Each partition's offsets as the broker has them, read off the bridge's loop: the oldest and the newest message
(low and high watermarks) and the consumer group's committed offset.

librdkafka refreshes the high watermark it caches only when it fetches a partition, so a partition that stops
being fetched keeps showing an old backlog, and the bridge could not tell it from an idle one. An admin client asks
the broker instead, every `interval_s`; its answers arrive on futures that the loop only looks at, so a slow or
absent broker never holds the loop up. Answers that fail are forgotten, not kept: a figure is either current or
missing.

The group's commits are asked by a consumer of the group that never joins it, on a worker thread, not by the admin
client: librdkafka crashes the process when the admin client's list_consumer_group_offsets meets a coordinator
that moved or is loading (NOT_COORDINATOR, https://github.com/confluentinc/librdkafka/issues/5040), as after a
broker start or during a rolling restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec

from streaming.offsets import PartitionKey

log = logging.getLogger("mdp.streaming.broker_offsets")

EARLIEST: OffsetSpec = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
LATEST: OffsetSpec = OffsetSpec.latest()  # type: ignore[no-untyped-call]
_NO_OFFSET = -1001  # librdkafka's OFFSET_INVALID: the group committed nothing for the partition


@dataclass(frozen=True)
class PartitionEnds:
    """One partition as the broker last answered for it."""

    low: int
    """The oldest offset still retained."""
    high: int
    """The offset the next produced message gets."""
    committed: int | None
    """The group's committed offset (the next one it reads); None when it committed none."""

    @property
    def reading_from(self) -> int:
        """Where the group reads next: its commit, or the oldest message when it has none (or retention passed it)."""
        return self.low if self.committed is None else max(self.committed, self.low)


@dataclass
class _Question:
    keys: list[PartitionKey]
    low: dict[Any, Future[Any]]
    high: dict[Any, Future[Any]]
    committed: Future[Any]

    def answered(self) -> bool:
        futures = [*self.low.values(), *self.high.values(), self.committed]
        return all(future.done() for future in futures)


class BrokerOffsets:
    """Asks the broker for the assigned partitions' offsets now and then; never blocks."""

    def __init__(
        self,
        admin: AdminClient,
        commits: Consumer,
        interval_s: float,
        request_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`commits`: a consumer of the group that never subscribes (`streaming.kafka.create_commit_reader`); it is
        used on this object's worker thread only, and closed by `close`."""
        self._admin = admin
        self._commits = commits
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-offsets")
        self._closed = False
        self._interval_s = interval_s
        self._request_timeout_s = request_timeout_s
        self._clock = clock
        self._asked_at = float("-inf")
        self._question: _Question | None = None
        self._ends: dict[PartitionKey, PartitionEnds] = {}

    def get(self, key: PartitionKey) -> PartitionEnds | None:
        """The partition's offsets from the last answer; None before one, or when the last question failed."""
        return self._ends.get(key)

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        """Partitions this replica gave up."""
        for key in keys:
            self._ends.pop(key, None)

    def close(self) -> None:
        """Wait for a question in progress (at most its timeout), then close the commit reader; no more questions."""
        self._closed = True
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._commits.close()

    def refresh(self, keys: Collection[PartitionKey]) -> None:
        """Take the answer if it arrived; ask again for `keys` once the interval has passed and nothing is pending."""
        question = self._question
        if question is not None:
            if not question.answered():
                return
            self._question = None
            self._take(question, keys)
        if keys and not self._closed and self._clock() - self._asked_at >= self._interval_s:
            self._asked_at = self._clock()
            self._question = self._ask(sorted(keys))

    def _ask(self, keys: list[PartitionKey]) -> _Question | None:
        partitions = [TopicPartition(*key) for key in keys]
        timeout = self._request_timeout_s
        try:
            return _Question(
                keys,
                low=self._admin.list_offsets(dict.fromkeys(partitions, EARLIEST), request_timeout=timeout),
                high=self._admin.list_offsets(dict.fromkeys(partitions, LATEST), request_timeout=timeout),
                committed=self._worker.submit(self._commits.committed, partitions, timeout=timeout),
            )
        except (KafkaException, ValueError, RuntimeError) as error:
            log.debug("broker offsets: cannot ask: %s", error)
            return None

    def _take(self, question: _Question, assigned: Collection[PartitionKey]) -> None:
        try:
            low = listed_offsets(question.low)
            high = listed_offsets(question.high)
            committed = {(p.topic, p.partition): p.offset for p in question.committed.result() if p.error is None}
        except (KafkaException, RuntimeError, CancelledError) as error:
            # The broker is away or the group is moving (or the reader closed): no figure rather than an old one.
            log.debug("broker offsets: no answer: %s", error)
            self.forget(question.keys)
            return
        for key in question.keys:
            if key in low and key in high and key in assigned:
                offset = committed.get(key, _NO_OFFSET)
                self._ends[key] = PartitionEnds(low[key], high[key], offset if offset >= 0 else None)
            else:
                self._ends.pop(key, None)


def listed_offsets(futures: dict[Any, Future[Any]], timeout_s: float | None = None) -> dict[PartitionKey, int]:
    """The offsets `AdminClient.list_offsets` answered, per partition; its errors raise `KafkaException`."""
    return {(p.topic, p.partition): future.result(timeout_s).offset for p, future in futures.items()}
