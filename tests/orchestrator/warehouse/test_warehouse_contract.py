"""The warehouse contract; DuckDB and BigQuery (the emulator) must both pass it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.cloud import bigquery

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.batch.ingest import RULE_RESULTS_SCHEMA
from orchestrator.batch.lock import LOCK_KEY
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.storage import LocalFolderStore, ObjectStore
from orchestrator.storage.gcs import GcsStore
from orchestrator.warehouse.base import FileCommit, RawRelayout, Warehouse
from orchestrator.warehouse.bigquery_warehouse import BIGQUERY_TYPES, RAW_PARTITION_FIELD, SCHEMAS, BigQueryWarehouse
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse, raw_table_columns
from tests import services

Backend = tuple[Warehouse, ObjectStore]
MDP = str(Path(sys.executable).with_name("mdp"))
BUCKET_ROLES = ("landing", "staging", "failed", "archive", "extracts")


@pytest.fixture(params=["duckdb", "bigquery-emulator"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A warehouse and the bucket its staged files come from."""
    if request.param == "duckdb":
        embedded = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
        yield embedded, LocalFolderStore(tmp_path / "staging")
        embedded.close()
        return
    new_gcs_store: Callable[[], ObjectStore] = request.getfixturevalue("new_gcs_store")
    staging = new_gcs_store()
    project = services.bigquery_project()
    client = services.bigquery_client(project)
    # Datasets unique to the test, so tests sharing one emulator never see each other's rows.
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    warehouse = BigQueryWarehouse(client, project, "US", staging, {schema: prefix + schema for schema in SCHEMAS})
    yield warehouse, staging
    warehouse.close()


def _staged(spec: SourceSpec, store: ObjectStore, tmp_path: Path, file_id: str, rows: int) -> str:
    values: dict[str, Any] = {
        "trade_ref": [f"MX{n:010d}" for n in range(rows)],
        "version": [1] * rows,
        "nominal": [pa.scalar(1000, pa.decimal128(38, 9)).as_py()] * rows,
        "trade_date": [dt.date(2026, 11, 20)] * rows,
        "exec_time": [dt.datetime(2026, 11, 20, 9, 30)] * rows,
    }
    columns = {name: values.get(name, [None] * rows) for name in spec.column_names}
    types = {column.name: column.type for column in spec.columns}
    arrow_types = {
        "string": pa.string(),
        "integer": pa.int64(),
        "decimal": pa.decimal128(38, 9),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us"),
        "boolean": pa.bool_(),
    }
    table = pa.table({name: pa.array(columns[name], arrow_types[types[name]]) for name in spec.column_names})
    lineage: dict[str, pa.Array[Any]] = {
        "_file_id": pa.array([file_id] * rows),
        "_landing_key": pa.array(["murex/trades/MX_TRADES_20261120_001.xml"] * rows),
        "_source_row_number": pa.array(range(1, rows + 1), pa.int64()),
        "_business_date": pa.array([dt.date(2026, 11, 20)] * rows, pa.date32()),
        "_ingested_at": pa.array([dt.datetime(2026, 11, 20, 18)] * rows, pa.timestamp("us")),
    }
    for name, array in lineage.items():
        table = table.append_column(name, array)
    local = tmp_path / f"{file_id}.parquet"
    pq.write_table(table, local)
    store.upload_file(local, f"murex_trades/{file_id}.parquet")
    return store.uri(f"murex_trades/{file_id}.parquet")


def _commit(spec: SourceSpec, file_id: str, uri: str, quarantined: int) -> FileCommit:
    quarantine = pa.table(
        {
            "file_id": pa.array([file_id] * quarantined),
            "source": pa.array([spec.name] * quarantined),
            "landing_key": pa.array(["murex/trades/MX_TRADES_20261120_001.xml"] * quarantined),
            "run_id": pa.array(["run-1"] * quarantined),
            "quarantined_at": pa.array([dt.datetime(2026, 11, 20, 18)] * quarantined, pa.timestamp("us")),
            "row_number": pa.array(range(1, quarantined + 1), pa.int64()),
            "raw_record": pa.array(['{"trade_ref": "bad"}'] * quarantined),
            "failed_rules": pa.array(['["regex:trade_ref"]'] * quarantined),
        }
    )
    return FileCommit(
        spec=spec,
        file_id=file_id,
        staged_uri=uri,
        quarantine=quarantine,
        rule_results=RULE_RESULTS_SCHEMA.empty_table(),
        ingested_file={
            "file_id": file_id,
            "source": spec.name,
            "outcome": "loaded",
            "run_id": "run-1",
            "business_date": dt.date(2026, 11, 20),
            "rows_loaded": 3,
        },
    )


def _rows_per_file(warehouse: Warehouse, schema: str, table: str) -> list[tuple[str, int]]:
    """(file_id, rows) of a raw or control table, by file_id."""
    column = "_file_id" if schema == "raw" else "file_id"
    rows = warehouse.query(
        f"select {column} as file_id, count(*) as n from {warehouse.table(schema, table)} "
        f"group by {column} order by {column}"
    )
    return [(row["file_id"], row["n"]) for row in rows]


def test_layout_is_idempotent_and_adds_new_columns(backend: Backend, specs: list[SourceSpec]) -> None:
    warehouse, _ = backend
    spec = find_spec(specs, "traders")
    warehouse.ensure_layout([spec])
    wider = dataclasses.replace(spec, columns=(*spec.columns, dataclasses.replace(spec.columns[1], name="nickname")))
    warehouse.ensure_layout([wider])
    # Checked in the table's schema: the BigQuery emulator cannot query a column added after creation.
    columns = warehouse.table_columns("raw", "traders")
    assert columns.count("nickname") == 1
    assert columns[: len(spec.columns)] == list(spec.column_names)
    assert warehouse.query(f"select trader_id from {warehouse.table('raw', 'traders')}") == []


def _load_murex_files(
    backend: Backend, specs: list[SourceSpec], tmp_path: Path, files: dict[str, tuple[int, int]]
) -> tuple[Warehouse, SourceSpec, dict[str, str]]:
    """The murex_trades layout with one file committed per file_id (its rows, its quarantined rows); the warehouse,
    the spec and each file's staged URI."""
    warehouse, staging = backend
    spec = find_spec(specs, "murex_trades")
    warehouse.ensure_layout([spec])
    uris = {}
    for file_id, (rows, quarantined) in files.items():
        uris[file_id] = _staged(spec, staging, tmp_path, file_id, rows=rows)
        warehouse.commit_file(_commit(spec, file_id, uris[file_id], quarantined=quarantined))
    return warehouse, spec, uris


def test_commit_loads_once_however_often_it_runs(backend: Backend, specs: list[SourceSpec], tmp_path: Path) -> None:
    warehouse, staging = backend
    spec = find_spec(specs, "murex_trades")
    warehouse.ensure_layout([spec])
    uri = _staged(spec, staging, tmp_path, "f" * 64, rows=3)
    warehouse.commit_file(_commit(spec, "f" * 64, uri, quarantined=2))
    again = _commit(spec, "f" * 64, uri, quarantined=2)
    warehouse.commit_file(dataclasses.replace(again, ingested_file={**again.ingested_file, "run_id": "run-2"}))
    raw = warehouse.query(
        f"select count(*) as n, count(distinct _source_row_number) as distinct_rows, max(trade_ref) as last_ref "
        f"from {warehouse.table('raw', 'murex_trades')} where _file_id = @file_id",
        {"file_id": "f" * 64},
    )
    assert raw[0]["n"] == 3
    assert raw[0]["distinct_rows"] == 3
    assert raw[0]["last_ref"] == "MX0000000002"
    quarantined = warehouse.query(f"select count(*) as n from {warehouse.table('control', 'quarantined_rows')}")
    assert quarantined[0]["n"] == 2


def test_replacing_raw_rows_restores_the_staged_rows_or_deletes_them_and_keeps_the_records(
    backend: Backend, specs: list[SourceSpec], tmp_path: Path
) -> None:
    warehouse, spec, uris = _load_murex_files(backend, specs, tmp_path, {"f" * 64: (3, 2), "e" * 64: (2, 0)})
    uri = uris["f" * 64]
    raw = warehouse.table("raw", "murex_trades")
    warehouse.query(f"delete from {raw} where _file_id = @file_id and _source_row_number > 1", {"file_id": "f" * 64})

    warehouse.replace_raw_rows(spec, "f" * 64, uri)
    warehouse.replace_raw_rows(spec, "f" * 64, uri)

    assert _rows_per_file(warehouse, "raw", "murex_trades") == [("e" * 64, 2), ("f" * 64, 3)]
    records = warehouse.query(f"select count(*) as n from {warehouse.table('control', 'ingested_files')}")
    quarantined = warehouse.query(f"select count(*) as n from {warehouse.table('control', 'quarantined_rows')}")
    assert (records[0]["n"], quarantined[0]["n"]) == (2, 2)

    # Without a Parquet, the file's rows go and every other file's stay: the repair of unrecorded rows.
    warehouse.replace_raw_rows(spec, "e" * 64, None)
    assert _rows_per_file(warehouse, "raw", "murex_trades") == [("f" * 64, 3)]


def test_replacing_a_files_quarantine_keeps_every_other_file_its_raw_rows_and_its_record(
    backend: Backend, specs: list[SourceSpec], tmp_path: Path
) -> None:
    warehouse, spec, _ = _load_murex_files(backend, specs, tmp_path, {"f" * 64: (3, 2), "e" * 64: (3, 2)})
    rule_results = pa.Table.from_pylist(
        [
            {"file_id": "f" * 64, "source": spec.name, "rule": "regex:trade_ref", "level": "row"}
            | {"severity": "error", "failed_rows": 4, "run_id": "repair-1"}
        ],
        schema=RULE_RESULTS_SCHEMA,
    )

    warehouse.replace_quarantine("f" * 64, _commit(spec, "f" * 64, "", quarantined=4).quarantine, rule_results)
    warehouse.replace_quarantine("f" * 64, _commit(spec, "f" * 64, "", quarantined=4).quarantine, rule_results)

    assert _rows_per_file(warehouse, "control", "quarantined_rows") == [("e" * 64, 2), ("f" * 64, 4)]
    assert _rows_per_file(warehouse, "control", "rule_results") == [("f" * 64, 1)]
    assert _rows_per_file(warehouse, "control", "ingested_files") == [("e" * 64, 1), ("f" * 64, 1)]
    assert _rows_per_file(warehouse, "raw", "murex_trades") == [("e" * 64, 3), ("f" * 64, 3)]


def test_control_rows_round_trip_with_typed_parameters(backend: Backend, specs: list[SourceSpec]) -> None:
    warehouse, _ = backend
    warehouse.ensure_layout([])
    started = dt.datetime(2026, 11, 20, 10, 15, 0)
    warehouse.insert_rows(
        "validation_runs",
        [{"run_id": "r-1", "started_at": started, "status": "success", "files_loaded": 4, "dbt_status": None}],
    )
    rows = warehouse.query(
        f"select run_id, files_loaded, dbt_status from {warehouse.table('control', 'validation_runs')} "
        "where started_at = @started and run_id = @run_id",
        {"started": started, "run_id": "r-1"},
    )
    assert rows == [{"run_id": "r-1", "files_loaded": 4, "dbt_status": None}]
    table = warehouse.query_arrow(f"select run_id from {warehouse.table('control', 'validation_runs')}")
    assert table.column("run_id").to_pylist() == ["r-1"]


def test_many_control_rows_go_in_whole_with_their_nulls(backend: Backend) -> None:
    # More rows than one INSERT statement takes on BigQuery (the audit mirror writes 1,000 at a time).
    warehouse, _ = backend
    warehouse.ensure_layout([])
    started = dt.datetime(2026, 11, 20, 10, 15, 0)
    rows = [
        {
            "run_id": f"bulk-{n:04d}",
            "started_at": started + dt.timedelta(seconds=n),
            "status": "success",
            "files_loaded": n,
            "dbt_status": None if n % 2 else "success",
        }
        for n in range(700)
    ]
    warehouse.insert_rows("validation_runs", rows)
    found = warehouse.query(
        f"select count(*) as runs, count(distinct run_id) as ids, sum(files_loaded) as files, "
        f"countif(dbt_status is null) as without_dbt, min(started_at) as first, max(started_at) as last "
        f"from {warehouse.table('control', 'validation_runs')} where starts_with(run_id, 'bulk-')"
    )
    (summary,) = found
    first, last = (summary.pop(edge).replace(tzinfo=None) for edge in ("first", "last"))
    assert summary == {"runs": 700, "ids": 700, "files": sum(range(700)), "without_dbt": 350}
    assert (first, last) == (started, started + dt.timedelta(seconds=699))


def test_decimals_survive_the_load(backend: Backend, specs: list[SourceSpec], tmp_path: Path) -> None:
    warehouse, _, _ = _load_murex_files(backend, specs, tmp_path, {"e" * 64: (3, 0)})
    rows = warehouse.query(f"select sum(nominal) as nominal from {warehouse.table('raw', 'murex_trades')}")
    assert rows[0]["nominal"] == 3000


def test_a_missing_table_has_no_columns(backend: Backend, specs: list[SourceSpec]) -> None:
    warehouse, _ = backend
    warehouse.ensure_layout([find_spec(specs, "traders")])
    assert warehouse.table_columns("raw", "no_such_table") == []


def test_bigquery_raw_tables_are_partitioned_by_load_day_and_an_old_layout_is_named(
    specs: list[SourceSpec], new_gcs_store: Callable[[], ObjectStore], caplog: pytest.LogCaptureFixture
) -> None:
    project = services.bigquery_project()
    client = services.bigquery_client(project)
    datasets = {schema: f"t{uuid.uuid4().hex[:10]}_{schema}" for schema in SCHEMAS}
    warehouse = BigQueryWarehouse(client, project, "US", new_gcs_store(), datasets)
    books, traders = find_spec(specs, "books"), find_spec(specs, "traders")
    warehouse.ensure_layout([])
    # A raw table an earlier release made: partitioned by business date, so an old date's rows expired on load.
    earlier = bigquery.Table(
        f"{project}.{datasets['raw']}.books",
        schema=[
            bigquery.SchemaField(name, "DATE" if name == "_business_date" else "STRING")
            for name in ("_business_date", "book_id")
        ],
    )
    earlier.time_partitioning = bigquery.TimePartitioning(field="_business_date")
    client.create_table(earlier)
    try:
        with caplog.at_level(logging.WARNING, logger="mdp.warehouse"):
            warehouse.ensure_layout([books, traders])
        partitioning = client.get_table(f"{project}.{datasets['raw']}.traders").time_partitioning
        assert (partitioning.type_, partitioning.field) == ("DAY", RAW_PARTITION_FIELD)
        assert [record.getMessage() for record in caplog.records] == [
            "table raw.books is partitioned by _business_date, not _ingested_at: its partition expiration does not "
            "count from the day rows were loaded; with no cycle running, 'mdp sources relayout-raw books' recreates it"
        ]
    finally:
        warehouse.close()


def _old_layout_books(client: bigquery.Client, table: str, books: SourceSpec, files: dict[str, int]) -> None:
    """raw.books as an earlier release made it, partitioned by business date, with `files` (file_id: rows)."""
    earlier = bigquery.Table(
        table, schema=[bigquery.SchemaField(name, BIGQUERY_TYPES[kind]) for name, kind in raw_table_columns(books)]
    )
    earlier.time_partitioning = bigquery.TimePartitioning(field="_business_date")
    client.create_table(earlier)
    _insert_books(client, table, files)


def _insert_books(client: bigquery.Client, table: str, files: dict[str, int]) -> None:
    values = ", ".join(
        f"('B{file_id}{row}', '{file_id}', {row}, date '2026-11-20', timestamp '2026-11-21 06:00:00')"
        for file_id, rows in files.items()
        for row in range(1, rows + 1)
    )
    client.query(
        f"insert into `{table}` (book_id, _file_id, _source_row_number, _business_date, _ingested_at) values {values}"
    ).result()


def _book_rows(client: bigquery.Client, table: str) -> list[tuple[str, str]]:
    return sorted((row["book_id"], row["_file_id"]) for row in client.query(f"select * from `{table}`").result())


def test_relayout_recreates_an_old_raw_table_by_load_day_and_a_rerun_finishes_a_stopped_one(
    specs: list[SourceSpec], new_gcs_store: Callable[[], ObjectStore]
) -> None:
    project = services.bigquery_project()
    client = services.bigquery_client(project)
    datasets = {schema: f"t{uuid.uuid4().hex[:10]}_{schema}" for schema in SCHEMAS}
    warehouse = BigQueryWarehouse(client, project, "US", new_gcs_store(), datasets)
    books = find_spec(specs, "books")
    table, copy = f"{project}.{datasets['raw']}.books", f"{project}.{datasets['raw']}.books__by_load_day"
    expected = sorted([("Ba1", "a"), ("Ba2", "a"), ("Bb1", "b")])
    try:
        warehouse.ensure_layout([])
        _old_layout_books(client, table, books, {"a": 2, "b": 1})

        assert warehouse.relayout_raw_table(books) == RawRelayout("raw.books", "relaid", "_business_date", 3)

        recreated = client.get_table(table)
        assert (recreated.time_partitioning.field, recreated.clustering_fields) == (RAW_PARTITION_FIELD, ["book_id"])
        assert _book_rows(client, table) == expected
        assert warehouse.table_columns("raw", "books__by_load_day") == []
        assert warehouse.relayout_raw_table(books) == RawRelayout("raw.books", "current", RAW_PARTITION_FIELD, 3)

        # Stopped after making the table again, before filling it all: the rerun adds only the files it lacks.
        client.delete_table(table)
        _old_layout_books(client, copy, books, {"a": 2, "b": 1})
        warehouse.ensure_layout([books])
        _insert_books(client, table, {"a": 2})
        assert warehouse.relayout_raw_table(books) == RawRelayout("raw.books", "relaid", RAW_PARTITION_FIELD, 3)
        assert _book_rows(client, table) == expected

        # Stopped while copying: the partial copy is made again from the original, which it then replaces.
        client.delete_table(table)
        _old_layout_books(client, table, books, {"a": 2, "b": 1})
        _old_layout_books(client, copy, books, {"a": 1})
        assert warehouse.relayout_raw_table(books) == RawRelayout("raw.books", "relaid", "_business_date", 3)
        assert _book_rows(client, table) == expected
        assert warehouse.table_columns("raw", "books__by_load_day") == []
    finally:
        warehouse.close()


def test_duckdb_raw_tables_have_no_partitions_to_relayout(tmp_path: Path, specs: list[SourceSpec]) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    books = find_spec(specs, "books")
    try:
        assert warehouse.relayout_raw_table(books) == RawRelayout("raw.books", "absent", None, 0)
        warehouse.ensure_layout([books])
        assert warehouse.relayout_raw_table(books) == RawRelayout("raw.books", "current", None, 0)
    finally:
        warehouse.close()


def test_mdp_sources_relayout_raw_recreates_an_old_layout_on_the_emulator_under_the_cycle_lock(
    specs: list[SourceSpec], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.storage_emulator_host()
    # The command works on the environment's own `raw` dataset, where the emulator's other tests load other
    # sources: this test's table is its own, and it leaves none behind.
    project = services.bigquery_project()
    run = uuid.uuid4().hex[:8]
    environment = {**os.environ, "MDP_ENV": "emulator", "MDP_HOME": str(tmp_path), "MDP_BIGQUERY_PROJECT": project}
    environment |= {f"MDP_BUCKET_{role.upper()}": f"mdp-{run}-{role}" for role in BUCKET_ROLES}
    for key, value in environment.items():
        if key.startswith("MDP_"):
            monkeypatch.setenv(key, value)
    settings = Settings.from_env(tmp_path, "emulator")
    buckets = open_buckets(settings)
    for role in BUCKET_ROLES:
        store = buckets.by_name(role)
        assert isinstance(store, GcsStore)
        store.ensure_bucket()
    client = services.bigquery_client(project)
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout([])
    table = f"{project}.raw.books"
    client.delete_table(table, not_found_ok=True)
    _old_layout_books(client, table, find_spec(specs, "books"), {"a": 2, "b": 1})

    try:
        completed = subprocess.run(
            [MDP, "sources", "relayout-raw", "books", "--json"],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )

        assert completed.returncode == 0, completed.stderr
        assert json.loads(completed.stdout) == {
            "tables": [{"table": "raw.books", "state": "relaid", "partitioned_by": "_business_date", "rows": 3}]
        }
        assert client.get_table(table).time_partitioning.field == RAW_PARTITION_FIELD
        assert _book_rows(client, table) == sorted([("Ba1", "a"), ("Ba2", "a"), ("Bb1", "b")])
        assert buckets.staging.stat(LOCK_KEY) is None, "the cycle lock is released"
    finally:
        client.delete_table(table, not_found_ok=True)
