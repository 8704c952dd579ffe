"""Deliberate defects: rows that break a declared constraint or row rule, and control files that lie.

Every broken row breaks exactly one thing, chosen round-robin from the ways the spec can be broken,
most telling first (a bad check digit before a missing value).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa

from orchestrator.generator.codes import CodeLists
from orchestrator.specs.model import Column, SourceSpec
from orchestrator.specs.sql_guard import check_expression, referenced_columns

Row = dict[str, str | None]

# Real identifiers used when the value to corrupt is NULL.
_EXAMPLE_IDS = {"isin": "US0378331005", "cusip": "037833100", "lei": "HWUPKR0MPOU8FGXBT394"}
_UNKNOWN_CODES = {"currency": ("ZZZ", "QQQ", "XYZ"), "mic": ("ZZZZ", "QQQQ", "XYZW")}
_REGEX_BREAKERS = ("#", "~ ", "")
NOT_A_DATE = "not-a-date"
NOT_A_NUMBER = "n/a"
NOT_A_BOOLEAN = "maybe"
NOTIONAL_ERROR = Decimal(1000)
SETTLEMENT_DAYS_EARLY = 5


@dataclass(frozen=True)
class Faults:
    """Defects to put in a generated file; `seq` numbers the file within its business date."""

    bad_rows: int = 0
    control_count_delta: int = 0
    seq: str = "001"


@dataclass(frozen=True)
class Breakage:
    """One way to break a row: the column it rewrites, the columns it reads, and the new value."""

    column: str
    kind: str
    reads: tuple[str, ...]
    value: Callable[[Row], str | None]


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text is not None else None
    except InvalidOperation:
        return None


def _bumped_digits(text: str, width: int) -> str:
    """The text with its last `width` digits incremented (modulo), which breaks a check digit."""
    return text[:-width] + f"{(int(text[-width:]) + 1) % 10**width:0{width}d}"


def _check_digit_breakage(column: Column) -> Breakage | None:
    if column.id_format not in _EXAMPLE_IDS:
        return None
    width = 2 if column.id_format == "lei" else 1
    example = _EXAMPLE_IDS[column.id_format]
    return Breakage(
        column.name,
        f"bad_{column.id_format}_check_digit",
        (),
        lambda row: _bumped_digits(row[column.name] or example, width),
    )


def _unknown_code_breakage(column: Column, codes: CodeLists) -> Breakage | None:
    if column.id_format not in _UNKNOWN_CODES:
        return None
    known = set(codes.currencies if column.id_format == "currency" else codes.mics)
    unknown = next((code for code in _UNKNOWN_CODES[column.id_format] if code not in known), None)
    if unknown is None:
        return None
    return Breakage(column.name, f"unknown_{column.id_format}", (), lambda row: unknown)


def _not_allowed_breakage(column: Column) -> Breakage | None:
    if not column.allowed_values:
        return None
    allowed = {str(value) for value in column.allowed_values}
    if column.type in ("integer", "decimal"):
        bad = str(max(Decimal(str(value)) for value in column.allowed_values) + 1)
    else:
        bad = next(candidate for candidate in ("UNKNOWN", "UNKNOWN_VALUE", "?") if candidate not in allowed)
    return Breakage(column.name, "value_not_allowed", (), lambda row: bad)


def _below_min_breakage(column: Column) -> Breakage | None:
    if column.min is None or column.type not in ("integer", "decimal"):
        return None
    minimum = Decimal(str(column.min))

    def below(row: Row) -> str:
        value = _decimal(row[column.name])
        negated = -abs(value) if value is not None else None
        return str(negated if negated is not None and negated < minimum else minimum - 1)

    return Breakage(column.name, "below_min", (), below)


def _above_max_breakage(column: Column) -> Breakage | None:
    if column.max is None or column.type not in ("integer", "decimal"):
        return None
    too_high = str(Decimal(str(column.max)) + 1)
    return Breakage(column.name, "above_max", (), lambda row: too_high)


def _regex_breakage(column: Column) -> Breakage | None:
    if not column.regex:
        return None
    pattern = re.compile(column.regex)

    def mismatch(row: Row) -> str:
        value = row[column.name] or ""
        return next((prefix + value for prefix in _REGEX_BREAKERS if not pattern.search(prefix + value)), "#")

    if pattern.search("#"):
        return None
    return Breakage(column.name, "regex_mismatch", (), mismatch)


def _unparseable_breakage(column: Column) -> Breakage | None:
    garbage = {"date": NOT_A_DATE, "timestamp": NOT_A_DATE, "integer": NOT_A_NUMBER, "decimal": NOT_A_NUMBER}
    bad = garbage.get(column.type, NOT_A_BOOLEAN if column.type == "boolean" else None)
    if bad is None:
        return None
    return Breakage(column.name, f"unparseable_{column.type}", (), lambda row: bad)


def _null_breakage(column: Column) -> Breakage | None:
    if column.nullable:
        return None
    return Breakage(column.name, "null_in_required_column", (), lambda row: None)


def _error_rule_columns(spec: SourceSpec) -> list[set[str]]:
    """The columns each error-severity row rule reads."""
    names = set(spec.column_names)
    return [
        referenced_columns(check_expression(rule.expr, names)) for rule in spec.row_rules if rule.severity == "error"
    ]


def _rule_breakages(spec: SourceSpec, role_columns: dict[str, str], notional: str | None) -> list[Breakage]:
    """Breaks of error rules the generator understands: a notional that is off, a settlement before the trade."""
    breakages = []
    rule_columns = _error_rule_columns(spec)
    if notional and any(notional in used for used in rule_columns):

        def wrong_notional(row: Row) -> str:
            return str((_decimal(row[notional]) or Decimal(0)) + NOTIONAL_ERROR)

        breakages.append(Breakage(notional, "notional_mismatch", (), wrong_notional))
    settle, trade = role_columns.get("settlement_date"), role_columns.get("trade_date")
    by_name = {column.name: column for column in spec.columns}
    if settle and trade and any({settle, trade} <= used for used in rule_columns):
        settle_format = by_name[settle].format or "%Y-%m-%d"
        trade_format = by_name[trade].format or "%Y-%m-%d"

        def early_settlement(row: Row) -> str:
            traded = datetime.strptime(row[trade] or "", trade_format)
            return (traded - timedelta(days=SETTLEMENT_DAYS_EARLY)).strftime(settle_format)

        breakages.append(Breakage(settle, "settles_before_trade_date", (trade,), early_settlement))
    return breakages


def plan_breakages(
    spec: SourceSpec, codes: CodeLists, role_columns: dict[str, str], notional: str | None = None
) -> list[Breakage]:
    """Every way to break a row of this spec, most telling first."""
    per_column: list[Callable[[Column], Breakage | None]] = [
        _check_digit_breakage,
        lambda column: _unknown_code_breakage(column, codes),
        _not_allowed_breakage,
        _below_min_breakage,
    ]
    later: list[Callable[[Column], Breakage | None]] = [
        _regex_breakage,
        _above_max_breakage,
        _unparseable_breakage,
        _null_breakage,
    ]
    found = [breakage for make in per_column for column in spec.columns if (breakage := make(column))]
    found += _rule_breakages(spec, role_columns, notional)
    found += [breakage for make in later for column in spec.columns if (breakage := make(column))]
    return found


def bad_row_positions(rows: int, bad_rows: int) -> np.ndarray:
    """`min(bad_rows, rows)` distinct row positions spread evenly over the file."""
    count = min(max(bad_rows, 0), rows)
    positions: np.ndarray = (
        (2 * np.arange(count, dtype=np.int64) + 1) * rows // (2 * count) if count else np.zeros(0, np.int64)
    )
    return positions


def break_rows(text: pa.Table, first_row: int, planned: list[tuple[int, Breakage]]) -> pa.Table:
    """The chunk with each planned (file row position, breakage) applied."""
    edits: dict[str, dict[int, str | None]] = {}
    for position, breakage in planned:
        local = position - first_row
        row = {name: text.column(name)[local].as_py() for name in (breakage.column, *breakage.reads)}
        edits.setdefault(breakage.column, {})[local] = breakage.value(row)
    for name, changes in edits.items():
        values = text.column(name).to_pylist()
        for local, value in changes.items():
            values[local] = value
        text = text.set_column(text.schema.get_field_index(name), name, pa.array(values, pa.string()))
    return text
