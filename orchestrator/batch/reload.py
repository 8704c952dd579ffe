"""`mdp files reload`: put a loaded file's raw rows back from the Parquet the validator staged for it.

The repair for a `ROWS_MISSING` or `ROWS_EXTRA` break of `control.file_reconciliation`: the file's raw rows are
replaced by exactly the rows that were validated and loaded, and its records (outcome, quarantine, rule results)
stay as they are, so nothing is counted twice. The staged Parquet is archived after the build that loaded it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow.parquet as pq

from orchestrator.backends import Buckets
from orchestrator.batch.cycle import run_started_at
from orchestrator.batch.ingest import archive_prefix
from orchestrator.exceptions import Terminal
from orchestrator.specs import SourceSpec
from orchestrator.specs.loader import find_spec
from orchestrator.storage.base import ObjectStore
from orchestrator.warehouse.base import Warehouse


class NotReloadableError(Terminal):
    """The file has no loaded record, or its staged Parquet is gone or does not match the record."""


class NoLoadedRecordError(NotReloadableError):
    """No loaded record carries the landing key: the file failed, was never loaded, or the key is mistyped."""


def loaded_record(warehouse: Warehouse, path: str) -> dict[str, Any]:
    """The latest loaded record of the file at landing key `path`."""
    rows = warehouse.query(
        f"select file_id, source, business_date, rows_total, rows_loaded, rows_quarantined, staged_key, run_id "
        f"from {warehouse.table('control', 'ingested_files')} "
        "where landing_key = @path and outcome = 'loaded' order by processed_at desc limit 1",
        {"path": path},
    )
    if not rows:
        raise NoLoadedRecordError(f"file={path}: no loaded record; 'mdp files list --state loaded' lists loaded files")
    return rows[0]


def _staged_parquet(buckets: Buckets, record: dict[str, Any]) -> tuple[ObjectStore, str] | None:
    """Where the file's staged Parquet is now: still in staging (its build has not succeeded yet), archived by the
    cycle that loaded it, or archived by a later cycle (after failed builds)."""
    staged_key = str(record["staged_key"])
    if buckets.staging.stat(staged_key) is not None:
        return buckets.staging, staged_key
    try:
        key = f"{archive_prefix(run_started_at(str(record['run_id'])))}staging/{staged_key}"
        if buckets.archive.stat(key) is not None:
            return buckets.archive, key
    except ValueError:  # a run id of another form: search the archive
        pass
    suffix = f"/staging/{staged_key}"
    found = next((info.key for info in buckets.archive.list() if info.key.endswith(suffix)), None)
    return (buckets.archive, found) if found is not None else None


def reload_file(warehouse: Warehouse, buckets: Buckets, specs: Sequence[SourceSpec], path: str) -> dict[str, Any]:
    """Replace the raw rows of the loaded file at landing key `path` with its staged Parquet; records stay."""
    record = loaded_record(warehouse, path)
    if not record["staged_key"]:
        raise NotReloadableError(f"file={path}: its loaded record names no staged Parquet")
    spec = find_spec(specs, str(record["source"]))
    located = _staged_parquet(buckets, record)
    if located is None:
        raise NotReloadableError(
            f"file={path}: its staged Parquet {record['staged_key']} is in neither the staging nor the archive "
            "bucket; have the sender deliver the rows again in a new file"
        )
    store, key = located
    with store.local_copy(key) as local:
        rows = pq.ParquetFile(local).metadata.num_rows
    if rows != record["rows_loaded"]:
        raise NotReloadableError(
            f"file={path}: its staged Parquet {key} holds {rows} rows, its record {record['rows_loaded']} loaded; "
            "nothing was changed"
        )
    before = warehouse.query(
        f"select count(*) as n from {warehouse.table('raw', spec.name)} where _file_id = @file_id",
        {"file_id": record["file_id"]},
    )[0]["n"]
    warehouse.replace_raw_rows(spec, str(record["file_id"]), store.uri(key))
    return {
        "path": path,
        "source": spec.name,
        "file_id": record["file_id"],
        "staged_parquet": store.uri(key),
        "rows_in_raw_before": before,
        "rows_in_raw_after": rows,
        "next_step": "run 'mdp run' (or wait for the hourly cycle): its build curates and reconciles the rows again",
    }
