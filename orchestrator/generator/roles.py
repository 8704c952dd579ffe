"""Which source column plays which canonical trade role, and how the source encodes its values.

The spec's `trade_mapping` holds SQL over source columns. Evaluating that SQL with DuckDB over
candidate raw values tells the generator what to write: the raw code that maps to `AMEND`, or
the raw version that maps to version 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
from sqlglot import exp

from orchestrator.generator.exceptions import GeneratorError
from orchestrator.specs.model import Column, SourceSpec
from orchestrator.specs.sql_guard import check_expression, referenced_columns
from orchestrator.warehouse.control_tables import DUCKDB_TYPES

EVENTS = ("NEW", "AMEND", "CANCEL")
SIDES = ("BUY", "SELL")
CATEGORICAL_ROLES = {"event_type": EVENTS, "side": SIDES}
NUMERIC_ROLES = ("trade_version", "quantity", "price")


@dataclass(frozen=True)
class TradeRoles:
    """Source columns by canonical role, with the encodings needed to write canonical values."""

    columns: dict[str, str]
    codes: dict[str, dict[str, str | float]] = field(default_factory=dict)
    linear: dict[str, tuple[float, float]] = field(default_factory=dict)

    def raw_numbers(self, role: str, canonical: np.ndarray) -> np.ndarray:
        """The raw values whose mapping gives the canonical numbers (mapping = slope * raw + intercept)."""
        slope, intercept = self.linear.get(role, (1.0, 0.0))
        raw: np.ndarray = (canonical.astype(np.float64) - intercept) / slope
        return raw


def _evaluate(con: duckdb.DuckDBPyConnection, expression: str, column: Column, raw: object) -> object:
    """The mapping expression's value for one raw value of its single source column."""
    sql = f'select {expression} from (select cast(? as {DUCKDB_TYPES[column.type]}) as "{column.name}")'
    try:
        row = con.execute(sql, [raw]).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _categorical_codes(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, role: str, expression: str, column: Column
) -> dict[str, str | float]:
    """Canonical value -> first raw value (in declared order) that the mapping turns into it."""
    candidates = column.allowed_values or CATEGORICAL_ROLES[role]
    codes: dict[str, str | float] = {}
    for raw in candidates:
        mapped = _evaluate(con, expression, column, raw)
        if mapped is not None:
            codes.setdefault(str(mapped), raw)
    if role == "side" and not all(side in codes for side in SIDES):
        raise GeneratorError(f"source={spec.name}: no raw value of {column.name!r} maps to both BUY and SELL")
    if role == "event_type" and "NEW" not in codes:
        raise GeneratorError(f"source={spec.name}: no raw value of {column.name!r} maps to event NEW")
    return codes


def _linear(con: duckdb.DuckDBPyConnection, expression: str, column: Column) -> tuple[float, float] | None:
    """(slope, intercept) when the mapping is linear in its column, else None."""
    try:
        at_zero, at_one, at_two = (float(str(_evaluate(con, expression, column, raw))) for raw in (0, 1, 2))
    except ValueError:
        return None
    slope = at_one - at_zero
    if slope == 0 or abs(at_two - (at_zero + 2 * slope)) > 1e-9:
        return None
    return slope, at_zero


def resolve_roles(spec: SourceSpec) -> TradeRoles:
    """The roles a trade spec's columns play; mappings that cannot be inverted leave their column role-less."""
    by_name = {column.name: column for column in spec.columns}
    columns: dict[str, str] = {}
    codes: dict[str, dict[str, str | float]] = {}
    linear: dict[str, tuple[float, float]] = {}
    with duckdb.connect() as con:
        for role, expression in spec.trade_mapping.items():
            if expression is None:
                continue
            tree = check_expression(str(expression), set(by_name))
            used = referenced_columns(tree)
            if len(used) != 1:
                continue  # a constant (murex's venue 'XOFF') or a combination: nothing to write for it
            column = by_name[used.pop()]
            if role in CATEGORICAL_ROLES:
                codes[role] = _categorical_codes(con, spec, role, str(expression), column)
            elif isinstance(tree, exp.Column):
                pass
            elif role in NUMERIC_ROLES and (line := _linear(con, str(expression), column)) is not None:
                linear[role] = line
            else:
                continue
            columns[role] = column.name
    return TradeRoles(columns=columns, codes=codes, linear=linear)
