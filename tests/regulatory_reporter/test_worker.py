"""Pull mode through the Pub/Sub emulator: every event submitted once, duplicates acknowledged, bad data not."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable

import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]

from regulatory_reporter.events import parse_event
from regulatory_reporter.ledger import DEAD_LETTERED, RECEIVED, SUBMITTED
from regulatory_reporter.runtime import open_reporter
from regulatory_reporter.settings import ReporterSettings
from regulatory_reporter.worker import run_worker
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.regulatory_reporter.support import make_event, wait_until
from tests.services import pubsub_emulator_host, pubsub_project


def test_pull_worker_submits_each_event_once(
    sandbox: RegulatorSandbox, make_settings: Callable[..., ReporterSettings]
) -> None:
    pubsub_emulator_host()
    suffix = uuid.uuid4().hex[:10]
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(pubsub_project(), f"reportable-events-{suffix}")
    subscription = subscriber.subscription_path(pubsub_project(), f"reporter-pull-{suffix}")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(request={"name": subscription, "topic": topic, "ack_deadline_seconds": 30})
    events = [make_event(n) for n in range(300, 308)]
    # The same event published twice (an upstream retry) and a fault burst at the regulator.
    payloads = [json.dumps(e).encode() for e in [*events, events[0]]]
    sandbox.fail_next(3, 500)
    stop = threading.Event()
    try:
        with open_reporter(make_settings(sandbox.url), refresh_in_background=False) as reporter:
            worker = threading.Thread(target=run_worker, args=(reporter, subscription, 8, stop, subscriber))
            worker.start()
            for future in [publisher.publish(topic, payload) for payload in payloads]:
                future.result(timeout=30)
            wait_until(
                lambda: reporter.ledger.counts() == {RECEIVED: 0, SUBMITTED: len(events), DEAD_LETTERED: 0},
                60,
                "every pulled event SUBMITTED",
            )
            # The duplicate copy is acknowledged as DUPLICATE once its twin's outcome is recorded.
            wait_until(
                lambda: reporter.metrics.events.labels("DUPLICATE")._value.get() >= 1,
                60,
                "the duplicate copy to be handled",
            )
            stop.set()
            worker.join(timeout=60)
    finally:
        stop.set()
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic)
        subscriber.close()
        publisher.transport.close()
    assert sandbox.first_accepts() == len(events)
    assert sorted(sandbox.accepted) == sorted(parse_event(p).event_id for p in payloads[:-1])
