"""Generate the dbt staging layer and the expected-sources seed from source specs.

Every generated file except the seed CSV starts with a header naming its spec and
this module; files carrying that header and no longer produced are stale and removed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from sqlglot import parse_one

from orchestrator.exceptions import UnsafeExpressionError
from orchestrator.specs.model import CANONICAL_TRADE_FIELDS, ColumnType, SourceSpec

__all__ = [
    "COLUMN_GROUPS",
    "DBT_TYPES",
    "GENERATED_MARKER",
    "JINJA_DELIMITERS",
    "apply_generated_files",
    "column_group",
    "dump_yaml",
    "generate_dbt_files",
    "plan_generated_files",
    "select_list",
    "stale_dbt_files",
]

# The first line of every generated file (except the seed) contains this text.
GENERATED_MARKER = "by orchestrator/specs/dbt_codegen.py"

# Folders (under the dbt project) searched for stale generated files; files without the marker are left alone.
_GENERATED_FOLDERS = ("models/staging", "macros/generated")
_TRADE_SOURCE_MODELS_MACRO = "macros/generated/trade_source_models.sql"
_RAW_SOURCE_TABLES_MACRO = "macros/generated/raw_source_tables.sql"
_EXPECTED_SOURCES_SEED = "seeds/expected_sources.csv"
_REFERENCE_FOLDER = "models/staging/reference"
_RAW_SOURCE_DESCRIPTION = "Raw tables written only by the loader from validated staged Parquet (docs/batch_lane.md)."

_LINEAGE_COLUMNS = ("_file_id", "_landing_key", "_source_row_number", "_business_date", "_ingested_at")
_LINEAGE_DESCRIPTIONS = {
    "_file_id": "sha256 (hex) of the landed file's bytes.",
    "_landing_key": "The file's path in the landing bucket.",
    "_source_row_number": "1-based record number inside the file.",
    "_business_date": "Business date from the file name.",
    "_ingested_at": "When the validator staged the row (UTC).",
}

COLUMN_GROUPS = ("ids", "strings", "numerics", "booleans", "timestamps")

# dbt type expressions for spec types; they render per engine through dispatch.
DBT_TYPES: dict[ColumnType, str] = {
    "string": "{{ dbt.type_string() }}",
    "integer": "{{ dbt.type_bigint() }}",
    "decimal": "{{ type_decimal() }}",
    "date": "date",
    "timestamp": "{{ dbt.type_timestamp() }}",
    "boolean": "{{ dbt.type_boolean() }}",
}


@dataclass(frozen=True)
class _CanonicalField:
    """Type, column group and description of one canonical trade field."""

    type: ColumnType
    group: str
    description: str


_CANONICAL: dict[str, _CanonicalField] = {
    "source_trade_id": _CanonicalField("string", "ids", "The trade's id in its source system."),
    "trade_version": _CanonicalField("integer", "numerics", "Version of the trade in its source; higher is newer."),
    "event_type": _CanonicalField("string", "strings", "NEW, AMEND or CANCEL."),
    "trade_date": _CanonicalField("date", "timestamps", "Trade date."),
    "executed_at": _CanonicalField("timestamp", "timestamps", "Execution time (UTC)."),
    "settlement_date": _CanonicalField("date", "timestamps", "Contractual settlement date, when the source has one."),
    "isin": _CanonicalField("string", "ids", "ISIN of the traded instrument."),
    "side": _CanonicalField("string", "strings", "BUY or SELL, from the bank's point of view."),
    "quantity": _CanonicalField("decimal", "numerics", "Quantity or nominal traded."),
    "price": _CanonicalField("decimal", "numerics", "Execution price."),
    "currency": _CanonicalField("string", "strings", "ISO 4217 currency of the price."),
    "trader_id": _CanonicalField("string", "ids", "Trader who executed the trade."),
    "book_id": _CanonicalField("string", "ids", "Book the trade is booked in."),
    "counterparty_lei": _CanonicalField("string", "ids", "LEI of the counterparty."),
    "venue_mic": _CanonicalField("string", "ids", "ISO 10383 MIC of the execution venue (XOFF off venue)."),
}

_LABEL_FIELDS: dict[str, _CanonicalField] = {
    "source_name": _CanonicalField("string", "strings", "Name of the source spec the trade came from."),
    "domain": _CanonicalField("string", "strings", "Business domain of the source (part of trade_id)."),
    "source_system": _CanonicalField("string", "strings", "Source system (part of trade_id)."),
}

_ACCEPTED_VALUES = {"event_type": ["NEW", "AMEND", "CANCEL"], "side": ["BUY", "SELL"]}
_NOT_NULL_TRADE_FIELDS = (
    "source_trade_id",
    "trade_version",
    "event_type",
    "trade_date",
    "executed_at",
    "side",
    "quantity",
    "price",
)

JINJA_DELIMITERS = ("{{", "{%", "{#")

_SEED_COLUMNS = (
    "source",
    "kind",
    "domain",
    "frequency",
    "expected_by",
    "expected_from",
    "min_files_per_day",
    "max_files_per_day",
    "typical_rows_min",
    "typical_rows_max",
)


def _spec_texts(spec: SourceSpec) -> dict[str, str]:
    """Every spec-supplied text that ends up in a generated file, by where it sits in the spec."""
    texts = {
        "name": spec.name,
        "owner": spec.owner,
        "domain": spec.domain,
        "description": spec.description,
        "landing.pattern": spec.landing_pattern,
        "identity.source_system": spec.source_system,
    }
    for column in spec.columns:
        for attribute in ("name", "regex", "format", "id_format"):
            value = getattr(column, attribute)
            if value is not None:
                texts[f"columns.{column.name}.{attribute}"] = str(value)
        for value in column.allowed_values:
            texts[f"columns.{column.name}.allowed_values"] = str(value)
    for target, expression in spec.trade_mapping.items():
        if expression is not None:
            texts[f"trade_mapping.{target}"] = str(expression)
    return texts


def _reject_jinja(spec: SourceSpec) -> None:
    """Refuse spec text that dbt would execute as Jinja once it sits in a model or YAML file."""
    for where, text in _spec_texts(spec).items():
        if any(delimiter in text for delimiter in JINJA_DELIMITERS):
            raise UnsafeExpressionError(
                f"source={spec.name}: {where} contains a Jinja delimiter ({{{{, {{% or {{#) that dbt would execute; "
                "remove it from the spec, no dbt files were generated"
            )


def _spec_label(spec: SourceSpec) -> str:
    """The spec's path as `<specs folder>/<kind folder>/<file>`, stable however the specs were loaded."""
    parts = spec.path.parts[-3:]
    return str(PurePosixPath(*parts))


def _header_text(spec_label: str) -> str:
    return f"Generated from {spec_label} {GENERATED_MARKER}: do not edit; change the spec and regenerate."


def _sql_header(spec_label: str) -> str:
    return f"-- {_header_text(spec_label)}\n"


def _render_expression(expression: str) -> str:
    """A spec expression re-rendered by sqlglot, so only what parsed reaches dbt."""
    rendered: str = parse_one(expression, read="duckdb").sql(dialect="duckdb")
    return rendered


def _cast(expression: str, column_type: ColumnType) -> str:
    return f"cast({expression} as {DBT_TYPES[column_type]})"


def column_group(name: str, column_type: ColumnType, key: str) -> str:
    if name == key or name.endswith(("_id", "_lei", "_mic")) or name in ("isin", "cusip"):
        return "ids"
    if column_type in ("integer", "decimal"):
        return "numerics"
    if column_type == "boolean":
        return "booleans"
    if column_type in ("date", "timestamp"):
        return "timestamps"
    return "strings"


def select_list(grouped: Mapping[str, list[str]]) -> str:
    """Column expressions under `-- <group>` comments (ids, strings, numerics, booleans, timestamps), the lineage
    block last; empty groups are left out."""
    blocks: list[str] = []
    for group in (*COLUMN_GROUPS, "lineage"):
        lines = grouped.get(group, [])
        if lines:
            blocks.append(f"        -- {group}\n" + ",\n".join(f"        {line}" for line in lines))
    return ",\n\n".join(blocks)


def _staging_sql(spec: SourceSpec, grouped: Mapping[str, list[str]], key: str, order_by: Sequence[str]) -> str:
    order = ", ".join(f"'{item}'" for item in order_by)
    return (
        _sql_header(_spec_label(spec))
        + "with\n\n"
        + "source as (\n\n"
        + f"    select * from {{{{ source('raw', '{spec.name}') }}}}\n\n"
        + "),\n\n"
        + "renamed as (\n\n"
        + "    select\n"
        + select_list(grouped)
        + "\n\n    from source\n\n"
        + "),\n\n"
        + "latest_rows as (\n\n"
        + f"    {{{{ latest_row_per_key('renamed', '{key}', [{order}]) }}}}\n\n"
        + ")\n\n"
        + "select * from latest_rows\n"
    )


def _trade_staging_sql(spec: SourceSpec) -> str:
    grouped: dict[str, list[str]] = {group: [] for group in COLUMN_GROUPS}
    labels = {"source_name": spec.name, "domain": spec.domain, "source_system": spec.source_system}
    for name in CANONICAL_TRADE_FIELDS:
        field = _CANONICAL[name]
        mapping = spec.trade_mapping.get(name)
        if mapping is None:
            expression = f"cast(null as {DBT_TYPES[field.type]})"
        else:
            expression = _cast(_render_expression(str(mapping)), field.type)
        grouped[field.group].append(f"{expression} as {name}")
        if name == "source_trade_id":
            for label, value in labels.items():
                literal = "'" + value.replace("'", "''") + "'"
                grouped[_LABEL_FIELDS[label].group].append(f"{_cast(literal, 'string')} as {label}")
    grouped["lineage"] = list(_LINEAGE_COLUMNS)
    order_by = ("trade_version desc", "_ingested_at desc", "_file_id desc", "_source_row_number desc")
    return _staging_sql(spec, grouped, "source_trade_id", order_by)


def _reference_staging_sql(spec: SourceSpec) -> str:
    key = spec.source_id_field
    grouped: dict[str, list[str]] = {group: [] for group in COLUMN_GROUPS}
    for column in spec.columns:
        group = column_group(column.name, column.type, key)
        grouped[group].append(f"{_cast(column.name, column.type)} as {column.name}")
    grouped["timestamps"].append(f"{_cast('_business_date', 'timestamp')} as effective_from_at")
    grouped["lineage"] = list(_LINEAGE_COLUMNS)
    order_by = ("_business_date desc", "_ingested_at desc", "_file_id desc", "_source_row_number desc")
    return _staging_sql(spec, grouped, key, order_by)


def _column_doc(spec: SourceSpec, name: str) -> str:
    column = next(column for column in spec.columns if column.name == name)
    facts = [column.type, "nullable" if column.nullable else "not null"]
    if column.allowed_values:
        facts.append("one of " + ", ".join(str(value) for value in column.allowed_values))
    if column.id_format:
        facts.append(f"valid {column.id_format}")
    if column.regex:
        facts.append(f"matches {column.regex}")
    if column.min is not None:
        facts.append(f">= {column.min:g}")
    if column.max is not None:
        facts.append(f"<= {column.max:g}")
    if column.format:
        facts.append(f"landed as {column.format}")
    return "; ".join(facts) + "."


class _IndentedDumper(yaml.SafeDumper):
    """Indents block sequences under their key, as dbt's own examples do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dump_yaml(header: str, document: Mapping[str, Any]) -> str:
    """A generated YAML file: `header` as its first-line comment, then the document as dbt's examples lay it out."""
    body = yaml.dump(
        dict(document), Dumper=_IndentedDumper, sort_keys=False, width=120, allow_unicode=True, default_flow_style=False
    )
    return f"# {header}\n{body}"


def _dump_yaml(label: str, document: Mapping[str, Any]) -> str:
    return dump_yaml(_header_text(label), document)


def _sources_table(spec: SourceSpec) -> dict[str, Any]:
    columns: list[dict[str, Any]] = [
        {"name": column.name, "data_type": column.type, "description": _column_doc(spec, column.name)}
        for column in spec.columns
    ]
    columns += [
        {
            "name": name,
            "description": "Lineage: " + _LINEAGE_DESCRIPTIONS[name][0].lower() + _LINEAGE_DESCRIPTIONS[name][1:],
        }
        for name in _LINEAGE_COLUMNS
    ]
    return {
        "name": spec.name,
        "description": f"{spec.description} Owner: {spec.owner}. Landing pattern: {spec.landing_pattern}.",
        "config": {"meta": {"owner": spec.owner, "spec": _spec_label(spec), "kind": spec.kind}},
        "columns": columns,
    }


def _raw_sources(tables: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 2,
        "sources": [
            {
                "name": "raw",
                "schema": "raw",
                "description": _RAW_SOURCE_DESCRIPTION,
                "tables": list(tables),
            }
        ],
    }


def _accepted_values(values: Sequence[str | float]) -> dict[str, Any]:
    return {"accepted_values": {"arguments": {"values": list(values)}}}


def _trade_models_yaml(spec: SourceSpec) -> str:
    columns: list[dict[str, Any]] = []
    fields = {name: _CANONICAL[name] for name in CANONICAL_TRADE_FIELDS} | _LABEL_FIELDS
    for name, field in fields.items():
        tests: list[Any] = []
        if name == "source_trade_id":
            tests += ["unique", "not_null"]
        elif name in _NOT_NULL_TRADE_FIELDS:
            tests.append("not_null")
        if name in _ACCEPTED_VALUES:
            tests.append(_accepted_values(_ACCEPTED_VALUES[name]))
        column: dict[str, Any] = {"name": name, "description": field.description}
        mapping = spec.trade_mapping.get(name)
        if name in _CANONICAL:
            column["description"] += f" Mapped from: {mapping if mapping is not None else 'null (not delivered)'}."
        if tests:
            column["data_tests"] = tests
        columns.append(column)
    columns += [{"name": name, "description": _LINEAGE_DESCRIPTIONS[name]} for name in _LINEAGE_COLUMNS]
    document = {
        "version": 2,
        "models": [
            {
                "name": _trade_model_name(spec),
                "description": (
                    f"One row per source_trade_id, latest version (highest trade_version, then latest _ingested_at), "
                    f"of raw.{spec.name} mapped onto the canonical trade model. {spec.description}"
                ),
                "columns": columns,
            }
        ],
    }
    return _dump_yaml(_spec_label(spec), document)


def _reference_model(spec: SourceSpec) -> dict[str, Any]:
    key = spec.source_id_field
    columns: list[dict[str, Any]] = []
    for column in spec.columns:
        entry: dict[str, Any] = {"name": column.name, "description": _column_doc(spec, column.name)}
        tests: list[Any] = []
        if column.name == key:
            tests += ["unique", "not_null"]
        if column.allowed_values and column.type == "string":
            tests.append(_accepted_values(column.allowed_values))
        if tests:
            entry["data_tests"] = tests
        columns.append(entry)
    columns.append(
        {
            "name": "effective_from_at",
            "description": "Start (UTC) of the business date of the file this row came from.",
            "data_tests": ["not_null"],
        }
    )
    columns += [{"name": name, "description": _LINEAGE_DESCRIPTIONS[name]} for name in _LINEAGE_COLUMNS]
    return {
        "name": _reference_model_name(spec),
        "description": (
            f"One row per {key}, latest row (latest _business_date, then _ingested_at) of raw.{spec.name}. "
            f"{spec.description}"
        ),
        "columns": columns,
    }


def _trade_model_name(spec: SourceSpec) -> str:
    return f"stg_{spec.name}__trades"


def _reference_model_name(spec: SourceSpec) -> str:
    return f"stg_reference__{spec.name}"


def _folder_label(specs: Sequence[SourceSpec]) -> str:
    """`<specs folder>/<kind folder>/*.yaml` when the specs share a folder, else their paths."""
    folders = sorted({str(PurePosixPath(_spec_label(spec)).parent) for spec in specs})
    return ", ".join(f"{folder}/*.yaml" for folder in folders) or "no specs"


def _name_list_macro(macro: str, doc: str, names: Sequence[str], label: str) -> str:
    """A macro returning a list of names, so models can loop over it with ref() or source() at parse time."""
    listed = "".join(f"        '{name}',\n" for name in names)
    return (
        f"{{# {_header_text(label)} #}}\n"
        f"{{#\n{doc}#}}\n"
        f"{{% macro {macro}() -%}}\n"
        "    {{ return([\n"
        f"{listed}"
        "    ]) }}\n"
        "{%- endmacro %}\n"
    )


def _trade_source_models_macro(trade_specs: Sequence[SourceSpec]) -> str:
    doc = (
        "    Returns the names of every trade staging model, one per trade spec. Models\n"
        "    loop over it with ref() so dbt sees each dependency at parse time.\n"
    )
    names = [_trade_model_name(spec) for spec in trade_specs]
    return _name_list_macro("trade_source_models", doc, names, _folder_label(trade_specs))


def _raw_source_tables_macro(specs: Sequence[SourceSpec]) -> str:
    doc = (
        "    Returns the name of every raw table the loader writes, one per spec (trade and\n"
        "    reference). Models loop over it with source('raw', name).\n"
    )
    return _name_list_macro("raw_source_tables", doc, [spec.name for spec in specs], _folder_label(specs))


def _expected_sources_csv(specs: Sequence[SourceSpec]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_SEED_COLUMNS)
    for spec in sorted(specs, key=lambda spec: spec.name):
        expectations = spec.expectations
        typical = expectations.typical_rows
        writer.writerow(
            (
                spec.name,
                spec.kind,
                spec.domain,
                expectations.frequency,
                expectations.expected_by,
                expectations.expected_from.isoformat() if expectations.expected_from else "",
                expectations.min_files_per_day,
                expectations.max_files_per_day,
                typical[0] if typical else "",
                typical[1] if typical else "",
            )
        )
    return buffer.getvalue()


def _render_all(specs: Sequence[SourceSpec]) -> dict[str, str]:
    """Every generated file's path (relative to the dbt project) and content."""
    ordered = sorted(specs, key=lambda spec: spec.name)
    for spec in ordered:
        _reject_jinja(spec)
    trade_specs = [spec for spec in ordered if spec.kind == "trade"]
    reference_specs = [spec for spec in ordered if spec.kind == "reference"]
    files: dict[str, str] = {}
    for spec in trade_specs:
        folder = f"models/staging/{spec.name}"
        files[f"{folder}/_{spec.name}__sources.yml"] = _dump_yaml(
            _spec_label(spec), _raw_sources([_sources_table(spec)])
        )
        files[f"{folder}/{_trade_model_name(spec)}.sql"] = _trade_staging_sql(spec)
        files[f"{folder}/_{spec.name}__models.yml"] = _trade_models_yaml(spec)
    if reference_specs:
        sources = _raw_sources([_sources_table(spec) for spec in reference_specs])
        files[f"{_REFERENCE_FOLDER}/_reference__sources.yml"] = _dump_yaml(_folder_label(reference_specs), sources)
        models = {"version": 2, "models": [_reference_model(spec) for spec in reference_specs]}
        files[f"{_REFERENCE_FOLDER}/_reference__models.yml"] = _dump_yaml(_folder_label(reference_specs), models)
        for spec in reference_specs:
            files[f"{_REFERENCE_FOLDER}/{_reference_model_name(spec)}.sql"] = _reference_staging_sql(spec)
    files[_TRADE_SOURCE_MODELS_MACRO] = _trade_source_models_macro(trade_specs)
    files[_RAW_SOURCE_TABLES_MACRO] = _raw_source_tables_macro(ordered)
    files[_EXPECTED_SOURCES_SEED] = _expected_sources_csv(ordered)
    return files


def _is_generated(path: Path, marker: str) -> bool:
    with path.open(encoding="utf-8", errors="replace") as handle:
        return marker in handle.readline()


def plan_generated_files(
    rendered: Mapping[str, str], project_dir: Path, folders: Sequence[str], marker: str
) -> tuple[dict[Path, str], list[Path]]:
    """Of the `rendered` files (path relative to the project: content), those to write (new or changed), and the
    files under `folders` whose first line carries `marker` that are no longer rendered (stale, to remove)."""
    wanted = {project_dir / relative: content for relative, content in rendered.items()}
    to_write = {
        path: content
        for path, content in wanted.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != content
    }
    to_remove = [
        path
        for folder in folders
        for path in sorted((project_dir / folder).rglob("*"))
        if path.is_file() and path not in wanted and _is_generated(path, marker)
    ]
    return to_write, to_remove


def apply_generated_files(
    plan: tuple[dict[Path, str], list[Path]], project_dir: Path, folders: Sequence[str]
) -> list[Path]:
    """Write and remove what `plan_generated_files` found (empty folders it leaves go too); every path touched."""
    to_write, to_remove = plan
    for path, content in to_write.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    roots = {project_dir / folder for folder in folders}
    for path in to_remove:
        path.unlink()
        if path.parent not in roots and not any(path.parent.iterdir()):
            path.parent.rmdir()
    return sorted([*to_write, *to_remove])


def stale_dbt_files(specs: Sequence[SourceSpec], project_dir: Path) -> list[Path]:
    """Generated files that are missing, out of date or no longer produced (for `--check`)."""
    to_write, to_remove = plan_generated_files(_render_all(specs), project_dir, _GENERATED_FOLDERS, GENERATED_MARKER)
    return sorted([*to_write, *to_remove])


def generate_dbt_files(specs: Sequence[SourceSpec], project_dir: Path) -> list[Path]:
    """Write generated dbt files whose content changed, remove stale ones; return every path touched (sorted)."""
    plan = plan_generated_files(_render_all(specs), project_dir, _GENERATED_FOLDERS, GENERATED_MARKER)
    return apply_generated_files(plan, project_dir, _GENERATED_FOLDERS)
