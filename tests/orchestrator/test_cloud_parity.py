"""Parity of the two homes: the same golden landing day through the local path (folders + DuckDB) and the cloud
path (fake-gcs-server + the BigQuery emulator, dbt on BigQuery SQL) gives the same extract, byte for byte, and
the same `consumer.markets_extract`, column by column."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import os
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.batch.reload import reload_file
from orchestrator.batch.requarantine import requarantine_file
from orchestrator.identity import trade_id
from orchestrator.report.service import write_report
from orchestrator.runbook import file_reconciliation
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec
from orchestrator.storage import read_bytes
from tests import services

MDP = str(Path(sys.executable).with_name("mdp"))
# The golden day at its realistic size: about 80,000 trades and every reference universe.
DATE, SEED = "2026-11-20", 11
MARKETS_EXTRACT = "select * from {table} order by trade_id"
# When each run loaded its files: the one column two runs of the same day must not share.
RUN_TIME_COLUMNS = frozenset({"_ingested_at"})
# The same, in the control models and the status report: when a file was processed, a cycle ran, a page was made.
RUN_TIME_FIELDS = frozenset({"processed_at", "generated_at", "started_at", "run_id"})


def _demos(*environments: dict[str, str]) -> list[dict[str, Any]]:
    """`mdp demo` on each home at once (they share nothing), and each one's summary."""
    demos = [
        subprocess.Popen(
            [MDP, "demo", "--date", DATE, "--seed", str(SEED), "--json"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for environment in environments
    ]
    summaries: list[dict[str, Any]] = []
    try:
        for demo in demos:
            stdout, stderr = demo.communicate(timeout=840)
            assert demo.returncode == 0, stderr[-4000:]
            summaries.append(json.loads(stdout))
    finally:
        for demo in demos:
            demo.kill()
            demo.wait()
    return summaries


def _comparable(value: Any) -> Any:
    """A cell as both engines mean it: exact decimals, timestamps in UTC."""
    if isinstance(value, decimal.Decimal):
        return value.normalize()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return value


def _markets_extract(settings: Settings) -> pa.Table:
    with closing(open_warehouse(settings)) as warehouse:
        return warehouse.query_arrow(MARKETS_EXTRACT.format(table=warehouse.table("consumer", "markets_extract")))


@pytest.fixture(scope="module")
def both_homes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, Any], Settings, dict[str, Any]]:
    """The golden day run once on each home."""
    services.storage_emulator_host()
    services.bigquery_emulator_host()
    root = tmp_path_factory.mktemp("parity")
    base = {key: value for key, value in os.environ.items() if not key.startswith("MDP_")}
    local_env = base | {"MDP_ENV": "local", "MDP_HOME": str(root / "local")}
    run = uuid.uuid4().hex[:8]
    # The demo empties its whole project first: it runs in a spare project of its own, beside no other test.
    cloud_env = base | {
        "MDP_ENV": "emulator",
        "MDP_HOME": str(root / "cloud"),
        "MDP_BIGQUERY_PROJECT": services.bigquery_spare_project(1),
    }
    cloud_env |= {
        f"MDP_BUCKET_{role.upper()}": f"mdp-parity-{run}-{role}"
        for role in ("landing", "staging", "failed", "archive", "extracts")
    }
    local_summary, cloud_summary = _demos(local_env, cloud_env)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in cloud_env.items():
            patch.setenv(key, value)
        cloud = Settings.from_env(root / "cloud", "emulator")
    return Settings.from_env(root / "local", "local"), local_summary, cloud, cloud_summary


@pytest.fixture(scope="module")
def both_extract_tables(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]],
) -> tuple[pa.Table, pa.Table]:
    """`consumer.markets_extract` of each home, read once (the emulator takes seconds per 10,000 rows)."""
    local, _, cloud, _ = both_homes
    return _markets_extract(local), _markets_extract(cloud)


def test_both_homes_load_the_same_files_and_build_every_model(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]],
) -> None:
    _, local_summary, _, cloud_summary = both_homes
    for summary in (local_summary, cloud_summary):
        assert summary["dbt"] == "success"
        assert summary["files_by_outcome"] == {"loaded": 7, "failed": 1, "unmatched": 1}
    assert cloud_summary["rows_loaded"] == local_summary["rows_loaded"]
    assert cloud_summary["rows_quarantined"] == local_summary["rows_quarantined"] == 25
    assert local_summary["trades_in_extract"] > 0


def test_the_extracts_are_byte_identical(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]],
) -> None:
    local, local_summary, cloud, cloud_summary = both_homes
    key = local_summary["extract"]["data_key"]
    assert cloud_summary["extract"]["data_key"] == key
    local_bytes = gzip.decompress(read_bytes(open_buckets(local).extracts, key))
    cloud_bytes = gzip.decompress(read_bytes(open_buckets(cloud).extracts, key))
    assert local_bytes.count(b"\n") == local_summary["trades_in_extract"]
    assert cloud_bytes == local_bytes


def test_markets_extract_is_identical_column_by_column(both_extract_tables: tuple[pa.Table, pa.Table]) -> None:
    local_table, cloud_table = both_extract_tables
    assert cloud_table.column_names == local_table.column_names
    assert cloud_table.num_rows == local_table.num_rows > 0
    for name in local_table.column_names:
        if name in RUN_TIME_COLUMNS:
            assert local_table.column(name).null_count == cloud_table.column(name).null_count == 0, name
            continue
        local_values = [_comparable(v) for v in local_table.column(name).to_pylist()]
        cloud_values = [_comparable(v) for v in cloud_table.column(name).to_pylist()]
        differing = [i for i, (a, b) in enumerate(zip(local_values, cloud_values, strict=True)) if a != b]
        assert not differing, (
            f"column {name} differs in {len(differing)} rows, first at row {differing[0]}: "
            f"local={local_values[differing[0]]!r} cloud={cloud_values[differing[0]]!r}"
        )


def test_every_trade_id_is_the_python_identity(
    both_extract_tables: tuple[pa.Table, pa.Table], specs: list[SourceSpec]
) -> None:
    _, cloud_table = both_extract_tables
    domains = {spec.name: spec.domain for spec in specs}
    rows = cloud_table.select(["trade_id", "source_name", "source_system", "source_trade_id"])
    for row in rows.to_pylist():
        expected = trade_id(domains[row["source_name"]], row["source_system"], row["source_trade_id"])
        assert row["trade_id"] == expected, row


def _reconciliation(settings: Settings) -> list[dict[str, Any]]:
    with closing(open_warehouse(settings)) as warehouse:
        rows = file_reconciliation(warehouse)
    return [{k: v for k, v in row.items() if k not in RUN_TIME_FIELDS | {"file_id"}} for row in rows]


def test_both_homes_account_for_every_loaded_row_alike(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]],
) -> None:
    local, _, cloud, _ = both_homes
    local_files, cloud_files = _reconciliation(local), _reconciliation(cloud)
    assert len(local_files) == 7
    assert {row["reconciliation_status"] for row in cloud_files} == {"BALANCED"}
    assert cloud_files == local_files


def _without_run_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_run_times(item) for key, item in value.items() if key not in RUN_TIME_FIELDS}
    if isinstance(value, list):
        return [_without_run_times(item) for item in value]
    return value


def test_the_status_report_shows_the_same_figures_on_both_homes(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]], tmp_path: Path
) -> None:
    local, _, cloud, _ = both_homes
    shown = []
    for name, settings in (("local", local), ("cloud", cloud)):
        with closing(open_warehouse(settings)) as warehouse:
            result = write_report(
                warehouse, open_buckets(settings).extracts, dt.date.fromisoformat(DATE), 7, tmp_path / f"{name}.html"
            )
        shown.append(_without_run_times(result.data.as_dict()))
    local_report, cloud_report = shown
    assert local_report["row_accounting"], "the demo day's files are accounted for"
    assert cloud_report == local_report


def test_a_files_quarantine_is_rebuilt_from_its_original_archived_on_gcs(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]], specs: list[SourceSpec]
) -> None:
    _, _, cloud, _ = both_homes
    path = "venues/executions/venue_executions_20261120_001.csv.gz"
    with closing(open_warehouse(cloud)) as warehouse:
        quarantined = warehouse.table("control", "quarantined_rows")
        kept = warehouse.query(
            f"select row_number, failed_rules from {quarantined} where landing_key = @p order by row_number",
            {"p": path},
        )
        warehouse.query(
            f"delete from {quarantined} where landing_key = @p and row_number <= @n",
            {"p": path, "n": kept[9]["row_number"]},
        )
        result = requarantine_file(warehouse, open_buckets(cloud), cloud, specs, path)
        restored = warehouse.query(
            f"select row_number, failed_rules from {quarantined} where landing_key = @p order by row_number",
            {"p": path},
        )
    assert result["validated_from"].startswith("gs://")
    assert (result["rows_in_quarantine_before"], result["rows_in_quarantine_after"]) == (15, 25)
    assert restored == kept


def test_a_file_is_reloaded_from_its_archived_parquet_on_gcs(
    both_homes: tuple[Settings, dict[str, Any], Settings, dict[str, Any]], specs: list[SourceSpec]
) -> None:
    # Last in this module: it rewrites the cloud home's raw rows of one file (with the same rows).
    _, _, cloud, _ = both_homes
    path = "murex/trades/MX_TRADES_20261120_001.xml"
    with closing(open_warehouse(cloud)) as warehouse:
        raw = warehouse.table("raw", "murex_trades")
        [record] = warehouse.query(
            f"select file_id, rows_loaded from {warehouse.table('control', 'ingested_files')} "
            "where landing_key = @path and outcome = 'loaded'",
            {"path": path},
        )
        warehouse.query(
            f"delete from {raw} where _file_id = @file_id and _source_row_number <= 10", {"file_id": record["file_id"]}
        )
        result = reload_file(warehouse, open_buckets(cloud), specs, path)
        count = warehouse.query(f"select count(*) as n from {raw} where _file_id = @id", {"id": record["file_id"]})
    assert result["staged_parquet"].startswith("gs://")
    assert (result["rows_in_raw_before"], result["rows_in_raw_after"]) == (
        record["rows_loaded"] - 10,
        record["rows_loaded"],
    )
    assert count[0]["n"] == record["rows_loaded"]
