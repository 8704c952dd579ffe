"""`mdp files requarantine`: put a loaded file's quarantined rows back by validating its archived original again.

The repair for a `QUARANTINE_MISMATCH` break of `control.file_reconciliation`: `control.quarantined_rows` lost
(or gained) rows of a loaded file. Quarantined rows are kept nowhere else, so the file as it landed, archived when
it loaded, goes through its spec's validation again. Its quarantined rows and rule results replace the file's only
when that validation gives exactly the record's counts (rows read, loaded, quarantined): a spec or a reference
list changed since may quarantine other rows, and then nothing is changed. Raw rows and the record stay.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from orchestrator.backends import Buckets
from orchestrator.batch.cycle import run_started_at
from orchestrator.batch.ingest import (
    archive_prefix,
    object_digests,
    quarantine_table,
    rule_results_table,
    validator_settings,
)
from orchestrator.batch.reload import loaded_record
from orchestrator.exceptions import Terminal
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec
from orchestrator.specs.loader import find_spec
from orchestrator.specs.model import control_key_for
from orchestrator.storage import read_bytes
from orchestrator.validator.validate_file import FileValidation, LandedFile, validate_file
from orchestrator.warehouse.base import Warehouse


class NotRequarantinableError(Terminal):
    """The file's archived original is gone, or validating it again does not give its record's counts."""


def _archive_candidates(buckets: Buckets, record: dict[str, Any], path: str) -> Iterator[str]:
    """Archive keys that may hold the file as it landed: its loading cycle's first, then a listing of the
    archive, read only when that one is not it."""
    first = None
    with contextlib.suppress(ValueError):  # a run id of another form: search the archive
        first = f"{archive_prefix(run_started_at(str(record['run_id'])))}landing/{path}"
    if first is not None:
        yield first
    suffix = f"/landing/{path}"
    yield from (info.key for info in buckets.archive.list() if info.key.endswith(suffix) and info.key != first)


def _archived_original(buckets: Buckets, record: dict[str, Any], path: str) -> tuple[str, str] | None:
    """The archive key of the file as it landed and its MD5: the copy with the record's content (the landing key
    alone may name a later, corrected file)."""
    for key in _archive_candidates(buckets, record, path):
        if buckets.archive.stat(key) is None:
            continue
        md5_hex, sha256_hex = object_digests(buckets.archive, key)
        if sha256_hex == record["file_id"]:
            return key, md5_hex
    return None


def _control_bytes(buckets: Buckets, spec: SourceSpec, archived_key: str, path: str) -> bytes | None:
    control_key = control_key_for(spec, path)
    if control_key is None:
        return None
    archived_control = archived_key[: -len(path)] + control_key
    if buckets.archive.stat(archived_control) is None:
        return None
    return read_bytes(buckets.archive, archived_control)


def _validate_again(
    buckets: Buckets, settings: Settings, spec: SourceSpec, record: dict[str, Any], original: tuple[str, str], path: str
) -> FileValidation:
    key, md5_hex = original
    control = _control_bytes(buckets, spec, key, path)
    with buckets.archive.local_copy(key) as local, tempfile.TemporaryDirectory() as scratch:
        landed = LandedFile(
            path=local,
            landing_key=path,
            file_id=str(record["file_id"]),
            content_md5=md5_hex,
            content_sha256=str(record["file_id"]),
            size_bytes=local.stat().st_size,
            business_date=record["business_date"],
            control_bytes=control,
        )
        return validate_file(spec, landed, validator_settings(settings), Path(scratch) / "staged.parquet")


def requarantine_file(
    warehouse: Warehouse, buckets: Buckets, settings: Settings, specs: Sequence[SourceSpec], path: str
) -> dict[str, Any]:
    """Replace the quarantined rows and rule results of the loaded file at landing key `path` with those of a
    fresh validation of its archived original, when that validation matches its record."""
    record = loaded_record(warehouse, path)
    spec = find_spec(specs, str(record["source"]))
    original = _archived_original(buckets, record, path)
    if original is None:
        raise NotRequarantinableError(
            f"file={path}: no archived copy of it with file_id {record['file_id']}; its quarantined rows cannot be "
            "rebuilt (the file's record still counts them)"
        )
    validation = _validate_again(buckets, settings, spec, record, original, path)
    found = (validation.rows_total, validation.rows_loaded, validation.rows_quarantined)
    expected = (record["rows_total"], record["rows_loaded"], record["rows_quarantined"])
    if not validation.passed or found != expected:
        raise NotRequarantinableError(
            f"file={path}: validated again with spec {spec.name}, it gives {found[0]} rows read, {found[1]} loaded "
            f"and {found[2]} quarantined (passed: {validation.passed}); its record says {expected[0]}, "
            f"{expected[1]} and {expected[2]}. The spec or a reference list changed since it loaded; nothing was "
            "changed"
        )
    quarantined = warehouse.table("control", "quarantined_rows")
    before = warehouse.query(
        f"select count(*) as n from {quarantined} where file_id = @file_id", {"file_id": record["file_id"]}
    )[0]["n"]
    run_id = str(record["run_id"])
    file_id = str(record["file_id"])
    warehouse.replace_quarantine(
        file_id,
        quarantine_table(file_id, spec.name, path, run_id, validation),
        rule_results_table(file_id, spec.name, run_id, validation),
    )
    return {
        "path": path,
        "source": spec.name,
        "file_id": file_id,
        "validated_from": buckets.archive.uri(original[0]),
        "rows_in_quarantine_before": before,
        "rows_in_quarantine_after": validation.rows_quarantined,
        "next_step": "run 'mdp run' (or wait for the hourly cycle): its build reconciles the file again",
    }
