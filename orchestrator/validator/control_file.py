"""Parse a sidecar control file: the row count and checksum the sender claims."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from lxml import etree

from orchestrator.specs.model import ControlFile


class ControlFileError(Exception):
    """The control file cannot be read or lacks a declared field."""


@dataclass(frozen=True)
class ControlValues:
    """What the sender's control file states."""

    row_count: int
    checksum: str | None


def _fields(data: bytes, control: ControlFile) -> dict[str, str]:
    if control.format == "json":
        parsed = json.loads(data)
        if not isinstance(parsed, dict):
            raise ControlFileError("JSON control file must be an object")
        return {str(key): str(value) for key, value in parsed.items()}
    if control.format == "csv":
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
        if len(rows) != 1:
            raise ControlFileError(f"CSV control file must have one value row, found {len(rows)}")
        return {key: value for key, value in rows[0].items() if key is not None}
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser=parser)
    wanted = [name for name in (control.row_count_field, control.checksum_field) if name]
    return {name: text for name in wanted if (text := root.findtext(f".//{name}")) is not None}


def parse_control_file(data: bytes, control: ControlFile) -> ControlValues:
    """Row count and checksum from a control file, or `ControlFileError`."""
    try:
        fields = _fields(data, control)
    except (ValueError, UnicodeDecodeError, etree.XMLSyntaxError, csv.Error) as error:
        raise ControlFileError(f"unreadable control file: {error}") from error
    if control.row_count_field not in fields:
        raise ControlFileError(f"control file has no {control.row_count_field!r}")
    try:
        row_count = int(fields[control.row_count_field].strip())
    except ValueError as error:
        raise ControlFileError(f"{control.row_count_field!r} is not a whole number") from error
    checksum = None
    if control.checksum_field:
        if control.checksum_field not in fields:
            raise ControlFileError(f"control file has no {control.checksum_field!r}")
        checksum = fields[control.checksum_field].strip().lower()
    return ControlValues(row_count=row_count, checksum=checksum)
