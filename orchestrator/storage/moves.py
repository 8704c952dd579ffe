"""Moves between buckets that are safe under crashes and concurrent runners."""

from __future__ import annotations

from orchestrator.exceptions import PreconditionFailedError
from orchestrator.storage.base import ObjectInfo, ObjectStore


def copy_object(source: ObjectStore, key: str, target: ObjectStore, target_key: str) -> ObjectInfo:
    """Copy an object; an identical object already at the target counts as done."""
    existing = target.stat(target_key)
    if existing is not None:
        info = source.stat(key)
        if info is not None and info.size == existing.size and source.md5_hex(key) == target.md5_hex(target_key):
            return existing
    with source.local_copy(key) as path:
        try:
            return target.upload_file(path, target_key, if_generation_match=0)
        except PreconditionFailedError:
            # Another runner wrote it between our stat and upload; replace it with our copy.
            return target.upload_file(path, target_key)


def move_object(source: ObjectStore, key: str, target: ObjectStore, target_key: str) -> ObjectInfo:
    """Copy, then delete the source only if it is still the generation we copied."""
    info = source.stat(key)
    if info is None:
        existing = target.stat(target_key)
        if existing is not None:
            return existing  # a previous run moved it and crashed before recording
        raise PreconditionFailedError(key)
    copied = copy_object(source, key, target, target_key)
    source.delete(key, if_generation_match=info.generation)
    return copied
