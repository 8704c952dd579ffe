"""Which Kafka offset each partition may commit: the first offset of its earliest run not wholly handled.

Pub/Sub acknowledges publishes out of order. Committing the highest acknowledged offset would, after a crash,
skip every earlier message whose publish was still in flight; so a partition commits only up to its lowest
message not yet handled. Messages are counted in runs (consecutive messages of one partition that go to one
publish request together), not one by one: a run is handled when all of its messages are, and the commit
stops at the first offset of the earliest run that is not. Pure bookkeeping: no Kafka, no clock, no threads.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

PartitionKey = tuple[str, int]
"""(Kafka topic, partition)."""


class Run:
    """Consecutive messages of one partition, consumed together: what the tracker counts. The bridge hands a run
    (or part of one, with its count) to a publish request, and reports it handled with that count."""

    __slots__ = ("first", "owner", "remaining")

    def __init__(self, owner: PartitionOffsets, first: int, count: int) -> None:
        self.owner = owner
        self.first = first
        """Its first offset: where a commit stops while any of its messages is unhandled."""
        self.remaining = count
        """Its messages not yet handled."""

    @property
    def key(self) -> PartitionKey:
        """Its partition."""
        return self.owner.key

    def __repr__(self) -> str:
        return f"Run({self.key[0]}/{self.key[1]} from {self.first}, {self.remaining} unhandled)"


@dataclass(eq=False)
class PartitionOffsets:
    """Offsets of one partition, consumed in increasing order."""

    key: PartitionKey
    committed: int
    """The position Kafka has confirmed as committed: the next offset a restarted consumer reads."""
    position: int
    """The next offset to consume (last consumed + 1)."""
    committable: int
    """The next offset to commit: every consumed offset below it has been handled."""
    requested: int = -1
    """The last offset a commit was asked for (confirmed or not)."""
    unhandled: int = 0
    """Consumed messages not yet handled (published or dead-lettered)."""
    _runs: deque[Run] = field(default_factory=deque)
    """Runs not wholly handled, in the order consumed: the first one holds the commit back."""

    @property
    def uncommitted(self) -> int:
        """Messages a restart from the committed position would read again (an upper bound with offset gaps)."""
        return self.position - self.committed

    def consume(self, first: int, last: int, count: int) -> Run:
        """Record `count` consumed messages from offset `first` to `last`, past the position; they stay unhandled
        until `handle`."""
        if first < self.position or last < first or count < 1:
            raise ValueError(
                f"{self.key[0]}/{self.key[1]}: {count} messages from offset {first} to {last} consumed after "
                f"{self.position - 1}: offsets must increase"
            )
        run = Run(self, first, count)
        self._runs.append(run)
        self.unhandled += count
        self.position = last + 1
        return run

    def handle(self, run: Run, count: int) -> None:
        """Record `count` messages of a run safely out (or dead-lettered); a run of another partition, or counts
        beyond what it has left, change nothing."""
        if run.owner is not self:
            return
        count = min(count, run.remaining)
        run.remaining -= count
        self.unhandled -= count
        runs = self._runs
        while runs and not runs[0].remaining:
            runs.popleft()
        self.committable = runs[0].first if runs else self.position

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

    def consume(self, key: PartitionKey, first: int, last: int, count: int) -> tuple[Run, bool]:
        """Record a run of `count` messages consumed from one partition, offsets `first` to `last`: the run, and
        True when the partition moved backwards (a seek or offset reset) and its bookkeeping started again there.
        The first message of a partition sets where its commits start."""
        partition = self._partitions.get(key)
        restarted = partition is not None and first < partition.position
        if partition is None or restarted:
            partition = self._partitions[key] = PartitionOffsets(
                key, committed=first, position=first, committable=first
            )
        return partition.consume(first, last, count), restarted

    def position(self, key: PartitionKey) -> int | None:
        """The next offset to consume from a partition; None before its first message."""
        partition = self._partitions.get(key)
        return None if partition is None else partition.position

    def handle(self, run: Run, count: int) -> None:
        """Record `count` messages of a run handled; runs of partitions no longer tracked (or tracked again since
        they moved back) are ignored."""
        if self._partitions.get(run.key) is run.owner:
            run.owner.handle(run, count)

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
