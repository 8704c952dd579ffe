"""Avro writer schemas from the schema registry (Apicurio Registry's Confluent-compatible API, started by
scripts/services.sh): looked up once per id, resolved to the spec's reader schema, retried while the registry does
not answer and never a dead letter for that; end to end on the real Kafka broker and the Pub/Sub emulator.

Faults the registry cannot be told to make (5xx, 401, a slow answer) come from `RegistryFront`, a real HTTP server
in front of the real registry."""

from __future__ import annotations

import base64
import dataclasses
import http.server
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streaming.avro import AvroDecodeError, AvroDecoder, read_avro_schema
from streaming.exceptions import SchemaRegistryRefusedError, SchemaRegistryUnavailableError, StreamSettingError
from streaming.messages import DeadLetterReason, message_router
from streaming.schema_registry import RegistrySchemaError, SchemaRegistry, open_schema_registry
from streaming.settings import SchemaRegistrySettings
from streaming.spec import StreamSpec, check_stream_specs, find_stream_spec
from tests import services
from tests.streaming.avro_records import IDS, TOPIC, V2, WITHOUT_RFQ_ID, avro_record, avro_specs_dir, encode
from tests.streaming.support import (
    MDP,
    BridgeThread,
    Collector,
    Gate,
    committed_offsets,
    create_topic,
    free_port,
    fresh_stream_spec,
    produce,
    replayed_messages,
    stream_topics,
    unique,
    wait_until,
)

# Version 3, registered by a producer but not in the spec: one field more (the reader schema ignores it) and
# platform_mic dropped (the reader schema's default fills it).
V3: dict[str, Any] = {
    **V2,
    "fields": [
        *(field for field in V2["fields"] if field["name"] != "platform_mic"),
        {"name": "venue_order_id", "type": ["null", "string"], "default": None},
    ],
}


def register(
    schema: dict[str, Any] | str,
    schema_type: str | None = None,
    references: list[dict[str, Any]] | None = None,
    subject: str | None = None,
) -> int:
    """Register a schema under a subject (default: one of its own), as a producer's serializer does; its global id."""
    body: dict[str, Any] = {"schema": schema if isinstance(schema, str) else json.dumps(schema)}
    if schema_type:
        body["schemaType"] = schema_type
    if references:
        body["references"] = references
    response = httpx.post(
        f"{services.schema_registry_url()}/subjects/{subject or unique('rfq-value-')}/versions",
        json=body,
        headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        timeout=10,
    )
    response.raise_for_status()
    return int(response.json()["id"])


class RegistryFront:
    """An HTTP server in front of the registry: answers each request as the next of `faults` says (an HTTP status;
    "slow": forwarded after 2 s; "pass", and once they run out: forwarded); records each request's path and
    Authorization header."""

    def __init__(self, upstream: str) -> None:
        self.faults: list[int | str] = []
        self.requests: list[tuple[str, str | None]] = []
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                front.requests.append((self.path, self.headers.get("Authorization")))
                fault = front.faults.pop(0) if front.faults else "pass"
                if fault == "slow":
                    time.sleep(2)
                if isinstance(fault, int):
                    self._answer(fault, b'{"error_code": %d, "message": "injected"}' % fault)
                    return
                answer = httpx.get(upstream + self.path.removeprefix("/registry"), timeout=10)
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/registry"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def front() -> Iterator[RegistryFront]:
    server = RegistryFront(services.schema_registry_url())
    yield server
    server.close()


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> StreamSpec:
    """The rfq stream in Avro (versions 1 and 2 listed), taking other writer schemas from the registry."""
    return dataclasses.replace(
        find_stream_spec(avro_specs_dir(tmp_path_factory.mktemp("registry")), "rfq"), avro_schema_registry=True
    )


# --- the lookup ------------------------------------------------------------------------------------------------


def test_a_registered_schema_is_fetched_once_and_kept(spec: StreamSpec, front: RegistryFront) -> None:
    schema_id = register(V3)
    registry = SchemaRegistry(front.url, user_info="bridge:s3cret:with-colon")
    try:
        schema = registry.writer_schema(schema_id)
        front.requests.clear()
        router = message_router(spec, registry)
        routed = [
            router.route(encode(avro_record(n), schema=V3, schema_id=schema_id), None, TOPIC, 0, n, 0) for n in (1, 2)
        ]
    finally:
        registry.close()
    assert [field["name"] for field in schema["fields"]] == [field["name"] for field in V3["fields"]]
    assert [message.dead_letter for message in routed] == [None, None]
    expected_auth = "Basic " + base64.b64encode(b"bridge:s3cret:with-colon").decode()
    assert front.requests == [(f"/registry/schemas/ids/{schema_id}", expected_auth)], "once for two messages"


def test_an_id_the_registry_does_not_hold_is_asked_again_only_after_a_minute(front: RegistryFront) -> None:
    now = [1000.0]
    registry = SchemaRegistry(front.url, clock=lambda: now[0])
    missing = 2_000_000_000
    try:
        for seconds in (0, 59):
            now[0] = 1000 + seconds
            with pytest.raises(RegistrySchemaError, match=f"holds no schema with id {missing}"):
                registry.writer_schema(missing)
        assert len(front.requests) == 1
        now[0] = 1061
        with pytest.raises(RegistrySchemaError):
            registry.writer_schema(missing)
    finally:
        registry.close()
    assert len(front.requests) == 2


@pytest.mark.parametrize(
    ("schema_type", "schema", "message"),
    [
        ("JSON", {"type": "object", "properties": {"event_id": {"type": "string"}}}, "is a JSON schema, not Avro"),
        ("PROTOBUF", 'syntax = "proto3";\nmessage Rfq { string event_id = 1; }', "is a PROTOBUF schema, not Avro"),
    ],
    ids=["json-schema", "protobuf"],
)
def test_a_registry_schema_the_bridge_cannot_decode_with_is_refused_by_name(
    schema_type: str, schema: dict[str, Any] | str, message: str
) -> None:
    schema_id = register(schema, schema_type)
    registry = SchemaRegistry(services.schema_registry_url())
    try:
        with pytest.raises(RegistrySchemaError, match=f"schema id {schema_id} in the schema registry {message}"):
            registry.writer_schema(schema_id)
    finally:
        registry.close()


# Version 4 takes the side enum from a subject of its own, as producers share types with schema references.
SIDE: dict[str, Any] = {"type": "enum", "name": "Side", "namespace": "bank.markets.rfq", "symbols": ["BUY", "SELL"]}
V4_REFERRING: dict[str, Any] = {
    **V2,
    "fields": [field if field["name"] != "side" else {"name": "side", "type": "Side"} for field in V2["fields"]],
}


def _register_with_reference() -> tuple[int, str]:
    """Version 4 registered with a reference to the side enum's subject: its id, and the enum's subject."""
    side_subject = unique("rfq-side-")
    register(SIDE, subject=side_subject)
    references = [{"name": "bank.markets.rfq.Side", "subject": side_subject, "version": 1}]
    return register(V4_REFERRING, references=references), side_subject


def test_a_schema_with_references_is_read_with_the_types_it_refers_to(spec: StreamSpec, front: RegistryFront) -> None:
    schema_id, side_subject = _register_with_reference()
    registry = SchemaRegistry(front.url)
    try:
        published = message_router(spec, registry).route(
            encode(avro_record(11, side="SELL"), schema=V2, schema_id=schema_id), None, TOPIC, 0, 5, 0
        )
    finally:
        registry.close()
    assert published.dead_letter is None, published.attributes.get("reason_detail")
    assert json.loads(published.data)["side"] == "SELL"
    assert [path for path, _ in front.requests] == [
        f"/registry/schemas/ids/{schema_id}",
        f"/registry/subjects/{side_subject}/versions/1",
    ]


def test_a_reference_the_registry_does_not_hold_is_refused_by_name(front: RegistryFront) -> None:
    schema_id, side_subject = _register_with_reference()
    front.faults = ["pass", 404]  # the registry itself keeps references whole: the fault stands for a lost subject
    registry = SchemaRegistry(front.url)
    try:
        with pytest.raises(
            RegistrySchemaError,
            match=f"schema id {schema_id} refers to subject {side_subject} version 1, which the schema registry does "
            "not hold",
        ):
            registry.writer_schema(schema_id)
    finally:
        registry.close()


def test_a_registry_that_answers_5xx_or_slowly_is_asked_again(front: RegistryFront) -> None:
    schema_id = register(V3)
    front.faults = [503, 500, "slow", 429]
    registry = SchemaRegistry(front.url, timeout_s=0.5, deadline_s=30)
    try:
        schema = registry.writer_schema(schema_id)
    finally:
        registry.close()
    assert schema["name"] == "bank.markets.rfq.RfqEvent"
    assert len(front.requests) == 5


def test_a_registry_that_never_answers_stops_the_lookup_at_the_deadline(front: RegistryFront) -> None:
    closed = f"http://127.0.0.1:{free_port()}/apis/ccompat/v7"
    registry = SchemaRegistry(closed, deadline_s=1)
    started = time.monotonic()
    with pytest.raises(SchemaRegistryUnavailableError, match=r"schema id 117: no answer within 1 s \(last: Connect"):
        registry.writer_schema(117)
    assert time.monotonic() - started < 5
    registry.close()
    front.faults = [503] * 100
    registry = SchemaRegistry(front.url, deadline_s=1)
    with pytest.raises(SchemaRegistryUnavailableError, match="HTTP 503"):
        registry.writer_schema(117)
    registry.close()


@pytest.mark.parametrize("status", [401, 403, 400], ids=["unauthorized", "forbidden", "bad-request"])
def test_a_registry_that_refuses_stops_the_lookup_at_once(front: RegistryFront, status: int) -> None:
    front.faults = [status]
    registry = SchemaRegistry(front.url, deadline_s=30)
    with pytest.raises(SchemaRegistryRefusedError, match=f"schema id 117: HTTP {status}.*MDP_SCHEMA_REGISTRY_URL"):
        registry.writer_schema(117)
    registry.close()
    assert len(front.requests) == 1


# --- decoding and routing --------------------------------------------------------------------------------------


def test_a_writer_schema_the_spec_does_not_list_comes_from_the_registry(spec: StreamSpec) -> None:
    v3, broken = register(V3), register(WITHOUT_RFQ_ID)
    registry = SchemaRegistry(services.schema_registry_url())
    router = message_router(spec, registry)
    try:
        published = router.route(
            encode(avro_record(7, venue_order_id="VO-1"), schema=V3, schema_id=v3), None, TOPIC, 0, 1, 0
        )
        listed = router.route(encode(avro_record(8, platform_mic="TWEB")), None, TOPIC, 0, 2, 0)
        unreadable = encode(avro_record(9), schema=WITHOUT_RFQ_ID, schema_id=broken)
        refused = router.route(unreadable, None, TOPIC, 0, 3, 0)
        unknown = router.route(encode(avro_record(10), schema_id=2_000_000_001), None, TOPIC, 0, 4, 0)
    finally:
        registry.close()
    assert published.dead_letter is None
    event = json.loads(published.data)
    assert (event["event_id"], event["platform_mic"]) == ("EV000000007", None), "read as the spec's reader schema"
    assert "venue_order_id" not in event
    assert published.attributes["avro_schema_id"] == str(v3)
    assert json.loads(listed.data)["platform_mic"] == "TWEB"
    assert listed.attributes["avro_schema_id"] == str(IDS["v2"])
    assert refused.dead_letter is DeadLetterReason.UNDECODABLE
    assert refused.attributes["reason_detail"].startswith(f"not a record of schema id {broken}")
    assert refused.data == unreadable
    assert unknown.dead_letter is DeadLetterReason.UNDECODABLE
    assert unknown.attributes["reason_detail"] == (
        "schema id 2000000001 is not in the stream spec (known: 101, 117) and the schema registry holds no schema "
        "with id 2000000001"
    )


def test_without_the_spec_flag_the_registry_is_not_asked(spec: StreamSpec, tmp_path: Path) -> None:
    pinned = dataclasses.replace(spec, avro_schema_registry=False)
    assert open_schema_registry(pinned, SchemaRegistrySettings(services.schema_registry_url())) is None
    decoder = AvroDecoder([(IDS["v2"], read_avro_schema(spec.path.parent / "avro" / "rfq_v2.avsc"))])
    with pytest.raises(AvroDecodeError, match=r"^schema id 42 is not in the stream spec \(known: 117\)$"):
        decoder.decode(encode(avro_record(1), schema_id=42))


def test_a_spec_that_takes_schemas_from_the_registry_needs_its_url(spec: StreamSpec) -> None:
    with pytest.raises(StreamSettingError, match=r"stream=rfq: .*MDP_SCHEMA_REGISTRY_URL"):
        open_schema_registry(spec, SchemaRegistrySettings(url=None))
    with pytest.raises(StreamSettingError, match="must be user:password"):
        open_schema_registry(spec, SchemaRegistrySettings(services.schema_registry_url(), user_info="only-a-user"))


@pytest.mark.parametrize(
    ("value", "accepted"), [("true", True), ("false", True), ("yes-please", False)], ids=["true", "false", "text"]
)
def test_the_spec_flag_is_checked(tmp_path: Path, value: str, accepted: bool) -> None:
    folder = avro_specs_dir(tmp_path)
    spec_file = folder / "streaming" / "rfq.yaml"
    spec_file.write_text(spec_file.read_text().replace("  avro:\n", f"  avro:\n    schema_registry: {value}\n"))
    specs, problems = check_stream_specs(folder)
    if accepted:
        assert not problems
        assert {s.name: s for s in specs}["rfq"].avro_schema_registry is (value == "true")
    else:
        assert any("schema_registry" in problem[1] for problem in problems), problems


# --- the bridge --------------------------------------------------------------------------------------------------


def test_the_bridge_stops_while_the_registry_is_away_and_a_restart_publishes_everything(spec: StreamSpec) -> None:
    """Messages before the first unknown id are published and committed; the bridge stops at that message without
    a dead letter; once the registry answers, a restart publishes the rest, the new version read as the spec's."""
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    registry_port = int(services.schema_registry_url().split(":")[2].split("/")[0])
    gate = Gate(registry_port)
    gated = services.schema_registry_url().replace(f":{registry_port}/", f":{gate.port}/")
    stream = dataclasses.replace(
        fresh_stream_spec(),
        payload_format="avro",
        avro_schemas=spec.avro_schemas,
        avro_schema_registry=True,
        path=spec.path,
    )
    v3 = register(V3)
    values = [encode(avro_record(n)) for n in range(100)]
    values += [encode(avro_record(n, venue_order_id=f"VO-{n}"), schema=V3, schema_id=v3) for n in range(100, 200)]
    topic = stream.kafka_topics[0]
    dead_letter_subscription = unique("rfq-registry-dead-letters-")
    settings = SchemaRegistrySettings(gated, deadline_s=2)
    try:
        with stream_topics(project, stream, dead_letter_subscription):
            create_topic(bootstrap, topic, 1)
            produce(bootstrap, topic, [(0, None, value) for value in values])
            gate.shut()
            with (
                Collector(project, stream.subscription) as published,
                Collector(project, dead_letter_subscription) as dead,
            ):
                with BridgeThread(stream, bootstrap, project, schema_registry=settings) as stopping:
                    failure = stopping.failed_with(60)
                assert isinstance(failure, SchemaRegistryUnavailableError)
                assert f"schema id {v3} (needed by {topic}/0@100): no answer within 2 s" in str(failure)
                assert committed_offsets(bootstrap, stream.consumer_group, topic, 1) == {0: 100}
                gate.open()
                with BridgeThread(stream, bootstrap, project, schema_registry=settings) as bridge:
                    wanted = {(topic, 0, offset) for offset in range(200)}
                    published.wait_for(wanted, 120, bridge.check)
                    wait_until(
                        "every offset is committed",
                        lambda: committed_offsets(bootstrap, stream.consumer_group, topic, 1) == {0: 200},
                        60,
                        bridge.check,
                    )
                    report = bridge.stop()
                time.sleep(1)  # a dead letter, had there been one, would have reached its subscription by now
                assert dead.messages == []
    finally:
        gate.close()
    events = {json.loads(m.data)["event_id"]: m for m in published.messages}
    assert len(events) == 200
    assert events["EV000000150"].attributes["avro_schema_id"] == str(v3)
    assert "venue_order_id" not in json.loads(events["EV000000150"].data)
    assert report.dead_lettered == {}


def test_bridge_run_refuses_a_registry_stream_without_the_registry_url(tmp_path: Path) -> None:
    spec_file = avro_specs_dir(tmp_path) / "streaming" / "rfq.yaml"
    spec_file.write_text(spec_file.read_text().replace("  avro:\n", "  avro:\n    schema_registry: true\n", 1))
    environment = {name: value for name, value in os.environ.items() if name != "MDP_SCHEMA_REGISTRY_URL"}
    result = subprocess.run(
        [MDP, "--home", str(tmp_path), "bridge", "run", "rfq"],
        env={**environment, "MDP_SPECS_DIR": str(spec_file.parent.parent)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert "stream=rfq: its spec takes Avro writer schemas from the schema registry" in result.stderr
    assert "MDP_SCHEMA_REGISTRY_URL" in result.stderr
    assert result.stdout == ""


def test_dead_letters_of_unlisted_ids_are_replayed_once_the_spec_takes_schemas_from_the_registry(
    spec: StreamSpec, tmp_path: Path
) -> None:
    """Before the spec's flag, a registered version's messages are dead letters; a replay after it publishes
    them, read as the spec's reader schema, and leaves the value no registry knows."""
    bootstrap, project = services.kafka_bootstrap_servers(), services.pubsub_project()
    stream = dataclasses.replace(
        fresh_stream_spec(), payload_format="avro", avro_schemas=spec.avro_schemas, path=spec.path
    )
    v3 = register(V3)
    topic = stream.kafka_topics[0]
    values = [
        encode(avro_record(0)),
        encode(avro_record(1, venue_order_id="VO-1"), schema=V3, schema_id=v3),
        encode(avro_record(2), schema_id=2_000_000_002),
    ]
    with stream_topics(project, stream, stream.dead_letter_topic):
        create_topic(bootstrap, topic, 1)
        produce(bootstrap, topic, [(0, None, value) for value in values])
        with BridgeThread(stream, bootstrap, project) as bridge:
            wait_until(
                "every offset is committed",
                lambda: committed_offsets(bootstrap, stream.consumer_group, topic, 1) == {0: 3},
                120,
                bridge.check,
            )
            assert bridge.stop().dead_lettered == {"undecodable": 2}
        specs_dir = avro_specs_dir(tmp_path, stream)
        spec_file = specs_dir / "streaming" / "rfq.yaml"
        spec_file.write_text(spec_file.read_text().replace("  avro:\n", "  avro:\n    schema_registry: true\n", 1))
        with Collector(project, stream.subscription) as published:
            replay = subprocess.run(
                [MDP, "stream", "dead-letters", "replay", "rfq", "--json"],
                env={**os.environ, "MDP_SPECS_DIR": str(specs_dir), "MDP_PUBSUB_PROJECT": project},
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            assert replay.returncode == 1, replay.stderr  # one is left
            report = json.loads(replay.stdout)
            assert (report["replayed"], report["still_dead"]) == (1, 1)
            wait_until("the replayed message arrives", lambda: len(replayed_messages(published)) >= 1, 30)
            time.sleep(1)
    [message] = replayed_messages(published)
    assert message.coordinates == (topic, 0, 1)
    assert message.attributes["avro_schema_id"] == str(v3)
    assert json.loads(message.data)["event_id"] == "EV000000001"
    still_dead = [row for row in report["dead_letters"] if row["outcome"] == "still_dead"]
    assert [row["kafka_offset"] for row in still_dead] == [2]
    assert "the schema registry holds no schema with id 2000000002" in still_dead[0]["detail"]
