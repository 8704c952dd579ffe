"""The warehouse seam: raw loads, control rows and queries, whatever the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from orchestrator.specs.model import SourceSpec

STREAM_COLUMNS: tuple[tuple[str, str], ...] = (
    ("subscription_name", "string"),
    ("message_id", "string"),
    ("publish_time", "timestamp"),
    ("data", "string"),
    ("attributes", "string"),
    ("_ingested_at", "timestamp"),
)
"""Columns of a `raw.<stream>_stream` table: what a BigQuery subscription writes with `write_metadata` (data as
UTF-8 text, attributes as a JSON object), plus when the row reached the warehouse (UTC)."""


@dataclass(frozen=True)
class FileCommit:
    """Everything recorded for one validated file, written together."""

    spec: SourceSpec
    file_id: str
    staged_uri: str | None
    quarantine: pa.Table
    rule_results: pa.Table
    ingested_file: Mapping[str, Any]


@dataclass(frozen=True)
class RawRelayout:
    """What `relayout_raw_table` did to one raw table."""

    table: str
    state: str
    """`relaid` (recreated by load day), `current` (already so, or an engine without partitions) or `absent`."""
    partitioned_by: str | None
    """The table's partitioning before the command."""
    rows: int
    """Rows in the table after the command."""


class Warehouse(Protocol):
    """Raw tables, control tables and SQL; SQL parameters are written `@name`."""

    def ensure_layout(self, specs: Sequence[SourceSpec]) -> None:
        """Create schemas, control tables and every spec's raw table (adding new columns)."""
        ...

    def commit_file(self, commit: FileCommit) -> None:
        """Load a file's staged rows and record its quarantine and outcome; rerunning replaces, never duplicates."""
        ...

    def replace_raw_rows(self, spec: SourceSpec, file_id: str, staged_uri: str | None) -> None:
        """Replace a file's raw rows with those of its staged Parquet, or delete them (None): repairs; records
        stay."""
        ...

    def replace_quarantine(self, file_id: str, quarantine: pa.Table, rule_results: pa.Table) -> None:
        """Replace a file's `control.quarantined_rows` and `control.rule_results` (a repair); its record stays."""
        ...

    def insert_rows(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows to a control table (`control.<name>`)."""
        ...

    def append_stream_messages(self, table: str, messages: pa.Table) -> None:
        """Append Pub/Sub messages (STREAM_COLUMNS) to `raw.<table>`, creating it if missing; durable on return."""
        ...

    def relayout_raw_table(self, spec: SourceSpec) -> RawRelayout:
        """Recreate a spec's raw table that an earlier release partitioned otherwise, keeping every row; a rerun
        finishes one that stopped half way. Run with no cycle running (the cycle lock)."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        ...

    def query_arrow(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a query and return an Arrow table."""
        ...

    def table(self, schema: str, name: str) -> str:
        """The fully qualified name of a table."""
        ...

    def table_columns(self, schema: str, name: str) -> list[str]:
        """Column names of a table, in order; empty when it does not exist."""
        ...

    def close(self) -> None:
        """Release the connection (DuckDB allows one writing process at a time)."""
        ...


def missing_columns(warehouse: Warehouse, schema: str, name: str, select_list: str) -> list[str] | None:
    """The columns of a select list (`a, b as c`) that table `schema.name` lacks; None when it does not exist. A
    release that adds a column to a dbt model reaches the warehouse only with the model's next build."""
    present = warehouse.table_columns(schema, name)
    if not present:
        return None
    wanted = (item.strip().split(" ")[0] for item in select_list.split(","))
    return [column for column in wanted if column not in present]
