"""The batching publisher, with the Publish RPC replaced at the boundary: batch limits, retries with backoff,
order under retries, and requests Pub/Sub rejects."""

from __future__ import annotations

import itertools
import queue
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import pytest
from google.api_core import exceptions as google_exceptions

from streaming.messages import Outgoing
from streaming.pubsub import BatchPublisher, BatchSettings, PublishBatch, Settled
from streaming_codec import frame

TOPIC = "projects/mdp-test/topics/rfq-events"


class InlineExecutor(Executor):
    """Runs each submitted call at once, on the caller's thread: sends happen in a known order."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run now."""
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


class RecordingApi:
    """Stands in for the Publish RPC: records each request's offsets, fails the calls it is told to."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.sent: list[list[int]] = []
        self._failures = failures or []

    def publish(self, request: Any, **options: Any) -> None:
        """Record, then fail if a failure is queued."""
        self.sent.append([int(m.attributes["kafka_offset"]) for m in request.messages])
        if self._failures:
            raise self._failures.pop(0)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _error(kind: type[Exception], message: str) -> Exception:
    return kind(message)


def _message(offset: int, size: int = 10) -> Outgoing:
    return Outgoing(b"x" * size, {"kafka_offset": str(offset)}, "")


def _publisher(
    api: RecordingApi, clock: Clock, ordered: bool = False, **settings: Any
) -> tuple[BatchPublisher[int], queue.SimpleQueue[PublishBatch[Any]]]:
    completions: queue.SimpleQueue[PublishBatch[Any]] = queue.SimpleQueue()
    batch_settings = BatchSettings(**{"max_messages": 10, "max_latency_s": 0.05, **settings})
    return BatchPublisher(api, TOPIC, InlineExecutor(), completions, batch_settings, ordered, clock), completions


def _settle_all(
    publisher: BatchPublisher[int], completions: queue.SimpleQueue[PublishBatch[Any]]
) -> list[Settled[int] | None]:
    outcomes = []
    while not completions.empty():
        outcomes.append(publisher.settle(completions.get_nowait()))
    return outcomes


def test_a_batch_is_sent_when_full_or_when_its_first_message_has_waited_long_enough() -> None:
    api, clock = RecordingApi(), Clock()
    publisher, completions = _publisher(api, clock)
    for offset in range(25):
        publisher.add(_message(offset), offset)
    publisher.pump()
    assert api.sent == [list(range(10)), list(range(10, 20))]
    clock.now += 0.049
    publisher.pump()
    assert len(api.sent) == 2, "the last five wait for more"
    clock.now += 0.002
    publisher.pump()
    assert api.sent[-1] == list(range(20, 25))
    settled = _settle_all(publisher, completions)
    assert [s.tokens for s in settled if s] == [list(range(10)), list(range(10, 20)), list(range(20, 25))]
    assert publisher.idle
    assert publisher.pending_bytes == 0


def test_a_message_that_would_overflow_the_byte_limit_starts_the_next_batch_intact() -> None:
    api, clock = RecordingApi(), Clock()
    publisher, completions = _publisher(api, clock, max_bytes=2500)
    for offset in range(3):
        publisher.add(_message(offset, size=1000), offset)
    publisher.flush()
    assert api.sent == [[0, 1], [2]]
    assert [s.tokens for s in _settle_all(publisher, completions) if s] == [[0, 1], [2]]


def test_framed_messages_are_cut_into_batches_by_count_and_bytes_in_their_order() -> None:
    api, clock = RecordingApi(), Clock()
    publisher, completions = _publisher(api, clock, max_messages=4, max_bytes=2500, concurrency=8)
    sizes = [100, 100, 100, 100, 100, 1000, 1300, 1000, 100, 3000, 100]
    framed = [frame(b"x" * size, {"kafka_offset": str(offset)}) for offset, size in enumerate(sizes)]
    frames, ends = b"".join(framed), list(itertools.accumulate(map(len, framed)))
    parts: list[tuple[int, int]] = []

    def token_for(start: int, stop: int) -> int:
        parts.append((start, stop))
        return start

    publisher.add_frames(frames, ends, token_for, 0, 2)  # a consumed batch in two parts, as around a routed message
    publisher.add(_message(99), 99)
    publisher.add_frames(frames, ends, token_for, 2)
    publisher.flush()
    assert api.sent == [[0, 1, 99, 2], [3, 4, 5], [6, 7, 8], [9], [10]], (
        "four messages at most; a message that does not fit starts the next batch; one over the byte limit goes "
        "alone, for Pub/Sub to judge"
    )
    assert parts == [(0, 2), (2, 3), (3, 6), (6, 9), (9, 10), (10, 11)], "one token for each part a batch takes"
    settled = [s for s in _settle_all(publisher, completions) if s]
    assert [s.spans for s in settled] == [[(0, 2), (99, 1), (2, 1)], [(3, 3)], [(6, 3)], [(9, 1)], [(10, 1)]]
    assert [s.count for s in settled] == [4, 3, 3, 1, 1]
    assert [s.tokens for s in settled] == [[0, 0, 99, 2], [3] * 3, [6] * 3, [9], [10]]
    assert publisher.pending_bytes == 0


def test_a_failed_batch_is_resent_after_a_backoff_and_settles_once_published() -> None:
    api, clock = RecordingApi([_error(google_exceptions.ServiceUnavailable, "emulator restarting")]), Clock()
    publisher, completions = _publisher(api, clock)
    for offset in range(10):
        publisher.add(_message(offset), offset)
    publisher.pump()
    assert _settle_all(publisher, completions) == [None], "a transient failure is not an outcome"
    assert publisher.retries == 1
    assert publisher.last_error is not None
    assert "emulator restarting" in publisher.last_error
    publisher.pump()
    assert len(api.sent) == 1, "not before the backoff"
    clock.now += 0.5
    publisher.pump()
    assert api.sent == [list(range(10)), list(range(10))]
    assert [s.tokens for s in _settle_all(publisher, completions) if s] == [list(range(10))]
    assert publisher.last_error is None


def test_with_ordering_a_failed_batch_is_resent_before_any_later_one() -> None:
    api, clock = RecordingApi([_error(google_exceptions.DeadlineExceeded, "slow")]), Clock()
    publisher, completions = _publisher(api, clock, ordered=True)
    for offset in range(30):
        publisher.add(_message(offset), offset)
    publisher.pump()
    assert api.sent == [list(range(10))], "one request at a time"
    _settle_all(publisher, completions)
    clock.now += 0.5
    for _ in range(3):
        publisher.pump()
        _settle_all(publisher, completions)
    assert api.sent == [list(range(10)), list(range(10)), list(range(10, 20)), list(range(20, 30))]


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(_error(google_exceptions.NotFound, "topic gone"), id="topic-missing"),
        pytest.param(_error(google_exceptions.PermissionDenied, "no role"), id="no-permission"),
        pytest.param(RuntimeError("anything else"), id="unexpected"),
    ],
)
def test_errors_other_than_an_invalid_request_are_retried(error: Exception) -> None:
    api, clock = RecordingApi([error]), Clock()
    publisher, completions = _publisher(api, clock)
    publisher.add(_message(0), 0)
    publisher.flush()
    assert _settle_all(publisher, completions) == [None]


def test_a_request_pubsub_rejects_as_invalid_settles_as_rejected() -> None:
    api, clock = RecordingApi([_error(google_exceptions.InvalidArgument, "attribute too long")]), Clock()
    publisher, completions = _publisher(api, clock)
    publisher.add(_message(7), 7)
    publisher.flush()
    [settled] = _settle_all(publisher, completions)
    assert settled is not None
    assert settled.tokens == [7]
    assert isinstance(settled.rejected, google_exceptions.InvalidArgument)
    assert publisher.idle
