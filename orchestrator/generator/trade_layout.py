"""Lay canonical trade events out as a trade spec's columns, typed, ready to render as text."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.generator.columns import Pools, accepts, constrained_values, pools_for
from orchestrator.generator.markets import asset_classes_for
from orchestrator.generator.patterns import Pattern, parse_pattern
from orchestrator.generator.render import product_text, quote_identifier, text_sql
from orchestrator.generator.roles import EVENTS, SIDES, TradeRoles, resolve_roles
from orchestrator.generator.seeding import stable_hash
from orchestrator.generator.snapshots import snapshot
from orchestrator.generator.trades import Lifecycle, TradeEvents, TradingDay, sample_events, trading_day
from orchestrator.generator.universe import Universe
from orchestrator.specs.model import Column, SourceSpec

NOTIONAL_COLUMN = "notional"
ID_DIGITS_WITHOUT_REGEX = 10
INTEGER_ID_SPAN = 10**12

# Roles whose values come from the universe, and the entity attribute that supplies them.
_ENTITY_ROLES = {
    "isin": ("instruments", "isin"),
    "currency": ("instruments", "currency"),
    "trader_id": ("traders", "trader_id"),
    "book_id": ("books", "book_id"),
    "counterparty_lei": ("counterparties", "counterparty_lei"),
}
# For role-less columns named like an entity attribute; the trade's book wins over its trader for `desk`.
_ENTITY_ORDER = ("instruments", "books", "counterparties", "traders")
# For role-less identifier columns: which entity attribute of the trade fills them.
_ID_FORMAT_SOURCES = {
    "isin": ("instruments", "isin"),
    "cusip": ("instruments", "cusip"),
    "lei": ("counterparties", "counterparty_lei"),
    "currency": ("instruments", "currency"),
}


def _entity_rows(events: TradeEvents, entity: str) -> np.ndarray:
    rows: np.ndarray = {
        "instruments": events.instrument,
        "traders": events.trader,
        "books": events.book,
        "counterparties": events.counterparty,
    }[entity]
    return rows


@dataclass(frozen=True)
class TradeLayout:
    """How each column of one trade spec is filled for one file."""

    rows: int
    spec: SourceSpec
    roles: TradeRoles
    universe: Universe
    pools: Pools
    day: TradingDay
    entities: dict[str, pa.Table]
    id_pattern: Pattern | None
    id_offset: int
    lifecycle: Lifecycle

    def _role_of(self, name: str) -> str | None:
        return next((role for role, column in self.roles.columns.items() if column == name), None)

    def _role_values(self, role: str, column: Column, events: TradeEvents, rng: np.random.Generator) -> pa.Array[Any]:
        codes = self.roles.codes.get(role, {})
        values: pa.Array[Any]
        match role:
            case "source_trade_id":
                values = self._trade_ids(column, events, rng)
            case "trade_version":
                values = pa.array(np.round(self.roles.raw_numbers(role, events.version)).astype(np.int64))
            case "event_type":
                raw_events: list[Any] = [codes.get(event) for event in EVENTS]
                values = pa.array(raw_events).take(events.event)
            case "side":
                raw_sides: list[Any] = [codes[side] for side in SIDES]
                values = pa.array(raw_sides).take(events.side)
            case "trade_date" | "settlement_date":
                values = pa.array(events.trade_date if role == "trade_date" else events.settlement_date)
            case "executed_at":
                values = pa.array(events.executed_at)
            case "quantity" | "price":
                canonical = events.quantity if role == "quantity" else events.price
                linear = role in self.roles.linear
                values = pa.array(self.roles.raw_numbers(role, canonical) if linear else canonical)
            case "venue_mic":
                values = pa.array(self.universe.codes.mics).take(events.venue)
            case _:
                entity, attribute = _ENTITY_ROLES[role]
                values = self.entities[entity].column(attribute).take(_entity_rows(events, entity)).combine_chunks()
        return values

    def _trade_ids(self, column: Column, events: TradeEvents, rng: np.random.Generator) -> pa.Array[Any]:
        ids: pa.Array[Any]
        if self.id_pattern is None:
            low = math.ceil(column.min) if column.min is not None else 1
            span = math.floor(column.max) - low + 1 if column.max is not None else INTEGER_ID_SPAN
            ids = pa.array(low + (self.id_offset + events.trade_number) % span)
        else:
            counter = (self.id_offset + events.trade_number) % 10**self.id_pattern.counter_width
            ids = pa.array(self.id_pattern.sample(len(events), rng, counter=counter))
        return ids

    def _contextual_values(self, column: Column, events: TradeEvents) -> pa.Array[Any] | None:
        """Values for a role-less column taken from the trade's own instrument, book, counterparty or trader."""
        values: pa.Array[Any]
        if column.type in ("date", "timestamp"):
            values = pa.array(events.trade_date if column.type == "date" else events.executed_at)
            return values
        candidates = [
            (entity, column.name) for entity in _ENTITY_ORDER if column.name in self.entities[entity].column_names
        ]
        if column.id_format in _ID_FORMAT_SOURCES:
            candidates.append(_ID_FORMAT_SOURCES[column.id_format])
        for entity, attribute in candidates:
            source = self.entities[entity].column(attribute)
            type_fits = pa.types.is_boolean(source.type) == (column.type == "boolean")
            if type_fits and accepts(column, source.to_pylist(), self.universe.codes):
                values = source.take(_entity_rows(events, entity)).combine_chunks()
                return values
        return None

    def typed_chunk(self, first_row: int, size: int, rng: np.random.Generator) -> pa.Table:
        """Typed values of `size` rows from `first_row`, one column per spec column; notionals are left to SQL."""
        events = sample_events(self.day, rng, size, first_row, self.lifecycle)
        arrays: dict[str, pa.Array[Any]] = {}
        for column in self.spec.columns:
            role = self._role_of(column.name)
            values: pa.Array[Any] | None
            if role is not None:
                values = self._role_values(role, column, events, rng)
            elif column.name == NOTIONAL_COLUMN and self.notional_inputs():
                values = pa.nulls(len(events), pa.float64())
            else:
                values = self._contextual_values(column, events)
                filler = constrained_values(column, len(events), rng, self.pools, self.day.business_date)
                if values is None:
                    values = filler
                elif not column.nullable and values.null_count:
                    values = pc.coalesce(values, filler.cast(values.type))
            arrays[column.name] = values
        return pa.table(arrays)

    def notional_inputs(self) -> tuple[str, str] | None:
        """The (quantity, price) columns a notional column is computed from, when both exist."""
        quantity, price = self.roles.columns.get("quantity"), self.roles.columns.get("price")
        return (quantity, price) if quantity and price else None

    def text_columns(self, typed: pa.Table) -> dict[str, str]:
        """The SQL that renders each column of a typed chunk as text."""
        rendered = {}
        inputs = self.notional_inputs()
        for column in self.spec.columns:
            if column.name == NOTIONAL_COLUMN and inputs and self._role_of(column.name) is None:
                rendered[column.name] = product_text(quote_identifier(inputs[0]), quote_identifier(inputs[1]))
            else:
                rendered[column.name] = text_sql(
                    column, quote_identifier(column.name), typed.schema.field(column.name).type
                )
        return rendered


def _price_bounds(spec: SourceSpec, roles: TradeRoles) -> tuple[float, float]:
    """The canonical price range the spec's price column allows."""
    name = roles.columns.get("price")
    column = next((column for column in spec.columns if column.name == name), None)
    if column is None:
        return 0.0, np.inf
    raw_low = column.min if column.min is not None else -np.inf
    raw_high = column.max if column.max is not None else np.inf
    slope, intercept = roles.linear.get("price", (1.0, 0.0))
    low, high = sorted((slope * raw_low + intercept, slope * raw_high + intercept))
    return max(low, 0.0), high


def _drop_unusable_roles(
    spec: SourceSpec, roles: TradeRoles, entities: dict[str, pa.Table], universe: Universe
) -> TradeRoles:
    """Roles whose universe values the column would reject are generated from the column's constraints instead."""
    by_name = {column.name: column for column in spec.columns}
    columns = dict(roles.columns)
    for role, (entity, attribute) in _ENTITY_ROLES.items():
        if role in columns and not accepts(
            by_name[columns[role]], entities[entity].column(attribute).to_pylist(), universe.codes
        ):
            del columns[role]
    if "venue_mic" in columns and not accepts(by_name[columns["venue_mic"]], list(universe.codes.mics), universe.codes):
        del columns["venue_mic"]
    return TradeRoles(columns=columns, codes=roles.codes, linear=roles.linear)


def _id_pattern(spec: SourceSpec, roles: TradeRoles) -> Pattern | None:
    name = roles.columns.get("source_trade_id")
    column = next((column for column in spec.columns if column.name == name), None)
    if column is None or column.type == "integer":
        return None
    regex = column.regex or f"^{re.escape(spec.source_system)}-[0-9]{{{ID_DIGITS_WITHOUT_REGEX}}}$"
    return parse_pattern(regex)


def trade_layout(
    spec: SourceSpec, universe: Universe, business_date: date, rows: int, seed: int, seq: str
) -> TradeLayout:
    """The layout of one trade file of `rows` rows for a business date."""
    entities = {entity: snapshot(universe, entity, business_date) for entity in _ENTITY_ORDER}
    roles = _drop_unusable_roles(spec, resolve_roles(spec), entities, universe)
    events = roles.codes.get("event_type", {})
    pattern = _id_pattern(spec, roles)
    id_space = 10**pattern.counter_width if pattern and pattern.counter_width else 10**ID_DIGITS_WITHOUT_REGEX
    return TradeLayout(
        rows=rows,
        spec=spec,
        roles=roles,
        universe=universe,
        pools=pools_for(universe),
        day=trading_day(universe, asset_classes_for(f"{spec.name} {spec.description}"), business_date),
        entities=entities,
        id_pattern=pattern,
        # Files of other days and sequences number their trades from elsewhere, so ids rarely collide.
        id_offset=stable_hash(seed, spec.name, business_date.isoformat(), seq) % id_space,
        lifecycle=Lifecycle(
            has_amendments="AMEND" in events,
            has_cancellations="CANCEL" in events,
            price_bounds=_price_bounds(spec, roles),
        ),
    )
