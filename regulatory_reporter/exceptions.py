"""Errors of the regulatory lane; only the CLI catches them (as `MdpError`)."""

from __future__ import annotations

from orchestrator.exceptions import MdpError, Terminal, Transient


class ReporterError(MdpError):
    """Base of every error the regulatory lane raises on purpose."""


class ReporterTerminalError(ReporterError, Terminal):
    """Retrying will not help: the event, the reference data or the configuration must change."""


class ReporterTransientError(ReporterError, Transient):
    """A retry may succeed: the regulator or a backend was briefly unavailable."""


# Configuration and input


class ReporterConfigurationError(ReporterTerminalError):
    """A reporter setting is missing or wrong; the command stops before touching anything."""


class InvalidEventError(ReporterTerminalError):
    """A pushed or pulled message is not a reportable event; nothing is recorded or submitted."""

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        self.reason = reason
        self.message_id = message_id
        super().__init__(f"message_id={message_id or '-'}: {reason}; the message is refused and nothing is submitted")


class ReferenceDataMissingError(ReporterTerminalError):
    """The event names a trader, instrument or counterparty the reference cache does not know."""

    def __init__(self, event_id: str, missing: list[str]) -> None:
        self.event_id = event_id
        self.missing = missing
        super().__init__(f"event_id={event_id}: reference data missing: {', '.join(missing)}")


class SubmissionInvalidError(ReporterTerminalError):
    """The submission built from an event breaks the regulator's JSON Schema; it is not sent."""

    def __init__(self, event_id: str, problems: list[str]) -> None:
        self.event_id = event_id
        self.problems = problems
        super().__init__(f"event_id={event_id}: submission breaks the schema: {'; '.join(problems)}")


# The regulator


class RegulatorRejectedError(ReporterTerminalError):
    """The regulator refused the submission (4xx); resending it unchanged fails the same way."""

    def __init__(self, event_id: str, status: int, message: str) -> None:
        self.event_id = event_id
        self.status = status
        self.message = message
        super().__init__(f"event_id={event_id}: regulator rejected the submission (HTTP {status}): {message}")


class RegulatorUnavailableError(ReporterTransientError):
    """The regulator timed out, refused the connection or answered 5xx."""

    def __init__(self, event_id: str, detail: str) -> None:
        self.event_id = event_id
        self.detail = detail
        super().__init__(f"event_id={event_id}: regulator unavailable ({detail}); retrying with backoff")


# The ledger


class LedgerUnavailableError(ReporterTransientError):
    """The ledger did not answer; the message is not acknowledged, so it is delivered again."""


class ReferenceUnavailableError(ReporterTransientError):
    """The reference cache has never loaded; events wait (not acknowledged) instead of dead-lettering."""

    def __init__(self, event_id: str, last_error: str | None) -> None:
        self.event_id = event_id
        super().__init__(
            f"event_id={event_id}: reference data not loaded yet ({last_error or 'no load attempted'}); "
            "the message will be delivered again"
        )


class LeaseLostError(ReporterTransientError):
    """Another instance took over this event's claim after our lease expired; it finishes the event."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event_id={event_id}: claim taken over by another instance; it records the outcome")


class EventNotFoundError(ReporterTerminalError):
    """The ledger has no entry with this event id."""

    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(f"event_id={event_id}: not in the ledger; run 'mdp dlq list' to see dead-lettered events")


class NotReplayableError(ReporterTerminalError):
    """Only dead-lettered events, or received ones whose claim expired, can be replayed."""

    def __init__(self, event_id: str, state: str) -> None:
        self.event_id = event_id
        self.state = state
        super().__init__(
            f"event_id={event_id}: state is {state}; only DEAD_LETTERED events, or RECEIVED ones whose claim "
            "expired (a crashed instance), can be replayed"
        )
