"""Where the extract goes: the `delivery:` section of the environment's YAML, overridden by `MDP_DELIVERY_*`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from orchestrator.delivery.exceptions import DeliverySettingError

TargetKind = Literal["sftp", "gcs", "folder"]
TARGET_KINDS: tuple[TargetKind, ...] = ("sftp", "gcs", "folder")

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class SftpSettings:
    """The vendor's SFTP server."""

    host: str
    """Server name or address (MDP_DELIVERY_SFTP_HOST)."""
    port: int
    """TCP port, 22 unless the vendor says otherwise (MDP_DELIVERY_SFTP_PORT)."""
    user: str
    """Account the vendor gave us (MDP_DELIVERY_SFTP_USER)."""
    key_path: Path
    """Our private key, OpenSSH format; on GKE a mounted Secret Manager secret (MDP_DELIVERY_SFTP_KEY_PATH)."""
    host_key: str
    """The server's public host key `<type> <base64>`, pinned: any other key is refused (MDP_DELIVERY_SFTP_HOST_KEY)."""
    remote_dir: str
    """Folder on the server the vendor reads from (MDP_DELIVERY_SFTP_REMOTE_DIR)."""
    timeout_seconds: float = 30.0
    """Connect, authentication and per-request timeout (MDP_DELIVERY_SFTP_TIMEOUT)."""


@dataclass(frozen=True)
class DeliverySettings:
    """One vendor target: an SFTP server, a vendor GCS bucket, or a local folder (demos and tests)."""

    target: TargetKind
    """sftp, gcs or folder (MDP_DELIVERY_TARGET)."""
    sftp: SftpSettings | None = None
    """Set when target is sftp."""
    bucket: str | None = None
    """The vendor's GCS bucket, when target is gcs (MDP_DELIVERY_BUCKET)."""
    folder: Path | None = None
    """The folder standing in for the vendor, when target is folder; relative to the home (MDP_DELIVERY_FOLDER)."""
    prefix: str = ""
    """Key prefix inside the bucket or folder, e.g. `inbound/` (MDP_DELIVERY_PREFIX)."""

    @property
    def address(self) -> str:
        """Where files go, as recorded in `control.extract_deliveries`."""
        if self.sftp is not None:
            return f"sftp://{self.sftp.user}@{self.sftp.host}:{self.sftp.port}{_absolute(self.sftp.remote_dir)}"
        if self.bucket is not None:
            return f"gs://{self.bucket}/{self.prefix}"
        return f"file://{self.folder}/{self.prefix}"


def _absolute(remote_dir: str) -> str:
    return remote_dir if remote_dir.startswith("/") else "/" + remote_dir


def config_dir() -> Path:
    """The environments folder, found the way `Settings` finds it (MDP_CONFIG_DIR, ./config, shipped)."""
    if value := os.environ.get("MDP_CONFIG_DIR"):
        return Path(value) / "environments"
    local = Path.cwd() / "config"
    return (local if local.exists() else _PACKAGE_ROOT / "config") / "environments"


def expand_variables(value: Any) -> str | None:
    """A YAML value with `${VAR}` / `${VAR:-default}` filled in from the environment; empty becomes None."""
    if value is None:
        return None
    text = _VARIABLE.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), str(value))
    return text or None


class _Source:
    """Reads one setting: the environment variable first, then the YAML; a missing one fails with one line."""

    def __init__(self, raw: Mapping[str, Any], env: str, config: Path) -> None:
        self._raw = raw
        self._env = env
        self._config = config

    def get(self, path: str, variable: str, default: str | None = None) -> str | None:
        node: Any = self._raw
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        return os.environ.get(variable) or expand_variables(node) or default

    def require(self, path: str, variable: str) -> str:
        value = self.get(path, variable)
        if not value:
            raise DeliverySettingError(
                f"setting 'delivery.{path}' is missing for --env {self._env}: set {variable} "
                f"or delivery.{path} in {self._config}"
            )
        return value

    def number(self, path: str, variable: str, default: str) -> float:
        value = self.get(path, variable, default)
        try:
            return float(value or default)
        except ValueError:
            raise DeliverySettingError(
                f"setting 'delivery.{path}' must be a number, got {value!r} ({variable} or {self._config})"
            ) from None


def load_delivery_settings(env: str, home: Path, directory: Path | None = None) -> DeliverySettings:
    """The delivery target of an environment; bad or missing settings fail here, before anything is sent."""
    config = (directory or config_dir()) / f"{env}.yaml"
    raw: dict[str, Any] = {}
    if config.exists():
        raw = (yaml.safe_load(config.read_text()) or {}).get("delivery") or {}
    source = _Source(raw, env, config)
    kind = source.require("target", "MDP_DELIVERY_TARGET")
    if kind not in TARGET_KINDS:
        raise DeliverySettingError(
            f"setting 'delivery.target' is {kind!r} for --env {env}: choose one of {', '.join(TARGET_KINDS)} "
            f"(MDP_DELIVERY_TARGET or {config})"
        )
    prefix = source.get("prefix", "MDP_DELIVERY_PREFIX", "") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if kind == "sftp":
        port = source.number("sftp.port", "MDP_DELIVERY_SFTP_PORT", "22")
        sftp = SftpSettings(
            host=source.require("sftp.host", "MDP_DELIVERY_SFTP_HOST"),
            port=int(port),
            user=source.require("sftp.user", "MDP_DELIVERY_SFTP_USER"),
            key_path=Path(source.require("sftp.key_path", "MDP_DELIVERY_SFTP_KEY_PATH")),
            host_key=source.require("sftp.host_key", "MDP_DELIVERY_SFTP_HOST_KEY"),
            remote_dir=source.require("sftp.remote_dir", "MDP_DELIVERY_SFTP_REMOTE_DIR").rstrip("/") or "/",
            timeout_seconds=source.number("sftp.timeout_seconds", "MDP_DELIVERY_SFTP_TIMEOUT", "30"),
        )
        return DeliverySettings(target="sftp", sftp=sftp)
    if kind == "gcs":
        return DeliverySettings(target="gcs", bucket=source.require("bucket", "MDP_DELIVERY_BUCKET"), prefix=prefix)
    folder = Path(source.require("folder", "MDP_DELIVERY_FOLDER"))
    return DeliverySettings(target=cast(TargetKind, kind), folder=folder if folder.is_absolute() else home / folder)
