"""Avro test data shared by the Avro stream tests: an RFQ event's two schema versions, records, and values in the
Confluent wire format."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import shutil
import struct
from pathlib import Path
from typing import Any

import fastavro

from streaming.spec import StreamSpec
from tests.conftest import REPO
from tests.streaming.support import stream_specs_dir

TOPIC = "markets.rfq.events.v1"
V1: dict[str, Any] = {
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
V2: dict[str, Any] = {
    **V1,
    "fields": [*V1["fields"], {"name": "platform_mic", "type": ["null", "string"], "default": None}],
}
IDS = {"v1": 101, "v2": 117}
# A version no reader schema here can take: rfq_id is gone, and neither version gives it a default.
WITHOUT_RFQ_ID: dict[str, Any] = {**V1, "fields": [field for field in V1["fields"] if field["name"] != "rfq_id"]}


def avro_spec_text(schemas_line: str = "", rfq: str | None = None) -> str:
    """The rfq stream's spec (`rfq`, default the shipped one) in Avro, with `schemas_line` or both versions."""
    rfq = rfq or (REPO / "source_specs" / "streaming" / "rfq.yaml").read_text()
    avro = schemas_line or (
        f"  avro:\n    schemas:\n      - {{id: {IDS['v1']}, file: avro/rfq_v1.avsc}}\n"
        f"      - {{id: {IDS['v2']}, file: avro/rfq_v2.avsc}}\n"
    )
    return rfq.replace("  format: json\n", "  format: avro\n" + avro)


def avro_specs_dir(parent: Path, stream: StreamSpec | None = None) -> Path:
    """The shipped specs, under `parent`, with the rfq stream in Avro (on `stream`'s topics, when given), its two
    schema versions beside it."""
    if stream is None:
        folder = parent / "source_specs"
        shutil.copytree(REPO / "source_specs", folder)
    else:
        folder = stream_specs_dir(parent, stream)
    (folder / "streaming" / "avro").mkdir()
    (folder / "streaming" / "avro" / "rfq_v1.avsc").write_text(json.dumps(V1))
    (folder / "streaming" / "avro" / "rfq_v2.avsc").write_text(json.dumps(V2))
    rfq = folder / "streaming" / "rfq.yaml"
    rfq.write_text(avro_spec_text(rfq=rfq.read_text()))
    return folder


def avro_record(number: int, **changes: Any) -> dict[str, Any]:
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


def encode(
    record: dict[str, Any], version: str = "v2", schema_id: int | None = None, schema: dict[str, Any] | None = None
) -> bytes:
    """A record in the Confluent wire format: zero byte, schema id, Avro binary; written with `schema` if given,
    else with the version's."""
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema or {"v1": V1, "v2": V2}[version]), record)
    return b"\x00" + struct.pack(">I", IDS[version] if schema_id is None else schema_id) + body.getvalue()
