"""Typed values for a column that plays no known role, drawn from its declared constraints alone."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.generator.codes import CodeLists
from orchestrator.generator.identifiers import is_valid_cusip, is_valid_isin, is_valid_lei
from orchestrator.generator.names import FIRM_STEMS
from orchestrator.generator.patterns import parse_pattern
from orchestrator.generator.universe import Universe
from orchestrator.specs.model import Column

NULL_SHARE = 0.02
MAX_DECIMALS = 6
DAY_MICROSECONDS = 86_400_000_000


@dataclass(frozen=True)
class Pools:
    """The valid identifiers the universe offers, by `id_format`."""

    isin: pa.Array[Any]
    lei: pa.Array[Any]
    cusip: pa.Array[Any]
    mic: pa.Array[Any]
    currency: pa.Array[Any]

    def of(self, id_format: str) -> pa.Array[Any]:
        """The pool for one id_format."""
        pool: pa.Array[Any] = getattr(self, id_format)
        return pool


def pools_for(universe: Universe) -> Pools:
    """Identifier pools drawn from the universe and the code lists."""
    cusips = universe.instruments.column("cusip").drop_null().combine_chunks()
    return Pools(
        isin=universe.instruments.column("isin").combine_chunks(),
        lei=universe.counterparties.column("counterparty_lei").combine_chunks(),
        cusip=cusips,
        mic=pa.array(universe.codes.mics),
        currency=pa.array(universe.codes.currencies),
    )


def _is_valid_id(id_format: str, value: str, codes: CodeLists) -> bool:
    checks: dict[str, Callable[[str], bool]] = {
        "isin": is_valid_isin,
        "lei": is_valid_lei,
        "cusip": is_valid_cusip,
        "mic": lambda text: text in codes.mics,
        "currency": lambda text: text in codes.currencies,
    }
    return bool(checks[id_format](value))


def accepts(column: Column, values: Sequence[object], codes: CodeLists) -> bool:
    """True when every non-null value satisfies the column's allowed_values, regex and id_format."""
    present = [value for value in values if value is not None]
    if column.allowed_values:
        allowed = {str(value) for value in column.allowed_values}
        if any(str(value) not in allowed for value in present):
            return False
    if column.regex and any(not re.fullmatch(column.regex, str(value)) for value in present):
        return False
    return not column.id_format or all(_is_valid_id(column.id_format, str(value), codes) for value in present)


def decimals_of(value: float | None) -> int:
    """How many decimal places a bound is written with (0 for None or whole numbers)."""
    if value is None or float(value).is_integer():
        return 0
    return min(MAX_DECIMALS, len(f"{value:.{MAX_DECIMALS}f}".rstrip("0").split(".")[1]))


def bounds(column: Column, span: float) -> tuple[float, float]:
    """The range to draw numbers from: the declared min/max, widened by `span` where open."""
    low = column.min if column.min is not None else (column.max - span if column.max is not None else 0.0)
    high = column.max if column.max is not None else low + span
    return float(low), float(high)


def clip_to_bounds(values: np.ndarray, column: Column, decimals: int) -> np.ndarray:
    """Values moved inside the column's min/max, staying on the grid of `decimals` places."""
    scale = 10.0**decimals
    low = math.ceil(column.min * scale) / scale if column.min is not None else -np.inf
    high = math.floor(column.max * scale) / scale if column.max is not None else np.inf
    clipped: np.ndarray = np.clip(values, low, high)
    return clipped


def _with_nulls(values: pa.Array[Any], column: Column, rng: np.random.Generator) -> pa.Array[Any]:
    if not column.nullable:
        return values
    mask = pa.array(rng.random(len(values)) < NULL_SHARE)
    with_nulls: pa.Array[Any] = pc.if_else(mask, pa.nulls(len(values), values.type), values)
    return with_nulls


def constrained_values(
    column: Column, size: int, rng: np.random.Generator, pools: Pools, business_date: date
) -> pa.Array[Any]:
    """`size` typed values that satisfy the column's declared constraints, with a few nulls if nullable."""
    values: pa.Array[Any]
    if column.allowed_values:
        choice = rng.integers(0, len(column.allowed_values), size=size)
        allowed = column.allowed_values
        if column.type in ("integer", "decimal"):
            values = pa.array(np.asarray(allowed, dtype=np.float64)[choice])
        else:
            values = pa.array([str(value) for value in allowed]).take(choice)
        return _with_nulls(values, column, rng)
    match column.type:
        case "string":
            if column.id_format:
                pool = pools.of(column.id_format)
                values = pool.take(rng.integers(0, len(pool), size=size))
            elif column.regex:
                values = pa.array(parse_pattern(column.regex).sample(size, rng))
            else:
                words = np.asarray(FIRM_STEMS)[rng.integers(0, len(FIRM_STEMS), size=size)]
                values = pa.array(np.char.add(np.char.add(words, " "), rng.integers(1, 1000, size=size).astype(str)))
        case "integer":
            low, high = bounds(column, 1000)
            values = pa.array(rng.integers(math.ceil(low), math.floor(high) + 1, size=size))
        case "decimal":
            places = max(2, decimals_of(column.min), decimals_of(column.max))
            low, high = bounds(column, 10_000)
            values = pa.array(clip_to_bounds(np.round(rng.uniform(low, high, size=size), places), column, places))
        case "date":
            values = pa.array(np.full(size, np.datetime64(business_date, "D")))
        case "timestamp":
            start = np.datetime64(business_date, "D").astype("datetime64[us]")
            values = pa.array(start + rng.integers(0, DAY_MICROSECONDS, size=size).astype("timedelta64[us]"))
        case _:
            values = pa.array(rng.random(size) < 0.5)
    return _with_nulls(values, column, rng)
