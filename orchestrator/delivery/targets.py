"""The vendor-target seam: where an extract file goes, and how we know the vendor already has it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestrator.delivery.exceptions import TransferVerificationError
from orchestrator.storage.base import ObjectStore

# Called with (bytes sent so far, total bytes) while a file goes up.
TransferProgress = Callable[[int, int], None]

_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    """One file to deliver: a local copy, its name at the vendor, and what identifies its content."""

    path: Path
    name: str
    size: int
    sha256: str
    md5: str

    @classmethod
    def of(cls, path: Path, name: str) -> LocalFile:
        """Hash the file once (SHA-256 for SFTP read-back and the manifest, MD5 for GCS metadata)."""
        sha256 = hashlib.sha256()
        md5 = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as reader:
            for block in iter(lambda: reader.read(_BLOCK_BYTES), b""):
                sha256.update(block)
                md5.update(block)
        return cls(path, name, path.stat().st_size, sha256.hexdigest(), md5.hexdigest())


class VendorTarget(Protocol):
    """A place the vendor reads from. `send` makes a file visible under its final name only once it is verified."""

    @property
    def address(self) -> str:
        """Where files go, for records and messages."""
        ...

    def size_of(self, name: str) -> int | None:
        """The size of the vendor's file by that name, or None when it has none."""
        ...

    def holds(self, local: LocalFile) -> bool:
        """True when the vendor's file by that name has exactly this content (size and checksum)."""
        ...

    def send(self, local: LocalFile, progress: TransferProgress | None = None) -> None:
        """Upload under a temporary name, verify size and checksum, then give it its final name atomically."""
        ...

    def remove(self, name: str) -> None:
        """Delete the vendor's file by that name, if any."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class ObjectStoreTarget:
    """A vendor bucket (or folder) through the object-store seam.

    An object store publishes a write atomically under its final key (GCS: the object appears when its upload
    completes and the checksums sent with it match; a folder: a partial file renamed into place), so the temporary
    name and the rename are the store's own; the MD5 it keeps is checked again after the write.
    """

    def __init__(
        self, store: ObjectStore, prefix: str, address: str, on_close: Callable[[], None] | None = None
    ) -> None:
        self._store = store
        self._on_close = on_close
        self._prefix = prefix
        self._address = address

    @property
    def address(self) -> str:
        """`gs://bucket/prefix` or `file://folder/prefix`."""
        return self._address

    def size_of(self, name: str) -> int | None:
        """The object's size, or None."""
        info = self._store.stat(self._prefix + name)
        return None if info is None else info.size

    def holds(self, local: LocalFile) -> bool:
        """Same size and the same MD5 as the store keeps it (no download on GCS)."""
        key = self._prefix + local.name
        info = self._store.stat(key)
        return info is not None and info.size == local.size and self._store.md5_hex(key) == local.md5

    def send(self, local: LocalFile, progress: TransferProgress | None = None) -> None:
        """Write the object, then check what the store holds."""
        key = self._prefix + local.name
        self._store.upload_file(local.path, key)
        if not self.holds(local):
            self._store.delete(key)
            raise TransferVerificationError(
                f"target={self._address} file={local.name}: the stored object differs from the file sent "
                "(size or MD5); it was deleted and the next run sends it again"
            )
        if progress is not None:
            progress(local.size, local.size)

    def remove(self, name: str) -> None:
        """Delete the object."""
        self._store.delete(self._prefix + name)

    def close(self) -> None:
        """Release the store's client, when the target opened it."""
        if self._on_close is not None:
            self._on_close()
