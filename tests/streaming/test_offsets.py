"""The offset tracker: a partition commits only the contiguous prefix of handled messages."""

from __future__ import annotations

import random

import pytest

from streaming.offsets import OffsetTracker, PartitionOffsets, Run

KEY = ("markets.rfq.events.v1", 0)


def _one_by_one(tracker: OffsetTracker, offsets: list[int], key: tuple[str, int] = KEY) -> dict[int, Run]:
    """Each offset consumed as a run of its own (as the bridge tracks a message the router handles)."""
    return {offset: tracker.consume(key, offset, offset, 1)[0] for offset in offsets}


def test_later_acknowledgements_never_move_the_commit_past_an_unacknowledged_message() -> None:
    tracker = OffsetTracker()
    runs = _one_by_one(tracker, [10, 11, 12, 13, 14])
    for offset in (12, 13, 14):
        tracker.handle(runs[offset], 1)
    assert tracker.to_commit() == {}, "10 and 11 are still in flight"
    tracker.handle(runs[10], 1)
    assert tracker.to_commit() == {KEY: 11}
    tracker.handle(runs[11], 1)
    assert tracker.to_commit() == {KEY: 15}


@pytest.mark.parametrize("seed", range(20))
def test_random_acknowledgement_order_commits_exactly_the_lowest_unhandled_offset(seed: int) -> None:
    generator = random.Random(seed)
    # Offsets with holes, as compaction or transaction markers leave them.
    offsets = sorted(generator.sample(range(5000), 800))
    tracker = OffsetTracker()
    runs = _one_by_one(tracker, offsets)
    unhandled = set(offsets)
    for offset in generator.sample(offsets, len(offsets)):
        tracker.handle(runs[offset], 1)
        unhandled.discard(offset)
        expected = min(unhandled, default=offsets[-1] + 1)
        assert tracker.to_commit().get(KEY, offsets[0]) == expected
        assert tracker.unhandled() == len(unhandled)


@pytest.mark.parametrize("seed", range(20))
def test_a_run_holds_the_commit_at_its_first_offset_until_every_part_of_it_is_handled(seed: int) -> None:
    """Runs of many messages, each cut into parts (as publish requests cut a consumed run), the parts handled in a
    random order: the commit is the first offset of the earliest run with a part unhandled, never beyond it."""
    generator = random.Random(seed)
    offsets = sorted(generator.sample(range(20_000), 3000))
    tracker = OffsetTracker()
    parts: list[tuple[int, Run, int]] = []  # (run's index, run, messages in the part)
    firsts: list[int] = []
    at = 0
    while at < len(offsets):
        count = min(generator.randint(1, 400), len(offsets) - at)
        run, restarted = tracker.consume(KEY, offsets[at], offsets[at + count - 1], count)
        assert not restarted
        cuts = sorted(generator.sample(range(1, count), min(count - 1, generator.randint(0, 3))))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
        parts += [(len(firsts), run, size) for size in sizes]
        firsts.append(offsets[at])
        at += count
    left = [sum(size for index, _, size in parts if index == n) for n in range(len(firsts))]
    for index, run, size in generator.sample(parts, len(parts)):
        tracker.handle(run, size)
        left[index] -= size
        earliest = next((n for n, count in enumerate(left) if count), None)
        expected = offsets[-1] + 1 if earliest is None else firsts[earliest]
        assert tracker.to_commit().get(KEY, offsets[0]) == expected
        assert tracker.unhandled() == sum(left)


def test_repeated_and_unknown_acknowledgements_change_nothing() -> None:
    tracker, elsewhere = OffsetTracker(), OffsetTracker()
    first, second = tracker.consume(KEY, 0, 1, 2)[0], tracker.consume(KEY, 2, 2, 1)[0]
    tracker.handle(second, 1)
    tracker.handle(second, 1)
    tracker.handle(second, 5)
    tracker.handle(elsewhere.consume(KEY, 0, 9, 10)[0], 10)
    tracker.handle(elsewhere.consume(("other-topic", 3), 0, 0, 1)[0], 1)
    assert tracker.to_commit() == {}
    assert tracker.unhandled() == 2
    tracker.handle(first, 3)  # more than it holds: it is handled, nothing else
    assert tracker.to_commit() == {KEY: 3}
    assert tracker.unhandled() == 0


def test_confirmed_commits_bound_what_a_crash_would_repeat() -> None:
    tracker = OffsetTracker()
    runs = [tracker.consume(KEY, start, start + 9, 10)[0] for start in range(0, 100, 10)]
    for run in runs[:6]:
        tracker.handle(run, 10)
    assert tracker.uncommitted() == 100
    assert tracker.to_commit() == {KEY: 60}
    tracker.confirm(KEY, 60)
    assert tracker.uncommitted() == 40
    assert tracker.to_commit() == {}
    tracker.confirm(KEY, 30)  # a late answer to an older commit
    assert tracker.uncommitted() == 40


def test_partitions_are_independent_and_forgotten_ones_ignore_late_results() -> None:
    tracker = OffsetTracker()
    other = ("markets.rfq.events.v1", 1)
    tracker.consume(KEY, 5, 5, 1)
    run = tracker.consume(other, 50, 50, 1)[0]
    assert run.key == other
    tracker.handle(run, 1)
    assert tracker.to_commit() == {other: 51}
    assert tracker.to_commit([KEY]) == {}
    late = tracker.consume(other, 51, 51, 1)[0]
    tracker.forget([other])
    tracker.handle(late, 1)
    assert tracker.to_commit() == {}
    assert other not in tracker


def test_a_partition_that_moves_back_starts_its_bookkeeping_again() -> None:
    tracker = OffsetTracker()
    before = tracker.consume(KEY, 100, 102, 3)[0]
    run, restarted = tracker.consume(KEY, 40, 40, 1)
    assert restarted is True
    assert tracker.unhandled() == 1
    assert tracker.to_commit() == {}
    tracker.handle(before, 3)  # a late result from before the move: ignored
    assert tracker.unhandled() == 1
    tracker.handle(run, 1)
    assert tracker.to_commit() == {KEY: 41}
    assert tracker.consume(KEY, 41, 41, 1)[1] is False


@pytest.mark.parametrize(
    ("first", "last", "count"),
    [(3, 3, 1), (5, 4, 1), (7, 7, 0)],
    ids=["not-past-the-position", "last-before-first", "empty"],
)
def test_a_run_must_lie_past_the_position_and_hold_messages(first: int, last: int, count: int) -> None:
    offsets = PartitionOffsets(KEY, committed=0, position=0, committable=0)
    offsets.consume(3, 3, 1)
    with pytest.raises(ValueError, match="offsets must increase"):
        offsets.consume(first, last, count)


def test_a_commit_asked_for_is_not_asked_again_until_it_moves_or_is_resent() -> None:
    tracker = OffsetTracker()
    runs = _one_by_one(tracker, [0, 1, 2])
    tracker.handle(runs[0], 1)
    tracker.request(tracker.to_commit(resend=False))
    assert tracker.to_commit(resend=False) == {}, "already asked for, not yet confirmed"
    assert tracker.to_commit(resend=True) == {KEY: 1}, "the periodic commit asks again"
    tracker.handle(runs[1], 1)
    assert tracker.to_commit(resend=False) == {KEY: 2}


def test_runs_of_one_partition_continue_each_other_across_offset_holes() -> None:
    tracker = OffsetTracker()
    low, restarted = tracker.consume(KEY, 0, 2, 3)
    assert restarted is False
    high, restarted = tracker.consume(KEY, 5, 9, 2)  # offsets 5 and 9: a hole between them and before
    assert restarted is False
    assert tracker.position(KEY) == 10
    tracker.handle(high, 2)
    assert tracker.to_commit() == {}
    tracker.handle(low, 2)
    assert tracker.to_commit() == {}, "one message of the first run is still out"
    tracker.handle(low, 1)
    assert tracker.to_commit() == {KEY: 10}
