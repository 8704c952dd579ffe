"""Read-side services behind the runbook commands: status, files, replay."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

from orchestrator.backends import Buckets
from orchestrator.exceptions import FileNotFoundInStoreError, Terminal
from orchestrator.specs import SourceSpec
from orchestrator.storage import move_object, read_bytes
from orchestrator.warehouse.base import Warehouse

FileState = Literal["landing", "failed", "quarantined", "loaded", "duplicate", "unmatched", "archived"]
FILE_STATES: tuple[str, ...] = ("landing", "failed", "quarantined", "loaded", "duplicate", "unmatched", "archived")


class NotReplayableError(Terminal):
    """Only files in the failed bucket can be replayed."""


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}


def status(warehouse: Warehouse, buckets: Buckets, specs: Sequence[SourceSpec], as_of: dt.date) -> dict[str, Any]:
    """Last cycles, files by outcome, late or missing sources and quarantine counts."""
    control = warehouse.table
    runs = warehouse.query(
        f"select run_id, started_at, finished_at, status, files_loaded, files_failed, files_duplicate, "
        f"files_unmatched, files_waiting, rows_loaded, rows_quarantined, dbt_status "
        f"from {control('control', 'validation_runs')} order by started_at desc limit 5"
    )
    outcomes = warehouse.query(
        f"select outcome, count(*) as files, coalesce(sum(rows_loaded), 0) as rows_loaded, "
        f"coalesce(sum(rows_quarantined), 0) as rows_quarantined "
        f"from {control('control', 'ingested_files')} group by outcome order by outcome"
    )
    quarantine = warehouse.query(
        f"select source, count(*) as quarantined_rows from {control('control', 'quarantined_rows')} "
        "group by source order by source"
    )
    try:
        completeness = warehouse.query(
            f"select source, business_date, status from {control('control', 'source_completeness')} "
            "where business_date = @as_of and status <> 'ON_TIME' order by source",
            {"as_of": as_of},
        )
    except Exception:  # the dbt model does not exist before the first build
        completeness = []
    return {
        "as_of": as_of.isoformat(),
        "last_cycles": [_jsonable(row) for row in runs],
        "files_by_outcome": outcomes,
        "files_in_landing": sum(1 for _ in buckets.landing.list()),
        "files_in_failed": sum(1 for info in buckets.failed.list() if not info.key.endswith(".error.json")),
        "sources_not_on_time": [_jsonable(row) for row in completeness],
        "quarantined_rows_by_source": quarantine,
        "sources": len(specs),
    }


def list_files(warehouse: Warehouse, buckets: Buckets, state: str) -> list[dict[str, Any]]:
    """Files in a state: a bucket's contents, or recorded outcomes from the control table."""
    if state == "landing":
        return [{"path": info.key, "size_bytes": info.size} for info in buckets.landing.list()]
    if state == "failed":
        files = []
        for info in buckets.failed.list():
            if info.key.endswith(".error.json"):
                continue
            report_key = info.key + ".error.json"
            reasons = (
                json.loads(read_bytes(buckets.failed, report_key))["failed_checks"]
                if buckets.failed.stat(report_key)
                else []
            )
            files.append({"path": info.key, "size_bytes": info.size, "reasons": reasons})
        return files
    if state == "archived":
        return [{"path": info.key, "size_bytes": info.size} for info in buckets.archive.list()]
    where = "rows_quarantined > 0 and outcome = 'loaded'" if state == "quarantined" else "outcome = @state"
    rows = warehouse.query(
        f"select landing_key as path, source, outcome, business_date, rows_total, rows_loaded, rows_quarantined, "
        f"reasons, run_id, processed_at from {warehouse.table('control', 'ingested_files')} "
        f"where {where} order by processed_at, landing_key",
        {"state": state} if state != "quarantined" else None,
    )
    return [_jsonable({**row, "reasons": json.loads(row["reasons"] or "[]")}) for row in rows]


def show_file(warehouse: Warehouse, buckets: Buckets, path: str, limit: int = 20) -> dict[str, Any]:
    """Everything known about one landed file: arrivals, outcome, rule counts and quarantined rows."""
    arrivals = warehouse.query(
        f"select * from {warehouse.table('control', 'ingested_files')} where landing_key = @path order by processed_at",
        {"path": path},
    )
    where = {"landing": buckets.landing, "failed": buckets.failed}
    located = [name for name, store in where.items() if store.stat(path) is not None]
    if not arrivals and not located:
        raise FileNotFoundInStoreError(path)
    file_ids = sorted({row["file_id"] for row in arrivals if row["file_id"]})
    rules: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for file_id in file_ids:
        rules += warehouse.query(
            f"select rule, level, severity, failed_rows from {warehouse.table('control', 'rule_results')} "
            "where file_id = @file_id order by failed_rows desc, rule",
            {"file_id": file_id},
        )
        rows += warehouse.query(
            f"select row_number, failed_rules, raw_record from {warehouse.table('control', 'quarantined_rows')} "
            "where file_id = @file_id order by row_number limit @limit",
            {"file_id": file_id, "limit": limit},
        )
    return {
        "path": path,
        "in_buckets": located,
        "arrivals": [_jsonable({**row, "reasons": json.loads(row["reasons"] or "[]")}) for row in arrivals],
        "rule_results": rules,
        "quarantined_rows": [
            {**row, "failed_rules": json.loads(row["failed_rules"]), "raw_record": json.loads(row["raw_record"])}
            for row in rows
        ],
    }


def replay_file(buckets: Buckets, path: str) -> dict[str, Any]:
    """Return a fixed failed file (and its control file) to landing; the next cycle validates it again."""
    if buckets.failed.stat(path) is None:
        raise NotReplayableError(f"file={path}: not in the failed bucket; 'mdp files list --state failed' lists them")
    moved = [path]
    move_object(buckets.failed, path, buckets.landing, path)
    stem_prefix = path.rsplit(".", 1)[0].split(".", 1)[0]
    for info in list(buckets.failed.list(stem_prefix + ".")):
        if info.key.endswith(".error.json"):
            buckets.failed.delete(info.key)
        elif info.key != path:
            move_object(buckets.failed, info.key, buckets.landing, info.key)
            moved.append(info.key)
    return {"replayed": moved, "next_step": "run 'mdp run' (or wait for the hourly cycle) to validate them again"}
