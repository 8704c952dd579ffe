"""The bridge against the real Kafka broker, Pub/Sub emulator, DuckDB warehouse and dbt: end to end, dead letters,
and commits that never pass a publish still in flight."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest
from confluent_kafka import Consumer, TopicPartition
from google.api_core import exceptions as google_exceptions

from streaming.bridge import collector_tuned
from streaming.metrics import MetricsServer
from streaming.pubsub import BatchSettings, PublishRpc, close, publisher_client
from streaming.spec import StreamSpec
from tests import services
from tests.streaming.support import (
    MDP,
    BridgeThread,
    Collector,
    committed_offsets,
    create_topic,
    end_offsets,
    fresh_stream_spec,
    produce,
    rfq_event,
    rfq_messages,
    stream_specs_dir,
    stream_topics,
    unique,
    wait_until,
)


@pytest.fixture
def stream() -> Iterator[tuple[StreamSpec, str]]:
    """A stream on fresh topics: its spec and the name of a subscription on its dead-letter topic."""
    services.pubsub_emulator_host()
    spec = fresh_stream_spec()
    dead_letters = unique("rfq-dead-letters-sub-")
    with stream_topics(services.pubsub_project(), spec, dead_letters):
        yield spec, dead_letters


def test_while_a_bridge_runs_what_existed_is_frozen_and_young_collections_are_rare_then_both_are_undone() -> None:
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    with collector_tuned():
        assert gc.get_freeze_count() > 1000  # the modules' objects, at least
        assert gc.get_threshold() == (50_000, *before[1:])
        young = gc.get_stats()[0]["collections"]
        batch = [[n] for n in range(1000)]  # a consumed batch's worth of tracked objects, living for a turn
        del batch
        assert gc.get_stats()[0]["collections"] == young
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def _mdp(home: Path, specs_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MDP, "--home", str(home), *arguments],
        env={**os.environ, "MDP_SPECS_DIR": str(specs_dir)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def _one_partition_with(spec: StreamSpec, messages: int) -> tuple[str, str, str]:
    """The stream's Kafka topic with one partition holding `messages` RFQ events: brokers, Pub/Sub project, topic."""
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    topic = spec.kafka_topics[0]
    create_topic(bootstrap, topic, 1)
    produce(bootstrap, topic, rfq_messages(messages, 1))
    return bootstrap, project, topic


@contextmanager
def _serving(bridge: BridgeThread) -> Iterator[str]:
    """The bridge's `/metrics` and `/healthz` served on a free local port, for the block: its base URL."""
    server = MetricsServer(bridge.bridge.metrics.registry, bridge.bridge.health, port=0, host="127.0.0.1")
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _all_committed(bootstrap: str, spec: StreamSpec, partitions: int) -> bool:
    topic = spec.kafka_topics[0]
    return committed_offsets(bootstrap, spec.consumer_group, topic, partitions) == end_offsets(
        bootstrap, topic, partitions
    )


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (local test server)
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_every_message_reaches_pubsub_the_raw_table_and_staging_once(
    stream: tuple[StreamSpec, str], tmp_path: Path
) -> None:
    spec, _ = stream
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    topic, partitions, events = spec.kafka_topics[0], 4, 20_000
    create_topic(bootstrap, topic, partitions)
    # The gateway lost three events of partition 2 (sequence numbers 100-102) and sent 50 events twice.
    lost = {(2, sequence) for sequence in (100, 101, 102)}
    messages = [m for m in rfq_messages(events, partitions) if (m[0], json.loads(m[2] or b"")["sequence"]) not in lost]
    produced = produce(bootstrap, topic, [*messages, *messages[:50]])
    home, specs_dir = tmp_path / "home", stream_specs_dir(tmp_path, spec)

    with BridgeThread(spec, bootstrap, project) as bridge, _serving(bridge) as base:
        wait_until("every offset is committed", lambda: _all_committed(bootstrap, spec, partitions), 120, bridge.check)
        status, health = _get(f"{base}/healthz")
        assert status == 200
        assert json.loads(health)["status"] == "ok"
        status, metrics = _get(f"{base}/metrics")
        assert status == 200
        published = {
            line.split('partition="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in metrics.decode().splitlines()
            if line.startswith("mdp_bridge_published_messages_total{")
        }
        assert published == {str(p): float(produced[p]) for p in range(partitions)}
        # Gauges are refreshed every second.
        wait_until(
            "the Kafka backlog of every partition is 0",
            lambda: _gauge(_get(f"{base}/metrics")[1], BACKLOG) == {str(p): 0.0 for p in range(partitions)},
            10,
        )
        assert _get(f"{base}/nothing")[0] == 404
        report = bridge.stop()
    assert report.published == report.consumed == events - 3 + 50
    assert report.dead_lettered == {}

    load = _mdp(home, specs_dir, "stream-load", "rfq", "--idle-exit", "2", "--batch-wait", "0.5", "--json")
    assert load.returncode == 0, load.stderr
    assert json.loads(load.stdout)["loaded"] >= events - 3 + 50

    warehouse = str(home / "warehouse.duckdb")
    with duckdb.connect(warehouse, read_only=True) as connection:
        landed = connection.sql(
            "select json_extract_string(attributes, '$.kafka_partition')::int as p, "
            "json_extract_string(attributes, '$.kafka_offset')::bigint as o from raw.rfq_stream"
        ).fetchall()
        columns = [row[0] for row in connection.sql("describe raw.rfq_stream").fetchall()]
    assert columns == ["subscription_name", "message_id", "publish_time", "data", "attributes", "_ingested_at"]
    assert set(landed) == {(p, o) for p in range(partitions) for o in range(produced[p])}, "a Kafka message is missing"

    build = _mdp(home, specs_dir, "stream", "build", "--json")
    assert build.returncode == 0, build.stdout + build.stderr
    assert json.loads(build.stdout)["status"] == "success"
    with duckdb.connect(warehouse, read_only=True) as connection:
        staged = connection.execute("select count(*), count(distinct event_id) from staging.stg_rfq__events").fetchone()
        curated = connection.execute("select count(*) from curation.rfq_events").fetchone()
    assert staged == (events - 3, events - 3)
    assert curated == (events - 3,)

    gaps = _mdp(home, specs_dir, "stream", "gaps", "--json")
    assert gaps.returncode == 0, gaps.stderr
    assert [
        (g["kafka_partition"], g["first_missing_sequence"], g["last_missing_sequence"], g["severity"])
        for g in json.loads(gaps.stdout)
    ] == [(2, 100, 102, "MEDIUM")]
    lag = _mdp(home, specs_dir, "stream", "lag", "--json")
    assert lag.returncode == 0, lag.stderr
    assert sum(row["events"] for row in json.loads(lag.stdout)) == events - 3


def test_poison_messages_land_in_the_dead_letter_topic_with_their_reason(stream: tuple[StreamSpec, str]) -> None:
    spec, dead_letter_subscription = stream
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    topic = spec.kafka_topics[0]
    create_topic(bootstrap, topic, 1, {"max.message.bytes": "16000000"})
    oversized = rfq_event(4, 4, padding="x" * 11_000_000)
    values: list[bytes | None] = [
        rfq_event(0, 0),
        b"RFQ;1;QUOTE;99.5",
        json.dumps({"sequence": 2, "event_at": "2026-11-20T10:00:00Z"}).encode(),
        None,
        oversized,
        rfq_event(5, 5, sequence="five"),
        rfq_event(6, 6),
    ]
    produce(bootstrap, topic, [(0, b"k", value) for value in values], **{"message.max.bytes": 16_000_000})

    with (
        Collector(project, spec.subscription) as published,
        Collector(project, dead_letter_subscription) as dead,
        BridgeThread(spec, bootstrap, project) as bridge,
    ):
        wait_until("every offset is committed", lambda: _all_committed(bootstrap, spec, 1), 120, bridge.check)
        wait_until("both topics delivered", lambda: len(published.messages) >= 2 and len(dead.messages) >= 5, 60)
        report = bridge.stop()

    assert sorted(offset for _, _, offset in published.coordinates()) == [0, 6]
    letters = {int(m.attributes["kafka_offset"]): m for m in dead.messages}
    assert {offset: m.attributes["reason"] for offset, m in letters.items()} == {
        1: "undecodable",
        2: "spec_violation",
        3: "undecodable",
        4: "too_large",
        5: "spec_violation",
    }
    assert letters[2].attributes["reason_detail"] == "field 'event_id' is missing"
    assert letters[1].data == b"RFQ;1;QUOTE;99.5"
    assert letters[4].attributes["original_bytes"] == str(len(oversized))
    assert letters[4].data == oversized[:1_000_000]
    assert all(m.attributes["kafka_topic"] == topic and m.attributes["kafka_partition"] == "0" for m in dead.messages)
    assert report.dead_lettered == {"undecodable": 2, "spec_violation": 2, "too_large": 1}


class HoldingPublisherApi:
    """The real Publish RPC, except that the request carrying one chosen offset waits until released: later
    batches are acknowledged first."""

    def __init__(self, api: Any, held_offset: int) -> None:
        self._api = api
        self._held_offset = str(held_offset)
        self.holding = threading.Event()
        self.release = threading.Event()

    def publish(self, request: Any, **options: Any) -> Any:
        """Publish, after the release if this request carries the held offset."""
        if any(message.attributes["kafka_offset"] == self._held_offset for message in request.messages):
            self.holding.set()
            assert self.release.wait(120)
        return self._api.publish(request=request, **options)


class StalledPublisherApi:
    """The real Publish RPC, once released: until then every request waits, as when Pub/Sub is slow or away."""

    def __init__(self, api: Any) -> None:
        self._api = api
        self.release = threading.Event()

    def publish(self, request: Any, **options: Any) -> Any:
        """Publish after the release."""
        assert self.release.wait(120)
        return self._api.publish(request=request, **options)


def test_a_bridge_waiting_for_pubsub_holds_then_pauses_and_loses_nothing(stream: tuple[StreamSpec, str]) -> None:
    spec, _ = stream
    bootstrap, project, _ = _one_partition_with(spec, 3000)

    client = publisher_client()
    api = StalledPublisherApi(PublishRpc(client))
    with BridgeThread(
        spec, bootstrap, project, api=api, max_in_flight_messages=2000, consume_batch=100, hold_s=3.0
    ) as bridge:
        health, report = bridge.bridge.health, bridge.bridge.report
        wait_until("the bridge holds once over half its bound waits", lambda: health()[1]["holding"], 60, bridge.check)
        consumed = report.consumed
        assert 1000 < consumed <= 1100, "it stops taking messages in the consume batch that passes half the bound"
        time.sleep(1.0)
        # Held, not paused: the partition is still fetched (a pause would drop what librdkafka prefetched), but
        # the bridge takes nothing more.
        assert {key: health()[1][key] for key in ("holding", "paused")} == {"holding": True, "paused": False}
        assert report.consumed == consumed
        # Pub/Sub does not catch up within the hold: the bridge pauses, and serves the group again.
        wait_until("a hold that lasts becomes a pause", lambda: health()[1]["paused"], 10, bridge.check)
        assert not health()[1]["holding"]
        assert report.consumed == consumed
        api.release.set()
        wait_until("every message is committed", lambda: _all_committed(bootstrap, spec, 1), 60, bridge.check)
        assert {key: health()[1][key] for key in ("holding", "paused")} == {"holding": False, "paused": False}
        assert bridge.stop().published == 3000
    close(client)


def test_the_commit_never_passes_a_publish_that_is_still_in_flight(stream: tuple[StreamSpec, str]) -> None:
    spec, _ = stream
    bootstrap, project, topic = _one_partition_with(spec, 300)

    client = publisher_client()
    api = HoldingPublisherApi(PublishRpc(client), held_offset=25)
    batches = BatchSettings(max_messages=10, max_latency_s=0.01, concurrency=4)
    with (
        Collector(project, spec.subscription) as published,
        BridgeThread(spec, bootstrap, project, api=api, batch=batches) as bridge,
    ):
        assert api.holding.wait(60), "the held batch was never sent"
        held = {(topic, 0, offset) for offset in range(20, 30)}
        wait_until(
            "every other batch is acknowledged",
            lambda: set(published.coordinates()) == {(topic, 0, o) for o in range(300)} - held,
            60,
            bridge.check,
        )
        observed = []
        for _ in range(10):  # over several commit intervals
            observed.append(committed_offsets(bootstrap, spec.consumer_group, topic, 1)[0])
            time.sleep(0.2)
        assert observed[-1] == 20, f"the commit must stop at the held batch: {observed}"
        assert max(observed) <= 20
        api.release.set()
        wait_until("the rest is committed", lambda: _all_committed(bootstrap, spec, 1), 60, bridge.check)
        bridge.stop()
    close(client)
    assert set(published.coordinates()) == {(topic, 0, offset) for offset in range(300)}


class RejectingPublisherApi:
    """The real Publish RPC, except that Pub/Sub refuses as invalid every request to the stream's topic carrying one
    chosen offset (as it refuses an attribute it will not take)."""

    def __init__(self, api: Any, topic: str, rejected_offset: int) -> None:
        self._api = api
        self._topic = topic
        self._rejected_offset = str(rejected_offset)

    def publish(self, request: Any, **options: Any) -> Any:
        """Publish, unless this request is the one to refuse."""
        if request.topic.endswith(f"/{self._topic}") and any(
            message.attributes["kafka_offset"] == self._rejected_offset for message in request.messages
        ):
            raise google_exceptions.InvalidArgument("an attribute Pub/Sub will not take")  # type: ignore[no-untyped-call]
        return self._api.publish(request=request, **options)


def test_a_batch_pubsub_refuses_becomes_dead_letters_and_is_committed_once_they_are_out(
    stream: tuple[StreamSpec, str],
) -> None:
    spec, dead_letter_subscription = stream
    bootstrap, project, topic = _one_partition_with(spec, 300)

    client = publisher_client()
    api = RejectingPublisherApi(PublishRpc(client), spec.pubsub_topic, rejected_offset=25)
    batches = BatchSettings(max_messages=10, max_latency_s=0.01)
    with (
        Collector(project, spec.subscription) as published,
        Collector(project, dead_letter_subscription) as dead,
        BridgeThread(spec, bootstrap, project, api=api, batch=batches) as bridge,
    ):
        wait_until("every offset is committed", lambda: _all_committed(bootstrap, spec, 1), 60, bridge.check)
        wait_until("both topics delivered", lambda: len(published.messages) >= 290 and len(dead.messages) >= 10, 60)
        report = bridge.stop()
    close(client)
    refused = set(range(20, 30))  # the request of ten that carried offset 25
    assert set(published.coordinates()) == {(topic, 0, offset) for offset in set(range(300)) - refused}
    letters = {int(m.attributes["kafka_offset"]): m.attributes["reason"] for m in dead.messages}
    assert letters == dict.fromkeys(refused, "rejected_by_pubsub")
    assert (report.published, report.dead_lettered) == (290, {"rejected_by_pubsub": 10})


def _gauge(metrics: bytes, name: str) -> dict[str, float]:
    """A per-partition gauge's values by partition, from a /metrics page."""
    return {
        line.split('partition="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.decode().splitlines()
        if line.startswith(f"{name}{{")
    }


def test_the_kafka_backlog_shows_what_waits_behind_a_stalled_bridge(stream: tuple[StreamSpec, str]) -> None:
    spec, _ = stream
    bootstrap, project, _ = _one_partition_with(spec, 5000)

    client = publisher_client()
    api = HoldingPublisherApi(PublishRpc(client), held_offset=0)
    batches = BatchSettings(max_messages=50, max_latency_s=0.01)
    with (
        BridgeThread(spec, bootstrap, project, api=api, batch=batches, max_in_flight_messages=100) as bridge,
        _serving(bridge) as base,
    ):
        backlog: dict[str, float] = {}

        def stalled_at_the_bound() -> bool:
            backlog.update(_gauge(_get(f"{base}/metrics")[1], BACKLOG))
            return backlog.get("0") == 4900

        # The first batch is held: the bridge pauses at 100 messages in flight; 4,900 wait in Kafka.
        wait_until("the backlog gauge shows the 4,900 waiting", stalled_at_the_bound, 60, bridge.check)
        assert json.loads(_get(f"{base}/healthz")[1])["kafka_backlog"] == 4900
        api.release.set()
        wait_until(
            "the backlog is drained",
            lambda: _gauge(_get(f"{base}/metrics")[1], BACKLOG) == {"0": 0.0},
            60,
            bridge.check,
        )
        assert bridge.stop().published == 5000


class PauseKeepingConsumer(Consumer):
    """A real consumer whose partitions stay paused while `keep` is set, whatever the bridge resumes: the state a
    partition was left in when librdkafka kept its pause across a rebalance."""

    def __init__(self, config: dict[str, Any], keep: threading.Event) -> None:
        super().__init__(config)
        self.keep = keep

    def resume(self, partitions: list[TopicPartition]) -> None:
        if not self.keep.is_set():
            super().resume(partitions)


def test_a_partition_left_unread_is_found_stalled_resumed_and_reported(stream: tuple[StreamSpec, str]) -> None:
    spec, _ = stream
    bootstrap, project, topic = _one_partition_with(spec, 5000)

    keep = threading.Event()
    keep.set()
    client = publisher_client()
    api = HoldingPublisherApi(PublishRpc(client), held_offset=0)
    with (
        BridgeThread(
            spec,
            bootstrap,
            project,
            api=api,
            batch=BatchSettings(max_messages=500, max_latency_s=0.01),
            max_in_flight_messages=1000,
            watermark_interval_s=0.5,
            partition_stall_s=3.0,
            consumer_factory=lambda config: PauseKeepingConsumer(config, keep),
        ) as bridge,
        _serving(bridge) as base,
    ):

        def health() -> tuple[int, dict[str, Any]]:
            status, body = _get(f"{base}/healthz")
            return status, json.loads(body)

        wait_until("the bridge pauses at its in-flight bound", lambda: health()[1]["paused"], 60, bridge.check)
        api.release.set()
        # The bridge resumes; its partition stays paused, so it reads nothing more and believes it runs.
        wait_until(
            "the bridge runs again with nothing in flight",
            lambda: not (answer := health()[1])["paused"] and answer["uncommitted"] == 0,
            60,
            bridge.check,
        )
        # Nothing new arrives: a backlog that stands still is not yet a stall.
        time.sleep(4)
        assert health()[0] == 200
        produce(bootstrap, topic, rfq_messages(1000, 1, first=5000))

        # librdkafka's watermark stopped at 5,000 with the fetching; the broker's is 6,000, 5,000 past the position.
        wait_until(
            "healthz fails, naming the stalled partition",
            lambda: (answer := health())[0] == 503 and answer[1]["stalled_partitions"] == [f"{topic}/0"],
            60,
            bridge.check,
        )
        assert health()[1]["kafka_backlog"] == 5000
        metrics = _get(f"{base}/metrics")[1]
        assert _gauge(metrics, BACKLOG) == {"0": 5000.0}
        assert f'mdp_bridge_stalled_partitions{{stream="{spec.name}"}} 1.0' in metrics.decode()

        # The pause lets go: the bridge's own resume of a stalled partition takes, and it reads on.
        keep.clear()
        wait_until(
            "every message is committed and healthz is green again",
            lambda: _all_committed(bootstrap, spec, 1) and health()[0] == 200,
            60,
            bridge.check,
        )
        assert health()[1]["stalled_partitions"] == []
        assert bridge.stop().published == 6000


BACKLOG = "mdp_bridge_kafka_backlog_messages"
