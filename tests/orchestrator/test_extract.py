from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.backends import open_buckets
from orchestrator.extract import EXTRACT_COLUMNS, neutralise_cell, write_extract
from orchestrator.settings import Settings
from orchestrator.storage import read_bytes
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")', id="formula"),
        pytest.param("+1+2", "'+1+2", id="plus"),
        pytest.param("-2+3", "'-2+3", id="minus"),
        pytest.param("@SUM(A1)", "'@SUM(A1)", id="at"),
        pytest.param("Copper Utilities", "Copper Utilities", id="plain-text"),
        pytest.param(None, "", id="null"),
    ],
)
def test_csv_cells_never_execute_in_a_spreadsheet(cell: str | None, expected: str) -> None:
    assert neutralise_cell(cell) == expected


def test_csv_extract_neutralises_formulas_and_is_rerun_stable(settings: Settings) -> None:
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        row = dict.fromkeys(EXTRACT_COLUMNS) | {
            "trade_id": "a" * 32,
            "trade_date": dt.date(2026, 11, 20),
            "counterparty_name": "=cmd|' /C calc'!A0",
            "quantity": decimal.Decimal("100.500000000"),
        }
        source = settings.home / "markets_extract.parquet"
        pq.write_table(pa.Table.from_pylist([row]), source)
        warehouse.query("create schema consumer")
        warehouse.query(
            "create table consumer.markets_extract as select * from read_parquet(@path)", {"path": str(source)}
        )
        buckets = open_buckets(settings)
        first = write_extract(warehouse, buckets, dt.date(2026, 11, 20), "csv", settings.work_dir)
        data = read_bytes(buckets.extracts, first.data_key)
        again = write_extract(warehouse, buckets, dt.date(2026, 11, 20), "csv", settings.work_dir)
    finally:
        warehouse.close()
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(data).decode())))
    assert rows[0]["counterparty_name"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["quantity"] == "100.5"
    assert again.unchanged
    assert read_bytes(buckets.extracts, first.data_key) == data
    assert Path(settings.home / "extracts" / first.manifest_key).exists()
