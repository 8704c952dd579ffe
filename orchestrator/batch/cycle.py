"""One hourly cycle: validate and load every landed file, build dbt, archive staging."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends import Buckets, open_buckets, open_warehouse, warehouse_dbt_target
from orchestrator.batch.findings import (
    alert_on_cycle_failure,
    alert_on_deliveries,
    alert_on_file,
    alert_on_reconciliation,
)
from orchestrator.batch.ingest import (
    FileOutcome,
    IngestContext,
    archive_prefix,
    ingest_file,
    sweep_orphan_control,
)
from orchestrator.batch.lock import cycle_lock
from orchestrator.batch.scan import LandedObject, scan_landing
from orchestrator.dbt_runner import DbtResult, run_dbt
from orchestrator.exceptions import MdpError, Terminal
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec
from orchestrator.specs.dbt_codegen import generate_dbt_files
from orchestrator.storage import move_object

log = logging.getLogger("mdp.cycle")

Progress = Callable[[str, int, int], None]

# The other lanes' models build on their own schedule: a failure there never blocks the batch lane.
BATCH_DBT_BUILD = ("build", "--exclude", "tag:streaming", "tag:regulatory")


@dataclass
class CycleReport:
    """What one cycle did, file by file."""

    run_id: str
    started_at: dt.datetime
    files: list[FileOutcome] = field(default_factory=list)
    dbt: DbtResult | None = None
    pipeline_error: str | None = None

    @property
    def exit_code(self) -> int:
        """0 all well, 1 some files failed, 2 the pipeline itself failed."""
        if self.pipeline_error or (self.dbt is not None and self.dbt.status != "success"):
            return 2
        return 1 if any(f.status in ("failed", "unmatched") for f in self.files) else 0

    def counts(self) -> dict[str, int]:
        """Files by status."""
        result: dict[str, int] = {}
        for outcome in self.files:
            result[outcome.status] = result.get(outcome.status, 0) + 1
        return result

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {
            "run_id": self.run_id,
            "exit_code": self.exit_code,
            "files": [outcome.as_dict() for outcome in self.files],
            "dbt": None
            if self.dbt is None
            else {
                "status": self.dbt.status,
                "nodes_ok": self.dbt.nodes_ok,
                "nodes_error": self.dbt.nodes_error,
                "message": self.dbt.message,
            },
            "error": self.pipeline_error,
        }


def _ingest_all(items: Sequence[LandedObject], context: IngestContext, progress: Progress | None) -> list[FileOutcome]:
    outcomes = []
    for position, item in enumerate(items, start=1):
        if progress:
            progress(f"validating {item.key}", position - 1, len(items))
        try:
            outcome = ingest_file(item, context)
        except Terminal as error:
            # One bad file never blocks the others: it stays in landing and is reported.
            outcome = FileOutcome(item.key, item.spec.name if item.spec else None, "failed", reasons=[str(error)])
        log.info("file=%s status=%s rows_loaded=%s", item.key, outcome.status, outcome.rows_loaded)
        alert_on_file(item.key, outcome.source, outcome.status, outcome.reasons)
        outcomes.append(outcome)
    if progress:
        progress("validated", len(items), len(items))
    return outcomes


def _archive_staging(buckets: Buckets, prefix: str) -> None:
    """After a good dbt build, staged Parquet (this cycle's and any left by failed builds) goes to the archive."""
    for info in list(buckets.staging.list()):
        if not info.key.startswith("_locks/"):
            move_object(buckets.staging, info.key, buckets.archive, prefix + "staging/" + info.key)


def validate_landing(
    settings: Settings,
    specs: Sequence[SourceSpec],
    buckets: Buckets,
    run_id: str,
    started_at: dt.datetime,
    progress: Progress | None = None,
) -> list[FileOutcome]:
    """Validate and load everything in landing (no dbt); the caller holds the lock."""
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(specs)
        context = IngestContext(settings, buckets, warehouse, run_id, started_at)
        scan = scan_landing(buckets.landing, specs)
        outcomes = _ingest_all(scan.files, context, progress)
        for orphan in scan.orphan_controls:
            sweep_orphan_control(orphan, context)
        return outcomes


def _record_run(settings: Settings, report: CycleReport) -> None:
    with closing(open_warehouse(settings)) as warehouse:
        counts = report.counts()
        if report.dbt is not None:
            warehouse.insert_rows("dbt_runs", [report.dbt.as_row(report.run_id)])
        warehouse.insert_rows(
            "validation_runs",
            [
                {
                    "run_id": report.run_id,
                    "started_at": report.started_at.replace(tzinfo=None),
                    "finished_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    "status": {0: "success", 1: "files_failed", 2: "pipeline_failed"}[report.exit_code],
                    **{
                        f"files_{status}": counts.get(status, 0)
                        for status in ("loaded", "failed", "duplicate", "unmatched", "waiting")
                    },
                    "rows_loaded": sum(f.rows_loaded for f in report.files),
                    "rows_quarantined": sum(f.rows_quarantined for f in report.files),
                    "dbt_status": report.dbt.status if report.dbt else "not_run",
                }
            ],
        )


RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
"""A cycle's run id starts with when it started (UTC), in this format, then `-` and 8 hex digits."""


def run_started_at(run_id: str) -> dt.datetime:
    """When the cycle with this run id started; ValueError for a run id of another form."""
    return dt.datetime.strptime(run_id.split("-", 1)[0], RUN_ID_TIME_FORMAT)


def dbt_variables(as_of: dt.date, full_refresh: bool = False) -> dict[str, Any]:
    """The vars every dbt invocation of the pipeline passes."""
    return {"as_of_date": as_of.isoformat(), "force_full_refresh": full_refresh}


def run_cycle(
    settings: Settings,
    specs: Sequence[SourceSpec],
    as_of: dt.date,
    *,
    validate_only: bool = False,
    progress: Progress | None = None,
) -> CycleReport:
    """Validate → load → dbt build → archive, under the cycle lock."""
    started_at = dt.datetime.now(dt.UTC)
    run_id = started_at.strftime(RUN_ID_TIME_FORMAT) + "-" + uuid.uuid4().hex[:8]
    report = CycleReport(run_id=run_id, started_at=started_at)
    buckets = open_buckets(settings)
    with cycle_lock(buckets.staging, run_id, settings.lock_ttl_minutes):
        try:
            report.files = validate_landing(settings, specs, buckets, run_id, started_at, progress)
            if not validate_only:
                generate_dbt_files(specs, settings.dbt_project_dir)
                if progress:
                    progress("dbt build", 0, 1)
                report.dbt = run_dbt(settings, warehouse_dbt_target(settings), BATCH_DBT_BUILD, dbt_variables(as_of))
                if progress:
                    progress("dbt build", 1, 1)
                if report.dbt.status == "success":
                    _archive_staging(buckets, archive_prefix(started_at))
        except MdpError as error:
            report.pipeline_error = f"{type(error).__name__}: {error}"
        _record_run(settings, report)
    if report.exit_code == 2:
        alert_on_cycle_failure(
            run_id, report.pipeline_error or f"dbt build: {report.dbt.message if report.dbt else ''}"
        )
    elif report.dbt is not None:
        with closing(open_warehouse(settings)) as warehouse:
            alert_on_deliveries(warehouse)
            alert_on_reconciliation(warehouse)
    return report
