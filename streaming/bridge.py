"""The Kafka -> Pub/Sub bridge: at least once, with offsets committed only behind acknowledged publishes.

One loop on one thread owns the consumer, the offset tracker and both publishers; publisher workers only send
requests and hand results back through a queue. Per loop: consume what the in-flight bound allows, route each
message (publish or dead-letter), settle finished publish batches, commit each partition's handled prefix.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streaming.broker_offsets import BrokerOffsets
from streaming.exceptions import KafkaFatalError, SchemaRegistryError
from streaming.kafka import consumer_config, create_admin, create_commit_reader, create_consumer
from streaming.messages import DeadLetterReason, Outgoing, dead_letter, message_router, stream_encoder
from streaming.metrics import BridgeMetrics, MetricsServer
from streaming.offsets import OffsetTracker, PartitionKey, Run
from streaming.pubsub import (
    BatchPublisher,
    PublishBatch,
    PublishRpc,
    Settled,
    close,
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from streaming.schema_registry import open_schema_registry
from streaming.settings import BridgeSettings
from streaming.spec import StreamSpec

log = logging.getLogger("mdp.streaming.bridge")

EncodedRun = tuple[PartitionKey, int, int]
"""From the codec: ((topic, partition), start, stop) of consecutive encoded messages of one partition."""

_STALL_AFTER_S = 60.0
"""The loop is reported unhealthy when it has not turned for this long."""


@dataclass
class BridgeReport:
    """What one run of the bridge did."""

    stream: str
    consumed: int = 0
    published: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)
    committed: dict[str, int] = field(default_factory=dict)
    """Last confirmed commit per `topic/partition`."""

    def as_dict(self) -> dict[str, Any]:
        """For `--json` and logs."""
        return dict(self.__dict__)


class Bridge:
    """One bridge replica for one stream; `run` until `stop` is set, then drain, commit and close."""

    def __init__(
        self,
        spec: StreamSpec,
        settings: BridgeSettings,
        publisher_api: PublishRpc,
        metrics: BridgeMetrics | None = None,
        consumer_factory: Callable[[dict[str, Any]], Consumer] = create_consumer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.metrics = metrics or BridgeMetrics()
        self.report = BridgeReport(spec.name)
        self._clock = clock
        # Avro streams whose spec allows it: writer schemas the spec does not list come from the registry.
        self._schema_registry = open_schema_registry(spec, settings.schema_registry)
        self._router = message_router(spec, self._schema_registry)
        # JSON streams: the usual message is checked and framed in compiled code, the rest by the router.
        self._encoder = stream_encoder(spec)
        self._tracker = OffsetTracker()
        self._completions: queue.SimpleQueue[PublishBatch[Any]] = queue.SimpleQueue()
        self._workers = ThreadPoolExecutor(max_workers=2 * settings.batch.concurrency, thread_name_prefix="publish")
        topics = f"projects/{settings.project}/topics"
        self._publisher: BatchPublisher[Run] = BatchPublisher(
            publisher_api,
            f"{topics}/{spec.pubsub_topic}",
            self._workers,
            self._completions,
            settings.batch,
            ordered=spec.ordering_key_field is not None,
        )
        self._dead_letters: BatchPublisher[Run] = BatchPublisher(
            publisher_api, f"{topics}/{spec.dead_letter_topic}", self._workers, self._completions, settings.batch
        )
        group_id = settings.group_id or spec.consumer_group
        config = consumer_config(
            settings.bootstrap_servers,
            group_id,
            settings.instance_id,
            settings.session_timeout_ms,
            self._on_commit,
        )
        self._consumer = consumer_factory(config)
        self._broker = BrokerOffsets(
            create_admin(settings.bootstrap_servers),
            create_commit_reader(settings.bootstrap_servers, group_id),
            settings.watermark_interval_s,
        )
        self._paused = False
        self._held_since: float | None = None
        self._assignment_changed = False
        self._assigned: set[PartitionKey] = set()
        self._heartbeat = clock()
        self._last_commit = 0.0
        self._last_gauges = 0.0
        self._labels: dict[PartitionKey, tuple[str, str, str]] = {}
        self._backlog: dict[PartitionKey, int] = {}
        self._progress: dict[PartitionKey, _Progress] = {}
        self._stalled: list[PartitionKey] = []

    # --- lifecycle -------------------------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> BridgeReport:
        """Bridge until `stop` is set; then finish in-flight publishes, commit and close the consumer (once)."""
        consumer = self._consumer
        try:
            consumer.subscribe(
                list(self.spec.kafka_topics),
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            log.info(
                "stream=%s: bridging %s -> %s",
                self.spec.name,
                ",".join(self.spec.kafka_topics),
                self._publisher.topic_path,
            )
            try:
                while not stop.is_set():
                    self._step()
            except SchemaRegistryError as error:
                # Neither the messages' fault nor this replica's: publish and commit everything before the message
                # that needs the schema, so that a restart starts at it.
                log.error("stream=%s: %s", self.spec.name, error)
                self._set_paused(True)
                self._finish(None)
                raise
            log.info("stream=%s: stopping: finishing in-flight publishes, then committing", self.spec.name)
            self._set_paused(True)
            self._finish(None)
        finally:
            # Whatever happened, the handled prefix is safe to commit; then leave the group cleanly.
            self._commit(None, asynchronous=False)
            consumer.close()
            self._workers.shutdown(wait=False, cancel_futures=True)
            self._update_gauges(final=True)
            self._broker.close()
            if self._schema_registry is not None:
                self._schema_registry.close()
        return self.report

    def health(self) -> tuple[bool, dict[str, Any]]:
        """For `/healthz`: healthy while the loop keeps turning and reads every partition it owns."""
        stalled_for = self._clock() - self._heartbeat
        stalled_partitions = self._stalled
        publishers = (self._publisher, self._dead_letters)
        return stalled_for < _STALL_AFTER_S and not stalled_partitions, {
            "stream": self.spec.name,
            "loop_stalled_s": round(stalled_for, 1),
            "partitions": len(self._assigned),
            "stalled_partitions": [f"{topic}/{partition}" for topic, partition in stalled_partitions],
            "paused": self._paused,
            "holding": self._held_since is not None,
            "in_flight": self._tracker.unhandled(),
            "kafka_backlog": sum(self._backlog.values()),
            "uncommitted": self._tracker.uncommitted(),
            "last_publish_error": next((p.last_error for p in publishers if p.last_error), None),
        }

    # --- the loop --------------------------------------------------------------------------------------------

    def _step(self) -> None:
        settings = self.settings
        now = self._heartbeat = self._clock()
        uncommitted = self._tracker.uncommitted()
        held = self._publisher.pending_bytes + self._dead_letters.pending_bytes
        room = min(settings.consume_batch, settings.max_in_flight_messages - uncommitted)
        if room <= 0 or held >= settings.max_in_flight_bytes:
            self._set_paused(True)
        elif (
            self._paused
            and 2 * uncommitted <= settings.max_in_flight_messages
            and 2 * held <= settings.max_in_flight_bytes
        ):
            # Resume at half the bounds, not just under them: pausing drops librdkafka's prefetched messages.
            self._set_paused(False)
        self._hold(now, held)
        if self._held_since is not None:
            # Publishes lag: take nothing this turn, but keep librdkafka fetching (see `_hold`).
            self._settle(wait=0.05)
        elif self._paused:
            if self._assignment_changed:
                self._set_paused(True, again=True)
            # Serves rebalance and commit callbacks; paused partitions return no messages.
            self._route(self._consumer.consume(1, 0))
            self._settle(wait=0.05)
        else:
            busy = not (self._publisher.idle and self._dead_letters.idle)
            self._route(self._consumer.consume(max(room, 1), 0.01 if busy else 0.1))
            self._settle(wait=0)
        self._publisher.pump()
        self._dead_letters.pump()
        # On the interval, and sooner when the in-flight bound comes near: waiting for the interval there
        # would pause consumption until the next commit is confirmed.
        due = self._clock() - self._last_commit >= settings.commit_interval_s
        if due or 2 * self._tracker.uncommitted() >= settings.max_in_flight_messages:
            self._commit(None, asynchronous=True, resend=due)
        self._update_gauges()
        # Hand the GIL to the publish threads: a request they start or finish otherwise waits for it until the
        # loop's next blocking call, which made requests take 20 % longer (the benchmark's turns of 1,000 messages).
        time.sleep(0)

    def _hold(self, now: float, held_bytes: int) -> None:
        """Hold while over half of a bound waits for Pub/Sub: take no messages until publishes catch up. A hold
        keeps librdkafka's prefetched messages, which a pause drops (the resumed partitions then wait on new
        fetches: in a backlog drain, pauses cost a fifth of the rate). Consume also serves rebalances and commit
        results, so a hold that lasts `hold_s` (Pub/Sub slow or away) becomes a pause, which polls without taking
        messages. Over half: a pause resumes at half or under, so a replica that just resumed is not held."""
        settings = self.settings
        lagging = (
            2 * self._tracker.unhandled() > settings.max_in_flight_messages
            or 2 * held_bytes > settings.max_in_flight_bytes
        )
        if self._paused or not lagging:
            self._held_since = None
        elif self._held_since is None:
            self._held_since = now
        elif now - self._held_since >= settings.hold_s:
            self._held_since = None
            self._set_paused(True)

    def _route(self, messages: list[Any]) -> None:
        """Publish (or dead-letter) a consumed batch in the order consumed: with ordering keys, publishes keep
        Kafka's order. Each message is tracked in a run, recorded before any of its publishes can settle (results
        are taken on this thread, later in the turn)."""
        if not messages:
            return
        if self._encoder is not None:
            encoded = self._encoder.encode(messages)
            frames, ends, runs, others = encoded.frames, encoded.ends, encoded.runs, encoded.others
        else:
            frames, ends, runs, others = b"", [], [], list(range(len(messages)))
        consumed: dict[PartitionKey, int] = {}
        if others:
            # Runs never straddle a message left to the router: each lies wholly before or after it.
            pending = iter(runs)
            run = next(pending, None)
            for count, position in enumerate(others):
                before = position - count  # encoded messages that came before this one
                while run is not None and run[2] <= before:
                    self._publish_run(messages, count, frames, ends, run, consumed)
                    run = next(pending, None)
                self._route_one(messages[position], consumed)
            while run is not None:
                self._publish_run(messages, len(others), frames, ends, run, consumed)
                run = next(pending, None)
        else:
            for run in runs:
                self._publish_run(messages, 0, frames, ends, run, consumed)
        for key, count in consumed.items():
            self.metrics.consumed.labels(*self._label(key)).inc(count)
            self.report.consumed += count

    def _publish_run(
        self,
        messages: list[Any],
        shift: int,
        frames: bytes,
        ends: list[int],
        encoded: EncodedRun,
        consumed: dict[PartitionKey, int],
    ) -> None:
        """Queue a run of encoded messages, `shift` others before it in `messages`. Each part of it that a publish
        request takes is tracked as a run of its own, so that a commit stops exactly at the first message of a
        request still in flight."""
        key, start, stop = encoded

        def tracked(first: int, until: int) -> Run:
            low, high = messages[first + shift].offset(), messages[until - 1 + shift].offset()
            return self._track(key, low, high, until - first, consumed)

        self._publisher.add_frames(frames, ends, tracked, start, stop)

    def _route_one(self, message: Any, consumed: dict[PartitionKey, int]) -> None:
        """A message the codec left to the router: an error, or anything unusual, in a run of its own."""
        error = message.error()
        if error is not None:
            self._kafka_error(error)
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        # Routed before it is tracked: a message whose schema the registry could not give stops the bridge
        # untracked, so the drain before the stop waits only for the messages before it.
        outgoing = self._router.route(message.value(), message.key(), topic, partition, offset, message.timestamp()[1])
        run = self._track((topic, partition), offset, offset, 1, consumed)
        if outgoing.dead_letter is None:
            self._publisher.add(outgoing, run)
        else:
            self._send_dead_letter(outgoing, run)

    def _track(self, key: PartitionKey, first: int, last: int, count: int, consumed: dict[PartitionKey, int]) -> Run:
        run, restarted = self._tracker.consume(key, first, last, count)
        if restarted:
            log.warning("topic=%s partition=%d: consumer moved back to offset %d", *key, first)
        consumed[key] = consumed.get(key, 0) + count
        return run

    def _send_dead_letter(self, letter: Outgoing, run: Run) -> None:
        attributes = letter.attributes
        log.warning(
            "topic=%s partition=%d offset=%s: dead-lettered (%s: %s)",
            *run.key,
            attributes["kafka_offset"],
            attributes["reason"],
            attributes.get("reason_detail", ""),
        )
        self._dead_letters.add(letter, run)

    def _kafka_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaFatalError(f"kafka: fatal error {error.name()}: {error.str()}; restart the bridge")
        if error.code() != KafkaError._PARTITION_EOF:
            log.warning("kafka: %s (%s); librdkafka retries", error.str(), error.name())

    # --- publish results -------------------------------------------------------------------------------------

    def _settle(self, wait: float) -> None:
        """Account for every finished publish batch; wait up to `wait` seconds for the first one."""
        try:
            batch = self._completions.get(timeout=wait) if wait > 0 else self._completions.get_nowait()
        except queue.Empty:
            return
        while True:
            publisher = batch.publisher
            settled = publisher.settle(batch)
            if settled is None:
                self.metrics.publish_retries.labels(self.spec.name).inc()
            elif settled.rejected is not None:
                self._rejected(batch, settled)
            else:
                self._handled(batch, settled)
            try:
                batch = self._completions.get_nowait()
            except queue.Empty:
                return

    def _handled(self, batch: PublishBatch[Run], settled: Settled[Run]) -> None:
        tracker = self._tracker
        per_partition: dict[PartitionKey, int] = {}
        for run, count in settled.spans:
            tracker.handle(run, count)
            per_partition[run.key] = per_partition.get(run.key, 0) + count
        if batch.publisher is self._dead_letters:
            for run, message in zip(settled.tokens, batch.messages, strict=True):
                reason = message.attributes["reason"]
                self.report.dead_lettered[reason] = self.report.dead_lettered.get(reason, 0) + 1
                self.metrics.dead_lettered.labels(*self._label(run.key), reason).inc()
            return
        self.report.published += settled.count
        for key, count in per_partition.items():
            labels = self._label(key)
            self.metrics.published.labels(*labels).inc(count)
            self.metrics.publish_latency.labels(*labels).observe(settled.latency_s)

    def _rejected(self, batch: PublishBatch[Run], settled: Settled[Run]) -> None:
        """Pub/Sub refused a batch as invalid: its messages become dead letters (never dropped). Each dead letter
        counts for its message's run: the run is handled once all of them are."""
        detail = f"{type(settled.rejected).__name__}: {settled.rejected}"
        log.error("topic=%s: Pub/Sub rejected %d messages: %s", batch.publisher.topic_path, settled.count, detail)
        from_dead_letters = batch.publisher is self._dead_letters
        for run, message in zip(settled.tokens, batch.messages, strict=True):
            # A rejected dead letter is sent again without its payload, which is what can make it invalid.
            data = b"" if from_dead_letters else bytes(message.data)
            letter = dead_letter(data, dict(message.attributes), DeadLetterReason.REJECTED, detail)
            self._send_dead_letter(letter, run)

    # --- commits and rebalances ------------------------------------------------------------------------------

    def _commit(self, keys: Iterable[PartitionKey] | None, asynchronous: bool, resend: bool = True) -> None:
        """Commit the handled prefix of the given partitions (default all) where it moved past the confirmed
        commit; without `resend`, only where it moved past the last commit asked for."""
        if resend:
            self._last_commit = self._clock()
        offsets = self._tracker.to_commit(keys, resend)
        if not offsets:
            return
        self._tracker.request(offsets)
        partitions = [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]
        try:
            if asynchronous:
                self._consumer.commit(offsets=partitions, asynchronous=True)
            else:
                self._on_commit(None, self._consumer.commit(offsets=partitions, asynchronous=False) or [])
        except KafkaException as error:
            # Not fatal: the offsets are committed on a later turn, or read again by the next owner.
            self.metrics.commit_failures.labels(self.spec.name).inc()
            log.warning("stream=%s: offset commit failed: %s; retrying later", self.spec.name, error)

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is not None:
            self.metrics.commit_failures.labels(self.spec.name).inc()
            log.warning("stream=%s: offset commit failed: %s; retrying later", self.spec.name, error.str())
            return
        for partition in partitions:
            if partition.error is None and partition.offset >= 0:
                key = (partition.topic, partition.partition)
                self._tracker.confirm(key, partition.offset)
                self.report.committed[f"{partition.topic}/{partition.partition}"] = partition.offset

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = {(p.topic, p.partition) for p in partitions}
        self._assigned |= keys
        self._assignment_changed = True
        log.info("stream=%s: assigned %s", self.spec.name, _names(keys))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Before another replica takes these partitions: finish their publishes and commit them."""
        keys = [(p.topic, p.partition) for p in partitions]
        self._finish(keys)
        self._commit(keys, asynchronous=False)
        self._drop(keys)
        log.info("stream=%s: revoked %s after committing", self.spec.name, _names(keys))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group moved these partitions already (session expired): nothing may be committed for them."""
        keys = [(p.topic, p.partition) for p in partitions]
        self._drop(keys)
        log.warning("stream=%s: lost %s; their in-flight messages will be read again", self.spec.name, _names(keys))

    def _drop(self, keys: Sequence[PartitionKey]) -> None:
        # librdkafka keeps a partition's pause across a rebalance: one that leaves paused would come back paused
        # and never be read again. They are still assigned here, in the rebalance callback, so resume them.
        self._consumer.resume([TopicPartition(*key) for key in keys])
        self._tracker.forget(keys)
        self._broker.forget(keys)
        self._assigned -= set(keys)
        self._stalled = [key for key in self._stalled if key not in keys]
        for key in keys:
            for gauge in (self.metrics.in_flight, self.metrics.commit_lag, self.metrics.committed_offset):
                gauge.remove(*self._label(key))
            if key in self._backlog:
                self.metrics.kafka_backlog.remove(*self._label(key))
                del self._backlog[key]
            self._progress.pop(key, None)

    def _finish(self, keys: Sequence[PartitionKey] | None) -> None:
        """Send every open batch and wait (up to the drain timeout) until the partitions have nothing in flight."""
        self._publisher.flush()
        self._dead_letters.flush()
        deadline = self._clock() + self.settings.drain_timeout_s
        while self._tracker.unhandled(keys) > 0 and self._clock() < deadline:
            self._heartbeat = self._clock()
            self._publisher.pump()
            self._dead_letters.pump()
            self._settle(wait=0.05)
        left = self._tracker.unhandled(keys)
        if left:
            log.warning("stream=%s: %d publishes still unacknowledged; they stay uncommitted", self.spec.name, left)

    def _set_paused(self, paused: bool, again: bool = False) -> None:
        if paused == self._paused and not again:
            return
        assignment = self._consumer.assignment()
        if paused:
            self._consumer.pause(assignment)
        else:
            self._consumer.resume(assignment)
            self._restart_fetching(assignment)
        self._paused = paused
        self._assignment_changed = False
        self.metrics.paused.labels(self.spec.name).set(1 if paused else 0)

    def _restart_fetching(self, partitions: list[TopicPartition]) -> None:
        """Have librdkafka fetch resumed partitions now. A resume does not wake its fetcher, which sleeps up to a
        second when it had nothing to fetch (every partition paused): the benchmark measured 0.4 to 0.66 s without a
        fetch after each resume of a backlog drain, which cost a third to a half of the rate where the in-flight
        bound was met.
        A seek to where each partition stands, the next offset the bridge reads, starts the fetcher at once; a
        partition not read yet has no position and is left to it."""
        try:
            positions = self._consumer.position(partitions)
            for partition in positions:
                if partition.offset >= 0:
                    self._consumer.seek(partition)
        except KafkaException as error:  # a partition revoked meanwhile: the fetcher wakes on its own, later
            log.debug("stream=%s: no fetch restart after resuming: %s", self.spec.name, error)

    # --- metrics ---------------------------------------------------------------------------------------------

    def _label(self, key: PartitionKey) -> tuple[str, str, str]:
        labels = self._labels.get(key)
        if labels is None:
            labels = self._labels[key] = (self.spec.name, key[0], str(key[1]))
        return labels

    def _update_gauges(self, final: bool = False) -> None:
        now = self._clock()
        if not final and now - self._last_gauges < 1.0:
            return
        self._last_gauges = now
        for key, offsets in self._tracker:
            labels = self._label(key)
            self.metrics.in_flight.labels(*labels).set(offsets.unhandled)
            self.metrics.commit_lag.labels(*labels).set(offsets.uncommitted)
            self.metrics.committed_offset.labels(*labels).set(offsets.committed)
        self._broker.refresh(self._assigned)
        self._backlog = self._kafka_backlog()
        for key, backlog in self._backlog.items():
            self.metrics.kafka_backlog.labels(*self._label(key)).set(backlog)
        if not final:  # the consumer is closed by then: there is nothing left to watch or resume
            self._watch_progress(now)
        held = self._publisher.pending_bytes + self._dead_letters.pending_bytes
        self.metrics.in_flight_bytes.labels(self.spec.name).set(held)

    def _kafka_backlog(self) -> dict[PartitionKey, int]:
        """Per assigned partition, messages beyond the position. The high watermark is the newer of librdkafka's
        (cached from its last fetch: current while the partition is read) and the broker's (asked for now and then:
        current when it is not). Partitions with neither a position nor a broker answer are left out."""
        if not self._assigned:
            return {}
        backlog = {}
        try:
            positions = {
                (p.topic, p.partition): p.offset
                for p in self._consumer.position([TopicPartition(*key) for key in self._assigned])
            }
            for key in self._assigned:
                ends = self._broker.get(key)
                tracked = self._tracker.position(key)
                position = tracked if tracked is not None else positions.get(key, -1)
                if position < 0 and ends is not None:
                    position = ends.reading_from
                _, high = self._consumer.get_watermark_offsets(TopicPartition(*key), cached=True)
                high = max(high, ends.high if ends is not None else -1)
                if position >= 0 and high >= 0:
                    backlog[key] = max(high - position, 0)
        except (KafkaException, RuntimeError):  # the consumer closed (last gauges of a run): nothing to read
            return {}
        return backlog

    def _watch_progress(self, now: float) -> None:
        """A partition is stalled when, for `partition_stall_s`, new messages reached it in Kafka while this replica
        read none of them, and it was neither paused by backpressure nor waiting for Pub/Sub. Each stalled
        partition is resumed again (librdkafka keeps a pause across a rebalance) and named on `/healthz`, which
        then fails: the liveness probe restarts a replica that stays stalled."""
        stalled = []
        for key in self._assigned:
            position, ends = self._tracker.position(key), self._broker.get(key)
            progress = self._progress.get(key)
            if (
                self._paused
                or ends is None
                or progress is None
                or progress.high < 0
                or progress.position != position
                or self._tracker.unhandled([key])
            ):
                # Reading, held back on purpose, or the broker does not answer: the watch starts again.
                self._progress[key] = _Progress(position, ends.high if ends is not None else -1, now)
            elif now - progress.since >= self.settings.partition_stall_s and ends.high > progress.high:
                stalled.append(key)
        new = sorted(set(stalled) - set(self._stalled))
        if new:
            log.warning(
                "stream=%s: %s unread for %.0f s while Kafka received messages for them: resuming them",
                self.spec.name,
                _names(new),
                self.settings.partition_stall_s,
            )
        if stalled:
            self._consumer.resume([TopicPartition(*key) for key in stalled])
        self._stalled = sorted(stalled)
        self.metrics.stalled_partitions.labels(self.spec.name).set(len(stalled))


@dataclass(frozen=True)
class _Progress:
    """Where a partition's read stood when its stall watch (re)started."""

    position: int | None
    high: int
    """The broker's high watermark then."""
    since: float


def _names(keys: Iterable[PartitionKey]) -> str:
    return ", ".join(f"{topic}/{partition}" for topic, partition in sorted(keys)) or "nothing"


def ensure_dead_letter_subscription(spec: StreamSpec, project: str) -> None:
    """The subscription Terraform puts on the dead-letter topic, named like it: without one, Pub/Sub drops what is
    published there (emulators; `mdp stream dead-letters` reads it)."""
    subscriber = subscriber_client()
    try:
        ensure_subscription(
            subscriber,
            subscriber.subscription_path(project, spec.dead_letter_topic),
            subscriber.topic_path(project, spec.dead_letter_topic),
        )
    finally:
        close(subscriber)


_YOUNG_COLLECTION_ALLOCATIONS = 50_000
"""While the bridge runs: net allocations of tracked objects between young collections (Python's default: 700)."""


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """The cycle collector set for the bridge while it runs, as before on exit (so the interpreter frees as usual).

    - What exists on entry (modules, clients) lives as long as the bridge: frozen, out of the collector's reach, so
      that full collections walk only what the bridge makes (measured: 2 to 7 % of a backlog drain's time, under
      1 % frozen).
    - Young collections wait for 50,000 net allocations instead of 700. A turn's consumed batch is 1,000 message
      objects that live for that turn: at 700, a young collection came in the middle of nearly every turn, walked
      the batch and promoted it, for middle collections to walk again (274 young and 24 middle collections in a
      300,000-message drain). Now there are none in a drain, and the bridge took less CPU a message in 9 of 13
      alternated pairs of rounds (medians 2.18 against 2.37 us). Garbage cycles (error paths) still go at the
      threshold."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION_ALLOCATIONS, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def run_bridge(spec: StreamSpec, settings: BridgeSettings, stop: threading.Event) -> BridgeReport:
    """Create the clients, serve metrics if asked, bridge until `stop`, then release everything."""
    client = publisher_client()
    try:
        if settings.create_topics:
            for topic in (spec.pubsub_topic, spec.dead_letter_topic):
                ensure_topic(client, client.topic_path(settings.project, topic))
            ensure_dead_letter_subscription(spec, settings.project)
        bridge = Bridge(spec, settings, PublishRpc(client))
        server = None
        if settings.metrics_port is not None:
            server = MetricsServer(bridge.metrics.registry, bridge.health, settings.metrics_port)
            server.start()
        try:
            with collector_tuned():
                return bridge.run(stop)
        finally:
            if server is not None:
                server.stop()
    finally:
        close(client)
