"""Smoke tests for the test services: each one talks to its service for real, through a client library where
the project has one and through the service's own wire protocol where it does not."""

from __future__ import annotations

import base64
import http.client
import io
import json
import socket
import struct
import uuid
from typing import Any

import google.cloud.storage as storage  # type: ignore[import-untyped]
import httpx
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from tests import services

FIRESTORE_PROJECT = "mdp-test"  # the Firestore emulator serves any project id


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _call(host: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """One JSON request to an emulator's REST API; returns the status and the decoded body."""
    connection = http.client.HTTPConnection(host.removeprefix("http://"), timeout=30)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        raw = response.read()
        decoded: dict[str, Any] = json.loads(raw) if raw.strip() else {}
        return response.status, decoded
    finally:
        connection.close()


def test_gcs_creates_a_bucket_and_objects() -> None:
    host = services.storage_emulator_host()
    client = storage.Client(
        project="mdp-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": host},
    )
    bucket = client.create_bucket(_unique("mdp-smoke-"))
    try:
        bucket.blob("small.txt").upload_from_string(b"hello")
        # A stream of unknown size goes through a resumable upload, whose later chunks go to the session URL
        # the server hands out: this fails unless the server's external URL points back at itself.
        large = bytes(range(256)) * 2048
        bucket.blob("large.bin", chunk_size=256 * 1024).upload_from_file(io.BytesIO(large))
        session_url = bucket.blob("other.bin").create_resumable_upload_session()
        assert session_url.startswith(f"{host}/")
        assert bucket.blob("small.txt").download_as_bytes() == b"hello"
        assert bucket.blob("large.bin").download_as_bytes() == large
        assert sorted(blob.name for blob in client.list_blobs(bucket)) == ["large.bin", "small.txt"]
    finally:
        bucket.delete(force=True)
        client.close()


def test_bigquery_creates_a_dataset_and_runs_a_query() -> None:
    client = services.bigquery_client()
    dataset_id = _unique("mdp_smoke_")
    try:
        client.create_dataset(dataset_id)
        assert dataset_id in {dataset.dataset_id for dataset in client.list_datasets()}
        rows = list(client.query("select 1 as one").result())
        assert [row["one"] for row in rows] == [1]
    finally:
        client.delete_dataset(dataset_id, delete_contents=True, not_found_ok=True)
        client.close()  # type: ignore[no-untyped-call]


def test_bigquery_comparisons_keep_bigquerys_null_logic() -> None:
    # The emulator's engine is patched to run `=`, AND and OR as SQLite's own operators (docs/testing.md): their
    # results, NULLs included, must stay BigQuery's.
    client = services.bigquery_client()
    try:
        row = next(
            iter(
                client.query(
                    """
                    select
                        'a' = 'a' as strings_equal, 'a' = 'b' as strings_differ,
                        cast(null as string) = 'a' as null_string, 7 = 7 as ints_equal, 7 = 7.0 as int_and_float,
                        date '2026-11-20' = date '2026-11-20' as dates_equal, true = false as bools_differ,
                        cast(null as bool) and false as null_and_false, cast(null as bool) and true as null_and_true,
                        cast(null as bool) or true as null_or_true, cast(null as bool) or false as null_or_false
                    """
                ).result()
            )
        )
        assert dict(row.items()) == {
            "strings_equal": True,
            "strings_differ": False,
            "null_string": None,
            "ints_equal": True,
            "int_and_float": True,
            "dates_equal": True,
            "bools_differ": False,
            "null_and_false": False,
            "null_and_true": None,
            "null_or_true": True,
            "null_or_false": None,
        }
        joined = client.query(
            """
            with lefts as (select * from unnest([struct('a' as k, 1 as v), struct(cast(null as string), 2)])),
            rights as (select * from unnest([struct('a' as k, 'x' as w), struct(cast(null as string), 'y')]))
            select lefts.v, rights.w from lefts left join rights on lefts.k = rights.k and lefts.v > 0 order by v
            """
        ).result()
        assert [tuple(row.values()) for row in joined] == [(1, "x"), (2, None)]
    finally:
        client.close()  # type: ignore[no-untyped-call]


def test_bigquery_loads_from_the_gcs_emulator() -> None:
    # The BigQuery emulator reads gs:// URIs from the fake-gcs-server the harness starts, not from Google.
    storage_client = storage.Client(
        project="mdp-test",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": services.storage_emulator_host()},
    )
    client = services.bigquery_client()
    bucket = storage_client.create_bucket(_unique("mdp-smoke-"))
    dataset_id = _unique("mdp_smoke_")
    try:
        # NDJSON: the emulator always takes a CSV's first row for a header, whatever skip_leading_rows says.
        bucket.blob("trades.jsonl").upload_from_string(
            b'{"trade_id": "t-1", "quantity": 100}\n{"trade_id": "t-2", "quantity": 250}\n'
        )
        client.create_dataset(dataset_id)
        job = client.load_table_from_uri(
            f"gs://{bucket.name}/trades.jsonl",
            f"{dataset_id}.trades",
            job_config=bigquery.LoadJobConfig(
                source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
                schema=[bigquery.SchemaField("trade_id", "STRING"), bigquery.SchemaField("quantity", "INT64")],
            ),
        )
        job.result()
        rows = client.query(f"select count(*) as trades, sum(quantity) as quantity from {dataset_id}.trades").result()
        assert [(row["trades"], row["quantity"]) for row in rows] == [(2, 350)]
    finally:
        client.delete_dataset(dataset_id, delete_contents=True, not_found_ok=True)
        client.close()  # type: ignore[no-untyped-call]
        bucket.delete(force=True)
        storage_client.close()


def test_pubsub_publishes_and_pulls_a_message() -> None:
    host = services.pubsub_emulator_host()
    project = f"/v1/projects/{services.pubsub_project()}"
    # Topic and subscription ids need 3+ characters and must start with a letter.
    topic, subscription = _unique("smoke-topic-"), _unique("smoke-sub-")
    assert _call(host, "PUT", f"{project}/topics/{topic}")[0] == 200
    try:
        status, _ = _call(
            host,
            "PUT",
            f"{project}/subscriptions/{subscription}",
            {"topic": f"projects/{services.pubsub_project()}/topics/{topic}"},
        )
        assert status == 200
        data = base64.b64encode(b"trade-1").decode()
        status, published = _call(host, "POST", f"{project}/topics/{topic}:publish", {"messages": [{"data": data}]})
        assert status == 200
        assert len(published["messageIds"]) == 1
        status, pulled = _call(host, "POST", f"{project}/subscriptions/{subscription}:pull", {"maxMessages": 10})
        assert status == 200
        assert [received["message"]["data"] for received in pulled["receivedMessages"]] == [data]
        ack_ids = [received["ackId"] for received in pulled["receivedMessages"]]
        assert _call(host, "POST", f"{project}/subscriptions/{subscription}:acknowledge", {"ackIds": ack_ids})[0] == 200
    finally:
        _call(host, "DELETE", f"{project}/subscriptions/{subscription}")
        _call(host, "DELETE", f"{project}/topics/{topic}")


def test_firestore_creates_a_document_only_once() -> None:
    host = services.firestore_emulator_host()
    collection = f"/v1/projects/{FIRESTORE_PROJECT}/databases/(default)/documents/{_unique('smoke_')}"
    document = {"fields": {"state": {"stringValue": "submitted"}}}
    status, created = _call(host, "POST", f"{collection}?documentId=sub-1", document)
    assert status == 200
    try:
        assert created["fields"] == document["fields"]
        # Create-if-absent is atomic: the regulatory ledger relies on the second create being refused.
        status, refused = _call(host, "POST", f"{collection}?documentId=sub-1", document)
        assert (status, refused["error"]["status"]) == (409, "ALREADY_EXISTS")
    finally:
        _call(host, "DELETE", f"{collection}/sub-1")


def _kafka_round_trip(address: str, api_key: int, api_version: int, body: bytes = b"") -> bytes:
    """Sends one request with a v1 header (client id "mdp") and returns the response after its correlation id."""
    host, _, port = address.split(",")[0].rpartition(":")
    correlation_id = 7
    request = struct.pack(">hhih", api_key, api_version, correlation_id, 3) + b"mdp" + body
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _receive(connection, 4))
        response = _receive(connection, size)
    assert struct.unpack(">i", response[:4]) == (correlation_id,)
    return response[4:]


def _receive(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        assert chunk, "the broker closed the connection mid-response"
        chunks += chunk
    return bytes(chunks)


def test_kafka_broker_answers_the_kafka_protocol() -> None:
    bootstrap = services.kafka_bootstrap_servers()
    # ApiVersions v0: error code, then (api key, min version, max version) for every API the broker serves.
    response = _kafka_round_trip(bootstrap, api_key=18, api_version=0)
    error_code, count = struct.unpack(">hi", response[:6])
    assert error_code == 0
    served = {struct.unpack(">h", response[6 + 6 * i : 8 + 6 * i])[0] for i in range(count)}
    produce, fetch, metadata, create_topics = 0, 1, 3, 19
    assert {produce, fetch, metadata, create_topics} <= served
    # Metadata v1 for no topics: the broker list, which clients connect to after bootstrapping, must name the
    # address tests were given (a broker advertising another host would fail every real client).
    response = _kafka_round_trip(bootstrap, api_key=metadata, api_version=1, body=struct.pack(">i", 0))
    (broker_count,) = struct.unpack(">i", response[:4])
    offset, brokers = 4, []
    for _ in range(broker_count):
        node_id, host_length = struct.unpack(">ih", response[offset : offset + 6])
        host = response[offset + 6 : offset + 6 + host_length].decode()
        (port, rack_length) = struct.unpack(">ih", response[offset + 6 + host_length : offset + 12 + host_length])
        offset += 12 + host_length + max(rack_length, 0)
        brokers.append((node_id, f"{host}:{port}"))
    assert brokers == [(1, bootstrap.split(",")[0])]


def test_schema_registry_gives_global_ids_through_the_confluent_api() -> None:
    url = services.schema_registry_url()
    schema = json.dumps({"type": "record", "name": "Smoke", "fields": [{"name": "id", "type": "string"}]})
    headers = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        first = client.post(f"/subjects/{_unique('smoke-')}/versions", json={"schema": schema})
        again = client.post(f"/subjects/{_unique('smoke-')}/versions", json={"schema": schema})
        assert (first.status_code, again.status_code) == (200, 200)
        # A Confluent id names one schema across subjects: the bridge keeps what an id gave it for good.
        assert first.json()["id"] == again.json()["id"]
        fetched = client.get(f"/schemas/ids/{first.json()['id']}")
        assert fetched.status_code == 200
        assert json.loads(fetched.json()["schema"]) == json.loads(schema)
        assert client.get("/schemas/ids/2000000000").status_code == 404
