"""Read-side services behind the runbook commands: status, files, replay."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml

from orchestrator.backends import Buckets
from orchestrator.exceptions import FileNotFoundInStoreError, Terminal
from orchestrator.identity import MARKETS_NAMESPACE, trade_id
from orchestrator.specs import SourceSpec
from orchestrator.storage import move_object, read_bytes
from orchestrator.warehouse.base import Warehouse, missing_columns

FileState = Literal["landing", "failed", "quarantined", "loaded", "duplicate", "unmatched", "archived"]
FILE_STATES: tuple[str, ...] = ("landing", "failed", "quarantined", "loaded", "duplicate", "unmatched", "archived")


class NotReplayableError(Terminal):
    """Only files in the failed bucket can be replayed."""


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date | dt.datetime) else v) for k, v in row.items()}


def status(warehouse: Warehouse, buckets: Buckets, specs: Sequence[SourceSpec], as_of: dt.date) -> dict[str, Any]:
    """Last cycles, files by outcome, late or missing sources, quarantine counts and files whose rows do not
    reconcile."""
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
    completeness = []
    # The dbt models exist after the first build.
    source_completeness = _model_if_built(warehouse, "source_completeness", "source, business_date, status")
    if source_completeness is not None:
        completeness = warehouse.query(
            f"select source, business_date, status from {source_completeness} "
            "where business_date = @as_of and status <> 'ON_TIME' order by source",
            {"as_of": as_of},
        )
    breaks = []
    reconciliation = _model_if_built(warehouse, "file_reconciliation", _STATUS_BREAK_COLUMNS)
    if reconciliation is not None:
        breaks = _reconciliation_rows(warehouse, reconciliation, _STATUS_BREAK_COLUMNS, None, breaks_only=True)
    return {
        "as_of": as_of.isoformat(),
        "last_cycles": [_jsonable(row) for row in runs],
        "files_by_outcome": outcomes,
        "files_in_landing": sum(1 for _ in buckets.landing.list()),
        "files_in_failed": sum(1 for info in buckets.failed.list() if not info.key.endswith(".error.json")),
        "sources_not_on_time": [_jsonable(row) for row in completeness],
        "quarantined_rows_by_source": quarantine,
        "files_not_reconciled": breaks,
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
    reconciled, outdated = _reconciliation_of_files(warehouse, file_ids)
    return {
        "path": path,
        "in_buckets": located,
        "arrivals": [_jsonable({**row, "reasons": json.loads(row["reasons"] or "[]")}) for row in arrivals],
        "reconciliation": reconciled,
        "reconciliation_outdated": outdated,
        "rule_results": rules,
        "quarantined_rows": [
            {**row, "failed_rules": json.loads(row["failed_rules"]), "raw_record": json.loads(row["raw_record"])}
            for row in rows
        ],
    }


def _reconciliation_of_files(warehouse: Warehouse, file_ids: list[str]) -> tuple[list[dict[str, Any]], str | None]:
    """The files' rows of `control.file_reconciliation` (none before its first build). Of a model an older release
    built, the columns every release has, and why the rest are missing, so the file's other facts still show."""
    columns, outdated = _RECONCILIATION_COLUMNS, None
    try:
        reconciliation = _model_if_built(warehouse, "file_reconciliation", columns)
    except ModelOutdatedError as error:
        columns, outdated = _STATUS_BREAK_COLUMNS, str(error)
        reconciliation = _model_if_built(warehouse, "file_reconciliation", columns)
    if reconciliation is None:
        return [], None
    rows = [
        _jsonable(row)
        for file_id in file_ids
        for row in warehouse.query(
            f"select {columns} from {reconciliation} where file_id = @file_id", {"file_id": file_id}
        )
    ]
    return rows, outdated


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


class ModelNotBuiltError(Terminal):
    """A control model the command reads has not been built yet."""

    def __init__(self, model: str, build: str = "mdp run") -> None:
        self.model = model
        super().__init__(f"model={model}: not built yet; run '{build}' first")


class ModelOutdatedError(Terminal):
    """A control model was last built by an older release: it lacks columns the command reads."""

    def __init__(self, model: str, missing: Sequence[str]) -> None:
        self.model = model
        self.missing = list(missing)
        name = model.split(".", 1)[1]
        super().__init__(
            f"model={model}: built before its columns {', '.join(missing)} existed; run "
            f"'mdp rebuild --select {name}' (its next scheduled build does too)"
        )


def _model_if_built(warehouse: Warehouse, model: str, columns: str) -> str | None:
    """The qualified name of `control.<model>` built with every column of `columns` (a select list); None before
    its first build, `ModelOutdatedError` while it lacks a column."""
    missing = missing_columns(warehouse, "control", model, columns)
    if missing is None:
        return None
    if missing:
        raise ModelOutdatedError(f"control.{model}", missing)
    return warehouse.table("control", model)


def _built_model(warehouse: Warehouse, model: str, columns: str, build: str = "mdp run") -> str:
    """`_model_if_built`, with `ModelNotBuiltError` before the model's first build."""
    table = _model_if_built(warehouse, model, columns)
    if table is None:
        raise ModelNotBuiltError(f"control.{model}", build)
    return table


def _control_model_rows(warehouse: Warehouse, model: str, columns: str, start: dt.date, end: dt.date) -> list[Any]:
    rows = warehouse.query(
        f"select {columns} from {_built_model(warehouse, model, columns)} "
        "where business_date between @start and @end order by business_date, source",
        {"start": start, "end": end},
    )
    return [_jsonable(row) for row in rows]


def completeness(warehouse: Warehouse, date: dt.date, days: int) -> list[dict[str, Any]]:
    """Each expected source per business date in the window, with its files and its timeliness status."""
    start = date - dt.timedelta(days=days - 1)
    columns = "source, business_date, deadline_at, files_loaded, files_late, files_failed, rows_loaded, status"
    return _control_model_rows(warehouse, "source_completeness", columns, start, date)


def anomalies(warehouse: Warehouse, date: dt.date, days: int) -> list[dict[str, Any]]:
    """Row-count anomalies per source and business date in the window (flagged rows only)."""
    start = date - dt.timedelta(days=days - 1)
    columns = (
        "source, business_date, files_loaded, is_complete_day, rows_loaded, trailing_mean_rows, rows_z_score, "
        "is_z_score_anomaly, is_outside_typical_rows"
    )
    rows = _control_model_rows(warehouse, "row_count_anomalies", columns + ", is_anomaly", start, date)
    return [{k: v for k, v in row.items() if k != "is_anomaly"} for row in rows if row["is_anomaly"]]


def delivery_alerts(warehouse: Warehouse) -> list[dict[str, Any]]:
    """What the last batch build pages on-call for: sources short past their deadline, anomalous complete days."""
    columns = (
        "alert, source, business_date, delivery_status, deadline_at, files_loaded, max_files_per_day, "
        "files_failed, rows_loaded, trailing_mean_rows, rows_z_score, anomaly_kind"
    )
    rows = warehouse.query(
        f"select {columns} from {_built_model(warehouse, 'delivery_alerts', columns)} "
        "order by business_date, alert, source"
    )
    return [_jsonable(row) for row in rows]


# What `status` shows of a file that does not reconcile: columns every release of the model has.
_STATUS_BREAK_COLUMNS = "source, business_date, landing_key, file_id, reconciliation_status"

_RECONCILIATION_COLUMNS = (
    "source, business_date, file_id, landing_key, processed_at, reconciliation_status, rows_total, rows_quarantined, "
    "rows_in_quarantine, rows_loaded, rows_in_raw, rows_current, rows_superseded, rows_not_curated, "
    "rows_in_extract"
)


def file_reconciliation(
    warehouse: Warehouse, date: dt.date | None = None, breaks_only: bool = False
) -> list[dict[str, Any]]:
    """Where each loaded file's rows went, as the last batch build counted them (`control.file_reconciliation`):
    every file of the window, or of one business date; with `breaks_only`, only files that are not BALANCED."""
    table = _built_model(warehouse, "file_reconciliation", _RECONCILIATION_COLUMNS)
    return _reconciliation_rows(warehouse, table, _RECONCILIATION_COLUMNS, date, breaks_only)


def _reconciliation_rows(
    warehouse: Warehouse, table: str, columns: str, date: dt.date | None, breaks_only: bool
) -> list[dict[str, Any]]:
    conditions = ["business_date = @date"] if date is not None else []
    if breaks_only:
        conditions.append("reconciliation_status <> 'BALANCED'")
    where = f"where {' and '.join(conditions)} " if conditions else ""
    rows = warehouse.query(
        f"select {columns} from {table} {where}order by business_date, source, landing_key, file_id",
        {"date": date} if date is not None else None,
    )
    return [_jsonable(row) for row in rows]


def _dbt_namespace(dbt_project_dir: Path) -> str | None:
    project = yaml.safe_load((dbt_project_dir / "dbt_project.yml").read_text())
    value = (project.get("vars") or {}).get("markets_namespace")
    return str(value) if value is not None else None


def namespace_check(warehouse: Warehouse, dbt_project_dir: Path, sample: int = 1000) -> dict[str, Any]:
    """The namespace in code and in dbt agree, and stored trade ids equal the ids Python computes from their keys."""
    dbt_namespace = _dbt_namespace(dbt_project_dir)
    mismatches: list[dict[str, Any]] = []
    checked = 0
    if warehouse.table_columns("curation", "trades_enriched"):
        rows = warehouse.query(
            f"select trade_id, domain, source_system, source_trade_id "
            f"from {warehouse.table('curation', 'trades_enriched')} order by trade_id limit {int(sample)}"
        )
        checked = len(rows)
        mismatches = [
            row
            for row in rows
            if row["trade_id"] != trade_id(row["domain"], row["source_system"], row["source_trade_id"])
        ]
    return {
        "python_namespace": MARKETS_NAMESPACE,
        "dbt_namespace": dbt_namespace,
        "namespaces_agree": dbt_namespace == MARKETS_NAMESPACE,
        "trades_checked": checked,
        "trade_id_mismatches": mismatches[:20],
        "ok": dbt_namespace == MARKETS_NAMESPACE and not mismatches,
    }


def reconciliation(warehouse: Warehouse, date: dt.date) -> dict[str, Any]:
    """Regulatory events whose deadline falls on a date: counts per reconciliation status and every breach."""
    breach = "event_id, reconciliation_status, deadline_at, minutes_to_submit"
    build = "mdp rebuild --select tag:regulatory"
    table = _built_model(warehouse, "regulatory_reconciliation", f"{breach}, is_breach", build)
    window = "deadline_at >= @start and deadline_at < @end"
    params = {
        "start": dt.datetime.combine(date, dt.time()),
        "end": dt.datetime.combine(date, dt.time()) + dt.timedelta(days=1),
    }
    counts = warehouse.query(
        f"select reconciliation_status, count(*) as events from {table} where {window} "
        "group by reconciliation_status order by reconciliation_status",
        params,
    )
    breaches = warehouse.query(
        f"select {breach} from {table} where {window} and is_breach order by deadline_at, event_id",
        params,
    )
    return {"date": date.isoformat(), "by_status": counts, "breaches": [_jsonable(row) for row in breaches]}
