"""End to end: Pub/Sub emulator push subscription → token relay → `mdp reporter serve` → regulator sandbox.

The ledger is the Firestore emulator (a collection per test). The emulator attaches no OIDC token, so a relay
playing Google's push delivery signs one with the test key (see TokenRelay); the service verifies it like any other.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]
import httpx
import psutil
import pytest

from regulatory_reporter.app import create_app
from regulatory_reporter.events import parse_event
from regulatory_reporter.firestore_ledger import FirestoreLedger, firestore_client
from regulatory_reporter.ledger import DEAD_LETTERED, RECEIVED, SUBMITTED
from regulatory_reporter.settings import ReporterSettings
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.regulatory_reporter.support import (
    ADMIN_ACCOUNT,
    AUDIENCE,
    PUSH_ACCOUNT,
    ReporterProcess,
    SigningKey,
    TokenRelay,
    make_event,
    push_body,
    serve_in_thread,
    wait_until,
)
from tests.services import firestore_emulator_host, pubsub_emulator_host, pubsub_project

FIRESTORE_PROJECT = "mdp-test-reporter"


@pytest.fixture
def ledger(firestore_collection: str) -> Iterator[FirestoreLedger]:
    """The test's view of the Firestore ledger the services write."""
    opened = FirestoreLedger(firestore_client(FIRESTORE_PROJECT), firestore_collection)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def push_topic() -> Iterator[Callable[[str], str]]:
    """Creates a topic with a push subscription to an endpoint; yields a publish-ready topic path factory."""
    pubsub_emulator_host()
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    created: list[tuple[str, str]] = []

    def create(endpoint: str) -> str:
        suffix = uuid.uuid4().hex[:10]
        topic: str = publisher.topic_path(pubsub_project(), f"reportable-events-{suffix}")
        subscription = subscriber.subscription_path(pubsub_project(), f"reporter-push-{suffix}")
        publisher.create_topic(name=topic)
        subscriber.create_subscription(
            request={
                "name": subscription,
                "topic": topic,
                "push_config": {"push_endpoint": endpoint},
                "ack_deadline_seconds": 60,
            }
        )
        created.append((topic, subscription))
        return topic

    try:
        yield create
    finally:
        for topic, subscription in created:
            subscriber.delete_subscription(subscription=subscription)
            publisher.delete_topic(topic=topic)
        subscriber.close()
        publisher.transport.close()


def _publish(topic: str, events: list[dict[str, object]]) -> None:
    publisher = pubsub_v1.PublisherClient()
    try:
        futures = [publisher.publish(topic, json.dumps(event).encode()) for event in events]
        for future in futures:
            future.result(timeout=30)
    finally:
        publisher.transport.close()


def _environment(
    reference_home: Path, signer: SigningKey, collection: str, regulator_url: str, **extra: str
) -> dict[str, str]:
    return {
        "MDP_HOME": str(reference_home),
        "MDP_ENV": "local",
        "MDP_REPORTER_LEDGER": "firestore",
        "MDP_REPORTER_FIRESTORE_PROJECT": FIRESTORE_PROJECT,
        "MDP_REPORTER_LEDGER_COLLECTION": collection,
        "FIRESTORE_EMULATOR_HOST": firestore_emulator_host(),
        "MDP_REGULATOR_URL": regulator_url,
        "MDP_REGULATOR_TIMEOUT_S": "1",
        "MDP_REPORTER_RETRY_BASE_S": "0.02",
        "MDP_REPORTER_LEASE_S": "10",
        "MDP_REPORTER_AUDIENCE": AUDIENCE,
        "MDP_REPORTER_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
        "MDP_REPORTER_ADMIN_EMAILS": ADMIN_ACCOUNT,
        "MDP_REPORTER_OIDC_PUBLIC_KEY_FILE": str(signer.public_pem),
        **extra,
    }


def _event_ids(events: list[dict[str, object]]) -> list[str]:
    return [parse_event(json.dumps(event).encode()).event_id for event in events]


def test_every_pushed_event_is_submitted_once_or_dead_lettered_under_faults(
    tmp_path: Path,
    reference_home: Path,
    signer: SigningKey,
    sandbox: RegulatorSandbox,
    ledger: FirestoreLedger,
    push_topic: Callable[[str], str],
) -> None:
    service = ReporterProcess(
        _environment(reference_home, signer, ledger.collection, sandbox.url), tmp_path / "reporter.log"
    ).wait_ready()
    relay = TokenRelay(signer, service.url)
    try:
        events = [make_event(n) for n in range(1, 21)]
        events.append(make_event(21, trader_id="T999"))
        rejected = make_event(22)
        events.append(rejected)
        [rejected_id] = _event_ids([rejected])
        sandbox.reject(rejected_id, 422, "field trade.venue_mic: unknown MIC")
        sandbox.fail_next(4, 503)
        sandbox.hang_next(1, 1.5)
        _publish(push_topic(relay.url), events)
        wait_until(
            lambda: ledger.counts() == {RECEIVED: 0, SUBMITTED: 20, DEAD_LETTERED: 2},
            90,
            "20 events SUBMITTED and 2 DEAD_LETTERED in the ledger",
            poll_s=0.5,
        )
    finally:
        relay.stop()
        service.stop()
    assert sandbox.first_accepts() == 20
    assert sandbox.accepted_count() == 20
    for event_id in _event_ids(events[:20]):
        assert ledger.get(event_id).regulator_reference == sandbox.accepted[event_id]  # type: ignore[union-attr]
    reasons = {e.reason for e in ledger.entries(DEAD_LETTERED)}
    assert reasons == {
        "reference data missing: dim_trader.trader_id=T999",
        "regulator rejected the submission (HTTP 422): field trade.venue_mic: unknown MIC",
    }


def test_restart_in_the_middle_loses_nothing_and_submits_nothing_twice(
    tmp_path: Path,
    reference_home: Path,
    signer: SigningKey,
    sandbox: RegulatorSandbox,
    ledger: FirestoreLedger,
    push_topic: Callable[[str], str],
) -> None:
    # A slow regulator keeps events in flight when the first instance dies; a 3 s lease lets the second resume them.
    sandbox.slow(0.4)
    environment = _environment(
        reference_home, signer, ledger.collection, sandbox.url, MDP_REPORTER_LEASE_S="3", MDP_REPORTER_RETRIES="1"
    )
    first = ReporterProcess(environment, tmp_path / "first.log").wait_ready()
    relay = TokenRelay(signer, first.url)
    second: ReporterProcess | None = None
    events = [make_event(n) for n in range(100, 112)]
    try:
        _publish(push_topic(relay.url), events)
        wait_until(lambda: len(sandbox.requests) >= 3, 60, "the regulator to receive the first submissions")
        first.kill()
        second = ReporterProcess(environment, tmp_path / "second.log").wait_ready()
        relay.target = second.url
        wait_until(
            lambda: ledger.counts()[SUBMITTED] == len(events), 90, "every event SUBMITTED after the restart", 0.5
        )
    finally:
        relay.stop()
        first.stop()
        if second is not None:
            second.stop()
    assert sandbox.first_accepts() == len(events)
    assert sorted(sandbox.accepted) == sorted(_event_ids(events))
    assert ledger.counts() == {RECEIVED: 0, SUBMITTED: len(events), DEAD_LETTERED: 0}
    # The kill left claims behind (the regulator was answering slowly): the second instance resumed them.
    assert '"message": "resuming an event whose claim expired' in (tmp_path / "second.log").read_text()


def test_concurrent_duplicate_deliveries_to_two_instances_submit_once(
    sandbox: RegulatorSandbox,
    make_settings: Callable[..., ReporterSettings],
    ledger: FirestoreLedger,
    signer: SigningKey,
) -> None:
    sandbox.slow(0.2)
    common = {
        "ledger_backend": "firestore",
        "firestore_project": FIRESTORE_PROJECT,
        "ledger_collection": ledger.collection,
    }
    events = [make_event(n) for n in range(200, 210)]
    statuses: dict[str, list[tuple[int, str]]] = {event_id: [] for event_id in _event_ids(events)}
    with (
        serve_in_thread(create_app(make_settings(sandbox.url, **common))) as first,
        serve_in_thread(create_app(make_settings(sandbox.url, **common))) as second,
        httpx.Client(timeout=30) as http,
    ):

        def deliver(url: str, event: dict[str, object], barrier: threading.Barrier) -> None:
            body = push_body(event, message_id=str(event["source_event_id"]))
            barrier.wait()
            answer = http.post(url + "/push", content=body, headers=signer.header())
            event_id = answer.json()["event_id"]
            statuses[event_id].append((answer.status_code, answer.json()["outcome"]))

        threads = []
        for event in events:
            barrier = threading.Barrier(2)
            threads += [threading.Thread(target=deliver, args=(url, event, barrier)) for url in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Pub/Sub redelivers what was not acknowledged (409): by then the outcome is recorded.
        for event in events:
            answer = http.post(first + "/push", content=push_body(event), headers=signer.header())
            assert (answer.status_code, answer.json()["outcome"]) == (200, "DUPLICATE")
    assert len(sandbox.requests) == len(events)
    assert sandbox.first_accepts() == len(events)
    # Per event: one delivery submitted; the other found it done (DUPLICATE) or still running (409, redelivered).
    for pair in statuses.values():
        assert sorted(pair) in ([(200, "DUPLICATE"), (200, "SUBMITTED")], [(200, "SUBMITTED"), (409, "IN_PROGRESS")])


def test_worker_processes_serve_one_port_submit_once_and_stop_together(
    tmp_path: Path, reference_home: Path, signer: SigningKey, sandbox: RegulatorSandbox, ledger: FirestoreLedger
) -> None:
    environment = _environment(
        reference_home,
        signer,
        ledger.collection,
        sandbox.url,
        MDP_REPORTER_WORKERS="2",
        MDP_REPORTER_INSTANCE_ID="reporter-a",
    )
    service = ReporterProcess(environment, tmp_path / "workers.log").wait_ready()
    events = [make_event(n) for n in range(300, 340)]
    try:
        children = psutil.Process(service.process.pid).children()
        workers = [child for child in children if "spawn_main" in " ".join(child.cmdline())]
        assert len(workers) == 2
        with httpx.Client(timeout=30) as http, ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda event: http.post(service.url + "/push", content=push_body(event), headers=signer.header()),
                    events,
                )
            )
    finally:
        service.stop()
    assert [answer.status_code for answer in answers] == [200] * len(events)
    assert sandbox.first_accepts() == len(events) == len(sandbox.requests)
    entries = [ledger.get(event_id) for event_id in _event_ids(events)]
    assert all(entry is not None and entry.state == SUBMITTED for entry in entries)
    # Each process claims under its own name, so a fixed instance id never makes two processes one claimant.
    owners = {entry.owner for entry in entries if entry is not None}
    assert owners <= {f"reporter-a-{worker.pid}" for worker in workers}
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
