"""Which Kafka offset each partition may commit: the end of the contiguous prefix of handled messages.

Pub/Sub acknowledges publishes out of order. Committing the highest acknowledged offset would, after a crash,
skip every earlier message whose publish was still in flight; so a partition commits only up to its lowest
message not yet handled. Pure bookkeeping: no Kafka, no clock, no threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

PartitionKey = tuple[str, int]
"""(Kafka topic, partition)."""


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

    def consume(self, offset: int) -> None:
        """Record a consumed offset; it stays unhandled until `handle`."""
        if offset < self.position:
            raise ValueError(f"offset {offset} consumed after {self.position - 1}: offsets must increase")
        self._consumed.append(offset)
        self._unhandled.add(offset)
        self.position = offset + 1

    def handle(self, offset: int) -> None:
        """Record that a message is safely out (or was dead-lettered); unknown or repeated offsets are ignored."""
        if offset not in self._unhandled:
            return
        self._unhandled.remove(offset)
        consumed, unhandled = self._consumed, self._unhandled
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

    def consume(self, key: PartitionKey, offset: int) -> bool:
        """Record a consumed message; True when the partition moved backwards (a seek or offset reset) and its
        bookkeeping started again there. The first message of a partition sets where its commits start."""
        offsets = self._partitions.get(key)
        restarted = offsets is not None and offset < offsets.position
        if offsets is None or restarted:
            offsets = self._partitions[key] = PartitionOffsets(committed=offset, position=offset, committable=offset)
        offsets.consume(offset)
        return restarted

    def handle(self, key: PartitionKey, offset: int) -> None:
        """Record a handled message; messages of partitions no longer tracked are ignored."""
        offsets = self._partitions.get(key)
        if offsets is not None:
            offsets.handle(offset)

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
