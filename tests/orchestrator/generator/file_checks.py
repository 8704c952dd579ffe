"""Read a generated file back and list, per row, which declared constraints and row rules it breaks.

Independent of the validator on purpose: it states the spec's contract in the plainest DuckDB SQL.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from lxml import etree

from orchestrator.generator.codes import CodeLists
from orchestrator.generator.identifiers import is_valid_cusip, is_valid_isin, is_valid_lei
from orchestrator.specs.model import Column, SourceSpec

_CHECK_DIGIT_FUNCTIONS: dict[str, Callable[[str], bool]] = {
    "isin": is_valid_isin,
    "lei": is_valid_lei,
    "cusip": is_valid_cusip,
}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str | float) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def _xml_value(row: etree._Element, path: str) -> str | None:
    if path.startswith("@"):
        return row.get(path[1:])
    if "/@" in path:
        child_path, attribute = path.split("/@", 1)
        child = row.find(child_path)
        return None if child is None else child.get(attribute)
    return row.findtext(path)


def _read_xml(spec: SourceSpec, data: bytes) -> pa.Table:
    root = etree.fromstring(data, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    rows = root.findall(spec.format.xml_row_element or "Row")
    return pa.table(
        {
            name: pa.array([_xml_value(row, spec.format.xml_fields[name]) for row in rows], pa.string())
            for name in spec.column_names
        }
    )


def read_rows(spec: SourceSpec, path: Path) -> pa.Table:
    """Every record of a generated file as text columns in the spec's column order, in file order."""
    data = path.read_bytes()
    if spec.format.compression == "gzip":
        data = gzip.decompress(data)
    if spec.format.type == "parquet":
        table = pq.read_table(path)
    elif spec.format.type == "xml":
        table = _read_xml(spec, data)
    elif spec.format.type == "jsonl":
        records = [json.loads(line) for line in data.decode(spec.format.encoding).splitlines()]
        table = pa.table(
            {name: pa.array([record[name] for record in records], pa.string()) for name in spec.column_names}
        )
    else:
        columns = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in spec.column_names)
        options = (
            f"header = {str(spec.format.header).lower()}, delim = {_literal(spec.format.delimiter)}, "
            f"auto_detect = false, columns = {{{columns}}}, encoding = {_literal(spec.format.encoding)}, "
            f"compression = {_literal(spec.format.compression)}"
        )
        with duckdb.connect() as con:
            table = con.sql(f"select * from read_csv({_literal(str(path))}, {options})").to_arrow_table()
    assert table.column_names == list(spec.column_names)
    return table


def _typed(column: Column) -> str:
    raw = _quote(column.name)
    match column.type:
        case "integer":
            return f"try_cast({raw} as bigint)"
        case "decimal":
            return f"try_cast({raw} as decimal(38,9))"
        case "boolean":
            return f"try_cast({raw} as boolean)"
        case "date":
            return f"cast(try_strptime({raw}, {_literal(column.format or '')}) as date)"
        case "timestamp":
            return f"cast(try_strptime({raw}, {_literal(column.format or '')}) as timestamp)"
        case _:
            return raw


def _column_checks(column: Column, codes: CodeLists) -> dict[str, str]:
    """Check name -> SQL that is true when a row breaks it (raw text in `r_<name>`, typed value in `<name>`)."""
    raw, typed = _quote("r_" + column.name), _quote(column.name)
    checks = {}
    if not column.nullable:
        checks[f"not_null:{column.name}"] = f"{raw} is null"
    if column.type != "string":
        checks[f"type:{column.name}"] = f"{raw} is not null and {typed} is null"
    if column.allowed_values:
        checks[f"allowed:{column.name}"] = f"{typed} not in ({', '.join(_literal(v) for v in column.allowed_values)})"
    if column.min is not None:
        checks[f"min:{column.name}"] = f"{typed} < {column.min!r}"
    if column.max is not None:
        checks[f"max:{column.name}"] = f"{typed} > {column.max!r}"
    if column.regex:
        checks[f"regex:{column.name}"] = f"not regexp_full_match({raw}, {_literal(column.regex)})"
    if column.id_format in _CHECK_DIGIT_FUNCTIONS:
        checks[f"{column.id_format}:{column.name}"] = f"not valid_{column.id_format}({raw})"
    elif column.id_format:
        valid = codes.currencies if column.id_format == "currency" else codes.mics
        checks[f"{column.id_format}:{column.name}"] = f"{raw} not in ({', '.join(_literal(code) for code in valid)})"
    return checks


def broken_checks(spec: SourceSpec, rows: pa.Table, codes: CodeLists) -> list[tuple[list[str], list[str]]]:
    """Per row: (error checks it breaks, warning rules it breaks); NULL comparisons do not count as broken."""
    errors: dict[str, str] = {}
    for column in spec.columns:
        errors.update(_column_checks(column, codes))
    warnings: dict[str, str] = {}
    for rule in spec.row_rules:
        (errors if rule.severity == "error" else warnings)[rule.name] = f"not coalesce(({rule.expr}), false)"

    def flagged(checks: dict[str, str]) -> str:
        items = ", ".join(f"case when ({sql}) is true then {_literal(name)} end" for name, sql in checks.items())
        return f"list_filter([{items}], lambda name: name is not null)" if checks else "cast([] as varchar[])"

    raw = ", ".join(f"{_quote(name)} as {_quote('r_' + name)}" for name in spec.column_names)
    typed = ", ".join(f"{_typed(column)} as {_quote(column.name)}" for column in spec.columns)
    with duckdb.connect() as con:
        for id_format, function in _CHECK_DIGIT_FUNCTIONS.items():
            con.create_function(f"valid_{id_format}", function, ["VARCHAR"], "BOOLEAN")
        con.register("text_rows", rows)
        con.execute(f"create table typed as select {raw}, {typed} from text_rows")
        result = con.sql(f"select {flagged(errors)}, {flagged(warnings)} from typed").fetchall()
    return [(list(row_errors), list(row_warnings)) for row_errors, row_warnings in result]
