"""Stream specs: YAML files under `source_specs/streaming/`, checked against `stream_spec.schema.json`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from orchestrator.specs.loader import check_yaml_document
from streaming.avro import read_avro_schema, record_field_names
from streaming.exceptions import StreamSpecError, UnknownStreamError

SCHEMA_FILE_NAME = "stream_spec.schema.json"
STREAMS_FOLDER = "streaming"

Problem = tuple[str, str, str]


# Columns every stream's models have, from the message and its attributes; a spec's columns cannot reuse them.
STANDARD_COLUMNS = (
    "event_id",
    "message_id",
    "source",
    "schema_version",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "sequence_number",
    "event_at",
    "kafka_produced_at",
    "published_at",
    "ingested_at",
    "rejection_reason",
    "rejected_payload",
    "_row_hash",
    "_dbt_invocation_id",
    "_curated_at",
)


@dataclass(frozen=True)
class StreamColumn:
    """A payload field typed into the warehouse."""

    name: str
    field: str
    type: str
    nullable: bool = True
    allowed_values: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class StreamSpec:
    """One Kafka stream: where it is read, where it is published, and the fields that identify its events."""

    name: str
    owner: str
    description: str
    kafka_topics: tuple[str, ...]
    consumer_group: str
    pubsub_topic: str
    dead_letter_topic: str
    subscription: str
    payload_format: str
    schema_version: str
    event_id_field: str
    sequence_field: str
    event_time_field: str
    ordering_key_field: str | None
    path: Path
    columns: tuple[StreamColumn, ...] = ()
    avro_schemas: tuple[tuple[int, Path], ...] = ()
    """Format avro: the writer schema files by registry id; the last is the reader schema."""
    avro_schema_registry: bool = False
    """Format avro: writer schemas by ids not listed come from the producers' schema registry."""

    @property
    def raw_table(self) -> str:
        """The warehouse table the stream lands in, in schema `raw`."""
        return f"{self.name}_stream"


@cache
def _schema(specs_dir: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((specs_dir / SCHEMA_FILE_NAME).read_text())
    return schema


def _build(raw: dict[str, Any], path: Path) -> StreamSpec:
    fields = raw["fields"]
    return StreamSpec(
        name=raw["name"],
        owner=raw["owner"],
        description=" ".join(raw["description"].split()),
        kafka_topics=tuple(raw["kafka"]["topics"]),
        consumer_group=raw["kafka"]["consumer_group"],
        pubsub_topic=raw["pubsub"]["topic"],
        dead_letter_topic=raw["pubsub"]["dead_letter_topic"],
        subscription=raw["pubsub"]["subscription"],
        payload_format=raw["payload"]["format"],
        schema_version=raw["payload"]["schema_version"],
        event_id_field=fields["event_id"],
        sequence_field=fields["sequence"],
        event_time_field=fields["event_time"],
        ordering_key_field=fields.get("ordering_key"),
        path=path,
        avro_schemas=tuple(
            (schema["id"], path.parent / schema["file"]) for schema in raw["payload"].get("avro", {}).get("schemas", [])
        ),
        avro_schema_registry=raw["payload"].get("avro", {}).get("schema_registry", False),
        columns=tuple(
            StreamColumn(
                name=column["name"],
                field=column.get("field", column["name"]),
                type=column["type"],
                nullable=column.get("nullable", True),
                allowed_values=tuple(column.get("allowed_values", ())),
                description=" ".join(column.get("description", "").split()),
            )
            for column in raw.get("columns", [])
        ),
    )


def _semantic_problems(raw: dict[str, Any], path: Path) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks the JSON Schema cannot express."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if raw["name"] != path.stem:
        problems.append((("name",), f"name {raw['name']!r} must match the file name {path.stem!r}"))
    if raw["pubsub"]["dead_letter_topic"] == raw["pubsub"]["topic"]:
        problems.append((("pubsub", "dead_letter_topic"), "the dead-letter topic must differ from the topic"))
    fields = raw["fields"]
    for role in ("sequence", "event_time"):
        if fields[role] == fields["event_id"]:
            problems.append((("fields", role), f"the {role} field must differ from the event id field"))
    problems += _avro_problems(raw, path)
    seen: set[str] = set()
    for index, column in enumerate(raw.get("columns", [])):
        name = column["name"]
        if name in STANDARD_COLUMNS:
            problems.append((("columns", index, "name"), f"{name!r} is a column every stream has; choose another name"))
        elif name in seen:
            problems.append((("columns", index, "name"), f"{name!r} appears twice"))
        seen.add(name)
        if column.get("allowed_values") and column["type"] != "string":
            problems.append((("columns", index, "allowed_values"), "only string columns take allowed_values"))
    return problems


def _avro_problems(raw: dict[str, Any], path: Path) -> list[tuple[tuple[str | int, ...], str]]:
    """Format avro: every schema file is an Avro schema, ids are unique, and the reader schema (the last) is a record
    with the fields the spec reads."""
    listed = raw["payload"].get("avro", {}).get("schemas", [])
    problems: list[tuple[tuple[str | int, ...], str]] = []
    ids: set[int] = set()
    reader: Any = None
    for index, schema in enumerate(listed):
        where: tuple[str | int, ...] = ("payload", "avro", "schemas", index)
        if schema["id"] in ids:
            problems.append(((*where, "id"), f"schema id {schema['id']} appears twice"))
        ids.add(schema["id"])
        try:
            reader = read_avro_schema(path.parent / schema["file"])
        except (OSError, ValueError) as error:
            problems.append(((*where, "file"), str(error)))
            reader = None
    if not listed or reader is None:
        return problems
    names = record_field_names(reader)
    if not names:
        return [
            *problems,
            (("payload", "avro", "schemas", len(listed) - 1, "file"), "the reader schema must be a record"),
        ]
    fields = raw["fields"]
    wanted: list[tuple[tuple[str | int, ...], str]] = [(("fields", role), field) for role, field in fields.items()]
    wanted += [(("columns", i, "field"), c.get("field", c["name"])) for i, c in enumerate(raw.get("columns", []))]
    for where, field in wanted:
        if field not in names:
            problems.append((where, f"field {field!r} is not in the reader schema ({listed[-1]['file']})"))
    return problems


def check_stream_spec_file(path: Path, specs_dir: Path) -> tuple[StreamSpec | None, list[Problem]]:
    """Parse and check one stream spec; return the spec (if valid) and its problems."""
    raw, problems = check_yaml_document(
        path, _schema(specs_dir), lambda document: _semantic_problems(document, path), "stream spec"
    )
    return (_build(raw, path), []) if raw is not None else (None, problems)


def stream_spec_files(specs_dir: Path) -> list[Path]:
    """Every stream spec file, in a stable order."""
    return sorted((specs_dir / STREAMS_FOLDER).glob("*.yaml"))


def is_stream_spec_path(path: Path) -> bool:
    """Whether a spec file is a stream spec (it lives in the streaming folder)."""
    return path.parent.name == STREAMS_FOLDER


def check_stream_specs(specs_dir: Path, paths: Sequence[Path] = ()) -> tuple[list[StreamSpec], list[Problem]]:
    """Check the given stream spec files (default: all) and the rules that span them."""
    specs: list[StreamSpec] = []
    problems: list[Problem] = []
    for path in paths or stream_spec_files(specs_dir):
        spec, found = check_stream_spec_file(path, specs_dir)
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    # Two streams reading one Kafka topic or writing one Pub/Sub topic would publish every event twice.
    claimed: dict[tuple[str, str], StreamSpec] = {}
    for spec in specs:
        uses = [("name", spec.name), ("pubsub.topic", spec.pubsub_topic)]
        uses += [("kafka.topics", topic) for topic in spec.kafka_topics]
        for use in uses:
            owner = claimed.setdefault(use, spec)
            if owner is not spec:
                problems.append((str(spec.path), use[0], f"{use[1]!r} is also used by {owner.path}"))
    return specs, problems


def load_stream_specs(specs_dir: Path) -> list[StreamSpec]:
    """All stream specs, or `StreamSpecError` listing every problem."""
    specs, problems = check_stream_specs(specs_dir)
    if problems:
        raise StreamSpecError(problems)
    return specs


def find_stream_spec(specs_dir: Path, name: str) -> StreamSpec:
    """The stream spec with this name, or `UnknownStreamError`."""
    specs = load_stream_specs(specs_dir)
    for spec in specs:
        if spec.name == name:
            return spec
    raise UnknownStreamError(name, [spec.name for spec in specs])
