"""Typed view of a source spec, built from YAML that passed the JSON Schema."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ColumnType = Literal["string", "integer", "decimal", "date", "timestamp", "boolean"]
Severity = Literal["error", "warning"]

# The canonical trade model every trade source maps onto, in extract column order.
CANONICAL_TRADE_FIELDS: tuple[str, ...] = (
    "source_trade_id",
    "trade_version",
    "event_type",
    "trade_date",
    "executed_at",
    "settlement_date",
    "isin",
    "side",
    "quantity",
    "price",
    "currency",
    "trader_id",
    "book_id",
    "counterparty_lei",
    "venue_mic",
)

_PLACEHOLDERS = {
    "{business_date}": r"(?P<business_date>\d{8})",
    "{seq}": r"(?P<seq>[A-Za-z0-9_-]+)",
}


@dataclass(frozen=True)
class Column:
    """One declared column and its row-level constraints."""

    name: str
    type: ColumnType
    nullable: bool = True
    allowed_values: tuple[str | float, ...] = ()
    min: float | None = None
    max: float | None = None
    regex: str | None = None
    format: str | None = None
    id_format: str | None = None


@dataclass(frozen=True)
class Rule:
    """A named SQL boolean expression; true means the rule holds."""

    name: str
    expr: str
    severity: Severity = "error"


@dataclass(frozen=True)
class ControlFile:
    """The sidecar file that states a data file's row count and checksum."""

    required: bool
    pattern: str
    format: Literal["xml", "json", "csv"]
    row_count_field: str
    checksum_field: str | None = None
    checksum_algorithm: Literal["md5", "sha256"] | None = None


@dataclass(frozen=True)
class FileFormat:
    """How to read a landed file."""

    type: Literal["csv", "jsonl", "xml", "parquet"]
    compression: Literal["none", "gzip"] = "none"
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    xml_row_element: str | None = None
    xml_fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Expectations:
    """When and how much a source is expected to deliver."""

    frequency: Literal["daily", "weekdays"]
    expected_by: str
    expected_from: dt.date | None = None
    min_files_per_day: int = 1
    max_files_per_day: int = 1
    typical_rows: tuple[int, int] | None = None
    max_file_size_mb: float | None = None


@dataclass(frozen=True)
class SourceSpec:
    """One source: where its files land, how to read and check them, how they map."""

    name: str
    kind: Literal["trade", "reference"]
    owner: str
    domain: str
    description: str
    landing_pattern: str
    format: FileFormat
    control: ControlFile | None
    columns: tuple[Column, ...]
    unexpected_columns: Literal["fail", "warn", "ignore"]
    missing_columns: Literal["fail", "allow_nullable"]
    expectations: Expectations
    row_rules: tuple[Rule, ...]
    file_rules: tuple[Rule, ...]
    source_system: str
    source_id_field: str
    version_field: str | None
    business_date_field: str | None
    cluster_by: tuple[str, ...]
    trade_mapping: dict[str, str | None]
    path: Path

    @property
    def column_names(self) -> tuple[str, ...]:
        """Declared column names in order."""
        return tuple(column.name for column in self.columns)

    def landing_regex(self) -> re.Pattern[str]:
        """Regex matching this source's landing keys, capturing business_date and seq."""
        pattern = re.escape(self.landing_pattern)
        for placeholder, group in _PLACEHOLDERS.items():
            pattern = pattern.replace(re.escape(placeholder), group)
        return re.compile(f"^{pattern}$")

    def control_regex(self) -> re.Pattern[str] | None:
        """Regex matching this source's control file keys, or None without a control file."""
        if self.control is None:
            return None
        folder, _, file_name = self.landing_pattern.rpartition("/")
        stem = re.escape(file_name.split(".", 1)[0])
        for placeholder, group in _PLACEHOLDERS.items():
            stem = stem.replace(re.escape(placeholder), group.replace("?P<business_date>", "").replace("?P<seq>", ""))
        name = re.escape(self.control.pattern).replace(re.escape("{stem}"), stem)
        return re.compile(f"^{re.escape(folder + '/') if folder else ''}{name}$")

    def landing_key(self, business_date: str, seq: str = "001") -> str:
        """The landing key of a file for a business date (YYYYMMDD) and sequence."""
        return self.landing_pattern.replace("{business_date}", business_date).replace("{seq}", seq)


def stem_of(key: str) -> str:
    """A file name without folders and without its extensions (`a/b.csv.gz` -> `b`)."""
    return key.rsplit("/", 1)[-1].split(".", 1)[0]


def control_key_for(spec: SourceSpec, data_key: str) -> str | None:
    """The landing key of the control file that belongs to a data file."""
    if spec.control is None:
        return None
    folder = data_key.rsplit("/", 1)[0] + "/" if "/" in data_key else ""
    return folder + spec.control.pattern.replace("{stem}", stem_of(data_key))


def build_spec(raw: dict[str, Any], path: Path) -> SourceSpec:
    """Turn a schema-valid spec mapping into a `SourceSpec`."""
    fmt = raw["format"]
    xml = fmt.get("xml", {})
    control = raw.get("control")
    drift = raw.get("schema_drift", {})
    expectations = raw["expectations"]
    rules = raw.get("rules", {})
    identity = raw["identity"]
    typical = expectations.get("typical_rows")
    return SourceSpec(
        name=raw["name"],
        kind=raw["kind"],
        owner=raw["owner"],
        domain=raw["domain"],
        description=raw["description"],
        landing_pattern=raw["landing"]["pattern"],
        format=FileFormat(
            type=fmt["type"],
            compression=fmt.get("compression", "none"),
            encoding=fmt.get("encoding", "utf-8"),
            delimiter=fmt.get("delimiter", ","),
            header=fmt.get("header", True),
            xml_row_element=xml.get("row_element"),
            xml_fields=dict(xml.get("fields", {})),
        ),
        control=ControlFile(**control) if control else None,
        columns=tuple(
            Column(**{**column, "allowed_values": tuple(column.get("allowed_values", ()))}) for column in raw["columns"]
        ),
        unexpected_columns=drift.get("unexpected_columns", "fail"),
        missing_columns=drift.get("missing_columns", "fail"),
        expectations=Expectations(
            frequency=expectations["frequency"],
            expected_by=expectations["expected_by"],
            expected_from=dt.date.fromisoformat(expectations["expected_from"])
            if "expected_from" in expectations
            else None,
            min_files_per_day=expectations.get("min_files_per_day", 1),
            max_files_per_day=expectations.get("max_files_per_day", 1),
            typical_rows=(typical[0], typical[1]) if typical else None,
            max_file_size_mb=expectations.get("max_file_size_mb"),
        ),
        row_rules=tuple(Rule(**rule) for rule in rules.get("row", [])),
        file_rules=tuple(Rule(**rule) for rule in rules.get("file", [])),
        source_system=identity["source_system"],
        source_id_field=identity["source_id_field"],
        version_field=identity.get("version_field"),
        business_date_field=identity.get("business_date_field"),
        cluster_by=tuple(raw.get("cluster_by", ())),
        trade_mapping=dict(raw.get("trade_mapping", {})),
        path=path,
    )
