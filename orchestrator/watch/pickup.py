"""Pick up named landing objects the moment they arrive, with the batch lane's own ingest, under the cycle lock.

Nothing here validates: each object goes through `orchestrator.batch` (`scan_landing`, `ingest_file`) exactly as
the hourly cycle would take it, so both paths give the same outcomes.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Literal

from orchestrator.backends import Buckets, open_warehouse
from orchestrator.batch.findings import alert_on_file
from orchestrator.batch.ingest import IngestContext, ingest_file
from orchestrator.batch.lock import cycle_lock
from orchestrator.batch.scan import LandedObject, LandingScan, scan_landing
from orchestrator.exceptions import CycleLockedError, MdpError
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec

log = logging.getLogger("mdp.watch")

PickupStatus = Literal[
    # recorded in control.ingested_files by the batch lane's ingest
    "loaded",
    "failed",
    "duplicate",
    "unmatched",
    # settled without a record, exactly as the cycle leaves them
    "waiting",  # a data file whose required control file has not arrived: its control file's event picks it up
    "ignored",  # a control file ahead of its data file: picked up with the data file
    "gone",  # no longer in landing: the sweep or an earlier event already took it
    "skipped",  # not an object of the landing bucket, or not a finalize event
    # not settled: the event comes back
    "busy",  # a cycle holds the lock
    "error",  # the batch lane raised; the file stays in landing
]
SETTLED: frozenset[str] = frozenset(
    {"loaded", "failed", "duplicate", "unmatched", "waiting", "ignored", "gone", "skipped"}
)


@dataclass
class PickupOutcome:
    """What became of one notified object."""

    key: str
    status: PickupStatus
    source: str | None = None
    data_key: str | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: list[str] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """True when the object reached an outcome, so its event may be acknowledged."""
        return self.status in SETTLED

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {
            "key": self.key,
            "status": self.status,
            "source": self.source,
            "data_key": self.data_key,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "reasons": self.reasons,
        }


def _folder(key: str) -> str:
    folder = key.rpartition("/")[0]
    return folder + "/" if folder else ""


def _find(scan: LandingScan, key: str) -> LandedObject | None:
    """The data file this object is, or whose control file it is."""
    for item in scan.files:
        if item.key == key or (item.control is not None and item.control_key == key):
            return item
    return None


def _pick_up_one(key: str, context: IngestContext, specs: Sequence[SourceSpec]) -> PickupOutcome:
    scan = scan_landing(context.buckets.landing, specs, _folder(key))
    item = _find(scan, key)
    if item is not None:
        outcome = ingest_file(item, context)
        return PickupOutcome(
            key=key,
            status=outcome.status,
            source=outcome.source,
            data_key=item.key,
            rows_loaded=outcome.rows_loaded,
            rows_quarantined=outcome.rows_quarantined,
            reasons=outcome.reasons,
        )
    if any(info.key == key for info in scan.orphan_controls):
        # Left where it is: its data file's event picks both up. Orphans whose data file never comes are the hourly
        # cycle's to sweep, as they always were; sweeping here, seconds after arrival, would race the data file.
        return PickupOutcome(key, "ignored", reasons=["control file ahead of its data file: picked up with it"])
    return PickupOutcome(key, "gone", reasons=["not in landing any more: already picked up"])


class Pickup:
    """Takes landing keys to outcomes; one per watcher, so the warehouse layout is checked once, not per event."""

    def __init__(self, settings: Settings, specs: Sequence[SourceSpec], buckets: Buckets) -> None:
        self._settings = settings
        self._specs = specs
        self._buckets = buckets
        self._layout_ready = False

    def __call__(self, keys: Sequence[str]) -> list[PickupOutcome]:
        """Each key to an outcome, in order, under the cycle lock taken once for all of them."""
        if not keys:
            return []
        started_at = dt.datetime.now(dt.UTC)
        run_id = started_at.strftime("watch-%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
        try:
            # The warehouse is opened per batch and closed after it: DuckDB admits one writer, and the hourly cycle
            # is another.
            with (
                cycle_lock(self._buckets.staging, run_id, self._settings.lock_ttl_minutes),
                closing(open_warehouse(self._settings)) as warehouse,
            ):
                if not self._layout_ready:
                    warehouse.ensure_layout(self._specs)
                    self._layout_ready = True
                context = IngestContext(self._settings, self._buckets, warehouse, run_id, started_at)
                return [self._one(key, context, run_id) for key in keys]
        except CycleLockedError as error:
            return [PickupOutcome(key, "busy", reasons=[str(error)]) for key in keys]
        except MdpError as error:
            # The lock or the warehouse was out of reach: nothing was touched, every event comes back.
            return [PickupOutcome(key, "error", reasons=[f"{type(error).__name__}: {error}"]) for key in keys]

    def _one(self, key: str, context: IngestContext, run_id: str) -> PickupOutcome:
        try:
            outcome = _pick_up_one(key, context, self._specs)
        except MdpError as error:
            # As in the cycle, one bad file never blocks the others; this one stays in landing for the sweep.
            outcome = PickupOutcome(key, "error", reasons=[f"{type(error).__name__}: {error}"])
        log.info("file=%s status=%s run_id=%s", key, outcome.status, run_id)
        alert_on_file(key, outcome.source, outcome.status, outcome.reasons)
        return outcome
