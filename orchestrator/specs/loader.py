"""Load source specs from YAML, check them against the JSON Schema and their own logic."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from orchestrator.exceptions import SpecError, UnknownSourceError, UnsafeExpressionError
from orchestrator.specs.model import SourceSpec, build_spec
from orchestrator.specs.sql_guard import check_expression

SCHEMA_FILE_NAME = "source_spec.schema.json"

Problem = tuple[str, str, str]


class _SpecLoader(yaml.SafeLoader):
    """YAML without implicit timestamps: `expected_from: 2026-11-20` stays the text the JSON Schema checks."""


_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@cache
def _schema(specs_dir: Path) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((specs_dir / SCHEMA_FILE_NAME).read_text())
    return schema


def _yaml_path(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(document)"


def _line_index(text: str) -> dict[tuple[str | int, ...], int]:
    """Map every YAML path in a document to its 1-based line, for error messages."""
    index: dict[tuple[str | int, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, str(key.value)))
                index[(*path, str(key.value))] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for position, item in enumerate(node.value):
                walk(item, (*path, position))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return index


def _semantic_problems(raw: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks the JSON Schema cannot express: references between fields and safe SQL."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    columns = raw["columns"]
    names = [column["name"] for column in columns]
    types = {column["name"]: column["type"] for column in columns}
    for position, column in enumerate(columns):
        where: tuple[str | int, ...] = ("columns", position)
        if names.count(column["name"]) > 1:
            problems.append(((*where, "name"), f"duplicate column {column['name']!r}"))
        numeric = column["type"] in ("integer", "decimal")
        for bound in ("min", "max"):
            if bound in column and not numeric:
                problems.append(((*where, bound), f"{bound} applies to integer and decimal columns only"))
        if column["type"] in ("date", "timestamp") and "format" not in column:
            problems.append((where, f"{column['type']} column {column['name']!r} needs a strptime 'format'"))
        if ("id_format" in column or "regex" in column) and column["type"] != "string":
            problems.append((where, "regex and id_format apply to string columns only"))
        if "regex" in column:
            try:
                re.compile(column["regex"])
            except re.error as error:
                problems.append(((*where, "regex"), f"invalid regex: {error}"))
    identity = raw["identity"]
    for key in ("source_id_field", "version_field", "business_date_field"):
        if key in identity and identity[key] not in types:
            problems.append((("identity", key), f"unknown column {identity[key]!r}"))
    if types.get(identity.get("business_date_field", ""), "date") != "date":
        problems.append((("identity", "business_date_field"), "business date column must be of type date"))
    expectations = raw["expectations"]
    if expectations.get("min_files_per_day", 1) > expectations.get("max_files_per_day", 1):
        problems.append((("expectations", "min_files_per_day"), "min_files_per_day is above max_files_per_day"))
    if "expected_from" in expectations:
        try:
            dt.date.fromisoformat(expectations["expected_from"])
        except ValueError:
            problems.append((("expectations", "expected_from"), f"not a date: {expectations['expected_from']!r}"))
    for position, name in enumerate(raw.get("cluster_by", [])):
        if name not in types:
            problems.append((("cluster_by", position), f"unknown column {name!r}"))
    xml = raw["format"].get("xml")
    if xml is not None:
        for name in names:
            if name not in xml["fields"]:
                problems.append((("format", "xml", "fields"), f"no XML path for column {name!r}"))
        for name in xml["fields"]:
            if name not in types:
                problems.append((("format", "xml", "fields", name), f"XML path for undeclared column {name!r}"))
    column_set = set(names)
    for level in ("row", "file"):
        rules = raw.get("rules", {}).get(level, [])
        rule_names = [rule["name"] for rule in rules]
        for position, rule in enumerate(rules):
            where = ("rules", level, position)
            if rule_names.count(rule["name"]) > 1:
                problems.append(((*where, "name"), f"duplicate rule {rule['name']!r}"))
            try:
                check_expression(rule["expr"], column_set, aggregate=level == "file")
            except UnsafeExpressionError as error:
                problems.append(((*where, "expr"), str(error)))
    for target, expression in raw.get("trade_mapping", {}).items():
        if expression is None:
            continue
        try:
            check_expression(str(expression), column_set)
        except UnsafeExpressionError as error:
            problems.append((("trade_mapping", target), str(error)))
    return problems


SemanticCheck = Callable[[dict[str, Any]], list[tuple[tuple[str | int, ...], str]]]


def check_yaml_document(
    path: Path, schema: dict[str, Any], semantic_problems: SemanticCheck, kind: str
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parse a YAML spec, check it against its JSON Schema, then its own logic; problems name file:line and YAML path.

    Returns the parsed mapping when there are no problems. Source specs and stream specs share this.
    """
    text = path.read_text(encoding="utf-8")
    shown = str(path)
    try:
        raw = yaml.load(text, Loader=_SpecLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as error:
        return None, [(shown, "(document)", f"not valid YAML: {error}")]
    if not isinstance(raw, dict):
        return None, [(shown, "(document)", f"a {kind} must be a YAML mapping")]
    lines = _line_index(text)

    def located(parts: Sequence[str | int], message: str) -> Problem:
        line = lines.get(tuple(parts))
        return (f"{shown}:{line}" if line else shown, _yaml_path(parts), message)

    validator = jsonschema.Draft202012Validator(schema)
    schema_errors = sorted(validator.iter_errors(raw), key=lambda error: list(error.absolute_path))
    if schema_errors:
        return None, [located(list(error.absolute_path), error.message) for error in schema_errors]
    semantic = [located(parts, message) for parts, message in semantic_problems(raw)]
    if semantic:
        return None, semantic
    return raw, []


def check_spec_file(path: Path, specs_dir: Path) -> tuple[SourceSpec | None, list[Problem]]:
    """Parse and check one spec file; return the spec (if valid) and its problems."""

    def semantic(raw: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
        problems = _semantic_problems(raw)
        if raw["name"] != path.stem:
            problems.append((("name",), f"name {raw['name']!r} must match the file name {path.stem!r}"))
        return problems

    raw, problems = check_yaml_document(path, _schema(specs_dir), semantic, "spec")
    return (build_spec(raw, path), []) if raw is not None else (None, problems)


def spec_files(specs_dir: Path) -> list[Path]:
    """Every spec file under the specs folder, in a stable order."""
    return sorted(p for p in specs_dir.glob("*/*.yaml") if p.parent.name != "streaming")


def check_specs(specs_dir: Path, paths: Sequence[Path] = ()) -> tuple[list[SourceSpec], list[Problem]]:
    """Check the given spec files (default: all) and the rules that span specs."""
    specs: list[SourceSpec] = []
    problems: list[Problem] = []
    for path in paths or spec_files(specs_dir):
        spec, found = check_spec_file(path, specs_dir)
        problems.extend(found)
        if spec is not None:
            specs.append(spec)
    seen: dict[str, SourceSpec] = {}
    for spec in specs:
        if spec.name in seen:
            problems.append((str(spec.path), "name", f"source {spec.name!r} is also defined in {seen[spec.name].path}"))
        seen[spec.name] = spec
        example = spec.landing_key("20260101")
        for other in specs:
            if other is not spec and other.landing_regex().match(example):
                problems.append(
                    (str(spec.path), "landing.pattern", f"files of {spec.name!r} would also match {other.name!r}")
                )
    return specs, problems


def load_specs(specs_dir: Path) -> list[SourceSpec]:
    """All specs, or `SpecError` listing every problem."""
    specs, problems = check_specs(specs_dir)
    if problems:
        raise SpecError(problems)
    return specs


def find_spec(specs: Sequence[SourceSpec], name: str) -> SourceSpec:
    """The spec with this name, or `UnknownSourceError`."""
    for spec in specs:
        if spec.name == name:
            return spec
    raise UnknownSourceError(name)
