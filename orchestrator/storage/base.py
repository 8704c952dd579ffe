"""The object-store seam: every bucket the pipeline touches goes through `ObjectStore`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class ObjectInfo:
    """What a bucket knows about one object."""

    key: str
    size: int
    generation: int
    updated_at_epoch: float


class ObjectStore(Protocol):
    """One bucket: list by prefix, streamed reads and writes, generation preconditions."""

    @property
    def name(self) -> str:
        """The bucket's name, for messages."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with prefix, in key order."""
        ...

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's info, or None when it does not exist."""
        ...

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A streamed binary reader of the object."""
        ...

    def local_copy(self, key: str) -> AbstractContextManager[Path]:
        """A local file with the object's bytes, for engines that read paths."""
        ...

    def upload_file(self, source: Path, key: str, *, if_generation_match: int | None = None) -> ObjectInfo:
        """Write the object from a local file; `if_generation_match=0` means only if absent."""
        ...

    def write_bytes(self, key: str, data: bytes, *, if_generation_match: int | None = None) -> ObjectInfo:
        """Write the object from memory (small objects: manifests, error reports, locks)."""
        ...

    def delete(self, key: str, *, if_generation_match: int | None = None) -> None:
        """Delete the object, only if it is still the given generation."""
        ...

    def md5_hex(self, key: str) -> str:
        """The object's MD5 as lowercase hex (GCS keeps it; a folder computes it)."""
        ...

    def uri(self, key: str) -> str:
        """An address a warehouse can load the object from."""
        ...


def read_bytes(store: ObjectStore, key: str) -> bytes:
    """The whole object in memory (small objects only)."""
    with store.open_read(key) as reader:
        return reader.read()
