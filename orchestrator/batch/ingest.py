"""Ingest one landed file: deduplicate, validate, stage, load, record, then move it out of landing.

Order matters for crash safety: targets are written first, the outcome is recorded, and the
landing object is removed last. A rerun finds the record of the same arrival and only finishes
the move, so nothing is lost and nothing is loaded twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa

from orchestrator.backends import Buckets
from orchestrator.batch.scan import LandedObject
from orchestrator.settings import Settings
from orchestrator.storage import ObjectInfo, ObjectStore, copy_object, move_object, read_bytes
from orchestrator.validator.validate_file import FileValidation, LandedFile, ValidatorSettings, validate_file
from orchestrator.warehouse.base import FileCommit, Warehouse

Status = Literal["loaded", "failed", "duplicate", "unmatched", "waiting"]

_RULE_RESULT_TYPES: dict[str, pa.DataType] = {
    "file_id": pa.string(),
    "source": pa.string(),
    "rule": pa.string(),
    "level": pa.string(),
    "severity": pa.string(),
    "failed_rows": pa.int64(),
    "run_id": pa.string(),
}
RULE_RESULTS_SCHEMA = pa.schema(_RULE_RESULT_TYPES)


@dataclass
class FileOutcome:
    """What happened to one landed file in this cycle."""

    path: str
    source: str | None
    status: Status
    rows_total: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reasons: list[str] = field(default_factory=list)
    file_id: str | None = None
    content_md5: str | None = None
    staged_key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The outcome as the CLI's JSON shows it."""
        return {
            "path": self.path,
            "source": self.source,
            "status": self.status,
            "rows_total": self.rows_total,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "reasons": self.reasons,
        }


@dataclass(frozen=True)
class IngestContext:
    """What every file of one cycle shares."""

    settings: Settings
    buckets: Buckets
    warehouse: Warehouse
    run_id: str
    started_at: dt.datetime

    @property
    def archive_prefix(self) -> str:
        """`{date}/{hour}/` of this cycle in the archive bucket."""
        return archive_prefix(self.started_at)


def archive_prefix(started_at: dt.datetime) -> str:
    """`{date}/{hour}/`: where the cycle started at `started_at` archives landed files and staged Parquet."""
    return started_at.strftime("%Y-%m-%d/%H/")


def object_digests(store: ObjectStore, key: str) -> tuple[str, str]:
    """MD5 and SHA-256 (the file_id) of an object's content, hex."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    with store.open_read(key) as reader:
        for block in iter(lambda: reader.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
    return md5.hexdigest(), sha256.hexdigest()


def validator_settings(settings: Settings) -> ValidatorSettings:
    """Where and with what the validator works, from the pipeline's settings."""
    return ValidatorSettings(
        work_dir=settings.work_dir / "validate",
        reference_lists_dir=settings.reference_lists_dir,
        memory_limit=settings.validator_memory_limit,
    )


def _landed_at(item: LandedObject) -> dt.datetime:
    return dt.datetime.fromtimestamp(item.info.updated_at_epoch, dt.UTC).replace(tzinfo=None, microsecond=0)


BUSINESS_DATE_LEAD_DAYS = 1
"""How far a file's business date may run ahead of the UTC day it landed: a venue east of UTC delivers the next
day's file before midnight UTC. A date further ahead is a misnamed file; loaded, it would be the newest business
date of its source until that day came (reference data would shadow every correct file)."""


def _business_date_problem(business_date: dt.date, landed_on: dt.date) -> str | None:
    if business_date <= landed_on + dt.timedelta(days=BUSINESS_DATE_LEAD_DAYS):
        return None
    return (
        f"business_date_in_future: the file name's business date {business_date} is more than "
        f"{BUSINESS_DATE_LEAD_DAYS} day after the day the file landed ({landed_on}, UTC)"
    )


def _record(item: LandedObject, context: IngestContext, outcome: FileOutcome, **extra: Any) -> dict[str, Any]:
    return {
        "file_id": outcome.file_id,
        "landing_key": item.key,
        "source": outcome.source,
        "business_date": item.business_date,
        "outcome": outcome.status,
        "size_bytes": item.info.size,
        "content_md5": outcome.content_md5,
        "rows_total": outcome.rows_total,
        "rows_loaded": outcome.rows_loaded,
        "rows_quarantined": outcome.rows_quarantined,
        "reasons": json.dumps(outcome.reasons),
        "run_id": context.run_id,
        "landed_at": _landed_at(item),
        "processed_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "staged_key": outcome.staged_key,
        **extra,
    }


def _previous_arrival(context: IngestContext, item: LandedObject, file_id: str) -> dict[str, Any] | None:
    """A record of this very arrival (same content, key and landing time): a crashed run already handled it."""
    rows = context.warehouse.query(
        f"select outcome from {context.warehouse.table('control', 'ingested_files')} "
        "where file_id = @file_id and landing_key = @key and landed_at = @landed_at limit 1",
        {"file_id": file_id, "key": item.key, "landed_at": _landed_at(item)},
    )
    return rows[0] if rows else None


def _loaded_before(context: IngestContext, file_id: str) -> str | None:
    rows = context.warehouse.query(
        f"select landing_key from {context.warehouse.table('control', 'ingested_files')} "
        "where file_id = @file_id and outcome = 'loaded' order by processed_at limit 1",
        {"file_id": file_id},
    )
    return str(rows[0]["landing_key"]) if rows else None


def _move_out(context: IngestContext, item: LandedObject, bucket: str, prefix: str) -> str:
    """Move the data file (and its control file) out of landing; returns the new data key."""
    target = context.buckets.by_name(bucket)
    move_object(context.buckets.landing, item.key, target, prefix + item.key)
    if item.control is not None and item.control_key is not None:
        move_object(context.buckets.landing, item.control_key, target, prefix + item.control_key)
    return prefix + item.key


def _write_error_report(context: IngestContext, item: LandedObject, outcome: FileOutcome, key: str) -> None:
    report = {
        "file": item.key,
        "source": outcome.source,
        "file_id": outcome.file_id,
        "run_id": context.run_id,
        "status": outcome.status,
        "failed_checks": outcome.reasons,
        "next_step": "fix the file at its source and run 'mdp replay FILE', or deliver a corrected file to landing",
    }
    context.buckets.failed.write_bytes(key + ".error.json", json.dumps(report, indent=2).encode())


def _fail(context: IngestContext, item: LandedObject, outcome: FileOutcome, validation: FileValidation | None) -> None:
    failed_key = item.key
    # Target first: copy to failed and write the report, then record, then remove from landing.
    copy_object(context.buckets.landing, item.key, context.buckets.failed, failed_key)
    if item.control is not None and item.control_key is not None:
        copy_object(context.buckets.landing, item.control_key, context.buckets.failed, item.control_key)
    _write_error_report(context, item, outcome, failed_key)
    rule_results = rule_results_table(outcome.file_id or "", outcome.source, context.run_id, validation)
    commit_row = _record(item, context, outcome, failed_key=failed_key)
    if item.spec is None:
        context.warehouse.insert_rows("ingested_files", [commit_row])
    else:
        context.warehouse.commit_file(
            FileCommit(
                spec=item.spec,
                file_id=outcome.file_id or "",
                staged_uri=None,
                quarantine=quarantine_table(outcome.file_id or "", outcome.source, item.key, context.run_id, None),
                rule_results=rule_results,
                ingested_file=commit_row,
            )
        )
    _move_out(context, item, "failed", "")


def quarantine_table(
    file_id: str, source: str | None, landing_key: str, run_id: str, validation: FileValidation | None
) -> pa.Table:
    """`control.quarantined_rows` rows of a validated file (none without a validation)."""
    quarantine = validation.quarantine if validation is not None else None
    rows = 0 if quarantine is None else quarantine.num_rows
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    base = {
        "file_id": pa.array([file_id] * rows, pa.string()),
        "source": pa.array([source] * rows, pa.string()),
        "landing_key": pa.array([landing_key] * rows, pa.string()),
        "run_id": pa.array([run_id] * rows, pa.string()),
        "quarantined_at": pa.array([now] * rows, pa.timestamp("us")),
    }
    if quarantine is None:
        return pa.table(
            {
                **base,
                "row_number": pa.array([], pa.int64()),
                "raw_record": pa.array([], pa.string()),
                "failed_rules": pa.array([], pa.string()),
            }
        )
    return pa.table({**base, **{name: quarantine.column(name) for name in quarantine.column_names}})


def rule_results_table(file_id: str, source: str | None, run_id: str, validation: FileValidation | None) -> pa.Table:
    """`control.rule_results` rows of a validated file: rows failing each rule."""
    results = validation.rule_results if validation is not None else []
    return pa.Table.from_pylist(
        [
            {
                "file_id": file_id,
                "source": source,
                "rule": result.rule,
                "level": result.level,
                "severity": result.severity,
                "failed_rows": result.failed_rows,
                "run_id": run_id,
            }
            for result in results
        ],
        schema=RULE_RESULTS_SCHEMA,
    )


def _control_overdue(context: IngestContext, item: LandedObject) -> bool:
    age = context.started_at.replace(tzinfo=None) - _landed_at(item)
    return age > dt.timedelta(minutes=context.settings.control_wait_minutes)


def ingest_file(item: LandedObject, context: IngestContext) -> FileOutcome:
    """Take one landed file to exactly one recorded outcome."""
    spec = item.spec
    outcome = FileOutcome(path=item.key, source=spec.name if spec else None, status="failed")
    md5_hex, sha256_hex = object_digests(context.buckets.landing, item.key)
    outcome.file_id = sha256_hex
    outcome.content_md5 = md5_hex
    if spec is None:
        outcome.status = "unmatched"
        outcome.reasons = ["unmatched: no source spec's landing pattern matches this path"]
        _fail(context, item, outcome, None)
        return outcome
    if spec.control is not None and spec.control.required and item.control is None:
        if not _control_overdue(context, item):
            outcome.status = "waiting"
            outcome.reasons = [f"waiting for control file {item.control_key}"]
            return outcome
        outcome.reasons = [
            f"control_missing: no control file {item.control_key} after {context.settings.control_wait_minutes} minutes"
        ]
        _fail(context, item, outcome, None)
        return outcome
    if _previous_arrival(context, item, sha256_hex) is not None:
        # A crashed run recorded this arrival but did not finish moving it: finish, record nothing new.
        bucket = "failed" if _loaded_before(context, sha256_hex) is None else "archive"
        _move_out(context, item, bucket, "" if bucket == "failed" else context.archive_prefix + "landing/")
        outcome.status = "loaded" if bucket == "archive" else "failed"
        outcome.reasons = ["resumed: recorded by an earlier run that stopped before moving the file"]
        return outcome
    original = _loaded_before(context, sha256_hex)
    if original is not None:
        outcome.status = "duplicate"
        outcome.reasons = [f"duplicate: same content as {original}, already loaded"]
        context.warehouse.insert_rows("ingested_files", [_record(item, context, outcome)])
        _move_out(context, item, "archive", context.archive_prefix + "duplicates/")
        return outcome
    # A matched spec's landing pattern always yields a business date.
    assert item.business_date is not None
    date_problem = _business_date_problem(item.business_date, _landed_at(item).date())
    if date_problem is not None:
        outcome.reasons = [date_problem]
        _fail(context, item, outcome, None)
        return outcome
    control_bytes = read_bytes(context.buckets.landing, item.control_key) if item.control and item.control_key else None
    staged_key = f"{spec.name}/{item.business_date.isoformat()}/{sha256_hex}.parquet"
    local_staged = context.settings.work_dir / "staged" / staged_key
    with context.buckets.landing.local_copy(item.key) as path:
        landed = LandedFile(
            path=path,
            landing_key=item.key,
            file_id=sha256_hex,
            content_md5=md5_hex,
            content_sha256=sha256_hex,
            size_bytes=item.info.size,
            business_date=item.business_date,
            control_bytes=control_bytes,
        )
        validation = validate_file(spec, landed, validator_settings(context.settings), local_staged)
    outcome.rows_total = validation.rows_total
    if not validation.passed:
        outcome.reasons = validation.reasons
        _fail(context, item, outcome, validation)
        return outcome
    outcome.status = "loaded"
    outcome.rows_loaded = validation.rows_loaded
    outcome.rows_quarantined = validation.rows_quarantined
    outcome.reasons = validation.warnings
    outcome.staged_key = staged_key
    staged = context.buckets.staging.upload_file(local_staged, staged_key)
    local_staged.unlink(missing_ok=True)
    context.warehouse.commit_file(
        FileCommit(
            spec=spec,
            file_id=sha256_hex,
            staged_uri=context.buckets.staging.uri(staged.key),
            quarantine=quarantine_table(sha256_hex, spec.name, item.key, context.run_id, validation),
            rule_results=rule_results_table(sha256_hex, spec.name, context.run_id, validation),
            ingested_file=_record(item, context, outcome, rows_warned=validation.rows_warned),
        )
    )
    _move_out(context, item, "archive", context.archive_prefix + "landing/")
    return outcome


def sweep_orphan_control(info: ObjectInfo, context: IngestContext) -> bool:
    """Finish moving a control file whose data file an interrupted run already handled; True if moved."""
    folder, _, name = info.key.rpartition("/")
    stem = name.split(".", 1)[0]
    # Only a record written after this control file landed is its data file's: a corrected file resent under
    # the same name, control first, must wait for its own data file rather than follow the old record.
    landed_at = dt.datetime.fromtimestamp(info.updated_at_epoch, dt.UTC).replace(tzinfo=None)
    rows = context.warehouse.query(
        f"select outcome from {context.warehouse.table('control', 'ingested_files')} "
        "where starts_with(landing_key, @prefix) and landing_key <> @key and processed_at >= @landed_at "
        "order by processed_at desc limit 1",
        {"prefix": f"{folder}/{stem}." if folder else f"{stem}.", "key": info.key, "landed_at": landed_at},
    )
    if not rows:
        return False  # its data file has not arrived yet: keep waiting
    if rows[0]["outcome"] == "loaded":
        move_object(
            context.buckets.landing, info.key, context.buckets.archive, context.archive_prefix + "landing/" + info.key
        )
    else:
        move_object(context.buckets.landing, info.key, context.buckets.failed, info.key)
    return True
