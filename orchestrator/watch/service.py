"""`mdp watch`: pick up landed files as they arrive, from Pub/Sub notifications or by polling the landing bucket."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends import open_buckets
from orchestrator.exceptions import Transient
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec
from orchestrator.watch.pickup import Pickup, PickupOutcome
from orchestrator.watch.settings import SubscriptionSettings

log = logging.getLogger("mdp.watch")

OnOutcome = Callable[[PickupOutcome], None]

# A pull waits at most this long for messages before the loop checks its bounds again.
_PULL_WAIT_SECONDS = 10.0
# Acknowledgement deadline while a batch is processed: Pub/Sub's maximum.
_PROCESSING_SECONDS = 600
# Pause after a backend did not answer, before trying again.
_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class WatchLimits:
    """When a watcher stops; by default never (a Deployment runs it)."""

    once: bool = False
    """One pull, or one look at the landing folder, then stop."""
    max_messages: int | None = None
    """Stop after this many notifications (or, polling, this many picked-up files)."""
    timeout_seconds: float | None = None
    """Stop after this many seconds in all."""


@dataclass
class WatchSummary:
    """What a bounded watcher did."""

    handled: int = 0
    by_status: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: PickupOutcome) -> None:
        """Count one outcome."""
        self.handled += 1
        self.by_status[outcome.status] = self.by_status.get(outcome.status, 0) + 1

    @property
    def exit_code(self) -> int:
        """0 all well, 1 some files failed or could not be settled (as `mdp run`)."""
        problems = ("failed", "unmatched", "error")
        return 1 if any(self.by_status.get(status) for status in problems) else 0


class _Bounds:
    def __init__(self, limits: WatchLimits) -> None:
        self._limits = limits
        self._deadline = None if limits.timeout_seconds is None else time.monotonic() + limits.timeout_seconds

    def remaining_seconds(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def room(self, handled: int, batch: int) -> int:
        """How many more messages or files this watcher may take."""
        if self._limits.max_messages is None:
            return batch
        return max(0, min(batch, self._limits.max_messages - handled))

    def reached(self, handled: int) -> bool:
        if self._limits.once:
            return True
        if self._limits.max_messages is not None and handled >= self._limits.max_messages:
            return True
        remaining = self.remaining_seconds()
        return remaining is not None and remaining <= 0


def _pause(bounds: _Bounds, seconds: float) -> None:
    remaining = bounds.remaining_seconds()
    time.sleep(seconds if remaining is None else min(seconds, remaining))


def _survive(error: Transient, limits: WatchLimits, bounds: _Bounds) -> None:
    """A long-running watcher rides out a backend outage (the sweep covers the gap); a bounded one reports it."""
    if limits.once:
        raise error
    log.warning("watch: %s; trying again in %ss", error, _BACKOFF_SECONDS)
    _pause(bounds, _BACKOFF_SECONDS)


def watch_landing(
    settings: Settings,
    specs: Sequence[SourceSpec],
    limits: WatchLimits,
    on_outcome: OnOutcome,
    *,
    interval_seconds: float = 2.0,
    settle_seconds: float = 1.0,
    batch_size: int = 50,
) -> WatchSummary:
    """Poll the landing bucket; a file is picked up once it is `settle_seconds` old and new since the last look."""
    buckets = open_buckets(settings)
    pick_up = Pickup(settings, specs, buckets)
    bounds = _Bounds(limits)
    summary = WatchSummary()
    handled: dict[str, int] = {}  # key → generation already taken to an outcome
    while True:
        try:
            present = {
                info.key: info for info in buckets.landing.list() if not info.key.rsplit("/", 1)[-1].startswith(".")
            }
        except Transient as error:
            _survive(error, limits, bounds)
            if bounds.reached(summary.handled):
                return summary
            continue
        now = time.time()
        for key in set(handled) - set(present):
            del handled[key]
        ready = [
            info
            for key, info in present.items()
            if handled.get(key) != info.generation and now - info.updated_at_epoch >= settle_seconds
        ][: bounds.room(summary.handled, batch_size)]
        for info, outcome in zip(ready, pick_up([i.key for i in ready]), strict=True):
            if outcome.status != "busy":
                handled[info.key] = info.generation  # changed content gets a new generation and a new look
            if outcome.status == "gone":
                continue  # a control file that went with its data file, picked up a moment ago
            summary.add(outcome)
            on_outcome(outcome)
        if bounds.reached(summary.handled):
            return summary
        _pause(bounds, interval_seconds)


def _pull_once(
    subscriber: Any,
    subscription: SubscriptionSettings,
    landing_bucket: str,
    pick_up: Pickup,
    bounds: _Bounds,
    summary: WatchSummary,
    on_outcome: OnOutcome,
    batch_size: int,
) -> None:
    from orchestrator.watch import pubsub

    remaining = bounds.remaining_seconds()
    wait = _PULL_WAIT_SECONDS if remaining is None else max(0.1, min(_PULL_WAIT_SECONDS, remaining))
    room = bounds.room(summary.handled, batch_size)
    notifications = pubsub.pull(subscriber, subscription.path, room, wait) if room else []
    landed = [n for n in notifications if n.bucket == landing_bucket and n.event_type == pubsub.OBJECT_FINALIZE]
    # Hold the messages while their files are processed (a large file takes minutes), so none is redelivered.
    pubsub.set_ack_deadline(subscriber, subscription.path, [n.ack_id for n in landed], _PROCESSING_SECONDS)
    outcomes = dict(zip((n.ack_id for n in landed), pick_up([n.key for n in landed]), strict=True))
    settled: list[str] = []
    unsettled: list[str] = []
    for notification in notifications:
        outcome = outcomes.get(notification.ack_id) or PickupOutcome(
            notification.key,
            "skipped",
            reasons=[f"event {notification.event_type} on bucket {notification.bucket}: not a landed file"],
        )
        (settled if outcome.settled else unsettled).append(notification.ack_id)
        summary.add(outcome)
        on_outcome(outcome)
    pubsub.acknowledge(subscriber, subscription.path, settled)
    pubsub.set_ack_deadline(subscriber, subscription.path, unsettled, subscription.retry_after_seconds)


def watch_subscription(
    settings: Settings,
    specs: Sequence[SourceSpec],
    subscription: SubscriptionSettings,
    limits: WatchLimits,
    on_outcome: OnOutcome,
    *,
    batch_size: int = 10,
) -> WatchSummary:
    """Pull GCS notifications of the landing bucket; acknowledge each only once its file reached an outcome."""
    from orchestrator.watch import pubsub

    assert settings.cloud is not None, "notifications come from GCS: a cloud environment"
    landing_bucket = settings.cloud.buckets["landing"]
    pick_up = Pickup(settings, specs, open_buckets(settings))
    bounds = _Bounds(limits)
    summary = WatchSummary()
    subscriber = pubsub.subscriber_client()
    try:
        while True:
            try:
                _pull_once(subscriber, subscription, landing_bucket, pick_up, bounds, summary, on_outcome, batch_size)
            except Transient as error:
                # Unacknowledged messages come back by themselves once Pub/Sub answers again.
                _survive(error, limits, bounds)
            if bounds.reached(summary.handled):
                return summary
    finally:
        subscriber.close()
