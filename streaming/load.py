"""`mdp stream-load`: a subscription into `raw.<stream>_stream`, acknowledged only once the rows are durable.

Where no BigQuery subscription exists (locally, on emulators) this does its job: pull a batch, write it in one
warehouse call with the subscription's schema, then acknowledge. A crash between write and acknowledgement
redelivers the batch: rows repeat in raw, and the staging model keeps the first copy of each event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from google.pubsub_v1.types import ReceivedMessage

from orchestrator.exceptions import Transient
from orchestrator.warehouse.base import STREAM_COLUMNS, Warehouse
from streaming.pubsub import acknowledge, pull

log = logging.getLogger("mdp.streaming.load")

_PULL_TIMEOUT_S = 5.0
"""A pull's deadline. Servers answer before it, with messages or none; a pull abandoned instead (deadline
exceeded, channel closed) can be handed messages that then stay leased to nobody until their ack deadline."""

_ARROW_TYPES: dict[str, pa.DataType] = {"string": pa.string(), "timestamp": pa.timestamp("us")}
STREAM_SCHEMA = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in STREAM_COLUMNS])
"""Arrow schema of a batch; timestamps are naive UTC, like every timestamp the warehouse stores."""


@dataclass
class LoadReport:
    """What one run of the loader did."""

    stream: str
    subscription: str
    loaded: int = 0
    batches: int = 0
    failures: int = 0
    """Pulls or writes that failed and were retried."""

    def as_dict(self) -> dict[str, Any]:
        """For `--json` and logs."""
        return dict(self.__dict__)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def messages_table(subscription_name: str, received: Sequence[ReceivedMessage], ingested_at: dt.datetime) -> pa.Table:
    """A batch in the BigQuery subscription's layout: data as UTF-8 text, attributes as a JSON object."""
    messages = [item.message for item in received]
    return pa.table(
        {
            "subscription_name": [subscription_name] * len(messages),
            "message_id": [message.message_id for message in messages],
            "publish_time": [_utc(message.publish_time) for message in messages],
            "data": [message.data.decode("utf-8", errors="replace") for message in messages],
            "attributes": [json.dumps(dict(message.attributes), sort_keys=True) for message in messages],
            "_ingested_at": [_utc(ingested_at)] * len(messages),
        },
        schema=STREAM_SCHEMA,
    )


class StreamLoader:
    """Appends one subscription to one raw table: a thread pulls, the caller's thread writes and acknowledges."""

    def __init__(
        self,
        stream: str,
        subscriber: Any,
        subscription_path: str,
        table: str,
        open_warehouse: Callable[[], Warehouse],
        batch_messages: int = 5000,
        batch_wait_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.report = LoadReport(stream, subscription_path)
        self._subscriber = subscriber
        self._subscription = subscription_path
        self._table = table
        self._open_warehouse = open_warehouse
        self._batch_messages = batch_messages
        self._batch_wait_s = batch_wait_s
        self._clock = clock
        self._pull_failure: Exception | None = None

    def run(self, stop: threading.Event, idle_exit_s: float | None = None) -> LoadReport:
        """Load until `stop` is set, or until no message has arrived for `idle_exit_s` seconds."""
        pulled: queue.Queue[list[ReceivedMessage]] = queue.Queue(maxsize=8)
        stop_pulling = threading.Event()
        puller = threading.Thread(target=self._pull, args=(pulled, stop_pulling), name="pull", daemon=True)
        puller.start()
        try:
            last_message = self._clock()
            failures = 0
            while not stop.is_set():
                if self._pull_failure is not None:
                    raise self._pull_failure
                batch = self._collect(pulled)
                if not batch:
                    if idle_exit_s is not None and self._clock() - last_message >= idle_exit_s:
                        break
                    continue
                last_message = self._clock()
                try:
                    self._write(batch)
                    failures = 0
                except Transient as error:
                    # Not acknowledged: handed back, Pub/Sub redelivers the batch at once.
                    failures += 1
                    self.report.failures += 1
                    log.warning("stream=%s: %s; %d messages handed back", self.report.stream, error, len(batch))
                    self._hand_back(batch)
                    stop.wait(min(0.5 * 2**failures, 10.0))
        finally:
            # The pull in progress is let finish (the server answers within its deadline), not abandoned.
            stop_pulling.set()
            puller.join(timeout=_PULL_TIMEOUT_S + 5)
            while not pulled.empty():
                self._hand_back(pulled.get_nowait())
        return self.report

    def _pull(self, pulled: queue.Queue[list[ReceivedMessage]], stop_pulling: threading.Event) -> None:
        """Pulling thread: pulls back to back, waiting while the writer is behind (bounded queue)."""
        failures = 0
        while not stop_pulling.is_set():
            try:
                received = pull(self._subscriber, self._subscription, 1000, _PULL_TIMEOUT_S)
                failures = 0
            except Exception as error:
                if stop_pulling.is_set():  # at shutdown the channel closes under the pull: expected
                    return
                if not isinstance(error, Transient):
                    self._pull_failure = error
                    return
                failures += 1
                self.report.failures += 1
                log.warning("stream=%s: %s; retrying", self.report.stream, error)
                stop_pulling.wait(min(0.5 * 2**failures, 10.0))
                continue
            while received and not stop_pulling.is_set():
                try:
                    pulled.put(received, timeout=0.5)
                    received = []
                except queue.Full:
                    continue
            self._hand_back(received)

    def _collect(self, pulled: queue.Queue[list[ReceivedMessage]]) -> list[ReceivedMessage]:
        """What arrives within the batch wait, or less once the batch holds `batch_messages` (may exceed by one
        pull)."""
        batch: list[ReceivedMessage] = []
        deadline = self._clock() + self._batch_wait_s
        while len(batch) < self._batch_messages:
            left = deadline - self._clock()
            if left <= 0:
                break
            try:
                batch.extend(pulled.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[ReceivedMessage]) -> None:
        rows = messages_table(self._subscription.rsplit("/", 1)[-1], batch, dt.datetime.now(dt.UTC))
        # One short-lived connection per batch: DuckDB admits one writing process, and dbt needs its turn.
        warehouse = self._open_warehouse()
        try:
            warehouse.append_stream_messages(self._table, rows)
        finally:
            warehouse.close()
        acknowledge(self._subscriber, self._subscription, [item.ack_id for item in batch])
        self.report.loaded += len(batch)
        self.report.batches += 1

    def _hand_back(self, batch: list[ReceivedMessage]) -> None:
        if not batch:
            return
        try:
            self._subscriber.modify_ack_deadline(
                subscription=self._subscription, ack_ids=[item.ack_id for item in batch], ack_deadline_seconds=0
            )
        except Exception as error:  # the ack deadline expires anyway; redelivery only comes later
            log.warning("subscription=%s: could not hand back messages: %s", self._subscription, error)
