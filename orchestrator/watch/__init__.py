"""Event-driven pickup of landed files: GCS notifications through Pub/Sub, or polling the landing folder."""

from orchestrator.watch.exceptions import SubscriptionUnavailableError, WatchError, WatchSettingError
from orchestrator.watch.pickup import Pickup, PickupOutcome
from orchestrator.watch.service import WatchLimits, WatchSummary, watch_landing, watch_subscription
from orchestrator.watch.settings import SubscriptionSettings, load_subscription_settings

__all__ = [
    "Pickup",
    "PickupOutcome",
    "SubscriptionSettings",
    "SubscriptionUnavailableError",
    "WatchError",
    "WatchLimits",
    "WatchSettingError",
    "WatchSummary",
    "load_subscription_settings",
    "watch_landing",
    "watch_subscription",
]
