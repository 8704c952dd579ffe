"""Validate one landed file in DuckDB: file checks, then vectorised row checks, then stage good rows."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from orchestrator.specs.model import SourceSpec
from orchestrator.validator import checks
from orchestrator.validator.control_file import ControlFileError, ControlValues, parse_control_file
from orchestrator.validator.readers import ReadResult, UnreadableFileError, read_into_duckdb
from orchestrator.validator.sql_macros import install_identifier_macros

_QUARANTINE_TYPES: dict[str, pa.DataType] = {
    "row_number": pa.int64(),
    "raw_record": pa.string(),
    "failed_rules": pa.string(),
}
QUARANTINE_SCHEMA = pa.schema(_QUARANTINE_TYPES)


@dataclass(frozen=True)
class LandedFile:
    """A data file to validate, with what the pipeline knows about it."""

    path: Path
    landing_key: str
    file_id: str
    content_md5: str
    content_sha256: str
    size_bytes: int
    business_date: dt.date
    control_bytes: bytes | None


@dataclass(frozen=True)
class RuleResult:
    """How many rows broke one rule in one file."""

    rule: str
    level: Literal["row", "file"]
    severity: str
    failed_rows: int


@dataclass
class FileValidation:
    """The outcome of validating one file."""

    passed: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_total: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_warned: int = 0
    staged_path: Path | None = None
    quarantine: pa.Table = field(default_factory=QUARANTINE_SCHEMA.empty_table)
    rule_results: list[RuleResult] = field(default_factory=list)


@dataclass(frozen=True)
class ValidatorSettings:
    """Resources the validator may use."""

    work_dir: Path
    reference_lists_dir: Path
    memory_limit: str = "640MB"
    threads: int = 2


def _connect(settings: ValidatorSettings) -> duckdb.DuckDBPyConnection:
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    # In memory, but bounded: beyond memory_limit DuckDB spills to temp_directory.
    connection = duckdb.connect(":memory:")
    connection.execute(f"set memory_limit = {checks.literal(settings.memory_limit)}")
    connection.execute(f"set threads = {settings.threads}")
    connection.execute(f"set temp_directory = {checks.literal(str(settings.work_dir / 'spill'))}")
    install_identifier_macros(connection)
    for table, key in checks.LIST_TABLES.values():
        seed = settings.reference_lists_dir / f"{table}.csv"
        connection.execute(
            f"create table {table} as select distinct {key} from read_csv({checks.literal(str(seed))}, "
            "header = true, all_varchar = true)"
        )
    return connection


def _drift_problems(spec: SourceSpec, present: list[str]) -> tuple[list[str], list[str]]:
    """Schema drift as (failures, warnings) under the spec's policy."""
    failures: list[str] = []
    warnings: list[str] = []
    declared = {column.name: column for column in spec.columns}
    missing = [name for name in declared if name not in present]
    unexpected = sorted(set(present) - set(declared))
    if missing:
        blocking = missing if spec.missing_columns == "fail" else [n for n in missing if not declared[n].nullable]
        if blocking:
            failures.append(f"schema_drift: missing columns {', '.join(blocking)}")
        elif missing:
            warnings.append(f"schema_drift: missing nullable columns {', '.join(missing)} read as null")
    if unexpected and spec.unexpected_columns != "ignore":
        message = f"schema_drift: unexpected columns {', '.join(unexpected)}"
        (failures if spec.unexpected_columns == "fail" else warnings).append(message)
    return failures, warnings


def _control_problems(landed: LandedFile, spec: SourceSpec, records: int) -> list[str]:
    if spec.control is None or landed.control_bytes is None:
        return []
    try:
        stated: ControlValues = parse_control_file(landed.control_bytes, spec.control)
    except ControlFileError as error:
        return [f"control_file: {error}"]
    problems = []
    if stated.row_count != records:
        problems.append(f"control_row_count: control file states {stated.row_count} rows, file has {records}")
    if stated.checksum is not None:
        actual = landed.content_md5 if spec.control.checksum_algorithm == "md5" else landed.content_sha256
        if stated.checksum != actual:
            problems.append(
                f"control_checksum: control file states {spec.control.checksum_algorithm} {stated.checksum}, "
                f"file has {actual}"
            )
    return problems


def _duplicate_key_problem(connection: duckdb.DuckDBPyConnection, spec: SourceSpec) -> str | None:
    keys = [spec.source_id_field] + ([spec.version_field] if spec.version_field else [])
    key_sql = ", ".join(checks.quote(key) for key in keys)
    counted = connection.execute(
        f"select count(*) = count(distinct ({key_sql})) from checked where not _failed"
    ).fetchone()
    if counted is not None and counted[0]:
        return None  # the common case, answered by one cheap aggregate
    rows = connection.execute(
        f"select {key_sql}, list(_row_number order by _row_number)[1:5] as row_numbers, count(*) over () as repeated "
        f"from checked where not _failed group by {key_sql} having count(*) > 1 "
        f"order by min(_row_number) limit 3"
    ).fetchall()
    if not rows:
        return None
    examples = "; ".join(
        f"{'/'.join(str(value) for value in row[: len(keys)])} at rows {', '.join(map(str, row[len(keys)]))}"
        for row in rows
    )
    return f"duplicate_keys: {rows[0][-1]} keys ({', '.join(keys)}) appear more than once, e.g. {examples}"


def _file_rule_problems(
    connection: duckdb.DuckDBPyConnection, spec: SourceSpec
) -> tuple[list[str], list[str], list[RuleResult]]:
    query = checks.file_rule_select(spec)
    if query is None:
        return [], [], []
    outcome = connection.execute(query).fetchone()
    assert outcome is not None
    failures: list[str] = []
    warnings: list[str] = []
    results: list[RuleResult] = []
    for rule, holds in zip(spec.file_rules, outcome, strict=True):
        if holds:
            continue
        message = f"{rule.name}: file rule failed: {rule.expr}"
        (failures if rule.severity == "error" else warnings).append(message)
        results.append(RuleResult(rule.name, "file", rule.severity, 0))
    return failures, warnings, results


def _stage_good_rows(connection: duckdb.DuckDBPyConnection, spec: SourceSpec, landed: LandedFile, target: Path) -> None:
    columns = ", ".join(checks.quote(name) for name in spec.column_names)
    ingested_at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    lineage = (
        f"{checks.literal(landed.file_id)} as _file_id, {checks.literal(landed.landing_key)} as _landing_key, "
        "_row_number as _source_row_number, "
        f"cast({checks.literal(landed.business_date.isoformat())} as date) as _business_date, "
        f"cast({checks.literal(ingested_at)} as timestamp) as _ingested_at"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    connection.execute(
        f"copy (select {columns}, {lineage} from checked where not _failed) "
        f"to {checks.literal(str(target))} (format parquet, compression snappy)"
    )


def _row_rule_results(connection: duckdb.DuckDBPyConnection, spec: SourceSpec) -> list[RuleResult]:
    severities = {check.name: check.severity for check in checks.row_checks(spec)}
    counts = connection.execute(
        "select rule, count(*) from (select unnest(_errors || _warnings) as rule from flagged) "
        "group by rule order by rule"
    ).fetchall()
    return [RuleResult(str(rule), "row", severities.get(str(rule), "error"), int(count)) for rule, count in counts]


def _quarantine(connection: duckdb.DuckDBPyConnection, spec: SourceSpec, read: ReadResult) -> pa.Table:
    table = connection.sql(
        "select _row_number as row_number, raw_record, cast(to_json(_errors) as varchar) as failed_rules "
        "from flagged where len(_errors) > 0 order by _row_number"
    ).to_arrow_table()
    rejects = pa.table(
        {
            "row_number": pa.array([reject.row_number for reject in read.rejects], pa.int64()),
            "raw_record": pa.array([json.dumps({"_line": reject.raw}) for reject in read.rejects], pa.string()),
            "failed_rules": pa.array([json.dumps([reject.reason]) for reject in read.rejects], pa.string()),
        }
    )
    return pa.concat_tables([table.cast(QUARANTINE_SCHEMA), rejects.cast(QUARANTINE_SCHEMA)]).sort_by("row_number")


def validate_file(
    spec: SourceSpec, landed: LandedFile, settings: ValidatorSettings, staged_path: Path
) -> FileValidation:
    """Check one file; on success write its good rows to `staged_path` as Parquet."""
    result = FileValidation(passed=False)
    limit = spec.expectations.max_file_size_mb
    if limit is not None and landed.size_bytes > limit * 1024 * 1024:
        result.reasons.append(f"max_file_size: {landed.size_bytes} bytes is over the {limit} MB limit")
        return result
    connection = _connect(settings)
    try:
        try:
            read = read_into_duckdb(connection, landed.path, spec)
        except UnreadableFileError as error:
            result.reasons.append(f"unreadable: {error}")
            return result
        drift_failures, drift_warnings = _drift_problems(spec, read.present_columns)
        result.reasons += drift_failures
        result.warnings += drift_warnings
        parsed_rows = connection.execute("select count(*) from raw_input").fetchone()
        assert parsed_rows is not None
        result.rows_total = int(parsed_rows[0]) + len(read.rejects)
        if result.rows_total == 0:
            result.reasons.append("empty_file: the file has no data rows")
        result.reasons += _control_problems(landed, spec, result.rows_total)
        connection.execute(f"create view typed as {checks.typed_select(spec, set(read.present_columns))}")
        for statement in checks.id_set_statements(spec):
            connection.execute(statement)
        connection.execute(f"create table checked as {checks.checked_select(spec)}")
        connection.execute(f"create table flagged as {checks.rule_lists_select(spec)}")
        duplicate = _duplicate_key_problem(connection, spec)
        if duplicate:
            result.reasons.append(duplicate)
        file_failures, file_warnings, file_results = _file_rule_problems(connection, spec)
        result.reasons += file_failures
        result.warnings += file_warnings
        result.rule_results = _row_rule_results(connection, spec) + file_results
        if result.reasons:
            return result
        result.quarantine = _quarantine(connection, spec, read)
        counts = connection.execute(
            "select count(*) filter (where not _failed), count(*) filter (where not _failed and _warned) from checked"
        ).fetchone()
        assert counts is not None
        result.rows_loaded, result.rows_warned = int(counts[0]), int(counts[1])
        result.rows_quarantined = result.quarantine.num_rows
        _stage_good_rows(connection, spec, landed, staged_path)
        result.staged_path = staged_path
        result.passed = True
        return result
    finally:
        connection.close()
