"""Where notifications come from: the `watch:` section of the environment's YAML, overridden by `MDP_WATCH_*`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from orchestrator.delivery.settings import config_dir, expand_variables
from orchestrator.settings import Settings
from orchestrator.watch.exceptions import WatchSettingError


@dataclass(frozen=True)
class SubscriptionSettings:
    """The Pub/Sub pull subscription that receives the landing bucket's object notifications."""

    project: str
    """Project of the subscription (MDP_WATCH_PROJECT, default the environment's project)."""
    subscription: str
    """Subscription id (MDP_WATCH_SUBSCRIPTION)."""
    retry_after_seconds: int = 30
    """A message whose file cannot be settled now (cycle running, backend down) comes back after this long, 0-600
    (MDP_WATCH_RETRY_SECONDS)."""

    @property
    def path(self) -> str:
        """`projects/<project>/subscriptions/<id>`."""
        return f"projects/{self.project}/subscriptions/{self.subscription}"


def load_subscription_settings(settings: Settings, subscription_id: str | None = None) -> SubscriptionSettings:
    """The subscription of a cloud environment; a missing one fails with one line naming the setting."""
    config = config_dir() / f"{settings.env}.yaml"
    raw: dict[str, Any] = {}
    if config.exists():
        raw = (yaml.safe_load(config.read_text()) or {}).get("watch") or {}
    subscription = (
        subscription_id or os.environ.get("MDP_WATCH_SUBSCRIPTION") or expand_variables(raw.get("subscription"))
    )
    if not subscription:
        raise WatchSettingError(
            f"setting 'watch.subscription' is missing for --env {settings.env}: set MDP_WATCH_SUBSCRIPTION "
            f"or watch.subscription in {config}"
        )
    project = os.environ.get("MDP_WATCH_PROJECT") or expand_variables(raw.get("project"))
    project = project or (settings.cloud.project if settings.cloud else None)
    if not project:
        raise WatchSettingError(
            f"setting 'watch.project' is missing for --env {settings.env}: set MDP_WATCH_PROJECT or watch.project "
            f"in {config}"
        )
    retry = os.environ.get("MDP_WATCH_RETRY_SECONDS") or expand_variables(raw.get("retry_after_seconds")) or "30"
    if not retry.isdigit() or int(retry) > 600:
        raise WatchSettingError(
            f"setting 'watch.retry_after_seconds' must be whole seconds from 0 to 600, got {retry!r} "
            f"(MDP_WATCH_RETRY_SECONDS or {config})"
        )
    return SubscriptionSettings(project=project, subscription=subscription, retry_after_seconds=int(retry))
