"""The regulatory reconciliation model on a throwaway DuckDB warehouse, fed by a real ledger through the mirror."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestrator.identity import event_id, trade_id
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from regulatory_reporter.ledger import NewEntry
from regulatory_reporter.runbook import mirror_ledger
from regulatory_reporter.sqlite_ledger import SqliteLedger
from tests.regulatory_reporter.support import make_event

REPO = Path(__file__).resolve().parents[2]
DBT = str(Path(sys.executable).with_name("dbt"))


def _event(number: int, event_at: dt.datetime) -> dict[str, Any]:
    return make_event(number, event_at=event_at.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _id(event: dict[str, Any]) -> str:
    return event_id(event["domain"], event["source_system"], event["source_trade_id"], event["source_event_id"])


@pytest.fixture(scope="module")
def reconciliation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
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
    warehouse = DuckDBWarehouse(work / "warehouse.duckdb")
    warehouse.ensure_layout([])
    # Mirroring twice appends nothing the second time; a retried mirror never duplicates rows.
    mirror_ledger(ledger, warehouse, now)
    assert mirror_ledger(ledger, warehouse, now) == {"entries_mirrored": 0, "dead_letters_mirrored": 0}
    warehouse.close()
    ledger.close()
    with duckdb.connect(str(work / "warehouse.duckdb")) as connection:
        connection.execute(
            "create table raw.regulatory_events_stream (subscription_name varchar, message_id varchar, "
            "publish_time timestamp, data varchar, attributes varchar)"
        )
        rows = [
            ("projects/p/subscriptions/bq", str(i), now.replace(tzinfo=None), json.dumps(e), "{}")
            for i, (name, e) in enumerate(events.items())
            if name != "ledger_only"
        ]
        # A redelivered copy of the first event must not create a second row.
        rows.append(
            ("projects/p/subscriptions/bq", "99", now.replace(tzinfo=None), json.dumps(events["on_time"]), "{}")
        )
        connection.executemany("insert into raw.regulatory_events_stream values (?, ?, ?, ?, ?)", rows)
    completed = subprocess.run(
        [
            DBT,
            "build",
            "--select",
            "tag:regulatory",
            "--project-dir",
            str(REPO / "dbt_project"),
            "--profiles-dir",
            str(REPO / "dbt_project"),
            "--target",
            "local",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ],
        env={**os.environ, "MDP_WAREHOUSE_PATH": str(work / "warehouse.duckdb")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    with duckdb.connect(str(work / "warehouse.duckdb"), read_only=True) as connection:
        cursor = connection.execute("select * from control.regulatory_reconciliation")
        names = [column[0] for column in cursor.description]
        by_id = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    return {name: by_id[_id(event)] for name, event in events.items()} | {"_all": {"count": len(by_id)}}


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
