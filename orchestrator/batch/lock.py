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


@contextmanager
def cycle_lock(store: ObjectStore, run_id: str, ttl_minutes: int) -> Iterator[None]:
    """Hold the lock for the block; a lock older than the TTL was left by a crashed run and is taken over."""
    owner = json.dumps({"run_id": run_id, "host": socket.gethostname(), "pid": os.getpid()}).encode()
    try:
        held = store.write_bytes(LOCK_KEY, owner, if_generation_match=0)
    except PreconditionFailedError:
        current = store.stat(LOCK_KEY)
        if current is None or time.time() - current.updated_at_epoch < ttl_minutes * 60:
            holder = read_bytes(store, LOCK_KEY).decode(errors="replace") if current else "unknown"
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
