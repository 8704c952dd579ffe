"""A cycle lock kept as an object, so two runners on any backend never overlap."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from orchestrator.exceptions import CycleLockedError, PreconditionFailedError
from orchestrator.storage.base import ObjectStore, read_bytes

LOCK_KEY = "_locks/cycle.lock"


def _holder_is_dead(holder: str) -> bool:
    """True when the lock was taken on this host by a process that no longer runs (killed mid-cycle)."""
    try:
        owner = json.loads(holder)
    except ValueError:
        return False
    if owner.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, ValueError, TypeError):
        return False
    return False


@contextmanager
def cycle_lock(store: ObjectStore, run_id: str, ttl_minutes: int) -> Iterator[None]:
    """Hold the lock for the block; a lock older than the TTL was left by a crashed run and is taken over."""
    owner = json.dumps({"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid()}).encode()
    try:
        held = store.write_bytes(LOCK_KEY, owner, if_generation_match=0)
    except PreconditionFailedError:
        current = store.stat(LOCK_KEY)
        holder = read_bytes(store, LOCK_KEY).decode(errors="replace") if current else "unknown"
        expired = current is not None and time.time() - current.updated_at_epoch >= ttl_minutes * 60
        if current is None or not (expired or _holder_is_dead(holder)):
            raise CycleLockedError(holder) from None
        try:
            held = store.write_bytes(LOCK_KEY, owner, if_generation_match=current.generation)
        except PreconditionFailedError:
            raise CycleLockedError("another runner took over the stale lock") from None
    try:
        yield
    finally:
        # If our lock expired and another runner took it over, it is theirs now: leave it.
        with contextlib.suppress(PreconditionFailedError):
            store.delete(LOCK_KEY, if_generation_match=held.generation)
