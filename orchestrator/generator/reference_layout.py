"""Lay a reference spec's columns over the universe entity it describes (or over its constraints alone)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.generator.columns import Pools, accepts, constrained_values, pools_for
from orchestrator.generator.patterns import parse_pattern
from orchestrator.generator.render import quote_identifier, text_sql
from orchestrator.generator.snapshots import ENTITIES, snapshot
from orchestrator.generator.universe import Universe
from orchestrator.specs.model import Column, SourceSpec


def _key_column(spec: SourceSpec) -> Column:
    return next(column for column in spec.columns if column.name == spec.source_id_field)


def reference_entity(spec: SourceSpec, universe: Universe, business_date: date) -> pa.Table | None:
    """The entity snapshot a reference spec describes, found by its key column; None when it describes none."""
    key = _key_column(spec)
    constrained = bool(key.regex or key.id_format or key.allowed_values)
    for by_name in (True, False):
        for entity in ENTITIES:
            table = snapshot(universe, entity, business_date)
            entity_key = table.column_names[0]
            if (key.name == entity_key if by_name else constrained) and accepts(
                key, table.column(entity_key).to_pylist(), universe.codes
            ):
                return table
    return None


@dataclass(frozen=True)
class ReferenceLayout:
    """How each column of one reference spec is filled for one file."""

    rows: int
    spec: SourceSpec
    universe: Universe
    pools: Pools
    business_date: date
    entity: pa.Table | None

    def _column_values(self, column: Column, first_row: int, size: int, rng: np.random.Generator) -> pa.Array[Any]:
        values: pa.Array[Any] = constrained_values(column, size, rng, self.pools, self.business_date)
        if column.name == self.spec.business_date_field or column.type == "date":
            values = pa.array(np.full(size, np.datetime64(self.business_date, "D")))
        elif self.entity is not None and column.name in self.entity.column_names:
            known = self.entity.column(column.name).slice(first_row, size).combine_chunks()
            type_fits = pa.types.is_boolean(known.type) == (column.type == "boolean")
            if type_fits and accepts(column, known.to_pylist(), self.universe.codes):
                filled = column.nullable or not known.null_count
                values = known if filled else pc.coalesce(known, values.cast(known.type))
        elif self.entity is None and column.name == self.spec.source_id_field and column.regex:
            # Keys of a made-up entity must be distinct: number them through the regex's digit run.
            pattern = parse_pattern(column.regex)
            if pattern.counter_width:
                values = pa.array(pattern.sample(size, rng, counter=np.arange(first_row, first_row + size)))
        return values

    def typed_chunk(self, first_row: int, size: int, rng: np.random.Generator) -> pa.Table:
        """Typed values of `size` rows starting at `first_row`, one column per spec column."""
        return pa.table(
            {column.name: self._column_values(column, first_row, size, rng) for column in self.spec.columns}
        )

    def text_columns(self, typed: pa.Table) -> dict[str, str]:
        """The SQL that renders each column of a typed chunk as text."""
        return {
            column.name: text_sql(column, quote_identifier(column.name), typed.schema.field(column.name).type)
            for column in self.spec.columns
        }


def reference_layout(spec: SourceSpec, universe: Universe, business_date: date, rows: int) -> ReferenceLayout:
    """The layout of one reference file: the whole entity when the spec describes one, else `rows` made-up rows."""
    entity = reference_entity(spec, universe, business_date)
    return ReferenceLayout(
        rows=entity.num_rows if entity is not None else rows,
        spec=spec,
        universe=universe,
        pools=pools_for(universe),
        business_date=business_date,
        entity=entity,
    )
