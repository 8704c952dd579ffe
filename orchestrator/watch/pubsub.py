"""Pub/Sub for the watcher: the only module of this package that calls google-cloud-pubsub.

The client honours PUBSUB_EMULATOR_HOST, so the same code reads from the emulator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]
from google.api_core import exceptions as google_exceptions

from orchestrator.watch.exceptions import SubscriptionUnavailableError, WatchSettingError

# The event a GCS notification carries when an object was written; the only one that means "a file landed".
# https://cloud.google.com/storage/docs/pubsub-notifications#events
OBJECT_FINALIZE = "OBJECT_FINALIZE"


@dataclass(frozen=True)
class Notification:
    """One GCS object notification, from its message attributes."""

    ack_id: str
    message_id: str
    bucket: str
    key: str
    event_type: str
    delivery_attempt: int


def subscriber_client() -> pubsub_v1.SubscriberClient:
    """A subscriber client, made when the watcher starts (Pub/Sub, or the emulator at PUBSUB_EMULATOR_HOST)."""
    return pubsub_v1.SubscriberClient()


@contextmanager
def _rpc_errors(subscription: str) -> Iterator[None]:
    try:
        yield
    except google_exceptions.NotFound as error:
        raise WatchSettingError(
            f"subscription={subscription}: does not exist ({error.message}); create it (terraform, or "
            "'gcloud pubsub subscriptions create') or fix watch.subscription"
        ) from error
    except google_exceptions.PermissionDenied as error:
        raise WatchSettingError(
            f"subscription={subscription}: permission denied ({error.message}); the watcher's service account needs "
            "roles/pubsub.subscriber on it"
        ) from error
    except google_exceptions.GoogleAPICallError as error:
        raise SubscriptionUnavailableError(
            f"subscription={subscription}: Pub/Sub call failed ({error.code} {error.message}); unacknowledged "
            "messages come back, the hourly sweep covers the gap"
        ) from error


def pull(
    subscriber: pubsub_v1.SubscriberClient, subscription: str, max_messages: int, timeout_seconds: float
) -> list[Notification]:
    """Up to max_messages notifications; an empty list when none arrive within the timeout."""
    with _rpc_errors(subscription):
        try:
            response = subscriber.pull(
                subscription=subscription, max_messages=max_messages, timeout=timeout_seconds, retry=None
            )
        except google_exceptions.DeadlineExceeded:
            return []
    notifications = []
    for received in response.received_messages:
        attributes = received.message.attributes
        notifications.append(
            Notification(
                ack_id=received.ack_id,
                message_id=received.message.message_id,
                bucket=attributes.get("bucketId", ""),
                key=attributes.get("objectId", ""),
                event_type=attributes.get("eventType", ""),
                delivery_attempt=received.delivery_attempt,
            )
        )
    return notifications


def acknowledge(subscriber: pubsub_v1.SubscriberClient, subscription: str, ack_ids: Sequence[str]) -> None:
    """Acknowledge settled messages: Pub/Sub does not send them again."""
    if ack_ids:
        with _rpc_errors(subscription):
            subscriber.acknowledge(subscription=subscription, ack_ids=list(ack_ids))


def set_ack_deadline(
    subscriber: pubsub_v1.SubscriberClient, subscription: str, ack_ids: Sequence[str], seconds: int
) -> None:
    """Hold messages for `seconds` more; unacknowledged by then, they come back (dead-lettering bounds attempts)."""
    if ack_ids:
        with _rpc_errors(subscription):
            subscriber.modify_ack_deadline(
                subscription=subscription, ack_ids=list(ack_ids), ack_deadline_seconds=seconds
            )
