"""Pub/Sub: clients, topics and subscriptions, and a batching publisher on the Publish RPC.

The client library's batching publisher costs ~65 µs of Python per message (a future and a callback each). The
bridge batches itself, one future per batch, and builds each publish request's bytes itself: messages arrive
framed by `streaming_codec` (compiled), a batch keeps views of them after the request's head and joins them once
when it is sent, as it is, on the generated client's channel, so nothing is built or serialized message by message
in Python. Clients honour PUBSUB_EMULATOR_HOST, so the same code talks to the emulator.
"""

from __future__ import annotations

import bisect
import logging
import os
import queue
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from google.api_core import exceptions as google_exceptions
from google.api_core.grpc_helpers import wrap_errors
from google.api_core.retry import Retry, if_exception_type
from google.auth.credentials import AnonymousCredentials
from google.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
from google.pubsub_v1.types import PublishRequest, PublishResponse, ReceivedMessage

from streaming.exceptions import PubSubUnavailableError
from streaming.messages import Outgoing
from streaming_codec import frame, request_head

log = logging.getLogger("mdp.streaming.pubsub")

T = TypeVar("T")

_RequestPb: Any = PublishRequest.pb()

# Errors a publish retry cannot fix: the request itself is invalid. Every other error (unavailable, deadline,
# topic or permission missing) is retried until it succeeds, with the consumer paused meanwhile.
# https://cloud.google.com/pubsub/docs/reference/error-codes
TERMINAL_PUBLISH_ERRORS: tuple[type[Exception], ...] = (google_exceptions.InvalidArgument,)

_TRANSIENT_RPC_ERRORS = (
    google_exceptions.Aborted,
    google_exceptions.Cancelled,
    google_exceptions.DeadlineExceeded,
    google_exceptions.InternalServerError,
    google_exceptions.ResourceExhausted,
    google_exceptions.ServiceUnavailable,
    google_exceptions.Unknown,
)


def _client_options() -> dict[str, Any]:
    """The emulator at PUBSUB_EMULATOR_HOST when set (as google-cloud-pubsub's own clients do), else Google."""
    host = os.environ.get("PUBSUB_EMULATOR_HOST")
    if host:
        return {"client_options": {"api_endpoint": host}, "credentials": AnonymousCredentials()}  # type: ignore[no-untyped-call]
    return {}


def publisher_client() -> PublisherClient:
    """A publisher on the Publish RPC itself (GAPIC: no client-side batching)."""
    return PublisherClient(**_client_options())


@dataclass(frozen=True)
class EncodedPublishRequest:
    """A PublishRequest already serialized: the topic field, then one framed message after another."""

    topic: str
    body: bytes

    @property
    def messages(self) -> Sequence[Any]:
        """The request's PubsubMessages, decoded (for the rare paths that read them back, and for tests)."""
        return _RequestPb.FromString(self.body).messages  # type: ignore[no-any-return]


class PublishRpc:
    """The Publish RPC on a generated client's channel, sending requests the caller serialized."""

    _METHOD = "/google.pubsub.v1.Publisher/Publish"

    def __init__(self, client: PublisherClient) -> None:
        channel = cast(PublisherGrpcTransport, client.transport).grpc_channel
        # No request serializer: the request goes as the bytes given. Errors become google.api_core's, as the
        # generated client's are.
        self._call = wrap_errors(  # type: ignore[no-untyped-call]
            channel.unary_unary(
                self._METHOD, request_serializer=None, response_deserializer=PublishResponse.deserialize
            )
        )

    def publish(self, request: EncodedPublishRequest, *, retry: Retry, timeout: float) -> None:
        """Send one request; transient errors are retried by `retry`, others raised."""
        # The routing header the generated client sends with every publish.
        metadata = (("x-goog-request-params", f"topic={urllib.parse.quote(request.topic, safe='')}"),)
        retry(self._call)(request.body, timeout=timeout, metadata=metadata)


def subscriber_client() -> SubscriberClient:
    """A subscriber on the Pull and Acknowledge RPCs (GAPIC: synchronous pull)."""
    return SubscriberClient(**_client_options())


def close(client: PublisherClient | SubscriberClient) -> None:
    """Close a client's channel."""
    client.transport.close()  # type: ignore[no-untyped-call]


def ensure_topic(publisher: PublisherClient, topic_path: str) -> None:
    """Create a topic unless it exists (emulators; in the cloud Terraform owns topics)."""
    try:
        publisher.create_topic(name=topic_path)
    except google_exceptions.AlreadyExists:
        pass
    except google_exceptions.GoogleAPICallError as error:
        raise PubSubUnavailableError(f"topic={topic_path}: could not be created: {error.message}") from error


def ensure_subscription(
    subscriber: SubscriberClient, subscription_path: str, topic_path: str, ack_deadline_seconds: int = 60
) -> None:
    """Create a pull subscription unless it exists (emulators; in the cloud Terraform owns subscriptions)."""
    try:
        subscriber.create_subscription(
            name=subscription_path, topic=topic_path, ack_deadline_seconds=ack_deadline_seconds
        )
    except google_exceptions.AlreadyExists:
        pass
    except google_exceptions.GoogleAPICallError as error:
        raise PubSubUnavailableError(
            f"subscription={subscription_path}: could not be created: {error.message}"
        ) from error


def pull(
    subscriber: SubscriberClient, subscription_path: str, max_messages: int, timeout: float
) -> list[ReceivedMessage]:
    """Up to `max_messages` messages; an empty list when none arrived within `timeout` seconds."""
    try:
        response = subscriber.pull(subscription=subscription_path, max_messages=max_messages, timeout=timeout)
    except google_exceptions.DeadlineExceeded:
        return []
    except google_exceptions.GoogleAPICallError as error:
        raise PubSubUnavailableError(
            f"subscription={subscription_path}: pull failed: {error.message}; nothing was acknowledged"
        ) from error
    return list(response.received_messages)


def acknowledge(subscriber: SubscriberClient, subscription_path: str, ack_ids: Sequence[str]) -> None:
    """Acknowledge messages, in requests of at most 2,500 ids (the API's limit is 512 KB per request)."""
    try:
        for start in range(0, len(ack_ids), 2500):
            subscriber.acknowledge(subscription=subscription_path, ack_ids=list(ack_ids[start : start + 2500]))
    except google_exceptions.GoogleAPICallError as error:
        raise PubSubUnavailableError(
            f"subscription={subscription_path}: acknowledge failed: {error.message}; the messages will be "
            "redelivered and deduplicated downstream"
        ) from error


def lease(subscriber: SubscriberClient, subscription_path: str, ack_ids: Sequence[str], seconds: int) -> None:
    """Set pulled messages' ack deadline to `seconds` from now; 0 releases them for redelivery at once."""
    try:
        for start in range(0, len(ack_ids), 2500):
            subscriber.modify_ack_deadline(
                subscription=subscription_path,
                ack_ids=list(ack_ids[start : start + 2500]),
                ack_deadline_seconds=seconds,
            )
    except google_exceptions.GoogleAPICallError as error:
        raise PubSubUnavailableError(
            f"subscription={subscription_path}: modifying ack deadlines failed: {error.message}; the messages "
            "return to the subscription when their deadline passes"
        ) from error


def release(subscriber: SubscriberClient, subscription_path: str, ack_ids: Sequence[str]) -> None:
    """Give pulled messages back to the subscription unacknowledged."""
    lease(subscriber, subscription_path, ack_ids, 0)


@dataclass(frozen=True)
class BatchSettings:
    """When a batch is sent: whichever limit it reaches first."""

    max_messages: int = 1000
    """Messages per publish request (Pub/Sub allows at most 1,000)."""
    max_bytes: int = 9_500_000
    """Bytes per publish request (Pub/Sub allows at most 10 MB)."""
    max_latency_s: float = 0.05
    """How long the first message of a batch may wait for more."""
    concurrency: int = 4
    """Requests in flight at once; 1 when messages carry ordering keys, so that order holds across retries."""
    rpc_deadline_s: float = 30.0
    """How long one attempt may retry transient errors inside the client before the batch is resubmitted."""


@dataclass(eq=False)
class PublishBatch(Generic[T]):
    """One publish request, serialized as it fills, and the tokens of its messages."""

    publisher: BatchPublisher[T]
    parts: list[bytes | memoryview]
    """The request's bytes: its head, then runs of framed messages (views of the codec's frames, not copies)."""
    opened_at: float
    spans: list[tuple[T, int]] = field(default_factory=list)
    """The messages' tokens, in order, as (token, messages that carry it): consecutive messages added with one
    token are counted together, not listed."""
    count: int = 0
    """Messages in the request."""
    size_bytes: int = 0
    attempts: int = 0
    not_before: float = 0.0
    sent_at: float = 0.0
    error: BaseException | None = None

    @property
    def body(self) -> bytes:
        """The serialized request, joined: the one copy of its bytes before gRPC's."""
        return b"".join(self.parts)

    @property
    def messages(self) -> Sequence[Any]:
        """The batch's PubsubMessages, decoded."""
        return EncodedPublishRequest(self.publisher.topic_path, self.body).messages


@dataclass(frozen=True)
class Settled(Generic[T]):
    """The outcome of a batch: published, or rejected by Pub/Sub as invalid."""

    spans: list[tuple[T, int]]
    """The batch's tokens with their counts (`PublishBatch.spans`)."""
    count: int
    latency_s: float
    rejected: BaseException | None = None

    @property
    def tokens(self) -> list[T]:
        """One token a message, in order (for the rare paths that go message by message)."""
        return [token for token, count in self.spans for _ in range(count)]


class BatchPublisher(Generic[T]):
    """Batches messages to one topic and sends them on worker threads; results come back through `completions`.

    Only the thread that owns the publisher calls its methods; workers only send and report. A batch that fails
    with a transient error is resubmitted with exponential backoff for as long as it takes; with ordering on,
    it goes ahead of every later batch, so ordering keys keep their order.
    """

    def __init__(
        self,
        api: Any,
        topic_path: str,
        executor: Executor,
        completions: queue.SimpleQueue[PublishBatch[Any]],
        settings: BatchSettings = BatchSettings(),
        ordered: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic_path = topic_path
        self._api = api
        self._executor = executor
        self._completions = completions
        self._settings = settings
        self._concurrency = 1 if ordered else settings.concurrency
        self._clock = clock
        self._retry = Retry(
            predicate=if_exception_type(*_TRANSIENT_RPC_ERRORS),
            initial=0.1,
            maximum=5.0,
            multiplier=2.0,
            timeout=settings.rpc_deadline_s,
        )
        self._head = request_head(topic_path)
        self._open: PublishBatch[T] | None = None
        self._ready: deque[PublishBatch[T]] = deque()
        self._sending = 0
        self.pending_bytes = 0
        """Bytes of every message added and not yet settled."""
        self.retries = 0
        """Batches resubmitted after an error, since start."""
        self.last_error: str | None = None
        """The last publish error, cleared by the next success."""

    @property
    def idle(self) -> bool:
        """Whether every message added has been settled."""
        return self._open is None and not self._ready and self._sending == 0

    def add(self, message: Outgoing, token: T) -> None:
        """Queue one message; it is sent when its batch fills up or ages (see `pump`)."""
        framed = frame(message.data, message.attributes, message.ordering_key)
        self.add_frames(framed, [len(framed)], lambda start, stop: token)

    def add_frames(
        self,
        frames: bytes,
        ends: Sequence[int],
        token_for: Callable[[int, int], T],
        first: int = 0,
        stop: int | None = None,
    ) -> None:
        """Queue framed messages (`streaming_codec`): message n is `frames[ends[n - 1]:ends[n]]`; only messages
        `first` to `stop` (default: the rest). Cut into batches without a Python step per message: each batch
        takes the longest run that fits its message and byte limits, and its part's messages carry one token,
        `token_for(start, stop)` of that part, counted once."""
        settings = self._settings
        stop = len(ends) if stop is None else stop
        view = memoryview(frames)
        at = first
        while at < stop:
            batch = self._open
            if batch is None:
                batch = self._open = PublishBatch(self, [self._head], self._clock())
            start = ends[at - 1] if at else 0
            until = min(stop, at + settings.max_messages - batch.count)
            until = bisect.bisect_right(ends, start + settings.max_bytes - batch.size_bytes, at, until)
            if until == at:
                if batch.count:  # the next message does not fit: it starts a new batch
                    self._close_open()
                    continue
                until = at + 1  # a message over the byte limit alone: Pub/Sub will say whether it is too large
            size = ends[until - 1] - start
            batch.parts.append(view[start : ends[until - 1]])
            batch.spans.append((token_for(at, until), until - at))
            batch.count += until - at
            batch.size_bytes += size
            self.pending_bytes += size
            at = until
            if batch.count >= settings.max_messages:
                self._close_open()

    def flush(self) -> None:
        """Send the open batch without waiting for it to fill."""
        if self._open is not None:
            self._close_open()
        self.pump()

    def pump(self) -> None:
        """Close an open batch that has waited long enough and send what the concurrency limit allows."""
        now = self._clock()
        if self._open is not None and now - self._open.opened_at >= self._settings.max_latency_s:
            self._close_open()
        while self._ready and self._sending < self._concurrency and self._ready[0].not_before <= now:
            batch = self._ready.popleft()
            batch.sent_at = now
            self._sending += 1
            self._executor.submit(self._send, batch)

    def settle(self, batch: PublishBatch[T]) -> Settled[T] | None:
        """Account for a batch a worker finished: its outcome, or None when it was scheduled again."""
        self._sending -= 1
        error = batch.error
        if error is None or isinstance(error, TERMINAL_PUBLISH_ERRORS):
            self.pending_bytes -= batch.size_bytes
            if error is None:
                self.last_error = None
            return Settled(batch.spans, batch.count, self._clock() - batch.opened_at, error)
        batch.attempts += 1
        batch.error = None
        delay = min(0.2 * 2 ** min(batch.attempts, 6), 10.0)
        batch.not_before = self._clock() + delay
        self.retries += 1
        self.last_error = f"{type(error).__name__}: {error}"
        log.warning(
            "topic=%s: publish of %d messages failed (attempt %d): %s; retrying in %.1fs",
            self.topic_path,
            batch.count,
            batch.attempts,
            self.last_error,
            delay,
        )
        # Ahead of later batches: with one request at a time (ordering on) order survives the retry.
        self._ready.appendleft(batch)
        return None

    def _close_open(self) -> None:
        assert self._open is not None
        self._ready.append(self._open)
        self._open = None

    def _send(self, batch: PublishBatch[T]) -> None:
        """Worker thread: one Publish RPC; the result goes to the owner's completion queue."""
        try:
            self._api.publish(
                EncodedPublishRequest(self.topic_path, batch.body),
                retry=self._retry,
                timeout=self._settings.rpc_deadline_s,
            )
        except Exception as error:  # every failure is reported to the owner, who decides
            batch.error = error
        self._completions.put(batch)


def publish_all(
    client: PublisherClient,
    topic_path: str,
    messages: Sequence[Outgoing],
    ordered: bool = False,
    deadline_s: float = 120.0,
) -> list[BaseException | None]:
    """Publish messages with the bridge's batching and wait for every one: per message, None when Pub/Sub
    acknowledged it or the error it was rejected with. Transient errors are retried until `deadline_s`, then
    `PubSubUnavailableError` (some messages may have been published: the callers' messages are at least once)."""
    completions: queue.SimpleQueue[PublishBatch[Any]] = queue.SimpleQueue()
    outcomes: list[BaseException | None] = [None] * len(messages)
    rpc = PublishRpc(client)
    with ThreadPoolExecutor(max_workers=BatchSettings().concurrency) as executor:
        publisher: BatchPublisher[int] = BatchPublisher(rpc, topic_path, executor, completions, ordered=ordered)
        for index, message in enumerate(messages):
            publisher.add(message, index)
        publisher.flush()
        deadline = time.monotonic() + deadline_s
        while not publisher.idle:
            if time.monotonic() > deadline:
                raise PubSubUnavailableError(
                    f"topic={topic_path}: publishes not acknowledged within {deadline_s:.0f}s "
                    f"(last error: {publisher.last_error})"
                )
            try:
                batch = completions.get(timeout=0.1)
            except queue.Empty:
                publisher.pump()
                continue
            settled = publisher.settle(batch)
            if settled is not None:
                for index in settled.tokens:
                    outcomes[index] = settled.rejected
            publisher.pump()
    return outcomes
