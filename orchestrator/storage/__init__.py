"""The object-store seam and its backends."""

from orchestrator.storage.base import ObjectInfo, ObjectStore, read_bytes
from orchestrator.storage.local import LocalFolderStore
from orchestrator.storage.moves import copy_object, move_object

__all__ = ["LocalFolderStore", "ObjectInfo", "ObjectStore", "copy_object", "move_object", "read_bytes"]
