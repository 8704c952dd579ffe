"""The object-store seam and its backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orchestrator.storage.base import ObjectInfo, ObjectStore, read_bytes
from orchestrator.storage.local import LocalFolderStore
from orchestrator.storage.moves import copy_object, move_object

if TYPE_CHECKING:
    from orchestrator.storage.gcs import GcsStore, gcs_client

__all__ = [
    "GcsStore",
    "LocalFolderStore",
    "ObjectInfo",
    "ObjectStore",
    "copy_object",
    "gcs_client",
    "move_object",
    "read_bytes",
]

_GCS_NAMES = frozenset({"GcsStore", "gcs_client"})


def __getattr__(name: str) -> object:
    # The GCS backend imports google-cloud-storage, which is slow to import: load it only when asked for,
    # so the embedded default starts fast.
    if name in _GCS_NAMES:
        from orchestrator.storage import gcs

        return getattr(gcs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
