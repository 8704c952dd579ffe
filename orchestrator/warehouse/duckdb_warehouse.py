"""The embedded warehouse: one DuckDB file."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from orchestrator.exceptions import Transient
from orchestrator.specs.model import SourceSpec
from orchestrator.warehouse.base import STREAM_COLUMNS, FileCommit, RawRelayout
from orchestrator.warehouse.control_tables import CONTROL_TABLES, DUCKDB_TYPES, LINEAGE_COLUMNS, duckdb_control_ddl

SCHEMAS = ("raw", "staging", "curation", "consumer", "dimensions", "snapshots", "control")

_NAMED_PARAMETER = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


class WarehouseBusyError(Transient):
    """Another process holds the DuckDB file."""


def raw_table_columns(spec: SourceSpec) -> list[tuple[str, str]]:
    """(name, portable type) of a raw table: the spec's columns then lineage."""
    return [(column.name, column.type) for column in spec.columns] + list(LINEAGE_COLUMNS)


class DuckDBWarehouse:
    """Warehouse on a local DuckDB file; each file commit is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = duckdb.connect(str(path))
        except duckdb.IOException as error:
            raise WarehouseBusyError(f"warehouse={path}: in use by another process ({error}); retry shortly") from error

    def ensure_layout(self, specs: Sequence[SourceSpec]) -> None:
        """Schemas, control tables and raw tables; new spec columns are added, none dropped."""
        for schema in SCHEMAS:
            self._connection.execute(f"create schema if not exists {schema}")
        for statement in duckdb_control_ddl():
            self._connection.execute(statement)
        for spec in specs:
            columns = raw_table_columns(spec)
            body = ", ".join(f'"{name}" {DUCKDB_TYPES[kind]}' for name, kind in columns)
            self._connection.execute(f'create table if not exists raw."{spec.name}" ({body})')
            existing = {
                row[0]
                for row in self._connection.execute(
                    "select column_name from information_schema.columns where table_schema = 'raw' and table_name = ?",
                    [spec.name],
                ).fetchall()
            }
            for name, kind in columns:
                if name not in existing:
                    self._connection.execute(f'alter table raw."{spec.name}" add column "{name}" {DUCKDB_TYPES[kind]}')

    def relayout_raw_table(self, spec: SourceSpec) -> RawRelayout:
        """DuckDB tables have no partitions: every raw table is current."""
        table = f'raw."{spec.name}"'
        if not self.table_columns("raw", spec.name):
            return RawRelayout(f"raw.{spec.name}", "absent", None, 0)
        [(rows,)] = self._connection.execute(f"select count(*) from {table}").fetchall()
        return RawRelayout(f"raw.{spec.name}", "current", None, rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """All the statements of the block, or none of them."""
        self._connection.execute("begin transaction")
        try:
            yield
            self._connection.execute("commit")
        except BaseException:
            self._connection.execute("rollback")
            raise

    def commit_file(self, commit: FileCommit) -> None:
        """Replace the file's raw rows, quarantine and rule results, then record it: one transaction."""
        with self._transaction():
            self._replace_raw(commit.spec, commit.file_id, commit.staged_uri)
            self._replace_quarantine(commit.file_id, commit.quarantine, commit.rule_results)
            self._insert(self._connection, "ingested_files", [commit.ingested_file])

    def replace_quarantine(self, file_id: str, quarantine: pa.Table, rule_results: pa.Table) -> None:
        """Replace a file's quarantined rows and rule results, in one transaction; its record stays."""
        with self._transaction():
            self._replace_quarantine(file_id, quarantine, rule_results)

    def _replace_quarantine(self, file_id: str, quarantine: pa.Table, rule_results: pa.Table) -> None:
        connection = self._connection
        for table, rows in (("quarantined_rows", quarantine), ("rule_results", rule_results)):
            connection.execute(f"delete from control.{table} where file_id = ?", [file_id])
            if rows.num_rows:
                connection.register("incoming_rows", rows)
                connection.execute(f"insert into control.{table} by name select * from incoming_rows")
                connection.unregister("incoming_rows")

    def replace_raw_rows(self, spec: SourceSpec, file_id: str, staged_uri: str | None) -> None:
        """Replace a file's raw rows with those of its staged Parquet (or delete them: None), in one transaction;
        records stay."""
        with self._transaction():
            self._replace_raw(spec, file_id, staged_uri)

    def _replace_raw(self, spec: SourceSpec, file_id: str, staged_uri: str | None) -> None:
        raw = f'raw."{spec.name}"'
        self._connection.execute(f"delete from {raw} where _file_id = ?", [file_id])
        if staged_uri is not None:
            self._connection.execute(f"insert into {raw} by name select * from read_parquet(?)", [staged_uri])

    @staticmethod
    def _insert(connection: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        names = [name for name, _ in CONTROL_TABLES[table]]
        placeholders = ", ".join("?" for _ in names)
        connection.executemany(
            f"insert into control.{table} ({', '.join(names)}) values ({placeholders})",
            [[row.get(name) for name in names] for row in rows],
        )

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append control rows."""
        if rows:
            self._insert(self._connection, table, rows)

    def append_stream_messages(self, table: str, messages: pa.Table) -> None:
        """Append stream messages in one transaction, creating `raw.<table>` on first use."""
        body = ", ".join(f'"{name}" {DUCKDB_TYPES[kind]}' for name, kind in STREAM_COLUMNS)
        self._connection.execute("create schema if not exists raw")
        self._connection.execute(f'create table if not exists raw."{table}" ({body})')
        self._connection.register("incoming_messages", messages)
        try:
            self._connection.execute(f'insert into raw."{table}" by name select * from incoming_messages')
        finally:
            self._connection.unregister("incoming_messages")

    @staticmethod
    def _translate(sql: str) -> str:
        return _NAMED_PARAMETER.sub(r"$\1", sql)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts."""
        cursor = self._connection.execute(self._translate(sql), dict(params or {}))
        names = [column[0] for column in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """An Arrow table."""
        table: pa.Table = self._connection.sql(self._translate(sql), params=dict(params or {})).to_arrow_table()
        return table

    def table(self, schema: str, name: str) -> str:
        """`schema.name` in the one DuckDB database."""
        return f"{schema}.{name}"

    def table_columns(self, schema: str, name: str) -> list[str]:
        """Column names of a table, in order."""
        rows = self._connection.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
        return [str(row[0]) for row in rows]

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()
