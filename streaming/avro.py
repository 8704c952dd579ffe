"""Avro payloads: records in the Confluent wire format, decoded with the schemas a stream spec lists and turned into
the JSON the rest of the lane reads.

The wire format is a zero byte, the writer schema's registry id (4 bytes, big-endian), then the record in Avro
binary. The spec lists the writer schemas by id; the last one is the reader schema, and Avro schema resolution
brings every record to it (a field added with a default gets the default). A spec with `schema_registry: true` also
takes writer schemas it does not list from the producers' schema registry (streaming/schema_registry.py); the
reader schema is always the spec's.
"""

from __future__ import annotations

import base64
import decimal
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import fastavro
import orjson

from streaming.schema_registry import RegistrySchemaError, SchemaRegistry

__all__ = ["AvroDecodeError", "AvroDecoder", "read_avro_schema", "record_field_names", "to_json"]

_MAGIC = 0
_HEADER_BYTES = 5


class AvroDecodeError(ValueError):
    """A Kafka value that is not a record of the stream's schemas; the message says why."""


def read_avro_schema(path: Path) -> Any:
    """The parsed Avro schema in a .avsc file; `ValueError` (or `OSError`) saying what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path.name} is not JSON: {error}") from error
    try:
        return fastavro.parse_schema(document)
    except Exception as error:  # fastavro raises several types for a bad schema
        raise ValueError(f"{path.name} is not an Avro schema: {error}") from error


def record_field_names(schema: Any) -> set[str]:
    """The top-level field names of a record schema; empty for any other schema."""
    if isinstance(schema, Mapping) and schema.get("type") == "record":
        return {field["name"] for field in schema["fields"]}
    return set()


class AvroDecoder:
    """Decodes the Kafka values of one stream: writer schema by the id in each value, resolved to the reader schema
    (the last of `schemas`, pairs of registry id and parsed schema). Ids not in `schemas` are looked up in
    `registry`, when there is one."""

    def __init__(self, schemas: Sequence[tuple[int, Any]], registry: SchemaRegistry | None = None) -> None:
        self._listed = [schema_id for schema_id, _ in schemas]
        self._writers = dict(schemas)
        self._reader = schemas[-1][1]
        self._registry = registry

    def decode(self, value: bytes) -> tuple[dict[str, Any], int]:
        """The record and its writer schema id; `AvroDecodeError` for anything else."""
        if len(value) < _HEADER_BYTES or value[0] != _MAGIC:
            raise AvroDecodeError(f"not the Confluent Avro wire format: first byte {value[:1].hex() or 'none'}, not 00")
        schema_id = int.from_bytes(value[1:_HEADER_BYTES], "big")
        writer = self._writers.get(schema_id)
        if writer is None:
            # Kept: a registry id names one schema for good, so each id is asked for once.
            writer = self._writers[schema_id] = self._registered(schema_id)
        body = io.BytesIO(value)
        body.seek(_HEADER_BYTES)
        try:
            record = fastavro.schemaless_reader(body, writer, self._reader)
        except Exception as error:  # truncated or corrupt data, or a record the reader schema cannot take
            raise AvroDecodeError(f"not a record of schema id {schema_id}: {type(error).__name__}: {error}") from error
        if body.tell() != len(value):
            raise AvroDecodeError(f"{len(value) - body.tell()} bytes after the record of schema id {schema_id}")
        if not isinstance(record, dict):
            raise AvroDecodeError(f"schema id {schema_id} does not describe a record")
        return record, schema_id

    def _registered(self, schema_id: int) -> Any:
        """The registry's writer schema for an id the spec does not list; `AvroDecodeError` when there is none.
        `SchemaRegistryUnavailableError` (not a decode error) when the registry does not answer."""
        not_listed = f"schema id {schema_id} is not in the stream spec (known: {', '.join(map(str, self._listed))})"
        if self._registry is None:
            raise AvroDecodeError(not_listed)
        try:
            return self._registry.writer_schema(schema_id)
        except RegistrySchemaError as error:
            raise AvroDecodeError(f"{not_listed} and {error}") from error


def _json_default(value: object) -> object:
    # Types orjson leaves to us: decimals keep every digit as text (the warehouse types them), bytes go as base64.
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} has no JSON form")


def to_json(record: Mapping[str, Any]) -> bytes:
    """The record as one JSON object: timestamps as ISO 8601 in UTC ('Z'), dates ISO, decimals as text."""
    return orjson.dumps(record, default=_json_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)
