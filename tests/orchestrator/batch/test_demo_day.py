"""End to end on the embedded default: one demo day from landing to the vendor extract."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestrator.alerts import Alert
from orchestrator.alerts import log as alerts_log
from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.batch.cycle import run_cycle
from orchestrator.batch.findings import alert_on_reconciliation
from orchestrator.batch.reload import NotReloadableError, reload_file
from orchestrator.demo import DemoResult, run_demo
from orchestrator.extract import write_extract
from orchestrator.generator import generate_source_file
from orchestrator.identity import trade_id
from orchestrator.logs import JsonFormatter
from orchestrator.runbook import file_reconciliation, replay_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.storage import read_bytes
from orchestrator.warehouse.base import Warehouse
from regulatory_reporter.events import parse_event
from regulatory_reporter.runtime import open_reporter
from regulatory_reporter.settings import ReporterSettings
from streaming.dead_letters import REPLAYED_FROM
from streaming.messages import MessageRouter
from streaming.pubsub import close, publish_all, publisher_client, subscriber_client
from streaming.spec import find_stream_spec
from tests import services
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.streaming.support import (
    create_topic,
    create_topics_and_subscriptions,
    delete_topics_and_subscriptions,
    rfq_event,
    unique,
)

REPO = Path(__file__).resolve().parents[3]
DATE = dt.date(2026, 11, 20)
T = TypeVar("T")


class AlertLines(logging.Handler):
    """Collects the alert lines `orchestrator.alerts` logs, as Cloud Logging would read them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def of(self, alert: Alert) -> list[dict[str, Any]]:
        """The lines of one alert."""
        return [line for line in self.lines if line["alert"] == alert]


@contextmanager
def alert_lines() -> Iterator[AlertLines]:
    """The alert lines logged inside the block."""
    handler = AlertLines()
    alerts_log.addHandler(handler)
    try:
        yield handler
    finally:
        alerts_log.removeHandler(handler)


@pytest.fixture(scope="module")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory, specs: list[SourceSpec]
) -> tuple[Settings, DemoResult, AlertLines]:
    """One demo day, shared by the tests of this module (they only read, or add files of their own), with the
    alert lines it logged."""
    home = tmp_path_factory.mktemp("demo") / "home"
    settings = Settings(home=home, specs_dir=REPO / "source_specs", dbt_project_dir=REPO / "dbt_project")
    with alert_lines() as lines:
        result = run_demo(settings, specs, DATE, seed=7)
    return settings, result, lines


@pytest.fixture(scope="module")
def demo_home(demo_run: tuple[Settings, DemoResult, AlertLines]) -> tuple[Settings, DemoResult]:
    """The demo day's home and result."""
    settings, result, _ = demo_run
    return settings, result


def _read(settings: Settings, read: Callable[[Warehouse], T]) -> T:
    with closing(open_warehouse(settings)) as warehouse:
        return read(warehouse)


def _query(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with closing(open_warehouse(settings)) as warehouse:
        return warehouse.query(sql)


def test_every_file_ends_in_one_recorded_outcome(demo_home: tuple[Settings, DemoResult]) -> None:
    settings, result = demo_home
    assert result.cycle.dbt is not None
    assert result.cycle.dbt.status == "success", result.cycle.dbt.message
    assert result.cycle.counts() == {"loaded": 7, "failed": 1, "unmatched": 1}
    assert list(open_buckets(settings).landing.list()) == []
    recorded = _query(settings, "select outcome, count(*) as files from control.ingested_files group by outcome")
    assert {row["outcome"]: row["files"] for row in recorded} == {"loaded": 7, "failed": 1, "unmatched": 1}


def test_rows_are_accounted_for(demo_home: tuple[Settings, DemoResult]) -> None:
    settings, _ = demo_home
    rows = _query(
        settings,
        "select source, rows_total, rows_loaded, rows_quarantined from control.ingested_files where outcome = 'loaded'",
    )
    assert all(row["rows_total"] == row["rows_loaded"] + row["rows_quarantined"] for row in rows)
    venue = next(row for row in rows if row["source"] == "venue_executions")
    assert venue["rows_quarantined"] == 25
    quarantined = _query(
        settings, "select count(*) as n from control.quarantined_rows where source = 'venue_executions'"
    )
    assert quarantined[0]["n"] == 25
    raw = _query(settings, 'select count(*) as n from raw."venue_executions"')
    assert raw[0]["n"] == venue["rows_loaded"]


def test_every_loaded_row_is_reconciled_to_the_extract(demo_run: tuple[Settings, DemoResult, AlertLines]) -> None:
    settings, result, lines = demo_run
    files = _read(settings, lambda warehouse: file_reconciliation(warehouse, DATE))
    assert {row["source"] for row in files} == {
        "bloomberg_trades",
        "books",
        "counterparties",
        "instruments",
        "murex_trades",
        "traders",
        "venue_executions",
    }
    assert {row["reconciliation_status"] for row in files} == {"BALANCED"}
    assert not lines.of(Alert.FILE_RECONCILIATION_BREAK)
    venue = next(row for row in files if row["source"] == "venue_executions")
    assert (venue["rows_total"], venue["rows_quarantined"], venue["rows_in_quarantine"]) == (50_000, 25, 25)
    assert venue["rows_in_raw"] == venue["rows_loaded"] == 49_975
    trades = [row for row in files if row["rows_current"] is not None]
    # Amendments in the same file replace earlier versions: each raw row is current or superseded.
    assert all(row["rows_current"] + row["rows_superseded"] == row["rows_in_raw"] for row in trades)
    assert all(row["rows_superseded"] > 0 for row in trades)
    assert result.extract is not None
    assert sum(row["rows_in_extract"] for row in trades) == result.extract.rows


def test_failed_and_unmatched_files_carry_error_reports(demo_home: tuple[Settings, DemoResult]) -> None:
    settings, _ = demo_home
    failed = open_buckets(settings).failed
    reports = [json.loads(read_bytes(failed, info.key)) for info in failed.list() if info.key.endswith(".error.json")]
    checks = {report["file"]: report["failed_checks"] for report in reports}
    murex = next(checks[key] for key in checks if key.startswith("murex/"))
    assert any(check.startswith("control_row_count: control file states 503 rows, file has 500") for check in murex)
    unmatched = next(checks[key] for key in checks if not key.startswith("murex/"))
    assert unmatched == ["unmatched: no source spec's landing pattern matches this path"]


def test_extract_holds_the_window_with_python_trade_ids(demo_home: tuple[Settings, DemoResult]) -> None:
    settings, result = demo_home
    assert result.extract is not None
    assert result.extract.rows > 0
    data = read_bytes(open_buckets(settings).extracts, result.extract.data_key)
    records = [json.loads(line) for line in gzip.decompress(data).splitlines()]
    assert len(records) == result.extract.rows == len({r["trade_id"] for r in records})
    assert {r["source_name"] for r in records} == {"murex_trades", "venue_executions", "bloomberg_trades"}
    assert all(DATE - dt.timedelta(days=6) <= dt.date.fromisoformat(r["trade_date"]) <= DATE for r in records)
    assert all(r["trade_id"] == trade_id("trading", r["source_system"], r["source_trade_id"]) for r in records)
    assert any(r["is_cancelled"] for r in records)
    manifest = json.loads(read_bytes(open_buckets(settings).extracts, result.extract.manifest_key))
    assert manifest["rows"] == len(records)
    assert manifest["sha256"] == result.extract.sha256


def test_extract_rerun_is_byte_identical(demo_home: tuple[Settings, DemoResult]) -> None:
    settings, result = demo_home
    assert result.extract is not None
    buckets = open_buckets(settings)
    before = {key: read_bytes(buckets.extracts, key) for key in (result.extract.data_key, result.extract.manifest_key)}
    with closing(open_warehouse(settings)) as warehouse:
        again = write_extract(warehouse, buckets, DATE, "jsonl", settings.work_dir)
    assert again.unchanged
    assert {key: read_bytes(buckets.extracts, key) for key in before} == before


def test_redelivered_file_is_a_duplicate_and_not_loaded_twice(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    settings, _ = demo_home
    buckets = open_buckets(settings)
    archived = next(info.key for info in buckets.archive.list() if info.key.endswith(".jsonl"))
    landing_key = archived.split("/landing/", 1)[1]
    with buckets.archive.local_copy(archived) as path:
        buckets.landing.upload_file(path, landing_key)
    before = _query(settings, 'select count(*) as n from raw."bloomberg_trades"')[0]["n"]
    report = run_cycle(dataclasses.replace(settings), specs, DATE)
    assert [(f.path, f.status) for f in report.files] == [(landing_key, "duplicate")]
    assert report.exit_code == 0
    assert _query(settings, 'select count(*) as n from raw."bloomberg_trades"')[0]["n"] == before


def test_replayed_failed_file_is_validated_again(demo_home: tuple[Settings, DemoResult], tmp_path: Path) -> None:
    settings, _ = demo_home
    copy = tmp_path / "home"
    shutil.copytree(settings.home, copy)
    replayed = replay_file(
        open_buckets(dataclasses.replace(settings, home=copy)), "inbound/unknown_feed/positions_20261120.csv"
    )
    assert replayed["replayed"] == ["inbound/unknown_feed/positions_20261120.csv"]
    assert [info.key for info in open_buckets(dataclasses.replace(settings, home=copy)).landing.list()] == [
        "inbound/unknown_feed/positions_20261120.csv"
    ]


def _runbook_commands() -> list[str]:
    text = (REPO / "docs" / "support_runbook.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    commands = [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith("mdp ")]
    # Sections share commands (`mdp stream build`): each runs once, where it first appears.
    return list(dict.fromkeys(commands))


def _dead_letter_a_demo_trade(settings: Settings, sandbox: RegulatorSandbox) -> str:
    """The reporter dead-letters one of the demo day's trades (the regulator rejects it); its event id."""
    trade = _query(
        settings,
        "select domain, source_system, source_trade_id, trader_id, isin, counterparty_lei, side, quantity, "
        "price, currency, venue_mic from curation.trades_enriched where has_known_trader and has_known_instrument "
        "and has_known_counterparty and has_known_venue_mic and not is_cancelled order by trade_id limit 1",
    )[0]
    fields = {key: str(value) for key, value in trade.items()} | {"source_event_id": "RUNBOOK-1", "event_type": "NEW"}
    event = parse_event(json.dumps(fields | {"event_at": "2026-11-20T10:00:00Z"}).encode(), "runbook-1")
    sandbox.reject(event.event_id, 422, "field trade.venue_mic: unknown MIC")
    reporter_settings = ReporterSettings(
        base=settings, regulator_url=sandbox.url, regulator_timeout_s=0.5, retry_base_s=0.01, lease_s=10
    )
    with open_reporter(reporter_settings, refresh_in_background=False) as reporter:
        reporter.handle(event, "runbook-1")
    # The regulator's side is fixed before on-call replays it, as the runbook says.
    sandbox.faults.reject_event_ids.clear()
    return event.event_id


def _dead_letter_a_stream_event(project: str) -> None:
    """The rfq stream's topics and dead-letter subscription in a project of their own (Terraform's job), and one
    dead letter the bridge wrote under an older spec that read the event time from another field: the shipped
    spec lets it through, so the runbook's replay publishes it."""
    spec = find_stream_spec(REPO / "source_specs", "rfq")
    create_topics_and_subscriptions(project, spec, spec.dead_letter_topic)
    older = MessageRouter(dataclasses.replace(spec, event_time_field="event_time"))
    letter = older.route(rfq_event(7, 7), b"RFQ00000001", spec.kafka_topics[0], 0, 7, 1_763_632_800_000)
    assert letter.dead_letter is not None
    publisher = publisher_client()
    try:
        assert publish_all(publisher, publisher.topic_path(project, spec.dead_letter_topic), [letter]) == [None]
    finally:
        close(publisher)


def test_every_runbook_command_exists_and_succeeds(demo_home: tuple[Settings, DemoResult], tmp_path: Path) -> None:
    settings, _ = demo_home
    home = tmp_path / "home"
    shutil.copytree(settings.home, home)
    services.pubsub_emulator_host()
    project = unique("runbook-")
    _dead_letter_a_stream_event(project)
    # The rfq stream's Kafka topic (the Kafka team's), which `bridge backlog` reads.
    rfq = find_stream_spec(REPO / "source_specs", "rfq")
    create_topic(services.kafka_bootstrap_servers(), rfq.kafka_topics[0], 3, exist_ok=True)
    sandbox = RegulatorSandbox().start()
    try:
        event_id = _dead_letter_a_demo_trade(dataclasses.replace(settings, home=home), sandbox)
        with duckdb.connect(str(home / "warehouse.duckdb")) as connection:  # rows no loaded file records
            connection.execute("insert into raw.books select * replace ('orphan' as _file_id) from raw.books limit 3")
        commands = _runbook_commands()
        assert len(commands) >= 12
        for command in commands:
            filled = command.replace("EVENT_ID", event_id).replace("FILE_ID", "orphan")
            _run_runbook_command(filled, home, sandbox.url, project)
        assert sandbox.first_accepts() == 1
        assert _stream_events_replayed(project) == ["EV000000007"]
    finally:
        sandbox.stop()
        spec = find_stream_spec(REPO / "source_specs", "rfq")
        delete_topics_and_subscriptions(
            project, [spec.pubsub_topic, spec.dead_letter_topic], [spec.subscription, spec.dead_letter_topic]
        )


def _stream_events_replayed(project: str) -> list[str]:
    """Event ids of the messages on the rfq stream's subscription that a dead-letter replay published."""
    subscriber = subscriber_client()
    try:
        path = subscriber.subscription_path(project, find_stream_spec(REPO / "source_specs", "rfq").subscription)
        received = subscriber.pull(subscription=path, max_messages=100, timeout=5).received_messages
        return [m.message.attributes["event_id"] for m in received if REPLAYED_FROM in m.message.attributes]
    finally:
        close(subscriber)


def _run_runbook_command(command: str, home: Path, regulator_url: str, pubsub_project: str) -> None:
    arguments = shlex.split(command)
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("mdp")), *arguments[1:]],
        env={
            **os.environ,
            "MDP_HOME": str(home),
            "MDP_REGULATOR_URL": regulator_url,
            "MDP_PUBSUB_PROJECT": pubsub_project,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    # A cycle that meets a still-broken file exits 1 by design ("some files failed").
    allowed = (0, 1) if arguments[1] in ("run", "validate") else (0,)
    assert completed.returncode in allowed, f"{command}: {completed.stderr}"
    if "--json" in arguments:
        json.loads(completed.stdout)


def test_the_cycle_alerts_on_each_file_rejected_or_unmatched(demo_run: tuple[Settings, DemoResult, AlertLines]) -> None:
    _, result, lines = demo_run
    failed = {(f.source, f.path) for f in result.cycle.files if f.status == "failed"}
    unmatched = {f.path for f in result.cycle.files if f.status == "unmatched"}
    assert failed, "the demo day rejects files"
    assert unmatched, "the demo day lands a file no spec matches"
    assert {(line["source"], line["file"]) for line in lines.of(Alert.FILE_VALIDATION_FAILED)} == failed
    assert {line["file"] for line in lines.of(Alert.FILE_UNMATCHED)} == unmatched
    murex = next(line for line in lines.of(Alert.FILE_VALIDATION_FAILED) if line["source"] == "murex_trades")
    assert murex["severity"] == "WARNING"
    assert murex["message"].startswith(f"file {murex['file']} of source murex_trades failed validation: ")


def test_a_first_deployment_does_not_alert_the_days_before_its_first_file(
    demo_run: tuple[Settings, DemoResult, AlertLines],
) -> None:
    settings, _, lines = demo_run
    statuses = _query(
        settings,
        "select distinct status from control.source_completeness where business_date = '2026-11-19'",
    )
    # The demo day is a first deployment: it delivers every source for the 20th and none for the 19th.
    assert {row["status"] for row in statuses} == {"MISSING"}
    assert not lines.of(Alert.SOURCE_MISSING)
    assert not lines.of(Alert.VOLUME_ANOMALY), "no history yet, every count inside its spec's typical range"


def _copy_of_home_and_dbt_project(settings: Settings, folder: Path) -> Settings:
    """Settings on copies of the demo home and the dbt project, for a cycle that changes either."""
    project = folder / "dbt_project"
    shutil.copytree(settings.dbt_project_dir, project, ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copytree(settings.home, folder / "home")
    return dataclasses.replace(settings, home=folder / "home", dbt_project_dir=project)


def _run_mdp(settings: Settings, *words: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("mdp")), *words],
        env={**os.environ, "MDP_HOME": str(settings.home), "MDP_DBT_PROJECT_DIR": str(settings.dbt_project_dir)},
        capture_output=True,
        text=True,
        check=False,
    )


def _mdp(settings: Settings, *words: str) -> Any:
    """Run `mdp` on a home and dbt project; its JSON output."""
    completed = _run_mdp(settings, *words)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def _mdp_fails(settings: Settings, *words: str) -> str:
    """Run `mdp` on a home and dbt project, which must refuse (exit 2); what it wrote on stderr."""
    completed = _run_mdp(settings, *words)
    assert completed.returncode == 2, (completed.stdout, completed.stderr)
    return completed.stderr


def test_a_source_short_past_its_deadline_alerts_and_is_listed(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path)
    monday = dt.date(2026, 11, 23)
    with alert_lines() as lines:
        report = run_cycle(copy, specs, monday)
    assert report.exit_code == 0, report.as_dict()
    statuses = _query(
        copy,
        "select source, cast(business_date as varchar) as business_date, status from control.source_completeness "
        "where business_date between '2026-11-22' and '2026-11-23'",
    )
    # Nothing landed for Monday the 23rd, past every deadline; on Sunday the 22nd no weekday source is expected.
    short = {(row["source"], row["business_date"]) for row in statuses if row["status"] != "ON_TIME"}
    assert short == {(spec.name, "2026-11-23") for spec in specs}
    assert {(line["source"], line["business_date"]) for line in lines.of(Alert.SOURCE_MISSING)} == short
    books = next(line for line in lines.of(Alert.SOURCE_MISSING) if line["source"] == "books")
    assert books["message"] == (
        "source books is MISSING for 2026-11-23: 0 files loaded by its deadline 2026-11-23T06:00:00, 0 failed"
    )
    listed = _mdp(copy, "alerts", "--json")["alerts"]
    assert {(row["alert"], row["source"], row["business_date"]) for row in listed} == {
        ("SOURCE_MISSING", source, date) for source, date in short
    }


def test_rows_lost_or_unrecorded_in_raw_alert_a_reconciliation_break(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path)
    with duckdb.connect(str(copy.home / "warehouse.duckdb")) as connection:
        # Ten rows of the Murex file lost, three rows in raw.books that no loaded file records.
        connection.execute(
            "delete from raw.murex_trades where _source_row_number in "
            "(select _source_row_number from raw.murex_trades order by _source_row_number limit 10)"
        )
        connection.execute("insert into raw.books select * replace ('orphan' as _file_id) from raw.books limit 3")
    with alert_lines() as lines:
        report = run_cycle(copy, specs, DATE)
    assert report.exit_code == 0, report.as_dict()
    breaks = {line["source"]: line for line in lines.of(Alert.FILE_RECONCILIATION_BREAK)}
    assert set(breaks) == {"murex_trades", "books"}
    murex = breaks["murex_trades"]
    assert (murex["severity"], murex["reconciliation_status"]) == ("ERROR", "ROWS_MISSING")
    assert murex["message"] == (
        "file murex/trades/MX_TRADES_20261120_001.xml of source murex_trades (2026-11-20) is ROWS_MISSING: "
        "20000 rows read, 20000 loaded and 19990 in raw.murex_trades, 0 quarantined and 0 in control.quarantined_rows"
    )
    assert breaks["books"]["message"] == (
        "raw.books holds 3 rows of file_id orphan (business date 2026-11-20) that no loaded file records"
    )
    listed = _mdp(copy, "files", "reconcile", "--breaks", "--json")["files"]
    assert {(row["source"], row["reconciliation_status"], row["rows_in_raw"]) for row in listed} == {
        ("murex_trades", "ROWS_MISSING", 19_990),
        ("books", "NOT_RECORDED", 3),
    }
    status = _mdp(copy, "status", "--date", "2026-11-20", "--json")
    assert {(row["source"], row["reconciliation_status"]) for row in status["files_not_reconciled"]} == {
        ("murex_trades", "ROWS_MISSING"),
        ("books", "NOT_RECORDED"),
    }

    # The runbook's repair: the Murex file's raw rows come back from its archived Parquet; the next cycle finds
    # it balanced again and nothing counted twice.
    reloaded = _mdp(copy, "files", "reload", "murex/trades/MX_TRADES_20261120_001.xml", "--json")
    assert (reloaded["rows_in_raw_before"], reloaded["rows_in_raw_after"]) == (19_990, 20_000)
    with alert_lines() as lines:
        assert run_cycle(copy, specs, DATE).exit_code == 0
    assert {line["source"] for line in lines.of(Alert.FILE_RECONCILIATION_BREAK)} == {"books"}
    reconciled = _read(copy, lambda warehouse: file_reconciliation(warehouse, DATE))
    assert {
        (row["reconciliation_status"], row["rows_in_raw"]) for row in reconciled if row["source"] == "murex_trades"
    } == {("BALANCED", 20_000)}
    recorded = _query(copy, "select count(*) as n from control.ingested_files where source = 'murex_trades'")
    assert recorded[0]["n"] == 2, "the loaded and the failed Murex file, no new record"

    # The books rows stay unrecorded: the runbook's repair deletes them, and refuses a file_id a loaded file records.
    murex_file_id = next(row["file_id"] for row in reconciled if row["source"] == "murex_trades")
    refused = _mdp_fails(copy, "files", "drop-unrecorded", "murex_trades", murex_file_id)
    assert (
        f"NotDroppableError: source=murex_trades file_id={murex_file_id}: recorded as the loaded file "
        "murex/trades/MX_TRADES_20261120_001.xml" in " ".join(refused.split())
    )
    dropped = _mdp(copy, "files", "drop-unrecorded", "books", "orphan", "--json")
    assert (dropped["source"], dropped["rows_deleted"]) == ("books", 3)
    assert "no row of it" in _mdp_fails(copy, "files", "drop-unrecorded", "books", "orphan")
    with alert_lines() as lines:
        assert run_cycle(copy, specs, DATE).exit_code == 0
    assert not lines.of(Alert.FILE_RECONCILIATION_BREAK)
    assert _query(copy, "select count(*) as n from raw.murex_trades")[0]["n"] == 20_000, "other rows untouched"


def test_lost_quarantined_rows_are_rebuilt_from_the_archived_original_only_when_it_validates_alike(
    demo_home: tuple[Settings, DemoResult], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path)
    venue_file = "venues/executions/venue_executions_20261120_001.csv.gz"
    quarantined = "select count(*) as n from control.quarantined_rows where landing_key = '" + venue_file + "'"
    rule_results = "select rule, failed_rows from control.rule_results where source = 'venue_executions' order by 1"
    kept_rules = _query(copy, rule_results)
    with duckdb.connect(str(copy.home / "warehouse.duckdb")) as connection:
        connection.execute(
            "delete from control.quarantined_rows where landing_key = ? and row_number in (select row_number "
            "from control.quarantined_rows where landing_key = ? order by row_number limit 10)",
            [venue_file, venue_file],
        )
    _mdp(copy, "rebuild", "--select", "file_reconciliation", "--as-of", "2026-11-20", "--json")
    [broken] = _mdp(copy, "files", "reconcile", "--breaks", "--json")["files"]
    assert (broken["landing_key"], broken["reconciliation_status"]) == (venue_file, "QUARANTINE_MISMATCH")
    assert (broken["rows_quarantined"], broken["rows_in_quarantine"]) == (25, 15)

    # A reference list changed since the file loaded: validated again, it quarantines other rows; refused.
    currencies = copy.dbt_project_dir / "seeds" / "iso_currencies.csv"
    original = currencies.read_text()
    currencies.write_text("".join(line for line in original.splitlines(keepends=True) if not line.startswith("USD")))
    refused = " ".join(_mdp_fails(copy, "files", "requarantine", venue_file).split())
    assert f"NotRequarantinableError: file={venue_file}: validated again with spec venue_executions" in refused
    assert "its record says 50000, 49975 and 25" in refused
    assert _query(copy, quarantined)[0]["n"] == 15, "nothing was changed"

    failed_file = "murex/trades/MX_TRADES_20261120_002.xml"
    assert f"NoLoadedRecordError: file={failed_file}: no loaded record;" in _mdp_fails(
        copy, "files", "requarantine", failed_file
    )

    currencies.write_text(original)
    restored = _mdp(copy, "files", "requarantine", venue_file, "--json")
    assert (restored["rows_in_quarantine_before"], restored["rows_in_quarantine_after"]) == (15, 25)
    assert restored["validated_from"].endswith(f"/landing/{venue_file}")
    assert _query(copy, quarantined)[0]["n"] == 25
    assert _query(copy, rule_results) == kept_rules
    _mdp(copy, "rebuild", "--select", "file_reconciliation", "--as-of", "2026-11-20", "--json")
    assert _mdp(copy, "files", "reconcile", "--breaks", "--json")["files"] == []


def test_a_backfill_for_an_old_business_date_is_curated_and_reconciled(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path / "copy")
    # Murex resends a file for a business date three weeks back: older than the 7-day lookback, trade dates too.
    backfill = generate_source_file(
        find_spec(specs, "murex_trades"),
        300,
        dt.date(2026, 10, 30),
        tmp_path / "files",
        seed=99,
        reference_lists_dir=copy.reference_lists_dir,
    )
    for path in sorted(p for p in (tmp_path / "files").rglob("*") if p.is_file()):
        open_buckets(copy).landing.upload_file(path, path.relative_to(tmp_path / "files").as_posix())
    with alert_lines() as lines:
        assert run_cycle(copy, specs, DATE).exit_code == 0
    assert not lines.of(Alert.FILE_RECONCILIATION_BREAK)
    [row] = _read(copy, lambda warehouse: file_reconciliation(warehouse, dt.date(2026, 10, 30)))
    assert row["landing_key"] == backfill.landing_key
    curated = _query(copy, "select count(*) as n from curation.trades_enriched where _business_date = '2026-10-30'")[0][
        "n"
    ]
    assert row["reconciliation_status"] == "BALANCED"
    assert (row["rows_in_raw"], row["rows_not_curated"], row["rows_in_extract"]) == (300, 0, 0)
    assert row["rows_current"] == curated > 250, "every trade of the file is curated, at its latest version"
    assert row["rows_current"] + row["rows_superseded"] == 300

    # Its trades lost from curation: the reconciliation names the file and how many rows, then the next cycle
    # curates them again (they were loaded after the newest curated row).
    with duckdb.connect(str(copy.home / "warehouse.duckdb")) as connection:
        connection.execute("delete from curation.trades_enriched where _business_date = '2026-10-30'")
    _mdp(copy, "rebuild", "--select", "file_reconciliation", "--as-of", "2026-11-20", "--json")
    [broken] = _mdp(copy, "files", "reconcile", "--breaks", "--json")["files"]
    assert (broken["landing_key"], broken["reconciliation_status"]) == (backfill.landing_key, "NOT_CURATED")
    assert (broken["rows_current"], broken["rows_not_curated"]) == (0, curated)
    with alert_lines() as lines:
        _read(copy, alert_on_reconciliation)
    assert [line["message"] for line in lines.of(Alert.FILE_RECONCILIATION_BREAK)] == [
        f"file {backfill.landing_key} of source murex_trades (2026-10-30) is NOT_CURATED: {curated} of its 300 "
        "rows in raw.murex_trades are the latest version of a trade that curation.trades_enriched does not hold"
    ]
    # The status report of the day the file was loaded lists it, though its business date is weeks older.
    loaded_on = dt.date.fromisoformat(broken["processed_at"][:10])
    report = _mdp(copy, "report", "--date", loaded_on.isoformat(), "--days", "1", "--json")
    assert [
        (row["landing_key"], row["reconciliation_status"], row["rows_not_curated"])
        for row in report["reconciliation_breaks"]
    ] == [(backfill.landing_key, "NOT_CURATED", curated)]
    assert backfill.landing_key in Path(report["path"]).read_text()
    assert run_cycle(copy, specs, DATE).exit_code == 0
    assert _mdp(copy, "files", "reconcile", "--breaks", "--json")["files"] == []


def test_a_file_dated_days_ahead_of_its_delivery_fails_whole_and_one_a_day_ahead_loads(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path / "copy")
    today = dt.datetime.now(dt.UTC).date()
    # Three days ahead is a misnamed file whatever the clock does meanwhile; a day ahead is a venue east of UTC.
    ahead = generate_source_file(
        find_spec(specs, "murex_trades"), 200, today + dt.timedelta(days=3), tmp_path / "files", seed=5
    )
    next_day = generate_source_file(find_spec(specs, "books"), 0, today + dt.timedelta(days=1), tmp_path / "files")
    landing = open_buckets(copy).landing
    for path in sorted(p for p in (tmp_path / "files").rglob("*") if p.is_file()):
        landing.upload_file(path, path.relative_to(tmp_path / "files").as_posix())
    info = landing.stat(ahead.landing_key)
    assert info is not None
    landed_on = dt.datetime.fromtimestamp(info.updated_at_epoch, dt.UTC).date()

    with alert_lines() as lines:
        report = run_cycle(copy, specs, DATE)
    outcomes = {outcome.path: outcome for outcome in report.files}
    assert outcomes[next_day.landing_key].status == "loaded"
    failed = outcomes[ahead.landing_key]
    reason = (
        f"business_date_in_future: the file name's business date {today + dt.timedelta(days=3)} is more than 1 day "
        f"after the day the file landed ({landed_on}, UTC)"
    )
    assert (failed.status, failed.reasons) == ("failed", [reason])
    [alert] = lines.of(Alert.FILE_VALIDATION_FAILED)
    assert alert["message"] == f"file {ahead.landing_key} of source murex_trades failed validation: {reason}"
    assert open_buckets(copy).failed.stat(ahead.landing_key) is not None, "kept in the failed bucket, not lost"
    assert _query(copy, "select count(*) as n from raw.murex_trades where _business_date > '2026-11-20'")[0]["n"] == 0


def test_a_file_is_reloaded_only_from_parquet_that_matches_its_record(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path)
    buckets = open_buckets(copy)
    [staged] = [info.key for info in buckets.archive.list() if "/staging/murex_trades/" in info.key]
    with buckets.archive.local_copy(staged) as local:
        table = pq.read_table(local)
    buckets.archive.write_bytes(staged, _parquet_bytes(table.slice(0, 100)))

    with pytest.raises(NotReloadableError) as refused:
        _read(copy, lambda warehouse: reload_file(warehouse, buckets, specs, "murex/trades/MX_TRADES_20261120_001.xml"))
    assert str(refused.value) == (
        f"file=murex/trades/MX_TRADES_20261120_001.xml: its staged Parquet {staged} holds 100 rows, its record "
        "20000 loaded; nothing was changed"
    )
    assert _query(copy, "select count(*) as n from raw.murex_trades")[0]["n"] == 20_000

    buckets.archive.delete(staged)
    with pytest.raises(NotReloadableError, match=r"is in neither the staging nor the archive bucket"):
        _read(copy, lambda warehouse: reload_file(warehouse, buckets, specs, "murex/trades/MX_TRADES_20261120_001.xml"))
    with pytest.raises(NotReloadableError, match=r"MX_TRADES_20261120_002.xml: no loaded record;"):
        _read(copy, lambda warehouse: reload_file(warehouse, buckets, specs, "murex/trades/MX_TRADES_20261120_002.xml"))


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_a_complete_delivery_outside_its_typical_rows_alerts(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    copy = _copy_of_home_and_dbt_project(demo_home[0], tmp_path)
    # The books spec now expects at most 5 rows a day; the demo day delivered more.
    tightened = [
        dataclasses.replace(spec, expectations=dataclasses.replace(spec.expectations, typical_rows=(1, 5)))
        if spec.name == "books"
        else spec
        for spec in specs
    ]
    with alert_lines() as lines:
        report = run_cycle(copy, tightened, DATE)
    assert report.exit_code == 0, report.as_dict()
    [line] = lines.of(Alert.VOLUME_ANOMALY)
    assert (line["source"], line["business_date"]) == ("books", "2026-11-20")
    assert line["message"].endswith(": outside its spec's typical_rows")


def test_a_cycle_whose_build_fails_alerts_with_the_failure(
    demo_home: tuple[Settings, DemoResult], specs: list[SourceSpec], tmp_path: Path
) -> None:
    broken = _copy_of_home_and_dbt_project(demo_home[0], tmp_path)
    (broken.dbt_project_dir / "models" / "curation" / "broken_model.sql").write_text(
        "select missing_column from nowhere\n"
    )
    with alert_lines() as lines:
        report = run_cycle(broken, specs, DATE)
    assert report.exit_code == 2
    [line] = lines.of(Alert.BATCH_CYCLE_FAILED)
    assert (line["severity"], line["run_id"]) == ("ERROR", report.run_id)
    assert "broken_model" in line["message"]
    assert not lines.of(Alert.SOURCE_MISSING), "after a failed build the control models are not current"


def test_a_failed_vendor_delivery_alerts_with_the_date_and_error(
    demo_home: tuple[Settings, DemoResult], tmp_path: Path
) -> None:
    settings, _ = demo_home
    home = tmp_path / "home"
    shutil.copytree(settings.home, home)
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("mdp")), "--home", str(home), "deliver", "--date", "2026-11-25"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    [line] = [json.loads(text) for text in completed.stderr.splitlines() if text.startswith('{"')]
    assert (line["severity"], line["alert"]) == ("ERROR", Alert.VENDOR_EXTRACT_FAILED)
    assert line["message"].startswith("the vendor delivery for 2026-11-25 failed: ExtractNotFoundError: ")
