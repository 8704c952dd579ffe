"""Pull mode for GKE: a streaming pull on the events subscription, acknowledging only recorded outcomes."""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent import futures

import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]

from regulatory_reporter.events import parse_event
from regulatory_reporter.exceptions import InvalidEventError, ReporterError
from regulatory_reporter.logs import event_log
from regulatory_reporter.runtime import open_reporter
from regulatory_reporter.service import Reporter
from regulatory_reporter.settings import ReporterSettings


def subscription_path(subscription: str, project: str) -> str:
    """A full subscription path from a bare id or a full path."""
    if subscription.startswith("projects/"):
        return subscription
    return f"projects/{project}/subscriptions/{subscription}"


def handle_message(reporter: Reporter, message: pubsub_v1.subscriber.message.Message) -> None:
    """Ack once the ledger holds the outcome; nack otherwise, so Pub/Sub delivers the message again."""
    try:
        event = parse_event(message.data, message.message_id)
    except InvalidEventError as error:
        # Redelivery cannot fix it; the subscription's dead-letter policy moves it aside after its max attempts.
        event_log(logging.ERROR, f"message refused: {error.reason}", message_id=message.message_id)
        message.nack()
        return
    try:
        outcome = reporter.handle(event, message.message_id)
    except ReporterError as error:
        event_log(logging.ERROR, f"event not handled: {error}", event_id=event.event_id)
        message.nack()
        return
    if outcome.acknowledge:
        message.ack()
    else:
        message.nack()


def run_worker(
    reporter: Reporter,
    subscription: str,
    max_in_flight: int,
    stop: threading.Event,
    subscriber: pubsub_v1.SubscriberClient,
) -> None:
    """Pull and handle messages until `stop` is set; in-flight messages finish before returning."""
    flow_control = pubsub_v1.types.FlowControl(max_messages=max_in_flight)
    scheduler = pubsub_v1.subscriber.scheduler.ThreadScheduler(
        futures.ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="reporter-worker")
    )
    pull = subscriber.subscribe(
        subscription,
        lambda message: handle_message(reporter, message),
        flow_control=flow_control,
        scheduler=scheduler,
        await_callbacks_on_shutdown=True,
    )
    event_log(logging.INFO, "pull worker started", subscription=subscription, instance=reporter.owner)
    try:
        while not stop.wait(0.5):
            if pull.done():
                pull.result()
                break
    finally:
        pull.cancel()
        with contextlib.suppress(futures.CancelledError, futures.TimeoutError):
            pull.result(timeout=60)


def pull_until_stopped(settings: ReporterSettings, subscription: str, stop: threading.Event) -> None:
    """Open the subscriber and the reporter, pull until `stop` is set, close both."""
    subscriber = pubsub_v1.SubscriberClient()
    try:
        with open_reporter(settings) as reporter:
            run_worker(
                reporter,
                subscription_path(subscription, settings.pubsub_project),
                settings.max_in_flight,
                stop,
                subscriber,
            )
    finally:
        subscriber.close()
