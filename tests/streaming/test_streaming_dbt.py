"""The streaming dbt models on DuckDB, over two hourly builds: first copy wins, the incremental merge keeps it,
late events close sequence gaps, severities follow gap sizes, lag is measured."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from orchestrator.alerts import Alert
from orchestrator.backends import warehouse_dbt_target
from orchestrator.dbt_runner import DbtResult, run_dbt
from orchestrator.report.queries import LANE_TABLES, table_state
from orchestrator.settings import Settings
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from streaming.load import STREAM_SCHEMA
from streaming.runbook import build_streaming_models, gaps, lag
from tests.streaming.support import MDP, rfq_event

TOPIC = "markets.rfq.events.v1"


@dataclass(frozen=True)
class Delivery:
    """One message as it lands in raw.rfq_stream."""

    number: int
    partition: int
    sequence: int
    ingested_minutes_ago: int
    price: str = "99.875"
    message_id: str = ""

    def row(self, now: dt.datetime) -> dict[str, Any]:
        """The raw row, ingested `ingested_minutes_ago` before `now`."""
        ingested = now - dt.timedelta(minutes=self.ingested_minutes_ago)
        event_at = (ingested - dt.timedelta(seconds=90)).isoformat() + "Z"
        attributes = {
            "source": "rfq",
            "schema_version": "1",
            "kafka_topic": TOPIC,
            "kafka_partition": str(self.partition),
            "kafka_offset": str(self.sequence),
            "kafka_timestamp": str(int((ingested - dt.timedelta(seconds=2)).replace(tzinfo=dt.UTC).timestamp() * 1000)),
            "event_id": f"EV{self.number:09d}",
            "sequence": str(self.sequence),
        }
        return {
            "subscription_name": "mdp-rfq-events-warehouse",
            "message_id": self.message_id or f"m-{self.number}-{self.partition}-{self.sequence}",
            "publish_time": ingested - dt.timedelta(seconds=1),
            "data": rfq_event(self.number, self.sequence, price=self.price, event_at=event_at).decode(),
            "attributes": json.dumps(attributes),
            "_ingested_at": ingested,
        }


def _land(warehouse: Path, deliveries: list[Delivery]) -> None:
    # Relative to the moment of landing, not of collection: the grace period is judged against the build.
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    target = DuckDBWarehouse(warehouse)
    try:
        target.append_stream_messages(
            "rfq_stream", pa.Table.from_pylist([d.row(now) for d in deliveries], STREAM_SCHEMA)
        )
    finally:
        target.close()


def _json_lines(stderr: str) -> list[str]:
    """The structured log lines among what `mdp` wrote to stderr."""
    return [line for line in stderr.splitlines() if line.startswith("{")]


def _query(warehouse: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


FIRST_HOUR = [
    # Partition 0: 1 2 3 . 5 6 7 (one missing); event 2 delivered twice, the copy an hour later differs.
    *(Delivery(n, 0, n, 120) for n in (1, 2, 3, 5, 6, 7)),
    Delivery(2, 0, 2, 60, price="1.000", message_id="redelivered-2"),
    # Partition 1: 1 . . . 20 (eighteen missing).
    Delivery(101, 1, 1, 120),
    Delivery(120, 1, 20, 90),
]
SECOND_HOUR = [
    Delivery(4, 0, 4, 5),  # fills partition 0's gap, late
    Delivery(110, 1, 10, 5),  # splits partition 1's gap in two
    Delivery(1, 0, 1, 5, price="2.000", message_id="redelivered-1"),  # a late copy of a curated event
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, list[tuple[Any, ...]]]:
    """Two builds; returns the settings and the gaps after the first one."""
    home = tmp_path_factory.mktemp("stream-dbt")
    settings = Settings(
        home=home, specs_dir=Path("source_specs").resolve(), dbt_project_dir=Path("dbt_project").resolve()
    )
    _land(settings.warehouse_path, FIRST_HOUR)
    build_streaming_models(settings)
    first_gaps = _query(
        settings.warehouse_path,
        "select kafka_partition, first_missing_sequence, last_missing_sequence, missing_count, severity, is_confirmed "
        "from control.streaming_sequence_gaps order by kafka_partition, first_missing_sequence",
    )
    _land(settings.warehouse_path, SECOND_HOUR)
    build_streaming_models(settings)
    return settings, first_gaps


def test_the_first_build_reports_each_gap_with_its_severity(built: tuple[Settings, list[tuple[Any, ...]]]) -> None:
    _, first_gaps = built
    assert first_gaps == [(0, 4, 4, 1, "LOW", True), (1, 2, 19, 18, "HIGH", True)]


def test_late_events_close_and_split_gaps_in_the_next_build(built: tuple[Settings, list[tuple[Any, ...]]]) -> None:
    settings, _ = built
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        found = gaps(warehouse, "LOW", confirmed_only=False)
        confirmed = gaps(warehouse, "LOW", confirmed_only=True)
        high = gaps(warehouse, "HIGH", confirmed_only=False)
    finally:
        warehouse.close()
    assert [
        (g["kafka_partition"], g["first_missing_sequence"], g["last_missing_sequence"], g["severity"]) for g in found
    ] == [
        (1, 11, 19, "MEDIUM"),
        (1, 2, 9, "MEDIUM"),
    ]
    assert confirmed == [], "both gaps were first seen five minutes ago, inside the grace period"
    assert high == []


def test_each_event_keeps_its_first_delivery_through_both_merges(built: tuple[Settings, list[tuple[Any, ...]]]) -> None:
    settings, _ = built
    curated = dict(_query(settings.warehouse_path, "select event_id, cast(price as varchar) from curation.rfq_events"))
    assert len(curated) == 10
    assert curated["EV000000001"] == "99.875000000", "the late copy of event 1 must not replace the first"
    assert curated["EV000000002"] == "99.875000000"
    assert _query(
        settings.warehouse_path, "select count(*), count(distinct event_id) from staging.stg_rfq__events"
    ) == [(10, 10)]
    assert _query(settings.warehouse_path, "select count(*) from raw.rfq_stream") == [(12,)]


def test_lag_is_measured_per_partition_and_hour(built: tuple[Settings, list[tuple[Any, ...]]]) -> None:
    settings, _ = built
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        rows = lag(warehouse, hours=48)
    finally:
        warehouse.close()
    assert {row["kafka_partition"]: row["events"] for row in rows} == {0: 7, 1: 3}
    for row in rows:
        assert row["worst_lag_minutes_p95"] == pytest.approx(1.5)
        assert row["worst_pipeline_lag_seconds_p99"] == pytest.approx(2.0)


def test_status_report_finds_every_column_it_reads(built: tuple[Settings, list[tuple[Any, ...]]]) -> None:
    settings, _ = built
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        names = ("streaming_lag", "sequence_gaps", "stream_rejections")
        contracts = {name: table_state(warehouse, LANE_TABLES[name]) for name in names}
    finally:
        warehouse.close()
    assert contracts == {name: ("ok", []) for name in names}


def _test_rfq_events(settings: Settings, variables: dict[str, Any]) -> DbtResult:
    return run_dbt(settings, warehouse_dbt_target(settings), ("test", "--select", "rfq_events"), variables)


def test_curated_stream_tests_read_what_an_hourly_build_can_change(
    built: tuple[Settings, list[tuple[Any, ...]]], tmp_path: Path
) -> None:
    source, _ = built
    settings = Settings(home=tmp_path, specs_dir=source.specs_dir, dbt_project_dir=source.dbt_project_dir)
    shutil.copy2(source.warehouse_path, settings.warehouse_path)
    with duckdb.connect(str(settings.warehouse_path)) as connection:
        # A copy of event 1 ingested beyond the reach of an hourly build (12 + 168 hours by default).
        connection.execute(
            "insert into curation.rfq_events select * replace (now()::timestamp - interval 200 hours as ingested_at) "
            "from curation.rfq_events where event_id = 'EV000000001'"
        )
    assert _test_rfq_events(settings, {}).status == "success"
    assert _test_rfq_events(settings, {"stream_duplicate_horizon_hours": 400}).status == "error"
    # A full refresh (staging over all of raw) tests the whole table.
    assert _test_rfq_events(settings, {"stream_staging_window_hours": 0}).status == "error"
    # So does the daily audit.
    audit = subprocess.run(
        [MDP, "--home", str(settings.home), "stream", "check", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert audit.returncode != 0
    assert "unique_rfq_events_event_id" in audit.stdout + audit.stderr
    [alert] = [record for record in map(json.loads, _json_lines(audit.stderr)) if "alert" in record]
    assert (alert["severity"], alert["alert"]) == ("ERROR", Alert.STREAM_CHECK_FAILED)
    assert "unique_rfq_events_event_id" in alert["message"]


@pytest.fixture(scope="module")
def windowed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Builds around the staging window: a late copy after its first copy left the window, a build that stopped
    for longer than the window, its catch-up, and a full refresh. Returns what each step left."""
    home = tmp_path_factory.mktemp("stream-window")
    settings = Settings(
        home=home, specs_dir=Path("source_specs").resolve(), dbt_project_dir=Path("dbt_project").resolve()
    )
    warehouse = settings.warehouse_path
    curated = "select event_id, message_id, cast(price as varchar) from curation.rfq_events order by event_id"
    # Event 1 ten hours ago (inside the default 12-hour window), event 2 half an hour ago.
    _land(warehouse, [Delivery(1, 0, 1, 600), Delivery(2, 0, 2, 30)])
    build_streaming_models(settings)
    _land(warehouse, [Delivery(1, 0, 1, 1, price="4.000", message_id="late-1")])
    # Staging now covers two hours: event 1's first copy is out of it, its late copy in.
    build_streaming_models(settings, {"stream_staging_window_hours": 2, "stream_lookback_hours": 0})
    steps: dict[str, Any] = {
        "staged_after_late_copy": _query(warehouse, "select event_id, message_id from staging.stg_rfq__events"),
        "curated_after_late_copy": _query(warehouse, curated),
    }
    # The merge must start three hours before the newest curated hour, but staging covers one hour.
    behind = subprocess.run(
        [MDP, "--home", str(home), "stream", "build", "--window-hours", "1", "--lookback-hours", "3"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    steps["behind_exit_code"] = behind.returncode
    steps["behind"] = behind.stderr
    steps["behind_alerts"] = [record for record in map(json.loads, _json_lines(behind.stderr)) if "alert" in record]
    needed = int(re.search(r"--window-hours (\d+)", steps["behind"]).group(1))  # type: ignore[union-attr]
    build_streaming_models(settings, {"stream_staging_window_hours": needed, "stream_lookback_hours": 3})
    steps["window_hours_needed"] = needed
    steps["curated_after_catch_up"] = _query(warehouse, curated)
    build_streaming_models(settings, full_refresh=True)
    steps["curated_after_full_refresh"] = _query(warehouse, curated)
    steps["staged_after_full_refresh"] = _query(warehouse, "select count(*) from staging.stg_rfq__events")
    return steps


FIRST_COPIES = [("EV000000001", "m-1-0-1", "99.875000000"), ("EV000000002", "m-2-0-2", "99.875000000")]


def test_a_copy_arriving_after_its_first_copy_left_the_staging_window_never_replaces_it(
    windowed: dict[str, Any],
) -> None:
    assert ("EV000000001", "late-1") in windowed["staged_after_late_copy"], "staging no longer sees the first copy"
    assert windowed["curated_after_late_copy"] == FIRST_COPIES


def test_a_build_behind_the_staging_window_fails_with_its_catch_up_command(windowed: dict[str, Any]) -> None:
    assert windowed["behind_exit_code"] == 2
    assert "catch up with `mdp stream build --window-hours" in windowed["behind"]
    [alert] = windowed["behind_alerts"]
    assert (alert["severity"], alert["alert"]) == ("ERROR", Alert.STREAM_BUILD_FAILED)
    assert "catch up with `mdp stream build --window-hours" in alert["message"]
    assert 4 <= windowed["window_hours_needed"] <= 6, "three hours of lookback, up to an hour into the newest hour"
    assert windowed["curated_after_catch_up"] == FIRST_COPIES


def test_a_full_refresh_rebuilds_from_every_raw_message(windowed: dict[str, Any]) -> None:
    assert windowed["curated_after_full_refresh"] == FIRST_COPIES
    assert windowed["staged_after_full_refresh"] == [(2,)]


@pytest.mark.parametrize(
    ("command", "table"),
    [("lag", "streaming_lag"), ("gaps", "streaming_sequence_gaps"), ("rejects", "streaming_rejected_events")],
)
def test_runbook_commands_before_the_first_streaming_build_say_what_to_run(
    tmp_path: Path, command: str, table: str
) -> None:
    completed = subprocess.run(
        [MDP, "--home", str(tmp_path), "stream", command], capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        f"StreamModelsNotBuiltError: table=control.{table}: not in this warehouse; the streaming build has not run "
        "here yet (`mdp stream build`)"
    )


def test_a_streaming_model_an_older_release_built_is_named_with_its_missing_columns(tmp_path: Path) -> None:
    # control.streaming_sequence_gaps as a release before gap confirmation built it.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute("create schema control")
        connection.execute(
            "create table control.streaming_sequence_gaps as select 'rfq' as source, 'rfq.quotes' as kafka_topic, "
            "0 as kafka_partition, 10 as first_missing_sequence, 27 as last_missing_sequence, 18 as missing_count, "
            "'HIGH' as severity"
        )

    completed = subprocess.run(
        [MDP, "--home", str(tmp_path), "stream", "gaps"], capture_output=True, text=True, check=False, timeout=120
    )

    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        "StreamModelOutdatedError: table=control.streaming_sequence_gaps: built before its columns is_confirmed, "
        "detected_at existed; run `mdp stream build` (the next hourly streaming build rebuilds it too)"
    )


@dataclass(frozen=True)
class BuildReport:
    """What `mdp stream build --json` printed, and the alert lines it logged."""

    payload: dict[str, Any]
    alerts: list[dict[str, Any]]


def _build_with_cli(home: Path) -> BuildReport:
    completed = subprocess.run(
        [MDP, "--home", str(home), "stream", "build", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    records = [json.loads(line) for line in _json_lines(completed.stderr)]
    return BuildReport(json.loads(completed.stdout), [record for record in records if "alert" in record])


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[BuildReport]:
    """Three builds: over the first hour; over a late, confirmed gap and a rejected event; with nothing new."""
    home = tmp_path_factory.mktemp("stream-build-reports")
    warehouse = Settings(
        home=home, specs_dir=Path("source_specs").resolve(), dbt_project_dir=Path("dbt_project").resolve()
    ).warehouse_path
    found: list[BuildReport] = []
    for deliveries in (
        FIRST_HOUR,
        # Partition 1 jumps from 20 to 30, an hour ago; event 131 breaks the spec (it still bounds gaps).
        [Delivery(130, 1, 30, 60), Delivery(131, 1, 31, 5, price="n/a")],
        [],
    ):
        if deliveries:
            _land(warehouse, deliveries)
        found.append(_build_with_cli(home))
    return found


def test_each_build_reports_the_gaps_it_confirms_once(reports: list[BuildReport]) -> None:
    assert [report.payload["confirmed_gaps"] for report in reports] == [
        [
            {"source": "rfq", "severity": "HIGH", "gaps": 1, "missing": 18},
            {"source": "rfq", "severity": "LOW", "gaps": 1, "missing": 1},
        ],
        [{"source": "rfq", "severity": "MEDIUM", "gaps": 1, "missing": 9}],
        [],
    ], "a gap confirmed by one build is not reported again by the next"


def test_each_build_reports_the_events_it_rejects_per_stream(reports: list[BuildReport]) -> None:
    assert [(report.payload["rejected"], report.payload["rejected_by_stream"]) for report in reports] == [
        (0, {}),
        (1, {"rfq": 1}),
        (0, {}),
    ]


def test_the_build_logs_one_alert_line_per_finding(reports: list[BuildReport]) -> None:
    fields = ("severity", "alert", "stream", "gap_severity", "gaps", "missing", "rejected")
    assert [[{k: line[k] for k in fields if k in line} for line in report.alerts] for report in reports] == [
        [
            {
                "severity": "WARNING",
                "alert": Alert.STREAM_SEQUENCE_GAPS_CONFIRMED,
                "stream": "rfq",
                "gap_severity": "HIGH",
                "gaps": 1,
                "missing": 18,
            },
            {
                "severity": "WARNING",
                "alert": Alert.STREAM_SEQUENCE_GAPS_CONFIRMED,
                "stream": "rfq",
                "gap_severity": "LOW",
                "gaps": 1,
                "missing": 1,
            },
        ],
        [
            {"severity": "WARNING", "alert": Alert.STREAM_EVENTS_REJECTED, "stream": "rfq", "rejected": 1},
            {
                "severity": "WARNING",
                "alert": Alert.STREAM_SEQUENCE_GAPS_CONFIRMED,
                "stream": "rfq",
                "gap_severity": "MEDIUM",
                "gaps": 1,
                "missing": 9,
            },
        ],
        [],
    ]
    assert reports[1].alerts[0]["message"] == "1 events of stream rfq rejected by their stream spec"
