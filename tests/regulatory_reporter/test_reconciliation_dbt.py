"""The regulatory reconciliation model, fed by a real ledger through the mirror, on a throwaway DuckDB warehouse and
on the BigQuery emulator (BigQuery SQL through dbt-bigquery)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from google.cloud import bigquery

from orchestrator.alerts import Alert
from orchestrator.backends import open_warehouse
from orchestrator.identity import event_id, trade_id
from orchestrator.report.queries import LANE_TABLES, table_state
from orchestrator.settings import Settings
from orchestrator.warehouse.base import Warehouse
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from regulatory_reporter.ledger import NewEntry
from regulatory_reporter.runbook import mirror_ledger
from regulatory_reporter.sqlite_ledger import SqliteLedger
from tests import services
from tests.regulatory_reporter.support import make_event

REPO = Path(__file__).resolve().parents[2]
MDP = str(Path(sys.executable).with_name("mdp"))


def _event(number: int, event_at: dt.datetime) -> dict[str, Any]:
    return make_event(number, event_at=event_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _id(event: dict[str, Any]) -> str:
    return event_id(event["domain"], event["source_system"], event["source_trade_id"], event["source_event_id"])


STREAM_COLUMNS = (
    ("subscription_name", "STRING"),
    ("message_id", "STRING"),
    ("publish_time", "TIMESTAMP"),
    ("data", "STRING"),
    ("attributes", "STRING"),
)


def _reconcile(home: Path, environment: dict[str, str], *env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`mdp reporter reconcile --json`, as the CronJob runs it: what it printed, and the alert lines it logged."""
    completed = subprocess.run(
        [MDP, "--home", str(home), *env, "reporter", "reconcile", "--json"],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    lines = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith('{"')]
    return json.loads(completed.stdout), [line for line in lines if "alert" in line]


@dataclass(frozen=True)
class Built:
    """What `mdp reporter reconcile` (`dbt build -s tag:regulatory`, then the missed deadlines) left and said."""

    reconciliation: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    report_contracts: dict[str, tuple[str, list[str]]]
    """The status report's check of each regulatory table it reads: ("ok", []) when every column it needs is there."""
    reconciled: dict[str, Any]
    """What `mdp reporter reconcile --json` printed."""
    alerts: list[dict[str, Any]]
    """The alert lines it logged."""


def _built(warehouse: Warehouse, reconciled: tuple[dict[str, Any], list[dict[str, Any]]]) -> Built:
    def rows(name: str) -> list[dict[str, Any]]:
        return warehouse.query(f"select * from {warehouse.table('control', name)}")

    regulatory = ("regulatory_submissions", "dead_letters", "submission_daily")
    return Built(
        rows("regulatory_reconciliation"),
        rows("regulatory_submission_daily"),
        {name: table_state(warehouse, LANE_TABLES[name]) for name in regulatory},
        *reconciled,
    )


def _on_duckdb(work: Path, ledger: SqliteLedger, now: dt.datetime, stream: list[tuple[Any, ...]]) -> Built:
    path = work / "warehouse.duckdb"
    warehouse = DuckDBWarehouse(path)
    warehouse.ensure_layout([])
    # Mirroring twice appends nothing the second time; a retried mirror never duplicates rows.
    mirror_ledger(ledger, warehouse, now)
    assert mirror_ledger(ledger, warehouse, now) == {"entries_mirrored": 0, "dead_letters_mirrored": 0}
    warehouse.close()
    with duckdb.connect(str(path)) as connection:
        columns = ", ".join(
            f"{name} {'timestamp' if kind == 'TIMESTAMP' else 'varchar'}" for name, kind in STREAM_COLUMNS
        )
        connection.execute(f"create table raw.regulatory_events_stream ({columns})")
        connection.executemany("insert into raw.regulatory_events_stream values (?, ?, ?, ?, ?)", stream)
    reconciled = _reconcile(work, {})
    warehouse = DuckDBWarehouse(path)
    try:
        return _built(warehouse, reconciled)
    finally:
        warehouse.close()


def _on_bigquery_emulator(work: Path, ledger: SqliteLedger, now: dt.datetime, stream: list[tuple[Any, ...]]) -> Built:
    # A spare project of its own, not the parity demo's: there, each of the build's requests took seconds. Emptied,
    # so the mirror starts from nothing.
    project = services.bigquery_spare_project(2)
    client = services.bigquery_client(project)
    try:
        for dataset in client.list_datasets():
            client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MDP_BIGQUERY_PROJECT", project)
            settings = Settings.from_env(work / "home", "emulator")
        with closing(open_warehouse(settings)) as warehouse:
            warehouse.ensure_layout([])
            mirror_ledger(ledger, warehouse, now)
            assert mirror_ledger(ledger, warehouse, now) == {"entries_mirrored": 0, "dead_letters_mirrored": 0}
        table = f"{project}.raw.regulatory_events_stream"
        client.create_table(
            bigquery.Table(table, schema=[bigquery.SchemaField(name, kind) for name, kind in STREAM_COLUMNS])
        )
        rows = [
            {
                name: value.isoformat() if isinstance(value, dt.datetime) else value
                for (name, _), value in zip(STREAM_COLUMNS, row, strict=True)
            }
            for row in stream
        ]
        assert client.insert_rows_json(table, rows) == []
        reconciled = _reconcile(work / "home", {"MDP_BIGQUERY_PROJECT": project}, "--env", "emulator")
        with closing(open_warehouse(settings)) as warehouse:
            return _built(warehouse, reconciled)
    finally:
        client.close()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Scenario:
    """The events of the build, by outcome, and what the build made of them."""

    events: dict[str, dict[str, Any]]
    hour_ago: dt.datetime
    built: Built


@pytest.fixture(scope="module", params=["duckdb", "bigquery-emulator"])
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Six events, one per outcome, in the stream table and the ledger; mirror; `dbt build -s tag:regulatory`."""
    work = tmp_path_factory.mktemp("regulatory-dbt")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hour_ago = now - dt.timedelta(hours=1)
    events = {
        "on_time": _event(1, hour_ago),
        "late": _event(2, hour_ago),
        "dead": _event(3, hour_ago),
        "missed": _event(4, hour_ago),
        "pending": _event(5, now - dt.timedelta(minutes=2)),
        "ledger_only": _event(6, hour_ago),
    }
    ledger = SqliteLedger(work / "ledger.sqlite3")
    for name, event in events.items():
        if name in ("missed", "pending"):
            continue
        at = dt.datetime.fromisoformat(event["event_at"].replace("Z", "+00:00"))
        ledger.claim(NewEntry(_id(event), event, "NEW", at), "t", at, 60)
        if name == "dead":
            ledger.mark_dead_lettered(_id(event), "t", "regulator rejected: unknown MIC", at, 1)
        else:
            done = at + dt.timedelta(minutes=20 if name == "late" else 1)
            ledger.mark_submitted(_id(event), "t", f"REG-{name}", done, 1000, 1)
    stream = [
        ("projects/p/subscriptions/bq", str(i), now.replace(tzinfo=None), json.dumps(e), "{}")
        for i, (name, e) in enumerate(events.items())
        if name != "ledger_only"
    ]
    # A redelivered copy of the first event must not create a second row.
    stream.append(("projects/p/subscriptions/bq", "99", now.replace(tzinfo=None), json.dumps(events["on_time"]), "{}"))
    try:
        build = _on_duckdb if request.param == "duckdb" else _on_bigquery_emulator
        built = build(work, ledger, now, stream)
    finally:
        ledger.close()
    return Scenario(events, hour_ago, built)


@pytest.fixture(scope="module")
def reconciliation(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The reconciliation row of each event, by outcome, and the count of rows under "_all"."""
    by_id = {row["event_id"]: row for row in scenario.built.reconciliation}
    return {name: by_id[_id(event)] for name, event in scenario.events.items()} | {"_all": {"count": len(by_id)}}


@pytest.mark.parametrize(
    ("name", "status", "is_breach"),
    [
        pytest.param("on_time", "SUBMITTED", False, id="submitted-on-time"),
        pytest.param("late", "LATE", True, id="late"),
        pytest.param("dead", "DEAD_LETTERED", True, id="dead-lettered"),
        pytest.param("missed", "MISSED", True, id="missed"),
        pytest.param("pending", "PENDING", False, id="pending"),
        pytest.param("ledger_only", "SUBMITTED", False, id="ledger-only"),
    ],
)
def test_each_event_gets_its_status(
    reconciliation: dict[str, dict[str, Any]], name: str, status: str, is_breach: bool
) -> None:
    row = reconciliation[name]
    assert (row["reconciliation_status"], row["is_breach"]) == (status, is_breach)


def test_one_row_per_event_and_ids_equal_python_identity(reconciliation: dict[str, dict[str, Any]]) -> None:
    assert reconciliation["_all"]["count"] == 6
    on_time = reconciliation["on_time"]
    assert on_time["trade_id"] == trade_id("trading", "MUREX", "MX0000000001")
    assert on_time["regulator_reference"] == "REG-on_time"
    assert on_time["minutes_to_submit"] == 1
    assert reconciliation["ledger_only"]["is_in_stream"] is False
    assert reconciliation["dead"]["reason"] == "regulator rejected: unknown MIC"


def test_daily_summary_counts_each_status_and_the_acknowledgement_latency(scenario: Scenario) -> None:
    daily = scenario.built.daily
    statuses = ("submitted_on_time", "submitted_late", "dead_lettered", "missed", "pending", "breaches", "events")
    totals = {column: sum(int(row[column]) for row in daily) for column in statuses}
    assert totals == {
        "submitted_on_time": 2,
        "submitted_late": 1,
        "dead_lettered": 1,
        "missed": 1,
        "pending": 1,
        "breaches": 3,
        "events": 6,
    }
    # The three acknowledged events (1, 1 and 20 minutes) share the day of hour_ago.
    day = next(row for row in daily if row["event_date"] == scenario.hour_ago.date())
    assert (day["seconds_to_submit_p50"], day["seconds_to_submit_max"], day["sla_seconds"]) == (60, 1200, 900)


def test_status_report_finds_every_column_it_reads(scenario: Scenario) -> None:
    assert scenario.built.report_contracts == {name: ("ok", []) for name in scenario.built.report_contracts}


def test_reconcile_reports_and_alerts_on_the_days_missed_deadlines(scenario: Scenario) -> None:
    missed = _id(scenario.events["missed"])
    reconciled = scenario.built.reconciled
    assert (reconciled["status"], reconciled["missed"], reconciled["late"]) == ("success", 1, 1)
    assert reconciled["missed_event_ids"] == [missed]
    [alert] = scenario.built.alerts
    assert (alert["severity"], alert["alert"], alert["missed"]) == ("ERROR", Alert.REGULATORY_SUBMISSIONS_MISSED, 1)
    assert alert["message"].endswith(f"unsubmitted, the oldest due {reconciled['oldest_missed_deadline']}: {missed}")
