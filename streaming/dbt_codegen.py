"""Generate the dbt models of each stream spec: its raw source, staging (parse, type, first copy per event) and
curation (the hourly merge), and the list of curated models the control models union.

Every generated file starts with a header naming its spec and this module; files carrying that header and no
longer produced are stale and removed. The batch lane generates its own files (orchestrator/specs/dbt_codegen.py),
so neither lane's specs can break the other's generation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, cast

from orchestrator.specs.dbt_codegen import (
    COLUMN_GROUPS,
    JINJA_DELIMITERS,
    apply_generated_files,
    column_group,
    dump_yaml,
    plan_generated_files,
    select_list,
)
from orchestrator.specs.model import ColumnType
from streaming.exceptions import StreamSpecError
from streaming.spec import StreamColumn, StreamSpec

__all__ = ["STREAM_GENERATED_MARKER", "generate_stream_dbt_files", "stale_stream_dbt_files"]

STREAM_GENERATED_MARKER = "by streaming/dbt_codegen.py"

_GENERATED_FOLDERS = ("models/streaming/staging", "models/streaming/curation", "macros/generated")
_SOURCES_FILE = "models/streaming/staging/_streaming__sources.yml"
_STREAM_MODELS_MACROS = "macros/generated/stream_models.sql"

_RAW_COLUMNS = {
    "subscription_name": "The subscription that delivered the message.",
    "message_id": "Pub/Sub message id; a redelivery repeats it, a republish by the bridge does not.",
    "publish_time": "When Pub/Sub accepted the message (UTC).",
    "data": "The Kafka message value, one JSON object (UTF-8 text).",
    "attributes": (
        "JSON object set by the bridge: source, schema_version, kafka_topic, kafka_partition, kafka_offset, "
        "kafka_timestamp (epoch ms), kafka_key, event_id, sequence."
    ),
    "_ingested_at": "When the row reached the warehouse (UTC).",
}


def _label(spec: StreamSpec) -> str:
    """The spec's path as `<specs folder>/streaming/<file>`, stable however the specs were loaded."""
    return str(PurePosixPath(*spec.path.parts[-3:]))


def _header(label: str) -> str:
    return f"Generated from {label} {STREAM_GENERATED_MARKER}: do not edit; change the spec and regenerate."


def _reject_jinja(spec: StreamSpec) -> None:
    """Refuse spec text that dbt would execute as Jinja once it sits in a model or YAML file."""
    texts = {"description": spec.description, "owner": spec.owner}
    for column in spec.columns:
        texts[f"columns.{column.name}.description"] = column.description
        texts |= {f"columns.{column.name}.allowed_values": value for value in column.allowed_values}
    for where, text in texts.items():
        if any(delimiter in text for delimiter in JINJA_DELIMITERS):
            raise StreamSpecError(
                [(str(spec.path), where, "contains a Jinja delimiter ({{, {% or {#) that dbt would execute")]
            )


def _staging_model(spec: StreamSpec) -> str:
    return f"stg_{spec.name}__events"


def _curated_model(spec: StreamSpec) -> str:
    return f"{spec.name}_events"


def _json_text(document: str, field: str) -> str:
    return f"{{{{ json_text('{document}', '{field}') }}}}"


def _text_column(column: StreamColumn) -> str:
    """The staging column holding a typed field's JSON text, which the rejection checks read; spec column names
    start with a letter, so it cannot collide with one."""
    return f"_text_{column.name}"


def _payload_expression(column: StreamColumn) -> str:
    """The payload field as the column's type (macro stream_value), from its JSON text."""
    text = _json_text("data", column.field)
    if column.type == "string":
        return text
    return f"{{{{ stream_value(json_text('data', '{column.field}'), '{column.type}') }}}}"


def _checked_texts(spec: StreamSpec) -> list[str]:
    """The JSON text of each field that converts to a type other than string, for the rejection checks."""
    texts = [_json_text("data", spec.event_time_field) + " as _text_event_at"]
    texts += [
        f"{_json_text('data', column.field)} as {_text_column(column)}"
        for column in spec.columns
        if column.type != "string"
    ]
    return texts


def _jinja_string(text: str) -> str:
    # Names and values are checked by the spec schema (no quotes or backslashes), so plain quoting is safe.
    return f"'{text}'"


def _problems(spec: StreamSpec) -> list[str]:
    """The stream spec's rules as calls of the stream_*_problem macros, one per rule, in spec order."""
    problems = [
        f"stream_unconverted_problem('_text_event_at', 'event_at', {_jinja_string(spec.event_time_field)}, 'timestamp')"
    ]
    for column in spec.columns:
        field = _jinja_string(column.field)
        text = column.name if column.type == "string" else _text_column(column)
        if not column.nullable:
            problems.append(f"stream_missing_problem('{text}', {field})")
        if column.type != "string":
            problems.append(f"stream_unconverted_problem('{text}', '{column.name}', {field}, '{column.type}')")
        if column.allowed_values:
            values = ", ".join(_jinja_string(value) for value in column.allowed_values)
            problems.append(f"stream_not_allowed_problem('{column.name}', {field}, [{values}])")
    return problems


def _staging_columns(spec: StreamSpec) -> dict[str, list[str]]:
    """The staging model's select list by column group: the standard columns, then the spec's, in spec order."""
    grouped: dict[str, list[str]] = {group: [] for group in COLUMN_GROUPS}
    grouped["ids"] += [f"{_json_text('data', spec.event_id_field)} as event_id", "message_id"]
    grouped["strings"] += [
        f"{_json_text('attributes', 'source')} as source",
        f"{_json_text('attributes', 'schema_version')} as schema_version",
        f"{_json_text('attributes', 'kafka_topic')} as kafka_topic",
    ]
    grouped["numerics"] += [
        f"cast({_json_text('attributes', 'kafka_partition')} as {{{{ dbt.type_bigint() }}}}) as kafka_partition",
        f"cast({_json_text('attributes', 'kafka_offset')} as {{{{ dbt.type_bigint() }}}}) as kafka_offset",
        f"cast({_json_text('data', spec.sequence_field)} as {{{{ dbt.type_bigint() }}}}) as sequence_number",
    ]
    for column in spec.columns:
        group = column_group(column.name, cast(ColumnType, column.type), "event_id")
        grouped[group].append(f"{_payload_expression(column)} as {column.name}")
    grouped["timestamps"] += [
        f"{{{{ iso_timestamp_utc(json_text('data', '{spec.event_time_field}')) }}}} as event_at",
        "{{ timestamp_from_epoch_ms(json_text('attributes', 'kafka_timestamp')) }} as kafka_produced_at",
        "publish_time as published_at",
        "_ingested_at as ingested_at",
    ]
    return grouped


def _column_names(grouped: Mapping[str, list[str]]) -> list[str]:
    """The names of a select list's columns, in the order select_list writes them."""
    return [line.rsplit(" as ", 1)[-1] for group in COLUMN_GROUPS for line in grouped.get(group, [])]


def _staging_sql(spec: StreamSpec) -> str:
    messages = f"{spec.name}_messages"
    grouped = _staging_columns(spec)
    texts = ",\n".join(f"        {text}" for text in _checked_texts(spec))
    problems = ",\n".join(f"            {problem}" for problem in _problems(spec))
    kept = ",\n".join(f"        {name}" for name in _column_names(grouped))
    return f"""{{# {_header(_label(spec))} #}}
{{#-
    At-least-once delivery lands an event more than once (redelivered messages,
    republished after a bridge crash): keep its first copy by ingestion time.
    The view covers messages ingested in the stream_staging_window_hours before the
    build (0: every message raw keeps), so the hourly merge reads a few partitions of
    raw, not its 30 days. An event whose first copy is older than the window is
    deduplicated against curation.{_curated_model(spec)} by the merge.
-#}}
{{%- set window_hours = var('stream_staging_window_hours') | int -%}}

with

{messages} as (

    {{{{ stream_source(
        'raw_streams',
        '{spec.raw_table}',
        add_minutes(run_started_at_literal(), -60 * window_hours) if window_hours > 0 else none
    ) }}}}

),

{messages}_parsed as (

    select
{select_list(grouped)},

        -- payload text the checks read
{texts},
        data

    from {messages}

),

-- The stream spec's rules (macro stream_rejection_reason): an event that breaks one is rejected, not curated.
{messages}_checked as (

    select
        *,
        {{{{ stream_rejection_reason([
{problems}
        ]) }}}} as rejection_reason
    from {messages}_parsed

),

{messages}_triaged as (

    select
{kept},
        rejection_reason,
        case when rejection_reason is not null then data end as rejected_payload
    from {messages}_checked

),

{spec.name}_events_deduplicated as (

    {{{{ latest_row_per_key(
        '{messages}_triaged',
        'event_id',
        ['ingested_at asc', 'published_at asc', 'message_id asc']
    ) }}}}

)

select * from {spec.name}_events_deduplicated
"""


def _business_columns(spec: StreamSpec) -> list[str]:
    """The columns whose change makes the merge rewrite a curated event."""
    standard = ["source", "schema_version", "kafka_topic", "kafka_partition", "kafka_offset", "sequence_number"]
    times = ["event_at", "kafka_produced_at", "published_at", "ingested_at"]
    return [*standard, *(column.name for column in spec.columns), *times]


def _curated_sql(spec: StreamSpec) -> str:
    kept = "".join(f"\n    '{name}'," for name in _column_names(_staging_columns(spec)))
    columns = "".join(f"\n    '{name}'," for name in _business_columns(spec))
    return f"""{{# {_header(_label(spec))} #}}
{{{{
    config(
        materialized='incremental',
        incremental_strategy='no_phantom_merge',
        unique_key='event_id',
        on_schema_change='fail',
        partition_by=(
            {{'field': 'ingested_at', 'data_type': 'timestamp', 'granularity': 'day'}}
            if target.type == 'bigquery' else none
        ),
        cluster_by=(['event_id'] if target.type == 'bigquery' else none),
        incremental_predicates=(
            ['dbt_internal_dest.ingested_at >= ' ~ stream_reach_start()] if stream_reach_start() else []
        )
    )
}}}}

{{#- The hourly merge; see macro curated_stream_events. -#}}
{{{{ curated_stream_events('{_staging_model(spec)}', '{spec.raw_table}', [{kept}
], [{columns}
]) }}}}
"""


def _dump_yaml(label: str, document: Mapping[str, Any]) -> str:
    return dump_yaml(_header(label), document)


def _column_doc(column: StreamColumn) -> str:
    facts = [f"payload field {column.field}", column.type, "nullable" if column.nullable else "not null"]
    if column.allowed_values:
        facts.append("one of " + ", ".join(column.allowed_values))
    text = "; ".join(facts) + "."
    return f"{column.description} ({text})" if column.description else text[0].upper() + text[1:]


def _staging_yaml(spec: StreamSpec) -> str:
    columns: list[dict[str, Any]] = [
        {
            "name": "event_id",
            "description": f"Payload field {spec.event_id_field}.",
            "data_tests": ["unique", "not_null"],
        },
        {"name": "message_id", "data_tests": ["not_null"]},
        {"name": "source", "data_tests": ["not_null"]},
        {"name": "kafka_partition", "data_tests": ["not_null"]},
        {
            "name": "sequence_number",
            "description": f"Payload field {spec.sequence_field}: the producer's number of the event within its "
            "Kafka partition.",
            "data_tests": ["not_null"],
        },
        *({"name": column.name, "description": _column_doc(column)} for column in spec.columns),
        {
            "name": "event_at",
            "description": f"Payload field {spec.event_time_field}: when the event happened (UTC); an event "
            "whose value is not ISO 8601 is rejected.",
        },
        {"name": "kafka_produced_at", "description": "The Kafka message timestamp (producer create time, UTC)."},
        {"name": "published_at", "description": "When Pub/Sub accepted the message (UTC)."},
        {
            "name": "ingested_at",
            "description": "When the first copy reached the warehouse (UTC).",
            "data_tests": ["not_null"],
        },
        {
            "name": "rejection_reason",
            "description": "Null when the event keeps every rule of its stream spec; else each rule it breaks "
            "(macro stream_rejection_reason): it is recorded in control.streaming_rejected_events, not curated.",
        },
        {"name": "rejected_payload", "description": "The payload of a rejected event; null for the others."},
    ]
    model = {
        "name": _staging_model(spec),
        "description": (
            f"One row per event_id of the {spec.name} stream: the payload parsed and typed, with its Kafka "
            "coordinates from the message attributes; of several deliveries of an event, the first by ingestion "
            f"time (then publish time, then message id). {spec.description}"
        ),
        "columns": columns,
    }
    return _dump_yaml(_label(spec), {"version": 2, "models": [model]})


def _curated_yaml(spec: StreamSpec) -> str:
    columns: list[dict[str, Any]] = [
        {"name": "event_id", "data_tests": ["unique", "not_null"]},
        {"name": "sequence_number", "data_tests": ["not_null"]},
    ]
    for column in spec.columns:
        tests: list[Any] = [] if column.nullable else ["not_null"]
        if column.allowed_values:
            tests.append({"accepted_values": {"arguments": {"values": list(column.allowed_values)}}})
        entry: dict[str, Any] = {"name": column.name, "description": _column_doc(column)}
        if tests:
            entry["data_tests"] = tests
        columns.append(entry)
    columns.append(
        {
            "name": "_row_hash",
            "description": "MD5 of the business columns; the merge rewrites an event only when it changes.",
        }
    )
    model = {
        "name": _curated_model(spec),
        "description": (
            f"One row per event_id of the {spec.name} stream, curated by an hourly incremental merge from "
            f"{_staging_model(spec)} (macro curated_stream_events). Deduplicated upstream, so at-least-once "
            "delivery never shows here."
        ),
        "config": {"materialized": "incremental"},
        "data_tests": [{"holds_first_delivery": {"arguments": {"staging_model": _staging_model(spec)}}}],
        "columns": columns,
    }
    return _dump_yaml(_label(spec), {"version": 2, "models": [model]})


def _sources_yaml(specs: Sequence[StreamSpec]) -> str:
    tables = [
        {
            "name": spec.raw_table,
            "description": f"One row per delivery of a Pub/Sub message of the {spec.name} stream. Owner: {spec.owner}.",
            "columns": [{"name": name, "description": text} for name, text in _RAW_COLUMNS.items()],
        }
        for spec in specs
    ]
    source = {
        "name": "raw_streams",
        "schema": "raw",
        "description": (
            "Pub/Sub messages of the streaming lane, one table per stream spec (source_specs/streaming/<name>.yaml) "
            "named <name>_stream. In the cloud a BigQuery subscription writes them (with write_metadata); locally "
            "and on emulators `mdp stream-load` does, with the same columns. Delivery is at least once: a message "
            "can appear more than once."
        ),
        "tables": tables,
    }
    return _dump_yaml(_folder_label(specs), {"version": 2, "sources": [source]})


def _folder_label(specs: Sequence[StreamSpec]) -> str:
    folders = sorted({str(PurePosixPath(_label(spec)).parent) for spec in specs})
    return ", ".join(f"{folder}/*.yaml" for folder in folders) or "no stream specs"


def _stream_models_macros(specs: Sequence[StreamSpec]) -> str:
    def listing(models: list[str]) -> str:
        return "".join(f"        '{model}',\n" for model in models)

    return (
        f"{{# {_header(_folder_label(specs))} #}}\n"
        "{#\n"
        "    The models of every stream spec, one per spec: stream_staging_models() returns\n"
        "    the staging models, stream_curated_models() the curated ones. Models loop over\n"
        "    them with ref() so dbt sees each dependency at parse time.\n"
        "#}\n"
        "{% macro stream_staging_models() -%}\n"
        "    {{ return([\n"
        f"{listing([_staging_model(spec) for spec in specs])}"
        "    ]) }}\n"
        "{%- endmacro %}\n"
        "\n"
        "{% macro stream_curated_models() -%}\n"
        "    {{ return([\n"
        f"{listing([_curated_model(spec) for spec in specs])}"
        "    ]) }}\n"
        "{%- endmacro %}\n"
    )


def _render_all(specs: Sequence[StreamSpec]) -> dict[str, str]:
    """Every generated file's path (relative to the dbt project) and content."""
    ordered = sorted(specs, key=lambda spec: spec.name)
    for spec in ordered:
        _reject_jinja(spec)
    files = {_SOURCES_FILE: _sources_yaml(ordered), _STREAM_MODELS_MACROS: _stream_models_macros(ordered)}
    for spec in ordered:
        staging = f"models/streaming/staging/{spec.name}"
        files[f"{staging}/{_staging_model(spec)}.sql"] = _staging_sql(spec)
        files[f"{staging}/_{spec.name}__models.yml"] = _staging_yaml(spec)
        files[f"models/streaming/curation/{_curated_model(spec)}.sql"] = _curated_sql(spec)
        files[f"models/streaming/curation/_{_curated_model(spec)}__models.yml"] = _curated_yaml(spec)
    return files


def stale_stream_dbt_files(specs: Sequence[StreamSpec], project_dir: Path) -> list[Path]:
    """Generated stream files that are missing, out of date or no longer produced (for `--check`)."""
    to_write, to_remove = plan_generated_files(
        _render_all(specs), project_dir, _GENERATED_FOLDERS, STREAM_GENERATED_MARKER
    )
    return sorted([*to_write, *to_remove])


def generate_stream_dbt_files(specs: Sequence[StreamSpec], project_dir: Path) -> list[Path]:
    """Write generated stream files whose content changed, remove stale ones; return every path touched."""
    plan = plan_generated_files(_render_all(specs), project_dir, _GENERATED_FOLDERS, STREAM_GENERATED_MARKER)
    return apply_generated_files(plan, project_dir, _GENERATED_FOLDERS)
