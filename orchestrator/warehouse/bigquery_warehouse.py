"""The cloud warehouse: BigQuery, loading staged Parquet from GCS with load jobs."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import io
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core import exceptions as google_exceptions
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_JOB_RETRY, DEFAULT_RETRY

from orchestrator.exceptions import Terminal, Transient
from orchestrator.specs.model import SourceSpec
from orchestrator.storage.base import ObjectStore
from orchestrator.warehouse.base import STREAM_COLUMNS, FileCommit, RawRelayout
from orchestrator.warehouse.control_tables import CONTROL_TABLES, LINEAGE_COLUMNS

log = logging.getLogger("mdp.warehouse")

RAW_PARTITION_FIELD = "_ingested_at"
"""Raw tables are partitioned by the day a row was loaded, so the raw dataset's partition expiration keeps every
row its full retention from then, whatever business date a file is for (a backfill of an old date included)."""

BIGQUERY_TYPES = {
    "string": "STRING",
    "integer": "INT64",
    "decimal": "NUMERIC",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOL",
}

# Error reasons that a retry cannot fix; every other reason is transient.
# https://cloud.google.com/bigquery/docs/error-messages
TERMINAL_ERROR_REASONS = frozenset(
    {
        "invalid",
        "invalidQuery",
        "notFound",
        "accessDenied",
        "billingNotEnabled",
        "responseTooLarge",
        "resourcesExceeded",
    }
)

# Retries are bounded so a backend that keeps failing surfaces as an error within minutes, not hangs.
_RETRY = DEFAULT_RETRY.with_timeout(120.0)
_JOB_RETRY = DEFAULT_JOB_RETRY.with_timeout(120.0)
# Query parameters in one INSERT statement; BigQuery allows 10,000 per query.
_MAX_INSERT_PARAMETERS = 4000

_RELAYOUT_COPY_SUFFIX = "__by_load_day"

SCHEMAS = ("raw", "staging", "curation", "consumer", "dimensions", "snapshots", "control")
_LABEL_CLEAN = re.compile(r"[^a-z0-9_-]")


class WarehouseQueryError(Terminal):
    """BigQuery rejected the request; rerunning unchanged will fail the same way."""


class RelayoutIncompleteError(Terminal):
    """A raw table's copy lacks rows its original holds: the original is kept."""


class WarehouseUnavailableError(Transient):
    """BigQuery did not answer or answered with a retryable error."""


def _reason(error: google_exceptions.GoogleAPICallError) -> str:
    errors = getattr(error, "errors", None) or []
    return str(errors[0].get("reason", "")) if errors else ""


def _translate(error: google_exceptions.GoogleAPICallError, what: str) -> Exception:
    if _reason(error) in TERMINAL_ERROR_REASONS or isinstance(
        error, google_exceptions.BadRequest | google_exceptions.NotFound | google_exceptions.Forbidden
    ):
        return WarehouseQueryError(f"{what}: {error.message}")
    return WarehouseUnavailableError(f"{what}: {error.message}; the next cycle retries")


def _label(value: str) -> str:
    return _LABEL_CLEAN.sub("_", value.lower())[:63]


def _parameter(name: str, value: Any) -> bigquery.ScalarQueryParameter:
    if isinstance(value, bool):
        kind = "BOOL"
    elif isinstance(value, int):
        kind = "INT64"
    elif isinstance(value, float):
        kind = "FLOAT64"
    elif isinstance(value, decimal.Decimal):
        kind = "NUMERIC"
    elif isinstance(value, dt.datetime):
        kind = "TIMESTAMP"
    elif isinstance(value, dt.date):
        kind = "DATE"
    else:
        kind = "STRING"
    return bigquery.ScalarQueryParameter(name, kind, value)


def _partition_field(table: bigquery.Table) -> str | None:
    return table.time_partitioning.field if table.time_partitioning else None


def _schema(columns: Sequence[tuple[str, str]]) -> list[bigquery.SchemaField]:
    return [bigquery.SchemaField(name, BIGQUERY_TYPES[kind]) for name, kind in columns]


class BigQueryWarehouse:
    """Warehouse on BigQuery datasets named after the layers; small control loads go through a scratch bucket."""

    def __init__(
        self,
        client: bigquery.Client,
        project: str,
        location: str,
        scratch: ObjectStore,
        datasets: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self.project = project
        self.location = location
        self._scratch = scratch
        self._datasets = {schema: (datasets or {}).get(schema, schema) for schema in SCHEMAS}
        self._labels = {"pipeline": "markets-data-pipeline", **{k: _label(v) for k, v in (labels or {}).items()}}

    def table(self, schema: str, name: str) -> str:
        """`project.dataset.table`, quoted."""
        return f"`{self.project}.{self._datasets[schema]}.{name}`"

    def _reference(self, schema: str, name: str) -> str:
        return f"{self.project}.{self._datasets[schema]}.{name}"

    def _ensure_table(
        self,
        schema: str,
        name: str,
        columns: Sequence[tuple[str, str]],
        spec: SourceSpec | None,
        partition_field: str | None = None,
    ) -> None:
        """Create the table if missing, partitioned by `partition_field` and clustered per spec; add any missing
        columns to an existing one."""
        wanted = _schema(columns)
        try:
            existing = self._client.get_table(self._reference(schema, name))
        except google_exceptions.NotFound:
            self._create_table(schema, name, wanted, spec, partition_field)
            return
        partitioned_by = _partition_field(existing)
        if partition_field is not None and partitioned_by != partition_field:
            # BigQuery cannot change a table's partitioning in place: `relayout_raw_table` recreates it.
            log.warning(
                "table %s.%s is partitioned by %s, not %s: its partition expiration does not count from the day "
                "rows were loaded; with no cycle running, 'mdp sources relayout-raw %s' recreates it",
                schema,
                name,
                partitioned_by or "ingestion time",
                partition_field,
                name,
            )
        present = {field.name for field in existing.schema}
        missing = [field for field in wanted if field.name not in present]
        if missing:
            existing.schema = [*existing.schema, *missing]
            self._client.update_table(existing, ["schema"])

    def _create_table(
        self,
        schema: str,
        name: str,
        fields: Sequence[bigquery.SchemaField],
        spec: SourceSpec | None,
        partition_field: str | None,
    ) -> None:
        table = bigquery.Table(self._reference(schema, name), schema=list(fields))
        if partition_field is not None:
            table.time_partitioning = bigquery.TimePartitioning(field=partition_field)
        if spec is not None and spec.cluster_by:
            table.clustering_fields = list(spec.cluster_by[:4])
        self._client.create_table(table, exists_ok=True)

    def _ensure_dataset(self, dataset: str) -> None:
        # Look before creating: the BigQuery emulator answers a second create with a retryable 500, not 409.
        try:
            self._client.get_dataset(f"{self.project}.{dataset}")
        except google_exceptions.NotFound:
            reference = bigquery.Dataset(f"{self.project}.{dataset}")
            reference.location = self.location
            self._client.create_dataset(reference, exists_ok=True)

    def ensure_layout(self, specs: Sequence[SourceSpec]) -> None:
        """Datasets, control tables and raw tables (partitioned by the day rows were loaded, clustered per spec)."""
        try:
            for dataset in self._datasets.values():
                self._ensure_dataset(dataset)
            for table, columns in CONTROL_TABLES.items():
                self._ensure_table("control", table, columns, None)
            for spec in specs:
                raw_columns: list[tuple[str, str]] = [(column.name, column.type) for column in spec.columns]
                self._ensure_table(
                    "raw", spec.name, raw_columns + list(LINEAGE_COLUMNS), spec, partition_field=RAW_PARTITION_FIELD
                )
        except google_exceptions.GoogleAPICallError as error:
            raise _translate(error, "ensure_layout") from error

    def _job_config(self, **labels: str) -> dict[str, Any]:
        return {"labels": {**self._labels, **{k: _label(v) for k, v in labels.items()}}}

    def _run(self, sql: str, params: Mapping[str, Any] | None = None, **labels: str) -> bigquery.table.RowIterator:
        config = bigquery.QueryJobConfig(
            query_parameters=[_parameter(name, value) for name, value in (params or {}).items()],
            **self._job_config(**labels),
        )
        try:
            return self._client.query(
                sql, job_config=config, location=self.location, retry=_RETRY, job_retry=_JOB_RETRY
            ).result()
        except google_exceptions.GoogleAPICallError as error:
            raise _translate(error, f"query failed ({sql[:80]}...)") from error

    def _load_parquet(self, uri: str, schema: str, name: str, job_id: str, **labels: str) -> None:
        """Append a Parquet object; a job id already used means a retry, so the existing job is awaited."""
        try:
            # The destination's schema is stated explicitly: the BigQuery emulator cannot infer it from Parquet.
            config = bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.PARQUET,
                write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
                schema=self._client.get_table(self._reference(schema, name)).schema,
                **self._job_config(**labels),
            )
            try:
                self._client.load_table_from_uri(
                    uri, self._reference(schema, name), job_id=job_id, job_config=config, location=self.location
                ).result()
            except google_exceptions.Conflict:
                self._client.get_job(job_id, location=self.location).result()
        except google_exceptions.GoogleAPICallError as error:
            raise _translate(error, f"load job {job_id} of {uri}") from error

    def _replace_control_rows(self, table: str, file_id: str, rows: pa.Table, run_id: str) -> None:
        self._run(f"delete from {self.table('control', table)} where file_id = @file_id", {"file_id": file_id})
        if not rows.num_rows:
            return
        buffer = io.BytesIO()
        pq.write_table(rows, buffer)
        key = f"_warehouse_loads/{table}/{file_id}-{run_id}.parquet"
        self._scratch.write_bytes(key, buffer.getvalue())
        # Fresh for every replacement: the delete above just removed what an earlier job with a reused id loaded.
        job_id = f"mdp_{table}_{file_id[:24]}_{uuid.uuid4().hex[:12]}"
        self._load_parquet(self._scratch.uri(key), "control", table, job_id, run_id=run_id)
        self._scratch.delete(key)

    def commit_file(self, commit: FileCommit) -> None:
        """Replace the file's raw rows, quarantine and rule results, then record it; each step is idempotent."""
        run_id = str(commit.ingested_file.get("run_id", ""))
        name = commit.spec.name
        # The same file, run and table give the same job id, so a retried commit finds the finished load.
        target = f"{self._reference('raw', name)}|{run_id}"
        attempt = hashlib.md5(target.encode(), usedforsecurity=False).hexdigest()[:12]
        load_job_id = f"mdp_load_{name}_{commit.file_id[:24]}_{attempt}"
        if commit.staged_uri is not None and not self._load_done(load_job_id):
            self._run(f"delete from {self.table('raw', name)} where _file_id = @file_id", {"file_id": commit.file_id})
            self._load_parquet(commit.staged_uri, "raw", name, load_job_id, source=name, run_id=run_id)
        self._replace_control_rows("quarantined_rows", commit.file_id, commit.quarantine, run_id)
        self._replace_control_rows("rule_results", commit.file_id, commit.rule_results, run_id)
        self.insert_rows("ingested_files", [commit.ingested_file])

    def replace_quarantine(self, file_id: str, quarantine: pa.Table, rule_results: pa.Table) -> None:
        """Replace a file's quarantined rows and rule results; its record stays. A repair run by hand."""
        run_id = f"repair-{uuid.uuid4().hex[:12]}"
        self._replace_control_rows("quarantined_rows", file_id, quarantine, run_id)
        self._replace_control_rows("rule_results", file_id, rule_results, run_id)

    def replace_raw_rows(self, spec: SourceSpec, file_id: str, staged_uri: str | None) -> None:
        """Replace a file's raw rows with those of its staged Parquet (or delete them: None); records stay. A
        repair run by hand, so each call loads afresh (a new job id)."""
        self._run(f"delete from {self.table('raw', spec.name)} where _file_id = @file_id", {"file_id": file_id})
        if staged_uri is None:
            return
        job_id = f"mdp_reload_{spec.name}_{file_id[:24]}_{uuid.uuid4().hex[:12]}"
        self._load_parquet(staged_uri, "raw", spec.name, job_id, source=spec.name)

    def _load_done(self, job_id: str) -> bool:
        try:
            job = self._client.get_job(job_id, location=self.location)
        except google_exceptions.NotFound:
            return False
        return bool(job.state == "DONE" and job.error_result is None)

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """DML inserts (not streaming), so later reruns may delete or update them: one INSERT statement per
        chunk of rows, as each statement is a query job of a second or more (the audit mirror writes 1,000 rows
        at a time)."""
        names = [name for name, _ in CONTROL_TABLES[table]]
        types = dict(CONTROL_TABLES[table])
        chunk = max(1, _MAX_INSERT_PARAMETERS // len(names))
        for start in range(0, len(rows), chunk):
            tuples = []
            params: dict[str, Any] = {}
            for number, row in enumerate(rows[start : start + chunk]):
                values = []
                for name in names:
                    value = row.get(name)
                    if value is None:  # an untyped null parameter is refused: the column's type says it
                        values.append(f"cast(null as {BIGQUERY_TYPES[types[name]]})")
                    else:
                        params[f"r{number}_{name}"] = value
                        values.append(f"@r{number}_{name}")
                tuples.append(f"({', '.join(values)})")
            self._run(
                f"insert into {self.table('control', table)} ({', '.join(names)}) values {', '.join(tuples)}", params
            )

    def append_stream_messages(self, table: str, messages: pa.Table) -> None:
        """Streaming inserts with message ids as row ids (BigQuery drops a retried row, best effort); creates
        `raw.<table>` on first use. In the cloud a BigQuery subscription writes these tables instead."""
        rows = [
            {name: value.isoformat() if isinstance(value, dt.datetime) else value for name, value in row.items()}
            for row in messages.to_pylist()
        ]
        reference = self._reference("raw", table)
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            try:
                try:
                    errors = self._client.insert_rows_json(
                        reference, chunk, row_ids=[row["message_id"] for row in chunk], retry=_RETRY
                    )
                except google_exceptions.NotFound:
                    self._ensure_dataset(self._datasets["raw"])
                    self._ensure_table("raw", table, STREAM_COLUMNS, None, partition_field=RAW_PARTITION_FIELD)
                    errors = self._client.insert_rows_json(
                        reference, chunk, row_ids=[row["message_id"] for row in chunk], retry=_RETRY
                    )
            except google_exceptions.GoogleAPICallError as error:
                raise _translate(error, f"streaming insert into raw.{table}") from error
            if errors:
                raise WarehouseQueryError(f"table=raw.{table}: {len(errors)} rows rejected, first: {errors[0]}")

    def relayout_raw_table(self, spec: SourceSpec) -> RawRelayout:
        """Recreate a raw table partitioned otherwise (by `_business_date`, as before the load-day layout),
        partitioned by the day rows were loaded and clustered per spec. BigQuery cannot repartition in place: the
        rows go to a copy (`<name>__by_load_day`), the original is dropped only once the copy holds every row the
        new layout keeps, then the table is made again from the copy and the copy dropped. A rerun finishes a run
        that stopped at any step."""
        name, copy_name = spec.name, f"{spec.name}{_RELAYOUT_COPY_SUFFIX}"
        try:
            table, copy = self._table_or_none("raw", name), self._table_or_none("raw", copy_name)
            partitioned_by = _partition_field(table) if table is not None else None
            if table is not None and partitioned_by == RAW_PARTITION_FIELD:
                if copy is None:
                    return RawRelayout(f"raw.{name}", "current", partitioned_by, self._raw_rows(name))
                # Stopped after the table was made again: it may still lack the copy's rows.
            elif table is not None:
                if copy is not None:  # a copy a stopped run began: made again from the original
                    self._client.delete_table(copy)
                self._create_table("raw", copy_name, table.schema, spec, RAW_PARTITION_FIELD)
                self._copy_rows(name, copy_name)
                self._client.delete_table(table)
                table = None
            elif copy is None:
                return RawRelayout(f"raw.{name}", "absent", None, 0)
            if table is None:
                fields = self._client.get_table(self._reference("raw", copy_name)).schema
                self._create_table("raw", name, fields, spec, RAW_PARTITION_FIELD)
            self._copy_rows(copy_name, name)
            self._client.delete_table(self._reference("raw", copy_name))
            return RawRelayout(f"raw.{name}", "relaid", partitioned_by, self._raw_rows(name))
        except google_exceptions.GoogleAPICallError as error:
            raise _translate(error, f"relayout of raw.{name}") from error

    def _table_or_none(self, schema: str, name: str) -> bigquery.Table | None:
        try:
            return self._client.get_table(self._reference(schema, name))
        except google_exceptions.NotFound:
            return None

    def _raw_rows(self, name: str) -> int:
        [row] = self._run(f"select count(*) as n from {self.table('raw', name)}", operation="relayout")
        return int(row["n"])

    def _copy_rows(self, source: str, target: str) -> None:
        """Append the rows of files `target` lacks (all of them, but after a stopped run), then check that it
        holds every row of `source` that its partition expiration keeps."""
        fields = ", ".join(f"`{field.name}`" for field in self._client.get_table(self._reference("raw", source)).schema)
        source_table, target_table = self.table("raw", source), self.table("raw", target)
        self._run(
            f"insert into {target_table} ({fields}) select {fields} from {source_table} as copied "
            f"where not exists (select 1 from {target_table} as present where present._file_id = copied._file_id)",
            operation="relayout",
        )
        dataset = self._client.get_dataset(f"{self.project}.{self._datasets['raw']}")
        kept = "true"
        if dataset.default_partition_expiration_ms is not None:
            seconds = int(dataset.default_partition_expiration_ms) // 1000
            kept = f"{RAW_PARTITION_FIELD} >= timestamp_sub(current_timestamp(), interval {seconds} second)"
        [counts] = self._run(
            f"select (select count(*) from {source_table} where {kept}) as expected, "
            f"(select count(*) from {target_table} where {kept}) as copied",
            operation="relayout",
        )
        if counts["copied"] < counts["expected"]:
            raise RelayoutIncompleteError(
                f"table=raw.{target}: holds {counts['copied']} of the {counts['expected']} rows of raw.{source} "
                f"that its layout keeps; raw.{source} is kept; rerun the command"
            )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts."""
        return [dict(row.items()) for row in self._run(sql, params)]

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """An Arrow table (REST download; no Storage API client needed)."""
        table: pa.Table = self._run(sql, params).to_arrow(create_bqstorage_client=False)
        return table

    def table_columns(self, schema: str, name: str) -> list[str]:
        """Column names of a table, in order; empty when it does not exist."""
        try:
            table = self._client.get_table(self._reference(schema, name))
        except google_exceptions.NotFound:
            return []
        return [field.name for field in table.schema]

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()  # type: ignore[no-untyped-call]
