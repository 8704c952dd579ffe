"""`mdp stream-load`: acknowledges only what the warehouse holds, on DuckDB and on the BigQuery emulator."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
from google.pubsub_v1.types import PubsubMessage

from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from streaming.load import StreamLoader
from streaming.pubsub import close, publisher_client, subscriber_client
from streaming.spec import StreamSpec
from tests import services
from tests.streaming.support import (
    MDP,
    delete_topics_and_subscriptions,
    fresh_stream_spec,
    rfq_event,
    stream_specs_dir,
    unique,
    wait_until,
)

# Events that break the rfq spec, by number after the first: the payload fields that break it, the reason given.
BREAKING: dict[int, tuple[dict[str, Any], str]] = {
    7: ({"quantity": "1,000"}, 'payload field quantity: "1,000" is not a decimal number'),
    8: (
        {"side": "HOLD", "rfq_id": None},
        'payload field rfq_id is missing or null | payload field side: "HOLD" is not one of BUY, SELL',
    ),
    9: ({"event_at": "20/11/2026"}, 'payload field event_at: "20/11/2026" is not an ISO 8601 timestamp'),
}


def _publish(project: str, topic: str, count: int, first: int = 0) -> None:
    """`count` rfq events numbered from `first`, as the bridge publishes them."""
    publisher = publisher_client()
    try:
        path = publisher.topic_path(project, topic)
        for start in range(first, first + count, 500):
            messages = [
                PubsubMessage(
                    data=rfq_event(n, n, **BREAKING.get(n - first, ({}, ""))[0]),
                    # The attributes the bridge sets on every message.
                    attributes={
                        "source": "rfq",
                        "schema_version": "1",
                        "kafka_topic": "t",
                        "kafka_partition": "0",
                        "kafka_offset": str(n),
                        "kafka_timestamp": "1795000000000",
                    },
                )
                for n in range(start, min(start + 500, first + count))
            ]
            publisher.publish(topic=path, messages=messages)
    finally:
        close(publisher)


@contextlib.contextmanager
def _subscription(project: str) -> Iterator[tuple[str, str]]:
    topic, subscription = unique("rfq-events-"), unique("rfq-load-")
    publisher, subscriber = publisher_client(), subscriber_client()
    try:
        publisher.create_topic(name=publisher.topic_path(project, topic))
        subscriber.create_subscription(
            name=subscriber.subscription_path(project, subscription),
            topic=publisher.topic_path(project, topic),
            ack_deadline_seconds=60,
        )
    finally:
        close(publisher)
        close(subscriber)
    try:
        yield topic, subscription
    finally:
        delete_topics_and_subscriptions(project, [topic], [subscription])


def test_a_busy_warehouse_hands_batches_back_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    services.pubsub_emulator_host()
    project = services.pubsub_project()
    with _subscription(project) as (topic, subscription):
        _publish(project, topic, 3000)
        _load_through_a_busy_warehouse(project, subscription, tmp_path)


def _load_through_a_busy_warehouse(project: str, subscription: str, tmp_path: Path) -> None:
    warehouse_path = tmp_path / "warehouse.duckdb"
    subscriber = subscriber_client()
    loader = StreamLoader(
        "rfq",
        subscriber,
        subscriber.subscription_path(project, subscription),
        "rfq_stream",
        lambda: DuckDBWarehouse(warehouse_path),
        batch_messages=1000,
        batch_wait_s=0.2,
    )
    stop = threading.Event()
    # Another process holds the DuckDB file (dbt, say): every write fails until it lets go.
    hold = (
        f"import duckdb, time; c = duckdb.connect({str(warehouse_path)!r}); print('held', flush=True); time.sleep(60)"
    )
    with subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "held"
            runner = threading.Thread(target=loader.run, args=(stop,))
            runner.start()
            wait_until("a write has failed", lambda: loader.report.failures >= 2, 30)
            assert loader.report.loaded == 0
        finally:
            holder.kill()
    try:
        wait_until("every message is written", lambda: loader.report.loaded >= 3000, 60)
    finally:
        stop.set()
        runner.join(30)
        close(subscriber)
    with duckdb.connect(str(warehouse_path), read_only=True) as connection:
        rows = connection.execute(
            "select count(*), count(distinct message_id), "
            "count(distinct json_extract_string(attributes, '$.kafka_offset')) from raw.rfq_stream"
        ).fetchone()
    assert rows == (3000, 3000, 3000)


def test_stream_load_writes_to_the_bigquery_emulator(tmp_path: Path) -> None:
    project = services.pubsub_project()
    spec = fresh_stream_spec()
    specs_dir = stream_specs_dir(tmp_path, spec)
    # Its builds run many queries: in a spare project of its own they stay fast (see bigquery_spare_project).
    warehouse_project = services.bigquery_spare_project(3)
    environment = {
        **os.environ,
        "MDP_SPECS_DIR": str(specs_dir),
        "MDP_ENV": "emulator",
        "MDP_HOME": str(tmp_path / "home"),
        "MDP_BIGQUERY_PROJECT": warehouse_project,
    }
    try:
        _load_into_bigquery(spec, environment)
    finally:
        delete_topics_and_subscriptions(project, [spec.pubsub_topic], [spec.subscription])


def _mdp(environment: dict[str, str], *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `mdp` with the test's settings; fails the test unless it exits 0."""
    completed = subprocess.run(
        [MDP, *arguments], env=environment, capture_output=True, text=True, check=False, timeout=timeout
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return completed


def _load_into_bigquery(spec: StreamSpec, environment: dict[str, str]) -> None:
    project = services.pubsub_project()
    # --create-missing makes the topic and subscription; then the messages go in.
    _mdp(environment, "stream-load", "rfq", "--create-missing", "--idle-exit", "0.5", "--batch-wait", "0.2")
    # Event ids of their own: the emulator keeps the rejections of earlier runs. Under a million: the emulator
    # reads larger JSON numbers as floats ("7.5e+09").
    first = random.randrange(1, 400) * 2000
    _publish(project, spec.pubsub_topic, 1200, first)
    loaded = _mdp(environment, "stream-load", "rfq", "--idle-exit", "2", "--batch-wait", "0.3", "--json")
    assert json.loads(loaded.stdout)["loaded"] == 1200
    client = services.bigquery_client(environment["MDP_BIGQUERY_PROJECT"])
    try:
        rows = list(
            client.query(
                "select count(distinct message_id) as messages, "
                "countif(json_value(data, '$.event_id') is not null) as events from raw.rfq_stream "
                f"where subscription_name = '{spec.subscription}'"
            ).result()
        )
    finally:
        client.close()  # type: ignore[no-untyped-call]
    assert [(row["messages"], row["events"]) for row in rows] == [(1200, 1200)]
    _build_streaming_models_on_bigquery(environment, first)


def _build_streaming_models_on_bigquery(environment: dict[str, str], first: int) -> None:
    """`mdp stream build` runs the streaming dbt models, their unit and data tests, on BigQuery SQL; the second
    build takes the incremental merge path. `mdp stream check` runs the data tests over whole tables."""
    for rejected in (len(BREAKING), 0):
        built = _mdp(environment, "stream", "build", "--json", timeout=600)
        assert json.loads(built.stdout)["status"] == "success"
        assert json.loads(built.stdout)["rejected"] == rejected, "a rejection is recorded once"
        assert json.loads(built.stdout)["rejected_by_stream"] == ({"rfq": rejected} if rejected else {})
    listed = _mdp(environment, "stream", "rejects", "--source", "rfq", "--json")
    expected = {f"EV{first + number:09d}": reason for number, (_, reason) in BREAKING.items()}
    rejects = {row["event_id"]: row for row in json.loads(listed.stdout) if row["event_id"] in expected}
    assert {event_id: row["rejection_reason"] for event_id, row in rejects.items()} == expected
    held = rejects[f"EV{first + 8:09d}"]
    assert (json.loads(held["rejected_payload"])["side"], held["kafka_offset"]) == ("HOLD", first + 8)
    # The daily audit runs the same data tests over whole tables.
    _mdp(environment, "stream", "check", "--json", timeout=600)
    client = services.bigquery_client(environment["MDP_BIGQUERY_PROJECT"])
    try:
        raw = list(client.query("select count(distinct json_value(data, '$.event_id')) as n from raw.rfq_stream"))
        staged = list(
            client.query("select count(*) as n, count(distinct event_id) as ids from staging.stg_rfq__events")
        )
        curated = list(client.query("select count(*) as n from curation.rfq_events"))
        recorded = list(client.query("select count(*) as n from control.streaming_rejected_events"))
    finally:
        client.close()  # type: ignore[no-untyped-call]
    # Every distinct event in the raw stream is in staging exactly once.
    assert staged[0]["n"] == staged[0]["ids"] == raw[0]["n"] >= 1200
    assert curated[0]["n"] == raw[0]["n"] - recorded[0]["n"], "rejected events are not curated"
