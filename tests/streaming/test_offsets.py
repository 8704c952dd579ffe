"""The offset tracker: a partition commits only the contiguous prefix of handled messages."""

from __future__ import annotations

import random

import pytest

from streaming.offsets import OffsetTracker, PartitionOffsets

KEY = ("markets.rfq.events.v1", 0)


def _consumed(offsets: list[int]) -> OffsetTracker:
    tracker = OffsetTracker()
    tracker.consume(KEY, offsets)
    return tracker


def test_later_acknowledgements_never_move_the_commit_past_an_unacknowledged_message() -> None:
    tracker = _consumed([10, 11, 12, 13, 14])
    for offset in (12, 13, 14):
        tracker.handle(KEY, [offset])
    assert tracker.to_commit() == {}, "10 and 11 are still in flight"
    tracker.handle(KEY, [10])
    assert tracker.to_commit() == {KEY: 11}
    tracker.handle(KEY, [11])
    assert tracker.to_commit() == {KEY: 15}


@pytest.mark.parametrize("seed", range(20))
def test_random_acknowledgement_order_commits_exactly_the_lowest_unhandled_offset(seed: int) -> None:
    generator = random.Random(seed)
    # Offsets with holes, as compaction or transaction markers leave them.
    offsets = sorted(generator.sample(range(5000), 800))
    tracker = _consumed(offsets)
    unhandled = set(offsets)
    for offset in generator.sample(offsets, len(offsets)):
        tracker.handle(KEY, [offset])
        unhandled.discard(offset)
        lowest_unhandled = min(unhandled, default=offsets[-1] + 1)
        handled_below = [o for o in offsets if o < lowest_unhandled]
        # Just past the last handled offset before the first unhandled one: as far as is safe, no further.
        expected = handled_below[-1] + 1 if handled_below else offsets[0]
        assert tracker.to_commit().get(KEY, offsets[0]) == expected


def test_repeated_and_unknown_acknowledgements_change_nothing() -> None:
    tracker = _consumed([0, 1, 2])
    tracker.handle(KEY, [1])
    tracker.handle(KEY, [1])
    tracker.handle(KEY, [7])
    tracker.handle(("other-topic", 3), [0])
    assert tracker.to_commit() == {}
    assert tracker.unhandled() == 2


def test_confirmed_commits_bound_what_a_crash_would_repeat() -> None:
    tracker = _consumed(list(range(100)))
    for offset in range(60):
        tracker.handle(KEY, [offset])
    assert tracker.uncommitted() == 100
    tracker.confirm(KEY, 60)
    assert tracker.uncommitted() == 40
    assert tracker.to_commit() == {}
    tracker.confirm(KEY, 30)  # a late answer to an older commit
    assert tracker.uncommitted() == 40


def test_partitions_are_independent_and_forgotten_ones_ignore_late_results() -> None:
    tracker = OffsetTracker()
    other = ("markets.rfq.events.v1", 1)
    tracker.consume(KEY, [5])
    tracker.consume(other, [50])
    tracker.handle(other, [50])
    assert tracker.to_commit() == {other: 51}
    assert tracker.to_commit([KEY]) == {}
    tracker.forget([other])
    tracker.handle(other, [50])
    assert tracker.to_commit() == {}
    assert other not in tracker


def test_a_partition_that_moves_back_starts_its_bookkeeping_again() -> None:
    tracker = _consumed([100, 101, 102])
    assert tracker.consume(KEY, [40]) is True
    assert tracker.unhandled() == 1
    assert tracker.to_commit() == {}
    tracker.handle(KEY, [40])
    assert tracker.to_commit() == {KEY: 41}
    assert tracker.consume(KEY, [41]) is False


def test_offsets_of_a_partition_must_increase() -> None:
    offsets = PartitionOffsets(committed=0, position=0, committable=0)
    offsets.consume([3])
    with pytest.raises(ValueError, match="offsets must increase"):
        offsets.consume([3])


def test_a_commit_asked_for_is_not_asked_again_until_it_moves_or_is_resent() -> None:
    tracker = _consumed([0, 1, 2])
    tracker.handle(KEY, [0])
    tracker.request(tracker.to_commit(resend=False))
    assert tracker.to_commit(resend=False) == {}, "already asked for, not yet confirmed"
    assert tracker.to_commit(resend=True) == {KEY: 1}, "the periodic commit asks again"
    tracker.handle(KEY, [1])
    assert tracker.to_commit(resend=False) == {KEY: 2}


def test_a_run_that_moves_back_midway_restarts_where_it_moved_back() -> None:
    tracker = OffsetTracker()
    assert tracker.consume(KEY, [10, 11, 12, 5, 6]) is True
    assert tracker.unhandled() == 2, "10 to 12 were forgotten with the restart at 5"
    tracker.handle(KEY, [5, 6])
    assert tracker.to_commit() == {KEY: 7}


def test_runs_of_one_partition_continue_each_other() -> None:
    tracker = OffsetTracker()
    assert tracker.consume(KEY, [0, 1, 2]) is False
    assert tracker.consume(KEY, [3, 5]) is False
    tracker.handle(KEY, iter([5, 1, 0]))
    assert tracker.to_commit() == {KEY: 2}
    tracker.handle(KEY, [3, 2])
    assert tracker.to_commit() == {KEY: 6}
