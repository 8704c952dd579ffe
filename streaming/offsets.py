"""Which Kafka offset each partition may commit: the end of the contiguous prefix of handled messages.

Pub/Sub acknowledges publishes out of order. Committing the highest acknowledged offset would, after a crash,
skip every earlier message whose publish was still in flight; so a partition commits only up to its lowest
message not yet handled. Pure bookkeeping: no Kafka, no clock, no threads.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

PartitionKey = tuple[str, int]
"""(Kafka topic, partition)."""


def _increasing(offsets: Sequence[int]) -> bool:
    """Whether each offset is above the one before (compared in C: this runs for every consumed message)."""
    return all(map(operator.lt, offsets, offsets[1:]))


@dataclass
class PartitionOffsets:
    """Offsets of one partition, consumed in increasing order."""

    committed: int
    """The position Kafka has confirmed as committed: the next offset a restarted consumer reads."""
    position: int
    """The next offset to consume (last consumed + 1)."""
    committable: int
    """The next offset to commit: every consumed offset below it has been handled."""
    requested: int = -1
    """The last offset a commit was asked for (confirmed or not)."""
    _consumed: deque[int] = field(default_factory=deque)
    _unhandled: set[int] = field(default_factory=set)

    @property
    def unhandled(self) -> int:
        """Consumed messages not yet handled (published or dead-lettered)."""
        return len(self._unhandled)

    @property
    def uncommitted(self) -> int:
        """Messages a restart from the committed position would read again (an upper bound with offset gaps)."""
        return self.position - self.committed

    def consume(self, offsets: Sequence[int]) -> None:
        """Record consumed offsets, increasing and past the position; they stay unhandled until `handle`."""
        if offsets[0] < self.position:
            raise ValueError(f"offset {offsets[0]} consumed after {self.position - 1}: offsets must increase")
        self._consumed.extend(offsets)
        self._unhandled.update(offsets)
        self.position = offsets[-1] + 1

    def handle(self, offsets: Iterable[int]) -> None:
        """Record messages safely out (or dead-lettered); unknown or repeated offsets are ignored."""
        unhandled = self._unhandled
        unhandled.difference_update(offsets)
        consumed = self._consumed
        while consumed and consumed[0] not in unhandled:
            self.committable = consumed.popleft() + 1

    def confirm(self, offset: int) -> None:
        """Record a commit Kafka acknowledged; commits only move forward."""
        self.committed = max(self.committed, offset)


class OffsetTracker:
    """Per-partition offsets of one consumer: what is in flight, what may be committed, what is confirmed."""

    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, PartitionOffsets] = {}

    def __contains__(self, key: PartitionKey) -> bool:
        return key in self._partitions

    def __iter__(self) -> Iterator[tuple[PartitionKey, PartitionOffsets]]:
        return iter(list(self._partitions.items()))

    def consume(self, key: PartitionKey, offsets: Sequence[int]) -> bool:
        """Record messages consumed from one partition, in order; True when the partition moved backwards (a seek
        or offset reset) and its bookkeeping started again there. The first message of a partition sets where its
        commits start. Whole runs at a time: the bridge tracks every message, so per-offset calls would cost."""
        if not offsets:
            return False
        if not _increasing(offsets):
            # It moved back within the run: take it one increasing run at a time.
            cut = next(n for n in range(1, len(offsets)) if offsets[n] <= offsets[n - 1])
            restarted = self.consume(key, offsets[:cut])
            return self.consume(key, offsets[cut:]) or restarted
        partition = self._partitions.get(key)
        restarted = partition is not None and offsets[0] < partition.position
        if partition is None or restarted:
            first = offsets[0]
            partition = self._partitions[key] = PartitionOffsets(committed=first, position=first, committable=first)
        partition.consume(offsets)
        return restarted

    def position(self, key: PartitionKey) -> int | None:
        """The next offset to consume from a partition; None before its first message."""
        partition = self._partitions.get(key)
        return None if partition is None else partition.position

    def handle(self, key: PartitionKey, offsets: Iterable[int]) -> None:
        """Record handled messages of one partition; those of partitions no longer tracked are ignored."""
        partition = self._partitions.get(key)
        if partition is not None:
            partition.handle(offsets)

    def confirm(self, key: PartitionKey, offset: int) -> None:
        """Record a commit Kafka acknowledged."""
        offsets = self._partitions.get(key)
        if offsets is not None:
            offsets.confirm(offset)

    def to_commit(self, keys: Iterable[PartitionKey] | None = None, resend: bool = True) -> dict[PartitionKey, int]:
        """Partitions whose committable offset is ahead of the confirmed commit, with that offset; with
        `resend` false, only those ahead of the last requested commit too."""
        wanted = self._partitions if keys is None else {k: self._partitions[k] for k in keys if k in self._partitions}
        return {
            key: o.committable
            for key, o in wanted.items()
            if o.committable > o.committed and (resend or o.committable > o.requested)
        }

    def request(self, offsets: dict[PartitionKey, int]) -> None:
        """Record commits just asked for."""
        for key, offset in offsets.items():
            if key in self._partitions:
                self._partitions[key].requested = offset

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        """Drop partitions this consumer no longer owns; late results for them are then ignored."""
        for key in keys:
            self._partitions.pop(key, None)

    def unhandled(self, keys: Iterable[PartitionKey] | None = None) -> int:
        """Messages consumed and not yet handled, over the given partitions (default: all)."""
        if keys is None:
            return sum(o.unhandled for o in self._partitions.values())
        return sum(self._partitions[k].unhandled for k in keys if k in self._partitions)

    def uncommitted(self) -> int:
        """Messages beyond the confirmed commits, over all partitions: at most this many repeat after a crash."""
        return sum(o.uncommitted for o in self._partitions.values())
