"""The vendor's SFTP server: the only module that calls paramiko."""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import paramiko

from orchestrator.delivery.exceptions import (
    DeliverySettingError,
    HostKeyMismatchError,
    TransferVerificationError,
    VendorRefusedError,
    VendorUnavailableError,
)
from orchestrator.delivery.settings import SftpSettings
from orchestrator.delivery.targets import LocalFile, TransferProgress

_READ_BLOCK_BYTES = 1 << 20
# Uploads in progress carry this suffix (and a leading dot), so a vendor job that polls the folder skips them.
PARTIAL_SUFFIX = ".partial"


def pinned_host_key(settings: SftpSettings) -> paramiko.PKey:
    """The configured host key as a key object; a malformed value is a setting error."""
    parts = settings.host_key.split()
    if len(parts) < 2:
        raise DeliverySettingError(
            "setting 'delivery.sftp.host_key' must be '<type> <base64>' as in known_hosts or the server's .pub file, "
            f"got {settings.host_key!r} (MDP_DELIVERY_SFTP_HOST_KEY)"
        )
    try:
        return paramiko.PKey.from_type_string(parts[0], base64.b64decode(parts[1], validate=True))
    except (binascii.Error, paramiko.SSHException, ValueError) as error:
        raise DeliverySettingError(
            f"setting 'delivery.sftp.host_key' is not a valid {parts[0]} public key ({error}) "
            "(MDP_DELIVERY_SFTP_HOST_KEY)"
        ) from error


def _client_key(settings: SftpSettings) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(settings.key_path)
    except FileNotFoundError as error:
        raise DeliverySettingError(
            f"setting 'delivery.sftp.key_path': no private key at {settings.key_path} (MDP_DELIVERY_SFTP_KEY_PATH)"
        ) from error
    except (paramiko.SSHException, ValueError, OSError) as error:
        raise DeliverySettingError(
            f"setting 'delivery.sftp.key_path': {settings.key_path} is not a usable private key without passphrase "
            f"({error}) (MDP_DELIVERY_SFTP_KEY_PATH)"
        ) from error


def _server(settings: SftpSettings) -> str:
    return f"host={settings.host}:{settings.port}"


@contextmanager
def _transfer_errors(settings: SftpSettings, name: str) -> Iterator[None]:
    """Translate what paramiko and the socket raise during a transfer into the package's errors."""
    where = f"{_server(settings)} file={name}"
    try:
        yield
    except PermissionError as error:
        raise VendorRefusedError(f"{where}: permission denied by the server ({error}); nothing was renamed") from error
    except FileNotFoundError as error:
        raise VendorRefusedError(
            f"{where}: no such file or folder on the server ({error}); check delivery.sftp.remote_dir"
        ) from error
    except (TimeoutError, paramiko.SSHException, EOFError, OSError) as error:
        raise VendorUnavailableError(
            f"{where}: connection lost or server error ({type(error).__name__}: {error}); nothing unverified got "
            "its final name"
        ) from error


class SftpTarget:
    """A folder on the vendor's SFTP server, reached with our key; the server must show the pinned host key."""

    def __init__(self, settings: SftpSettings, client: paramiko.SSHClient, sftp: paramiko.SFTPClient) -> None:
        self._settings = settings
        self._client = client
        self._sftp = sftp
        self._folder = settings.remote_dir

    @classmethod
    def connect(cls, settings: SftpSettings) -> SftpTarget:
        """Open an SFTP session; an unknown or different host key stops here, before any byte is sent."""
        pinned = pinned_host_key(settings)
        key = _client_key(settings)
        client = paramiko.SSHClient()
        known_as = settings.host if settings.port == 22 else f"[{settings.host}]:{settings.port}"
        client.get_host_keys().add(known_as, pinned.get_name(), pinned)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        timeout = settings.timeout_seconds
        try:
            client.connect(
                settings.host,
                settings.port,
                username=settings.user,
                pkey=key,
                allow_agent=False,
                look_for_keys=False,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                channel_timeout=timeout,
            )
            sftp = client.open_sftp()
            channel = sftp.get_channel()
            if channel is not None:
                channel.settimeout(timeout)
        except paramiko.BadHostKeyException as error:
            client.close()
            raise HostKeyMismatchError(
                f"{_server(settings)}: the server presented host key {error.key.get_name()} "
                f"{error.key.fingerprint}, not the pinned {pinned.get_name()} {pinned.fingerprint}; nothing was sent. "
                "If the vendor rotated its key, confirm the new one with them out of band and update "
                "delivery.sftp.host_key"
            ) from error
        except paramiko.AuthenticationException as error:
            client.close()
            raise VendorRefusedError(
                f"{_server(settings)} user={settings.user}: authentication with {settings.key_path} refused "
                f"({error}); nothing was sent. Check the key the vendor has on file"
            ) from error
        except paramiko.SSHException as error:
            client.close()
            if "not found in known_hosts" in str(error):
                raise HostKeyMismatchError(
                    f"{_server(settings)}: the server offers no {pinned.get_name()} host key, so the pinned key "
                    f"{pinned.fingerprint} cannot be checked; nothing was sent"
                ) from error
            raise VendorUnavailableError(
                f"{_server(settings)}: SSH session failed ({error}); nothing was sent, rerun later"
            ) from error
        except (TimeoutError, OSError, EOFError) as error:
            client.close()
            raise VendorUnavailableError(
                f"{_server(settings)}: cannot connect ({type(error).__name__}: {error}); nothing was sent, rerun later"
            ) from error
        return cls(settings, client, sftp)

    @property
    def address(self) -> str:
        """`sftp://user@host:port/folder`."""
        folder = self._folder if self._folder.startswith("/") else "/" + self._folder
        return f"sftp://{self._settings.user}@{self._settings.host}:{self._settings.port}{folder}"

    def _path(self, name: str) -> str:
        return posixpath.join(self._folder, name)

    def size_of(self, name: str) -> int | None:
        """The remote file's size, or None."""
        with _transfer_errors(self._settings, name):
            try:
                attributes = self._sftp.stat(self._path(name))
            except FileNotFoundError:
                return None
        if attributes.st_mode is not None and not stat.S_ISREG(attributes.st_mode):
            raise VendorRefusedError(
                f"{_server(self._settings)} file={name}: the name is taken by something that is not a file on the "
                "server; ask the vendor to clear it"
            )
        return attributes.st_size

    def _sha256(self, path: str, size: int) -> str:
        digest = hashlib.sha256()
        with self._sftp.open(path, "rb") as reader:
            reader.prefetch(size)
            for block in iter(lambda: reader.read(_READ_BLOCK_BYTES), b""):
                digest.update(block)
        return digest.hexdigest()

    def holds(self, local: LocalFile) -> bool:
        """Same size, and the SHA-256 of the remote bytes read back equals ours."""
        if self.size_of(local.name) != local.size:
            return False
        with _transfer_errors(self._settings, local.name):
            return self._sha256(self._path(local.name), local.size) == local.sha256

    def _remove_leftovers(self, name: str) -> None:
        """Partial uploads of this name left by attempts that lost their connection."""
        stem = f".{name}."
        for entry in self._sftp.listdir(self._folder):
            if entry.startswith(stem) and entry.endswith(PARTIAL_SUFFIX):
                self._sftp.remove(self._path(entry))

    def send(self, local: LocalFile, progress: TransferProgress | None = None) -> None:
        """Upload as `.<name>.<id>.partial`, check size and read-back SHA-256, rename over the final name."""
        temporary = self._path(f".{local.name}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}")
        final = self._path(local.name)
        with _transfer_errors(self._settings, local.name):
            self._remove_leftovers(local.name)
            try:
                with local.path.open("rb") as reader:
                    # confirm=True stats the remote file and fails unless its size is the size sent.
                    self._sftp.putfo(reader, temporary, file_size=local.size, callback=progress, confirm=True)
                remote_sha256 = self._sha256(temporary, local.size)
                if remote_sha256 != local.sha256:
                    raise TransferVerificationError(
                        f"{_server(self._settings)} file={local.name}: the server holds SHA-256 {remote_sha256} for "
                        f"the upload, not {local.sha256}; the copy was removed and the next run sends it again"
                    )
                self._rename(temporary, final)
            except BaseException:
                self._discard(temporary)
                raise

    def _rename(self, temporary: str, final: str) -> None:
        try:
            # OpenSSH's posix-rename replaces the target atomically; plain SFTP rename refuses an existing target.
            self._sftp.posix_rename(temporary, final)
        except OSError as error:
            if "unsupported" not in str(error).lower():
                raise
            if self.size_of(posixpath.basename(final)) is not None:
                self._sftp.remove(final)
            self._sftp.rename(temporary, final)

    def _discard(self, temporary: str) -> None:
        """Best effort: after a dropped connection this fails, and the next send removes the leftover."""
        try:
            self._sftp.remove(temporary)
        except (OSError, EOFError, paramiko.SSHException):
            return

    def remove(self, name: str) -> None:
        """Delete the remote file, if any."""
        with _transfer_errors(self._settings, name):
            try:
                self._sftp.remove(self._path(name))
            except FileNotFoundError:
                return

    def close(self) -> None:
        """Close the SFTP session and the SSH connection; a connection already lost closes quietly."""
        try:
            self._sftp.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            self._client.close()
