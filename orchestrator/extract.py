"""Write the vendor extract for a date from `consumer.markets_extract`, manifest last."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator import __version__
from orchestrator.backends import Buckets
from orchestrator.exceptions import Terminal
from orchestrator.storage import read_bytes
from orchestrator.warehouse.base import Warehouse

ExtractFormat = Literal["jsonl", "csv", "parquet"]

WINDOW_DAYS = 7

# Vendor-facing columns, in order. Wall-clock lineage (`_ingested_at`) stays out so reruns are byte-identical.
EXTRACT_COLUMNS = (
    "trade_id",
    "source_name",
    "source_system",
    "source_trade_id",
    "trade_version",
    "event_type",
    "is_cancelled",
    "trade_date",
    "executed_at",
    "settlement_date",
    "isin",
    "instrument_name",
    "asset_class",
    "side",
    "quantity",
    "price",
    "currency",
    "notional",
    "trader_id",
    "trader_name",
    "desk",
    "book_id",
    "legal_entity_lei",
    "counterparty_lei",
    "counterparty_name",
    "venue_mic",
)

_SUFFIX = {"jsonl": "jsonl.gz", "csv": "csv.gz", "parquet": "parquet"}
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExtractSourceMissingError(Terminal):
    """`consumer.markets_extract` is not built yet."""


@dataclass(frozen=True)
class ExtractResult:
    """Where the extract went and what it holds."""

    date: dt.date
    data_key: str
    manifest_key: str
    rows: int
    sha256: str
    unchanged: bool

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape."""
        return {
            "date": self.date.isoformat(),
            "data_key": self.data_key,
            "manifest_key": self.manifest_key,
            "rows": self.rows,
            "sha256": self.sha256,
            "unchanged": self.unchanged,
        }


def _text(value: Any) -> Any:
    """One cell as JSON: decimals as exact strings, timestamps as ISO 8601 UTC."""
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _records(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=50_000):
        for row in batch.to_pylist():
            yield {name: _text(row[name]) for name in EXTRACT_COLUMNS}


def neutralise_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not execute: a leading formula character gets a quote prefix."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _jsonl(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as writer:
        for record in _records(table):
            writer.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
    return buffer.getvalue()


def _csv(table: pa.Table) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(EXTRACT_COLUMNS)
    for record in _records(table):
        writer.writerow([neutralise_cell(record[name]) for name in EXTRACT_COLUMNS])
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as compressed:
        compressed.write(text.getvalue().encode())
    return buffer.getvalue()


def _parquet(table: pa.Table, scratch: Path) -> bytes:
    scratch.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.select(list(EXTRACT_COLUMNS)), scratch, compression="zstd")
    data = scratch.read_bytes()
    scratch.unlink()
    return data


def window_rows(warehouse: Warehouse, date: dt.date) -> pa.Table:
    """The extract window's rows in a stable order."""
    start = date - dt.timedelta(days=WINDOW_DAYS - 1)
    if not warehouse.table_columns("consumer", "markets_extract"):
        raise ExtractSourceMissingError(
            "consumer.markets_extract does not exist yet: run 'mdp run' (a cycle with dbt) first"
        )
    columns = ", ".join(EXTRACT_COLUMNS)
    return warehouse.query_arrow(
        f"select {columns} from {warehouse.table('consumer', 'markets_extract')} "
        "where trade_date between @start and @end order by trade_id",
        {"start": start, "end": date},
    )


def write_extract(
    warehouse: Warehouse, buckets: Buckets, date: dt.date, fmt: ExtractFormat, scratch_dir: Path
) -> ExtractResult:
    """Write the data file, then its manifest; an unchanged extract is left as it is."""
    table = window_rows(warehouse, date)
    if fmt == "jsonl":
        data = _jsonl(table)
    elif fmt == "csv":
        data = _csv(table)
    else:
        data = _parquet(table, scratch_dir / "extract.parquet")
    folder = f"{date.isoformat()}/"
    data_key = f"{folder}markets_extract_{date.isoformat()}.{_SUFFIX[fmt]}"
    manifest_key = f"{folder}markets_extract_{date.isoformat()}.{fmt}.manifest.json"
    sha256 = hashlib.sha256(data).hexdigest()
    existing = buckets.extracts.stat(manifest_key)
    if existing is not None and json.loads(read_bytes(buckets.extracts, manifest_key))["sha256"] == sha256:
        return ExtractResult(date, data_key, manifest_key, table.num_rows, sha256, unchanged=True)
    buckets.extracts.write_bytes(data_key, data)
    manifest = {
        "file": data_key.rsplit("/", 1)[-1],
        "format": fmt,
        "rows": table.num_rows,
        "sha256": sha256,
        "size_bytes": len(data),
        "window": {"start": (date - dt.timedelta(days=WINDOW_DAYS - 1)).isoformat(), "end": date.isoformat()},
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code_version": __version__,
        "columns": list(EXTRACT_COLUMNS),
    }
    buckets.extracts.write_bytes(manifest_key, json.dumps(manifest, indent=2).encode() + b"\n")
    return ExtractResult(date, data_key, manifest_key, table.num_rows, sha256, unchanged=False)
