"""Avro streams: records in the Confluent wire format, decoded with the schemas the spec lists (resolved to the last
one) and published as JSON; anything else is a dead letter naming why. End to end on the real Kafka broker and the
Pub/Sub emulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import io
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import fastavro
import pytest

from streaming.avro import AvroDecodeError, AvroDecoder, read_avro_schema
from streaming.messages import DeadLetterReason, message_router
from streaming.spec import StreamSpec, check_stream_specs, find_stream_spec
from tests import services
from tests.conftest import REPO
from tests.streaming.support import (
    BridgeThread,
    Collector,
    create_topic,
    fresh_stream_spec,
    produce,
    stream_topics,
    unique,
    wait_until,
)

TOPIC = "markets.rfq.events.v1"
V1 = {
    "type": "record",
    "name": "RfqEvent",
    "namespace": "bank.markets.rfq",
    "fields": [
        {"name": "event_id", "type": "string"},
        {"name": "sequence", "type": "long"},
        {"name": "event_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "rfq_id", "type": "string"},
        {"name": "event_type", "type": "string"},
        {"name": "isin", "type": ["null", "string"], "default": None},
        {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
        {"name": "quantity", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 6}},
        {"name": "currency", "type": "string"},
        {"name": "client_lei", "type": ["null", "string"], "default": None},
        {"name": "dealer_id", "type": ["null", "string"], "default": None},
    ],
}
# Version 2 adds a field with a default: records written with version 1 read as version 2 get the default.
V2 = {**V1, "fields": [*V1["fields"], {"name": "platform_mic", "type": ["null", "string"], "default": None}]}
IDS = {"v1": 101, "v2": 117}


def _avro_spec_text(schemas_line: str = "") -> str:
    rfq = (REPO / "source_specs" / "streaming" / "rfq.yaml").read_text()
    avro = schemas_line or (
        f"  avro:\n    schemas:\n      - {{id: {IDS['v1']}, file: avro/rfq_v1.avsc}}\n"
        f"      - {{id: {IDS['v2']}, file: avro/rfq_v2.avsc}}\n"
    )
    return rfq.replace("  format: json\n", "  format: avro\n" + avro)


@pytest.fixture(scope="module")
def specs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped specs with the rfq stream in Avro, its two schema versions beside it."""
    folder = tmp_path_factory.mktemp("avro") / "source_specs"
    shutil.copytree(REPO / "source_specs", folder)
    (folder / "streaming" / "avro").mkdir()
    (folder / "streaming" / "avro" / "rfq_v1.avsc").write_text(json.dumps(V1))
    (folder / "streaming" / "avro" / "rfq_v2.avsc").write_text(json.dumps(V2))
    (folder / "streaming" / "rfq.yaml").write_text(_avro_spec_text())
    return folder


@pytest.fixture(scope="module")
def spec(specs_dir: Path) -> StreamSpec:
    return find_stream_spec(specs_dir, "rfq")


def _record(number: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "event_id": f"EV{number:09d}",
        "sequence": number,
        "event_at": dt.datetime(2026, 11, 20, 10, 0, 0, 250_000, tzinfo=dt.UTC),
        "rfq_id": f"RFQ{number // 4:08d}",
        "event_type": "QUOTE",
        "isin": "US0378331005",
        "side": "BUY",
        "quantity": decimal.Decimal("1000000.00"),
        "price": decimal.Decimal("99.875000"),
        "currency": "USD",
        "client_lei": None,
        "dealer_id": "T00001",
    }
    return record | changes


def _encode(record: dict[str, Any], version: str = "v2", schema_id: int | None = None) -> bytes:
    """A record in the Confluent wire format: zero byte, schema id, Avro binary."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema({"v1": V1, "v2": V2}[version]), record)
    return b"\x00" + struct.pack(">I", IDS[version] if schema_id is None else schema_id) + body.getvalue()


def test_records_of_every_listed_version_are_published_as_json_of_the_reader_schema(spec: StreamSpec) -> None:
    router = message_router(spec)
    old = router.route(_encode(_record(1), "v1"), b"k", TOPIC, 0, 7, 1795441964104)
    new = router.route(_encode(_record(2, platform_mic="TWEB"), "v2"), None, TOPIC, 0, 8, 1795441964104)
    assert old.dead_letter is None
    assert new.dead_letter is None
    assert json.loads(old.data) == {
        "event_id": "EV000000001",
        "sequence": 1,
        "event_at": "2026-11-20T10:00:00.250000Z",
        "rfq_id": "RFQ00000000",
        "event_type": "QUOTE",
        "isin": "US0378331005",
        "side": "BUY",
        "quantity": "1000000.00",
        "price": "99.875000",
        "currency": "USD",
        "client_lei": None,
        "dealer_id": "T00001",
        "platform_mic": None,
    }, "version 1 read as version 2: the added field gets its default"
    assert json.loads(new.data)["platform_mic"] == "TWEB"
    assert (old.attributes["avro_schema_id"], new.attributes["avro_schema_id"]) == ("101", "117")
    assert (old.attributes["event_id"], old.attributes["sequence"], old.attributes["kafka_key"]) == (
        "EV000000001",
        "1",
        "k",
    )


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (json.dumps({"event_id": "E1"}).encode(), "not the Confluent Avro wire format: first byte 7b, not 00"),
        (b"\x00\x00\x00", "not the Confluent Avro wire format"),
        (_encode(_record(3), schema_id=55), "schema id 55 is not in the stream spec (known: 101, 117)"),
        (_encode(_record(3))[:-4], "not a record of schema id 117"),
        (_encode(_record(3)) + b"\x02", "1 bytes after the record of schema id 117"),
    ],
    ids=["json", "short", "unknown-id", "truncated", "trailing"],
)
def test_a_value_that_is_no_record_of_the_spec_is_dead_lettered_with_its_bytes(
    spec: StreamSpec, value: bytes, detail: str
) -> None:
    letter = message_router(spec).route(value, None, TOPIC, 2, 9, 1795441964104)
    assert letter.dead_letter is DeadLetterReason.UNDECODABLE
    assert letter.attributes["reason_detail"].startswith(detail)
    assert letter.data == value, "the dead letter keeps the Kafka value as it was"
    assert (letter.attributes["kafka_partition"], letter.attributes["kafka_offset"]) == ("2", "9")


def test_a_record_breaking_the_stream_spec_is_dead_lettered_as_avro(spec: StreamSpec) -> None:
    value = _encode(_record(4, event_id=""))
    letter = message_router(spec).route(value, None, TOPIC, 0, 10, 1795441964104)
    assert letter.dead_letter is DeadLetterReason.SPEC_VIOLATION
    assert letter.attributes["reason_detail"] == "field 'event_id' is empty"
    assert letter.attributes["avro_schema_id"] == "117"
    assert letter.data == value


def test_the_decoder_resolves_to_the_last_schema(tmp_path: Path) -> None:
    (tmp_path / "v1.avsc").write_text(json.dumps(V1))
    decoder = AvroDecoder([(IDS["v1"], read_avro_schema(tmp_path / "v1.avsc"))])
    record, schema_id = decoder.decode(_encode(_record(5), "v1"))
    assert (record["event_id"], schema_id) == ("EV000000005", 101)
    with pytest.raises(AvroDecodeError, match="schema id 117 is not in the stream spec"):
        decoder.decode(_encode(_record(5), "v2"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("  avro:\n    schemas:\n      - {id: 1, file: avro/missing.avsc}\n", "missing.avsc"),
        ("  avro:\n    schemas:\n      - {id: 1, file: avro/not_avro.avsc}\n", "not_avro.avsc is not an Avro schema"),
        (
            "  avro:\n    schemas:\n      - {id: 1, file: avro/rfq_v1.avsc}\n      - {id: 1, file: avro/rfq_v2.avsc}\n",
            "schema id 1 appears twice",
        ),
        ("  avro:\n    schemas:\n      - {id: 1, file: avro/no_rfq_id.avsc}\n", "field 'rfq_id' is not in the reader"),
    ],
    ids=["missing-file", "not-avro", "duplicate-id", "field-not-in-schema"],
)
def test_an_avro_spec_that_cannot_decode_its_stream_is_refused(
    specs_dir: Path, tmp_path: Path, change: str, message: str
) -> None:
    folder = tmp_path / "source_specs"
    shutil.copytree(specs_dir, folder)
    avro = folder / "streaming" / "avro"
    (avro / "not_avro.avsc").write_text(json.dumps({"type": "record", "name": "R", "fields": [{"name": "a"}]}))
    fields = [field for field in V1["fields"] if field["name"] != "rfq_id"]  # type: ignore[index]
    (avro / "no_rfq_id.avsc").write_text(json.dumps({**V1, "fields": fields}))
    (folder / "streaming" / "rfq.yaml").write_text(_avro_spec_text(change))
    _, problems = check_stream_specs(folder)
    assert any(message in problem[2] for problem in problems), problems


def test_avro_settings_on_a_json_stream_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "source_specs"
    shutil.copytree(REPO / "source_specs", folder)
    spec_file = folder / "streaming" / "rfq.yaml"
    spec_file.write_text(
        spec_file.read_text().replace(
            "  format: json\n", "  format: json\n  avro:\n    schemas:\n      - {id: 1, file: a.avsc}\n"
        )
    )
    _, problems = check_stream_specs(folder)
    assert problems, "an avro block on a JSON stream would be ignored silently"


def test_an_avro_stream_reaches_pubsub_as_json_and_its_poison_the_dead_letter_topic(spec: StreamSpec) -> None:
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    stream = dataclasses.replace(
        fresh_stream_spec(), payload_format="avro", avro_schemas=spec.avro_schemas, path=spec.path
    )
    dead_letter_subscription = unique("rfq-avro-dead-letters-")
    values = [_encode(_record(n, platform_mic="TWEB"), "v2") for n in range(0, 300, 2)]
    values += [_encode(_record(n), "v1") for n in range(1, 300, 2)]
    poison = _encode(_record(999), schema_id=55)
    with stream_topics(project, stream, dead_letter_subscription):
        create_topic(bootstrap, stream.kafka_topics[0], 1)
        produce(bootstrap, stream.kafka_topics[0], [(0, None, value) for value in [*values, poison]])
        with (
            Collector(project, stream.subscription) as published,
            Collector(project, dead_letter_subscription) as dead,
            BridgeThread(stream, bootstrap, project) as bridge,
        ):
            wait_until("every message delivered", lambda: len(published.messages) >= 300 and bool(dead.messages), 120)
            report = bridge.stop()
    events = {json.loads(m.data)["event_id"]: json.loads(m.data) for m in published.messages}
    assert len(events) == 300
    assert events["EV000000002"]["platform_mic"] == "TWEB"
    assert events["EV000000003"]["platform_mic"] is None
    assert {m.attributes["avro_schema_id"] for m in published.messages} == {"101", "117"}
    assert [(m.attributes["reason"], m.attributes["kafka_offset"], m.data) for m in dead.messages] == [
        ("undecodable", "300", poison)
    ]
    assert report.dead_lettered == {"undecodable": 1}
