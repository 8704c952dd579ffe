"""A stream spec is all a new stream needs: `mdp specs generate-dbt` writes its models, and the hourly build lands,
types, deduplicates and curates it beside the others, with its lag and sequence gaps."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from orchestrator.settings import Settings
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from streaming.dbt_codegen import generate_stream_dbt_files, stale_stream_dbt_files
from streaming.exceptions import StreamSpecError
from streaming.load import STREAM_SCHEMA
from streaming.runbook import build_streaming_models
from streaming.spec import check_stream_specs, load_stream_specs
from tests.conftest import REPO
from tests.streaming.support import MDP

QUOTES_SPEC = """\
name: quotes
owner: markets-data-engineering@bank.example
description: Streaming dealer quotes, one event per quote update.
kafka:
  topics: [markets.quotes.v2]
  consumer_group: mdp-bridge-quotes
pubsub:
  topic: mdp-quotes
  dead_letter_topic: mdp-quotes-dead-letter
  subscription: mdp-quotes-warehouse
payload:
  format: json
  schema_version: "2"
fields:
  event_id: quoteEventId
  sequence: seqNo
  event_time: quotedAt
columns:
  - {name: quote_id, field: quoteId, type: string, nullable: false}
  - {name: bid_size, field: bidSize, type: integer}
  - {name: bid_price, field: bidPrice, type: decimal}
  - {name: is_firm, field: firm, type: boolean}
  - {name: valid_until, field: validUntil, type: timestamp}
  - {name: quote_side, field: side, type: string, allowed_values: [BID, ASK, TWO_WAY]}
"""


def _quote_row(
    number: int, sequence: int, minutes_ago: int, now: dt.datetime, message: str = "", **changes: Any
) -> dict[str, Any]:
    """A raw quotes message; `changes` replace payload fields (None removes one)."""
    ingested = now - dt.timedelta(minutes=minutes_ago)
    attributes = {
        "source": "quotes",
        "schema_version": "2",
        "kafka_topic": "markets.quotes.v2",
        "kafka_partition": "0",
        "kafka_offset": str(sequence),
        "kafka_timestamp": str(int((ingested - dt.timedelta(seconds=3)).replace(tzinfo=dt.UTC).timestamp() * 1000)),
    }
    data = {
        "quoteEventId": f"Q{number:06d}",
        "seqNo": sequence,
        "quotedAt": (ingested - dt.timedelta(seconds=60)).isoformat() + "Z",
        "quoteId": f"QT{number}",
        "bidSize": 5_000_000 + number,
        "bidPrice": "101.125",
        "firm": number % 2 == 0,
        "validUntil": "2026-11-20T10:00:30+01:00",
        "side": "TWO_WAY",
    }
    data = {name: value for name, value in (data | changes).items() if value is not None}
    return {
        "subscription_name": "mdp-quotes-warehouse",
        "message_id": message or f"q-{number}",
        "publish_time": ingested - dt.timedelta(seconds=1),
        "data": json.dumps(data),
        "attributes": json.dumps(attributes),
        "_ingested_at": ingested,
    }


# Events that break the quotes spec, by number (= sequence), and the payload fields that break it.
BREAKING: dict[int, dict[str, Any]] = {
    8: {"bidSize": 5.5, "firm": "yes"},
    9: {"quoteId": None, "side": "HOLD"},
    10: {"quotedAt": "yesterday", "bidPrice": "12,5", "validUntil": "2026-13-01T00:00:00Z"},
}


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The shipped specs plus a quotes stream; its models generated into a copy of the dbt project, and built."""
    work = tmp_path_factory.mktemp("stream-codegen")
    specs_dir, project_dir = work / "source_specs", work / "dbt_project"
    shutil.copytree(REPO / "source_specs", specs_dir)
    shutil.copytree(REPO / "dbt_project", project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    (specs_dir / "streaming" / "quotes.yaml").write_text(QUOTES_SPEC)
    generated = subprocess.run(
        [MDP, "specs", "generate-dbt"],
        env={"PATH": str(Path(MDP).parent), "MDP_SPECS_DIR": str(specs_dir), "MDP_DBT_PROJECT_DIR": str(project_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    settings = Settings(home=work / "home", specs_dir=specs_dir, dbt_project_dir=project_dir)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = [_quote_row(n, n, 30, now) for n in (1, 2, 3, 7, 11)] + [_quote_row(2, 2, 10, now, message="redelivered")]
    rows += [_quote_row(number, number, 20, now, **changes) for number, changes in BREAKING.items()]
    rows.append(_quote_row(8, 8, 5, now, message="redelivered-8", **BREAKING[8]))
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        warehouse.append_stream_messages("quotes_stream", pa.Table.from_pylist(rows, STREAM_SCHEMA))
    finally:
        warehouse.close()
    build_streaming_models(settings)
    return settings


def _rows(settings: Settings, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_checked_in_stream_models_are_up_to_date() -> None:
    assert stale_stream_dbt_files(load_stream_specs(REPO / "source_specs"), REPO / "dbt_project") == []


def test_a_new_stream_spec_generates_its_models(two_streams: Settings) -> None:
    project = two_streams.dbt_project_dir
    assert (project / "models/streaming/staging/quotes/stg_quotes__events.sql").is_file()
    assert (project / "models/streaming/curation/quotes_events.sql").is_file()
    listed = (project / "macros/generated/stream_models.sql").read_text()
    assert "'quotes_events'," in listed
    assert "'stg_quotes__events'," in listed
    assert "'rfq_events'," in listed
    # Removing the spec removes its generated files on the next generation.
    specs = [spec for spec in load_stream_specs(two_streams.specs_dir) if spec.name != "quotes"]
    removed = generate_stream_dbt_files(specs, project)
    assert project / "models/streaming/curation/quotes_events.sql" in removed
    assert not (project / "models/streaming/staging/quotes").exists()
    generate_stream_dbt_files(load_stream_specs(two_streams.specs_dir), project)


def test_the_new_stream_is_typed_deduplicated_and_curated(two_streams: Settings) -> None:
    curated = _rows(two_streams, "select * from curation.quotes_events order by sequence_number")
    assert [row["event_id"] for row in curated] == ["Q000001", "Q000002", "Q000003", "Q000007", "Q000011"]
    second = curated[1]
    assert second["message_id"] == "q-2", "the first copy by ingestion time wins"
    assert (second["bid_size"], str(second["bid_price"]), second["is_firm"]) == (5_000_002, "101.125000000", True)
    assert second["valid_until"] == dt.datetime(2026, 11, 20, 9, 0, 30), "ISO 8601 with an offset, stored in UTC"
    assert (second["source"], second["schema_version"], second["quote_side"]) == ("quotes", "2", "TWO_WAY")


def test_lag_and_gaps_cover_every_stream(two_streams: Settings) -> None:
    lag = _rows(two_streams, "select source, sum(events) as events from control.streaming_lag group by source")
    assert lag == [{"source": "quotes", "events": 8}], "5 curated and 3 rejected; rfq has landed nothing here"
    gaps = _rows(
        two_streams,
        "select source, first_missing_sequence, last_missing_sequence, severity from control.streaming_sequence_gaps",
    )
    assert gaps == [
        {"source": "quotes", "first_missing_sequence": 4, "last_missing_sequence": 6, "severity": "MEDIUM"}
    ], "the rejected events 8 to 10 landed: they are no gap"


def test_events_breaking_the_spec_are_rejected_with_every_reason(two_streams: Settings) -> None:
    rejected = _rows(
        two_streams,
        "select event_id, message_id, kafka_partition, kafka_offset, sequence_number, rejection_reason, "
        "rejected_payload from control.streaming_rejected_events where source = 'quotes' order by event_id",
    )
    assert [(row["event_id"], row["kafka_offset"], row["message_id"]) for row in rejected] == [
        ("Q000008", 8, "q-8"),
        ("Q000009", 9, "q-9"),
        ("Q000010", 10, "q-10"),
    ], "one row per event, its first copy"
    assert [row["rejection_reason"] for row in rejected] == [
        'payload field bidSize: "5.5" is not an integer | payload field firm: "yes" is not a boolean (true or false)',
        'payload field quoteId is missing or null | payload field side: "HOLD" is not one of BID, ASK, TWO_WAY',
        'payload field quotedAt: "yesterday" is not an ISO 8601 timestamp | '
        'payload field bidPrice: "12,5" is not a decimal number | '
        'payload field validUntil: "2026-13-01T00:00:00Z" is not an ISO 8601 timestamp',
    ]
    assert json.loads(rejected[1]["rejected_payload"])["side"] == "HOLD"


def test_a_rejection_is_recorded_once_and_never_rewritten(two_streams: Settings) -> None:
    sql = "select event_id, _recorded_at from control.streaming_rejected_events order by event_id"
    before = _rows(two_streams, sql)
    build_streaming_models(two_streams)
    assert _rows(two_streams, sql) == before
    # A full refresh rebuilds the curated streams from raw, but keeps the record of rejections.
    build_streaming_models(two_streams, full_refresh=True)
    assert _rows(two_streams, sql) == before


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("{name: source, type: string}", "'source' is a column every stream has"),
        ("{name: bid_size, type: integer, allowed_values: ['1']}", "only string columns take allowed_values"),
    ],
)
def test_a_column_that_would_break_the_models_is_refused(tmp_path: Path, column: str, message: str) -> None:
    specs_dir = tmp_path / "source_specs"
    shutil.copytree(REPO / "source_specs", specs_dir)
    spec = QUOTES_SPEC.replace("columns:\n", f"columns:\n  - {column}\n")
    (specs_dir / "streaming" / "quotes.yaml").write_text(spec)
    _, problems = check_stream_specs(specs_dir)
    assert [problem[2] for problem in problems if message in problem[2]], problems


def test_spec_text_dbt_would_execute_is_refused(tmp_path: Path) -> None:
    specs_dir = tmp_path / "source_specs"
    shutil.copytree(REPO / "source_specs", specs_dir)
    spec = QUOTES_SPEC.replace("one event per quote update.", "{{ run_query('drop schema raw') }}")
    (specs_dir / "streaming" / "quotes.yaml").write_text(spec)
    with pytest.raises(StreamSpecError, match="Jinja delimiter"):
        generate_stream_dbt_files(load_stream_specs(specs_dir), tmp_path / "dbt_project")
