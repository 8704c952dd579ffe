"""Read a landed file into the DuckDB table `raw_input`: one VARCHAR column per field, plus `_row_number`.

Records that cannot be split into fields (wrong field count, malformed JSON) are returned as
structural rejects with their record number, so they are quarantined rather than lost.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import duckdb
import pyarrow as pa
from lxml import etree

from orchestrator.specs.model import SourceSpec

XML_CHUNK_ROWS = 50_000


class UnreadableFileError(Exception):
    """The file cannot be read at all (corrupt compression, not well-formed XML, ...)."""


@dataclass
class StructuralReject:
    """A record that could not be split into fields."""

    row_number: int
    raw: str
    reason: str


@dataclass
class ReadResult:
    """What reading found: the columns present in the file and the records it could not parse."""

    present_columns: list[str]
    rejects: list[StructuralReject] = field(default_factory=list)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_csv(connection: duckdb.DuckDBPyConnection, path: Path, spec: SourceSpec) -> ReadResult:
    """Parallel CSV read with DuckDB; malformed lines become rejects with their record number."""
    fmt = spec.format
    options = [
        f"header = {str(fmt.header).lower()}",
        f"delim = {_literal(fmt.delimiter)}",
        "all_varchar = true",
        f"compression = {_literal('gzip' if fmt.compression == 'gzip' else 'none')}",
        f"encoding = {_literal('latin-1' if fmt.encoding == 'latin-1' else 'utf-8')}",
        "store_rejects = true",
        "rejects_table = 'csv_rejects'",
        "rejects_scan = 'csv_scans'",
        "null_padding = false",
    ]
    if not fmt.header:
        names = ", ".join(_literal(name) for name in spec.column_names)
        options.append(f"names = [{names}]")
    source = f"read_csv({_literal(str(path))}, {', '.join(options)})"
    try:
        connection.execute(f"create table raw_lines as select * from {source}")
    except duckdb.Error as error:
        raise UnreadableFileError(f"cannot read CSV: {error}") from error
    columns = [row[0] for row in connection.execute("select column_name from (describe raw_lines)").fetchall()]
    renamed = ", ".join(f"{_quote(column)} as {_quote(column.strip().lower())}" for column in columns)
    header_lines = 1 if fmt.header else 0
    rejects = connection.execute(
        f"select distinct on (line) line - {header_lines}, csv_line, error_type || ': ' || error_message "
        "from csv_rejects order by line"
    ).fetchall()
    if rejects:
        # Good rows are numbered around the rejected ones: record g sits after every reject
        # that has fewer than g good records before it.
        connection.execute(
            "create table reject_positions as select position, position - row_number() over (order by position) "
            "as good_before from (select unnest(?) as position)",
            [[row[0] for row in rejects]],
        )
        numbering = "rowid + 1 + (select count(*) from reject_positions p where p.good_before < raw_lines.rowid + 1)"
    else:
        numbering = "rowid + 1"
    # A view: numbering and renaming cost nothing until the checks read the rows once.
    connection.execute(f"create view raw_input as select {numbering} as _row_number, {renamed} from raw_lines")
    return ReadResult(
        present_columns=[column.strip().lower() for column in columns],
        rejects=[
            StructuralReject(int(number), str(line), f"malformed_record: {message}")
            for number, line, message in rejects
        ],
    )


def read_jsonl(connection: duckdb.DuckDBPyConnection, path: Path, spec: SourceSpec) -> ReadResult:
    """One JSON object per line; lines that are not JSON objects become rejects."""
    compression = "gzip" if spec.format.compression == "gzip" else "none"
    try:
        connection.execute(
            f"create table json_text as select line from read_csv({_literal(str(path))}, "
            "columns = {'line': 'VARCHAR'}, header = false, delim = '\x1f', quote = '', escape = '', "
            f"auto_detect = false, compression = {_literal(compression)})"
        )
        # The insert keeps file order, so rowid is the line's position.
        connection.execute("create table json_lines as select rowid + 1 as _row_number, line from json_text")
    except duckdb.Error as error:
        raise UnreadableFileError(f"cannot read JSON lines: {error}") from error
    connection.execute(
        "create table json_checked as select _row_number, line, "
        "coalesce(case when json_valid(line) then json_type(line) = 'OBJECT' else false end, false) as is_object "
        "from json_lines"
    )
    rejects = connection.execute(
        "select _row_number, line from json_checked where not is_object order by _row_number"
    ).fetchall()
    present = [
        row[0]
        for row in connection.execute(
            "select distinct key from (select unnest(json_keys(line)) as key from json_checked where is_object) "
            "order by key"
        ).fetchall()
    ]
    fields = ", ".join(f"line ->> {_literal(name)} as {_quote(name)}" for name in present)
    connection.execute(
        f"create table raw_input as select _row_number{', ' + fields if fields else ''} "
        "from json_checked where is_object"
    )
    connection.execute("drop table json_text; drop table json_lines; drop table json_checked")
    return ReadResult(
        present_columns=present,
        rejects=[
            StructuralReject(int(number), str(line or ""), "malformed_record: not a JSON object")
            for number, line in rejects
        ],
    )


def read_parquet(connection: duckdb.DuckDBPyConnection, path: Path, spec: SourceSpec) -> ReadResult:
    """Parquet: every column cast to text so the same checks apply."""
    try:
        columns = [
            row[0]
            for row in connection.execute(
                f"select column_name from (describe select * from read_parquet({_literal(str(path))}))"
            ).fetchall()
        ]
        casts = ", ".join(f"cast({_quote(column)} as varchar) as {_quote(column.lower())}" for column in columns)
        connection.execute(
            f"create table raw_input as select file_row_number + 1 as _row_number, {casts} "
            f"from read_parquet({_literal(str(path))}, file_row_number = true)"
        )
    except duckdb.Error as error:
        raise UnreadableFileError(f"cannot read Parquet: {error}") from error
    return ReadResult(present_columns=[column.lower() for column in columns])


def _xml_getter(path: str) -> Callable[[etree._Element], str | None]:
    """A function extracting one field from a row element by a simple path."""
    if path.startswith("@"):
        attribute = path[1:]
        return lambda element: element.get(attribute)
    if "/@" in path:
        child_path, attribute = path.split("/@", 1)

        def child_attribute(element: etree._Element) -> str | None:
            child = element.find(child_path)
            return None if child is None else child.get(attribute)

        return child_attribute
    return lambda element: element.findtext(path)


def _open_text(path: Path, compressed: bool) -> IO[bytes] | gzip.GzipFile:
    if compressed:
        return gzip.open(path, "rb")
    return path.open("rb")


def _xml_rows(path: Path, spec: SourceSpec, seen_names: set[str]) -> Iterator[list[str | None]]:
    getters = [_xml_getter(spec.format.xml_fields[name]) for name in spec.column_names]
    row_element = spec.format.xml_row_element
    with _open_text(path, spec.format.compression == "gzip") as stream:
        events = etree.iterparse(
            stream, events=("end",), tag=row_element, resolve_entities=False, no_network=True, huge_tree=False
        )
        for _, element in events:
            seen_names.update(child.tag for child in element if isinstance(child.tag, str))
            seen_names.update("@" + str(name) for name in element.attrib)
            yield [getter(element) for getter in getters]
            # Free what has been read so memory stays flat whatever the file size.
            element.clear(keep_tail=False)
            while element.getprevious() is not None:
                parent = element.getparent()
                if parent is None:
                    break
                del parent[0]


def read_xml(connection: duckdb.DuckDBPyConnection, path: Path, spec: SourceSpec) -> ReadResult:
    """Stream row elements with lxml in chunks; memory stays bounded."""
    names = list(spec.column_names)
    types: dict[str, pa.DataType] = {"_row_number": pa.int64(), **{name: pa.string() for name in names}}
    schema = pa.schema(types)
    body = ", ".join(f"{_quote(name)} varchar" for name in names)
    connection.execute(f"create table raw_input (_row_number bigint, {body})")
    seen: set[str] = set()
    buffer: list[list[str | None]] = []
    row_number = 0

    def flush() -> None:
        columns = list(zip(*buffer, strict=True)) if buffer else [() for _ in names]
        numbers = pa.array(range(row_number - len(buffer) + 1, row_number + 1), pa.int64())
        chunk = pa.Table.from_arrays([numbers, *[pa.array(column, pa.string()) for column in columns]], schema=schema)
        connection.register("xml_chunk", chunk)
        connection.execute("insert into raw_input select * from xml_chunk")
        connection.unregister("xml_chunk")
        buffer.clear()

    try:
        for values in _xml_rows(path, spec, seen):
            buffer.append(values)
            row_number += 1
            if len(buffer) >= XML_CHUNK_ROWS:
                flush()
    except (etree.XMLSyntaxError, OSError, EOFError) as error:
        raise UnreadableFileError(f"cannot read XML: {error}") from error
    if buffer:
        flush()
    declared_roots = {spec.format.xml_fields[name].split("/", 1)[0] for name in names}
    present = list(names) + sorted(seen - declared_roots)
    return ReadResult(present_columns=present)


READERS: dict[str, Callable[[duckdb.DuckDBPyConnection, Path, SourceSpec], ReadResult]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "xml": read_xml,
}


def read_into_duckdb(connection: duckdb.DuckDBPyConnection, path: Path, spec: SourceSpec) -> ReadResult:
    """Load the landed file into `raw_input` with the reader for its format."""
    return READERS[spec.format.type](connection, path, spec)
