"""Errors of vendor delivery; only the CLI catches them (through `MdpError`)."""

from __future__ import annotations

from orchestrator.environments import ConfigurationError
from orchestrator.exceptions import MdpError, Terminal, Transient


class DeliveryError(MdpError):
    """Base of every error vendor delivery raises on purpose."""


# --- configuration and input: fix something, then rerun -------------------------------------------------------


class DeliverySettingError(DeliveryError, ConfigurationError):
    """A delivery setting is missing or wrong; nothing was sent."""


class ExtractNotFoundError(DeliveryError, Terminal):
    """No extract (data file with its manifest) exists for the date."""


class ExtractInconsistentError(DeliveryError, Terminal):
    """An extract file does not match its manifest (rewritten while delivering, or damaged)."""


# --- the vendor's side -------------------------------------------------------------------------------------------


class HostKeyMismatchError(DeliveryError, Terminal):
    """The SFTP server's host key is not the pinned one; nothing was sent."""


class VendorRefusedError(DeliveryError, Terminal):
    """The vendor refused us (authentication, permission, missing folder); retrying unchanged fails the same way."""


class VendorUnavailableError(DeliveryError, Transient):
    """The vendor did not answer or the connection dropped; nothing half-sent is visible under the final name."""


class TransferVerificationError(DeliveryError, Transient):
    """The bytes the vendor holds differ from the bytes sent; the copy was removed before it got its final name."""


class DeliveryFailedError(DeliveryError):
    """A delivery attempt stopped at one file; what was sent before it stays, the manifest was not sent."""

    def __init__(self, date: str, file: str, cause: MdpError) -> None:
        self.date = date
        self.file = file
        self.cause = cause
        self.transient = isinstance(cause, Transient)
        next_step = (
            f"rerun 'mdp deliver --date {date}' (files the vendor already has are not sent again)"
            if self.transient
            else f"fix the cause, then rerun 'mdp deliver --date {date}'"
        )
        super().__init__(
            f"date={date} file={file}: {type(cause).__name__}: {cause}; the manifest was not sent; {next_step}"
        )
