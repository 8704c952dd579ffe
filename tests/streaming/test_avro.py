"""Avro streams: records in the Confluent wire format, decoded with the schemas the spec lists (resolved to the last
one) and published as JSON; anything else is a dead letter naming why. End to end on the real Kafka broker and the
Pub/Sub emulator."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from streaming.avro import AvroDecodeError, AvroDecoder, read_avro_schema
from streaming.messages import DeadLetterReason, message_router
from streaming.spec import StreamSpec, check_stream_specs, find_stream_spec
from tests import services
from tests.conftest import REPO
from tests.streaming.avro_records import (
    IDS,
    TOPIC,
    V1,
    WITHOUT_RFQ_ID,
    avro_record,
    avro_spec_text,
    avro_specs_dir,
    encode,
)
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


@pytest.fixture(scope="module")
def specs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return avro_specs_dir(tmp_path_factory.mktemp("avro"))


@pytest.fixture(scope="module")
def spec(specs_dir: Path) -> StreamSpec:
    return find_stream_spec(specs_dir, "rfq")


def test_records_of_every_listed_version_are_published_as_json_of_the_reader_schema(spec: StreamSpec) -> None:
    router = message_router(spec)
    old = router.route(encode(avro_record(1), "v1"), b"k", TOPIC, 0, 7, 1795441964104)
    new = router.route(encode(avro_record(2, platform_mic="TWEB"), "v2"), None, TOPIC, 0, 8, 1795441964104)
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
        (encode(avro_record(3), schema_id=55), "schema id 55 is not in the stream spec (known: 101, 117)"),
        (encode(avro_record(3))[:-4], "not a record of schema id 117"),
        (encode(avro_record(3)) + b"\x02", "1 bytes after the record of schema id 117"),
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
    value = encode(avro_record(4, event_id=""))
    letter = message_router(spec).route(value, None, TOPIC, 0, 10, 1795441964104)
    assert letter.dead_letter is DeadLetterReason.SPEC_VIOLATION
    assert letter.attributes["reason_detail"] == "field 'event_id' is empty"
    assert letter.attributes["avro_schema_id"] == "117"
    assert letter.data == value


def test_the_decoder_resolves_to_the_last_schema(tmp_path: Path) -> None:
    (tmp_path / "v1.avsc").write_text(json.dumps(V1))
    decoder = AvroDecoder([(IDS["v1"], read_avro_schema(tmp_path / "v1.avsc"))])
    record, schema_id = decoder.decode(encode(avro_record(5), "v1"))
    assert (record["event_id"], schema_id) == ("EV000000005", 101)
    with pytest.raises(AvroDecodeError, match="schema id 117 is not in the stream spec"):
        decoder.decode(encode(avro_record(5), "v2"))


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
    (avro / "no_rfq_id.avsc").write_text(json.dumps(WITHOUT_RFQ_ID))
    (folder / "streaming" / "rfq.yaml").write_text(avro_spec_text(change))
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
    values = [encode(avro_record(n, platform_mic="TWEB"), "v2") for n in range(0, 300, 2)]
    values += [encode(avro_record(n), "v1") for n in range(1, 300, 2)]
    poison = encode(avro_record(999), schema_id=55)
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
