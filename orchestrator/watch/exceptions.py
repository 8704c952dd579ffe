"""Errors of event-driven pickup; only the CLI catches them (through `MdpError`)."""

from __future__ import annotations

from orchestrator.environments import ConfigurationError
from orchestrator.exceptions import MdpError, Transient


class WatchError(MdpError):
    """Base of every error event-driven pickup raises on purpose."""


class WatchSettingError(WatchError, ConfigurationError):
    """A watch setting is missing or wrong (no subscription, or it does not exist); the watcher does not start."""


class SubscriptionUnavailableError(WatchError, Transient):
    """Pub/Sub did not answer; messages stay unacknowledged and come back, and the hourly sweep covers the gap."""
