"""End-to-end runs of the dbt project on a throwaway DuckDB warehouse.

One module-scoped fixture loads hand-written raw rows, runs `dbt build`, loads more
rows (a cancellation, a new trade, a trader changing desk), runs `dbt build`
again and finally `dbt run` of trades_enriched with nothing changed; the tests read
what each step left behind.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from orchestrator.identity import MARKETS_NAMESPACE, trade_id
from orchestrator.specs.loader import load_specs
from orchestrator.warehouse.control_tables import DUCKDB_TYPES, LINEAGE_COLUMNS, duckdb_control_ddl

REPO = Path(__file__).resolve().parents[2]
PROJECT_DIR = REPO / "dbt_project"
AS_OF_DATE = "2026-11-20"

Row = dict[str, Any]

LEI_ACME = "5493001KJTIIGC8Y1R12"
LEI_BETA = "529900T8BM49AURSDO55"
LEI_BANK = "HWUPKR0MPOU8FGXBT394"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class RawFile:
    """A landed file as the loader records it on each of its rows."""

    file_id: str
    landing_key: str
    business_date: str
    ingested_at: str

    def lineage(self, row_number: int) -> Row:
        """The lineage columns of the file's row `row_number`."""
        return {
            "_file_id": self.file_id,
            "_landing_key": self.landing_key,
            "_source_row_number": row_number,
            "_business_date": date.fromisoformat(self.business_date),
            "_ingested_at": _ts(self.ingested_at),
        }


MX_18 = RawFile("mx18", "murex/trades/MX_TRADES_20261118_001.xml", "2026-11-18", "2026-11-18 19:05:00")
MX_19 = RawFile("mx19", "murex/trades/MX_TRADES_20261119_001.xml", "2026-11-19", "2026-11-19 22:20:00")
MX_19_LATE = RawFile("mx19b", "murex/trades/MX_TRADES_20261119_002.xml", "2026-11-19", "2026-11-19 22:40:00")
MX_05 = RawFile("mx05", "murex/trades/MX_TRADES_20261105_001.xml", "2026-11-05", "2026-11-05 19:05:00")
BB_13 = RawFile("bb13", "bloomberg/trades/bbg_trades_20261113_001.jsonl", "2026-11-13", "2026-11-13 20:00:00")
BB_16 = RawFile("bb16", "bloomberg/trades/bbg_trades_20261116_001.jsonl", "2026-11-16", "2026-11-16 20:00:00")
EX_20 = RawFile("ex20", "venues/executions/venue_executions_20261120_001.csv.gz", "2026-11-20", "2026-11-20 17:05:00")


def _murex(file: RawFile, row: int, ref: str, version: int, status: str, executed_at: str, nominal: int) -> Row:
    executed = _ts(executed_at)
    return {
        "trade_ref": ref,
        "version": version,
        "status": status,
        "trade_date": executed.date(),
        "exec_time": executed,
        "settle_date": executed.date(),
        "isin": "DE0001102580",
        "buy_sell": "B",
        "nominal": nominal,
        "price": "99.125",
        "currency": "EUR",
        "trader": "T00001",
        "book": "BK0001",
        "cpty_lei": LEI_ACME,
        **file.lineage(row),
    }


def _bloomberg(file: RawFile, row: int, ticket: str, revision: int, action: str) -> Row:
    return {
        "ticket_number": ticket,
        "revision": revision,
        "action": action,
        "trade_date": date.fromisoformat(file.business_date),
        "exec_time": _ts(f"{file.business_date} 14:30:00"),
        "settle_date": None,
        "isin": "US0378331005",
        "cusip": "037833100",
        "side": "S",
        "amount": 250,
        "price": "190.5",
        "currency": "USD",
        "trader_uuid": "T00003",
        "book": "BK0003",
        "counterparty_lei": LEI_BETA,
        "venue": "BMTF",
        **file.lineage(row),
    }


def _venue(file: RawFile, row: int, exec_id: str, executed_at: str) -> Row:
    executed = _ts(executed_at)
    return {
        "exec_id": exec_id,
        "exec_version": 1,
        "exec_type": "NEW",
        "trade_date": executed.date(),
        "exec_ts": executed,
        "isin": "FR0000120271",
        "side": "BUY",
        "qty": 100,
        "px": "60.12",
        "ccy": "EUR",
        "notional": "6012",
        "trader_id": "T00002",
        "book_id": "BK0002",
        "cpty_lei": LEI_BETA,
        "mic": "XPAR",
        **file.lineage(row),
    }


def _reference(source: str, business_date: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> list[Row]:
    """A full daily reference snapshot: one file, one row per key."""
    file = RawFile(
        f"{source}-{business_date}",
        f"reference/{source}/{business_date}.csv",
        business_date,
        f"{business_date} 05:10:00",
    )
    return [
        dict(zip(columns, values, strict=True))
        | {"as_of_date": date.fromisoformat(business_date)}
        | file.lineage(number)
        for number, values in enumerate(rows, start=1)
    ]


def _traders(business_date: str, alice_desk: str) -> list[Row]:
    columns = ("trader_id", "trader_name", "desk", "email", "is_active")
    return _reference(
        "traders",
        business_date,
        columns,
        [
            ("T00001", "Alice Ng", alice_desk, "a@bank.example", True),
            ("T00002", "Bob Roy", "EQUITIES", None, True),
            ("T00003", "Cy Dee", "CREDIT", None, True),
        ],
    )


FIRST_LOAD: dict[str, list[Row]] = {
    "murex_trades": [
        _murex(MX_18, 1, "MX0000000001", 1, "NEW", "2026-11-18 10:00:00", 1_000_000),
        _murex(MX_18, 2, "MX0000000002", 1, "NEW", "2026-11-18 11:00:00", 500_000),
        _murex(MX_19, 1, "MX0000000001", 2, "AMD", "2026-11-18 10:00:00", 2_000_000),
        _murex(MX_05, 1, "MX0000000003", 1, "NEW", "2026-11-05 09:00:00", 300_000),
    ],
    "venue_executions": [_venue(EX_20, 1, "EX000000000001", "2026-11-20 09:00:00")],
    "bloomberg_trades": [
        _bloomberg(BB_13, 1, "BBG000000001", 0, "New"),
        _bloomberg(BB_16, 1, "BBG000000002", 0, "New"),
        _bloomberg(BB_16, 2, "BBG000000002", 1, "Correct"),
    ],
    "traders": _traders("2026-11-17", alice_desk="RATES"),
    "books": _reference(
        "books",
        "2026-11-17",
        ("book_id", "book_name", "desk", "legal_entity_lei", "region"),
        [
            ("BK0001", "Rates London", "RATES", LEI_BANK, "EMEA"),
            ("BK0002", "Cash Equities Paris", "EQUITIES", LEI_BANK, "EMEA"),
            ("BK0003", "Credit New York", "CREDIT", LEI_BANK, "AMER"),
        ],
    ),
    "counterparties": _reference(
        "counterparties",
        "2026-11-17",
        ("counterparty_lei", "counterparty_name", "country_code", "counterparty_type"),
        [(LEI_ACME, "Acme Bank plc", "GB", "BANK"), (LEI_BETA, "Beta Fund LP", "US", "FUND")],
    ),
    "instruments": _reference(
        "instruments",
        "2026-11-17",
        ("isin", "cusip", "instrument_name", "asset_class", "currency", "primary_mic"),
        [
            ("DE0001102580", None, "Bund 0% 2032", "GOVT_BOND", "EUR", "XETR"),
            ("FR0000120271", None, "TotalEnergies SE", "EQUITY", "EUR", "XPAR"),
            ("US0378331005", "037833100", "Apple Inc", "EQUITY", "USD", "XNAS"),
        ],
    ),
}

# Loaded after the first build: a cancellation, a new trade, and a trader moving desk on 2026-11-19.
SECOND_LOAD: dict[str, list[Row]] = {
    "murex_trades": [
        _murex(MX_19_LATE, 1, "MX0000000002", 2, "CNL", "2026-11-18 11:00:00", 500_000),
        _murex(MX_19_LATE, 2, "MX0000000004", 1, "NEW", "2026-11-19 12:00:00", 750_000),
    ],
    "traders": _traders("2026-11-19", alice_desk="CREDIT"),
}


def _ingested_file(source: str, business_date: str, landed_at: str, outcome: str = "loaded", rows: int = 10) -> Row:
    return {
        "file_id": f"{source}-{business_date}-{landed_at}",
        "landing_key": f"{source}/{business_date}",
        "source": source,
        "business_date": date.fromisoformat(business_date),
        "outcome": outcome,
        "rows_total": rows,
        "rows_loaded": rows if outcome == "loaded" else 0,
        "rows_quarantined": 0,
        "landed_at": _ts(landed_at),
    }


# murex is due by 20:00 and landed late on the 19th and not at all on the 20th; bloomberg's only file failed.
INGESTED_FILES: list[Row] = [
    *(_ingested_file("murex_trades", f"2026-11-{day}", f"2026-11-{day} 19:00:00") for day in (16, 17, 18)),
    _ingested_file("murex_trades", "2026-11-19", "2026-11-19 22:15:00"),
    *(_ingested_file("venue_executions", f"2026-11-{day}", f"2026-11-{day} 17:00:00") for day in range(16, 21)),
    _ingested_file("bloomberg_trades", "2026-11-18", "2026-11-18 20:00:00", outcome="failed"),
    _ingested_file("traders", "2026-11-17", "2026-11-17 05:00:00"),
]


@dataclass(frozen=True)
class DbtRun:
    """What a dbt invocation printed and recorded."""

    returncode: int
    output: str
    invocation_id: str
    results: dict[str, str]


class Dbt:
    """Runs the project's dbt as a subprocess against one warehouse file."""

    def __init__(self, warehouse: Path, work_dir: Path) -> None:
        self.warehouse = warehouse
        self.work_dir = work_dir

    def __call__(self, *args: str) -> DbtRun:
        """Run `dbt <args>` with the test's vars, target and log paths; return its results."""
        executable = Path(sys.executable).parent / "dbt"
        target_path = self.work_dir / "target"
        command = [
            str(executable),
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target",
            "local",
            "--target-path",
            str(target_path),
            "--log-path",
            str(self.work_dir / "logs"),
            "--vars",
            json.dumps({"as_of_date": AS_OF_DATE}),
        ]
        env = {
            **os.environ,
            "MDP_WAREHOUSE_PATH": str(self.warehouse),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": str(target_path),
        }
        results_file = target_path / "run_results.json"
        results_file.unlink(missing_ok=True)
        completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
        output = completed.stdout + completed.stderr
        # `dbt parse` records no run results.
        run_results = json.loads(results_file.read_text()) if results_file.exists() else {"metadata": {}, "results": []}
        return DbtRun(
            returncode=completed.returncode,
            output=output,
            invocation_id=run_results["metadata"].get("invocation_id", ""),
            results={result["unique_id"]: result["status"] for result in run_results["results"]},
        )


def _create_warehouse(path: Path) -> None:
    """Raw tables typed as docs/batch_lane.md states, and the orchestrator's control tables."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create schema control")
        for spec in load_specs(REPO / "source_specs"):
            columns = [(column.name, column.type) for column in spec.columns] + list(LINEAGE_COLUMNS)
            body = ", ".join(f"{name} {DUCKDB_TYPES[kind]}" for name, kind in columns)
            con.execute(f"create table raw.{spec.name} ({body})")
        for statement in duckdb_control_ddl():
            con.execute(statement)


def _insert(path: Path, tables: dict[str, list[Row]], schema: str = "raw") -> None:
    with duckdb.connect(str(path)) as con:
        for table, rows in tables.items():
            for row in rows:
                names = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                con.execute(f"insert into {schema}.{table} ({names}) values ({marks})", list(row.values()))


def _query(path: Path, sql: str) -> list[Row]:
    with duckdb.connect(str(path), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description or []]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


@dataclass(frozen=True)
class Scenario:
    """The warehouse and what each dbt step left in it."""

    warehouse: Path
    first: DbtRun
    second: DbtRun
    rerun: DbtRun
    trades_after_first: dict[str, Row]
    trades_after_second: dict[str, Row]
    trades_after_rerun: dict[str, Row]

    def query(self, sql: str) -> list[Row]:
        """Rows of a query against the warehouse as the last step left it."""
        return _query(self.warehouse, sql)


def _trades(path: Path) -> dict[str, Row]:
    return {row["source_trade_id"]: row for row in _query(path, "select * from curation.trades_enriched")}


def _assert_ok(run: DbtRun) -> None:
    failed = {node: status for node, status in run.results.items() if status not in ("success", "pass")}
    assert not failed, f"{failed}\n{run.output[-6000:]}"
    assert run.returncode == 0, run.output[-6000:]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Build, load more, build again, rerun trades_enriched unchanged."""
    work_dir = tmp_path_factory.mktemp("dbt")
    warehouse = work_dir / "warehouse.duckdb"
    _create_warehouse(warehouse)
    _insert(warehouse, FIRST_LOAD)
    _insert(warehouse, {"ingested_files": INGESTED_FILES}, schema="control")
    dbt = Dbt(warehouse, work_dir)

    first = dbt("build")
    _assert_ok(first)
    trades_after_first = _trades(warehouse)

    _insert(warehouse, SECOND_LOAD)
    second = dbt("build")
    _assert_ok(second)
    trades_after_second = _trades(warehouse)

    rerun = dbt("run", "--select", "trades_enriched")
    _assert_ok(rerun)
    return Scenario(
        warehouse=warehouse,
        first=first,
        second=second,
        rerun=rerun,
        trades_after_first=trades_after_first,
        trades_after_second=trades_after_second,
        trades_after_rerun=_trades(warehouse),
    )


def test_trade_ids_equal_python_identity(scenario: Scenario) -> None:
    trades = scenario.trades_after_second
    assert trades
    for row in trades.values():
        assert row["trade_id"] == trade_id(row["domain"], row["source_system"], row["source_trade_id"])


def test_pinned_trade_id_on_both_sides(scenario: Scenario) -> None:
    expected = "21a4862beb8d96bee241fe64a7af148d"
    assert trade_id("trading", "MUREX", "MX0000000001") == expected
    assert scenario.trades_after_first["MX0000000001"]["trade_id"] == expected
    singular = "test.markets.assert_trade_id_matches_python"
    assert scenario.first.results[singular] == "pass"


def test_project_parses_without_warnings(tmp_path: Path) -> None:
    run = Dbt(tmp_path / "unused.duckdb", tmp_path)("--warn-error", "parse")
    assert run.returncode == 0, run.output[-6000:]
    assert "[WARNING]" not in run.output


def test_namespace_var_equals_python_constant() -> None:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["markets_namespace"] == MARKETS_NAMESPACE


def test_raw_retention_var_equals_the_raw_datasets_partition_expiration() -> None:
    # file_reconciliation expects a file's raw rows until this many days after its business date.
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    variables = (REPO / "terraform" / "modules" / "bigquery" / "variables.tf").read_text()
    block = variables[variables.index('variable "raw_partition_expiration_days"') :]
    default = re.search(r"default\s*=\s*(\d+)", block[: block.index("\n}\n")])
    assert default is not None
    assert project["vars"]["raw_retention_days"] == int(default.group(1))
    assert project["vars"]["reconciliation_window_days"] < project["vars"]["raw_retention_days"]


def test_latest_version_wins(scenario: Scenario) -> None:
    amended = scenario.trades_after_first["MX0000000001"]
    assert (amended["trade_version"], amended["event_type"], amended["quantity"]) == (2, "AMEND", 2_000_000)
    corrected = scenario.trades_after_first["BBG000000002"]
    assert (corrected["trade_version"], corrected["event_type"]) == (2, "AMEND")


def test_cancelled_trade_is_flagged_not_dropped(scenario: Scenario) -> None:
    assert scenario.trades_after_first["MX0000000002"]["is_cancelled"] is False
    cancelled = scenario.trades_after_second["MX0000000002"]
    assert (cancelled["event_type"], cancelled["is_cancelled"]) == ("CANCEL", True)
    extracted = scenario.query(
        "select is_cancelled from consumer.markets_extract where source_trade_id = 'MX0000000002'"
    )
    assert extracted == [{"is_cancelled": True}]


def test_notional_is_the_consideration_of_its_asset_class(scenario: Scenario) -> None:
    # Bonds are quoted in percent of par on a face amount; shares at a unit price.
    classes = set()
    for row in scenario.trades_after_second.values():
        classes.add(row["asset_class"])
        per_unit = row["price"] / 100 if row["asset_class"] in ("GOVT_BOND", "CORP_BOND") else row["price"]
        assert row["notional"] == row["quantity"] * per_unit, row["source_trade_id"]
    assert {"GOVT_BOND", "EQUITY"} <= classes


def test_merge_updates_only_changed_rows(scenario: Scenario) -> None:
    first, second = scenario.first.invocation_id, scenario.second.invocation_id
    stamped = {name: row["_dbt_invocation_id"] for name, row in scenario.trades_after_second.items()}
    assert stamped == {
        "MX0000000001": first,
        "MX0000000002": second,
        "MX0000000003": first,
        "MX0000000004": second,
        "EX000000000001": first,
        "BBG000000001": first,
        "BBG000000002": first,
    }


def test_rerun_without_changes_updates_nothing(scenario: Scenario) -> None:
    assert scenario.trades_after_rerun == scenario.trades_after_second


def test_extract_holds_seven_day_window(scenario: Scenario) -> None:
    rows = scenario.query("select source_trade_id, trade_date from consumer.markets_extract order by source_trade_id")
    assert [row["source_trade_id"] for row in rows] == [
        "BBG000000002",
        "EX000000000001",
        "MX0000000001",
        "MX0000000002",
        "MX0000000004",
    ]
    assert all(date(2026, 11, 14) <= row["trade_date"] <= date(2026, 11, 20) for row in rows)


def test_scd2_join_picks_version_valid_at_execution(scenario: Scenario) -> None:
    trades = scenario.trades_after_second
    assert trades["MX0000000001"]["trader_desk"] == "RATES"
    assert trades["MX0000000004"]["trader_desk"] == "CREDIT"
    versions = scenario.query(
        "select desk, valid_from, valid_to, is_current from dimensions.dim_trader "
        "where trader_id = 'T00001' order by valid_from"
    )
    assert versions == [
        {"desk": "RATES", "valid_from": _ts("1900-01-01"), "valid_to": _ts("2026-11-19"), "is_current": False},
        {"desk": "CREDIT", "valid_from": _ts("2026-11-19"), "valid_to": _ts("9999-12-31 23:59:59"), "is_current": True},
    ]


def test_every_reference_key_is_known(scenario: Scenario) -> None:
    flags = ["has_known_trader", "has_known_book", "has_known_counterparty", "has_known_instrument"]
    for row in scenario.trades_after_second.values():
        assert all(row[flag] for flag in [*flags, "has_known_venue_mic", "has_known_currency"]), row


@pytest.mark.parametrize(
    ("source", "business_date", "status"),
    [
        pytest.param("murex_trades", "2026-11-18", "ON_TIME", id="on-time"),
        pytest.param("murex_trades", "2026-11-19", "LATE", id="landed-after-expected-by"),
        pytest.param("murex_trades", "2026-11-20", "MISSING", id="nothing-landed"),
        pytest.param("bloomberg_trades", "2026-11-18", "MISSING", id="only-a-failed-file"),
        pytest.param("venue_executions", "2026-11-20", "ON_TIME", id="as-of-date-itself"),
    ],
)
def test_source_completeness_status(scenario: Scenario, source: str, business_date: str, status: str) -> None:
    rows = scenario.query(
        "select status from control.source_completeness "
        f"where source = '{source}' and business_date = date '{business_date}'"
    )
    assert rows == [{"status": status}]


def test_source_completeness_skips_weekends(scenario: Scenario) -> None:
    rows = scenario.query("select distinct business_date from control.source_completeness order by 1")
    assert [row["business_date"] for row in rows] == [date(2026, 11, day) for day in range(16, 21)]
