"""Control files: the sidecar stating a data file's row count and checksum."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from orchestrator.specs.model import ControlFile

_READ_BLOCK = 1 << 20


def file_checksum(path: Path, algorithm: str) -> str:
    """Lowercase hex digest of the file's bytes as stored (compressed bytes for gzip files)."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def control_text(control: ControlFile, row_count: int, checksum: str | None) -> str:
    """The control file's content in its declared format."""
    fields: dict[str, int | str] = {control.row_count_field: row_count}
    if control.checksum_field and checksum is not None:
        fields[control.checksum_field] = checksum
    match control.format:
        case "xml":
            elements = "".join(f"  <{name}>{value}</{name}>\n" for name, value in fields.items())
            return f'<?xml version="1.0" encoding="UTF-8"?>\n<Control>\n{elements}</Control>\n'
        case "json":
            return json.dumps(fields, indent=2) + "\n"
        case _:
            return ",".join(fields) + "\n" + ",".join(str(value) for value in fields.values()) + "\n"


def write_control_file(control: ControlFile, path: Path, data_path: Path, row_count: int) -> None:
    """Write the control file for a finished data file, stating `row_count` rows."""
    checksum = file_checksum(data_path, control.checksum_algorithm) if control.checksum_algorithm else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(control_text(control, row_count, checksum), encoding="utf-8", newline="\n")
