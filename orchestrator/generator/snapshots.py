"""The universe as a reference master shows it on one business date, with a few changes each day.

Each row flips between two states every `period` days, at a phase of its own, so about
rows / period rows change on any day and a change lasts long enough for SCD2 to notice.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestrator.generator.names import LEGAL_FORMS
from orchestrator.generator.universe import Universe, desk_name

TRADER_MOVE_PERIOD_DAYS = 30
COUNTERPARTY_RENAME_PERIOD_DAYS = 200
INSTRUMENT_RENAME_PERIOD_DAYS = 450
BOOK_RENAME_PERIOD_DAYS = 120

ENTITIES = ("traders", "books", "counterparties", "instruments")


def _flipped(table: pa.Table, business_date: date, period: int) -> np.ndarray:
    """Which rows are in their alternate state on the date."""
    phase = table.column("_phase").to_numpy()
    flipped: np.ndarray = ((business_date.toordinal() + phase) // period) % 2 == 1
    return flipped


def trader_regions(universe: Universe, business_date: date) -> np.ndarray:
    """Each trader's region index on the date; movers alternate between two regions."""
    traders = universe.traders
    home = traders.column("_home_region").to_numpy()
    away = traders.column("_away_region").to_numpy()
    regions: np.ndarray = np.where(_flipped(traders, business_date, TRADER_MOVE_PERIOD_DAYS), away, home)
    return regions


def _public(table: pa.Table) -> pa.Table:
    """The table without its generation helpers."""
    return table.select([name for name in table.column_names if not name.startswith("_")])


def traders_on(universe: Universe, business_date: date) -> pa.Table:
    """Traders with the desk each sits on that day."""
    products = universe.traders.column("_product").to_numpy()
    regions = trader_regions(universe, business_date)
    desks = pa.array([desk_name(int(p), int(r)) for p, r in zip(products, regions, strict=True)])
    table = _public(universe.traders)
    return table.add_column(table.column_names.index("email"), "desk", desks)


def books_on(universe: Universe, business_date: date) -> pa.Table:
    """Books, some showing the short desk name they are renamed to in reorganisations."""
    books = universe.books
    flipped = pa.array(_flipped(books, business_date, BOOK_RENAME_PERIOD_DAYS))
    names = pc.if_else(flipped, books.column("_short_name"), books.column("_base_name"))
    table = _public(books)
    return table.add_column(1, "book_name", names)


def counterparties_on(universe: Universe, business_date: date) -> pa.Table:
    """Counterparties, some showing the long spelling of their legal form that day."""
    table = universe.counterparties
    stems = table.column("_name_stem").to_pylist()
    forms = table.column("_legal_form").to_pylist()
    flipped = _flipped(table, business_date, COUNTERPARTY_RENAME_PERIOD_DAYS)
    names = pa.array(
        [
            f"{stem} {LEGAL_FORMS.get(str(form), str(form)) if flip else form}"
            for stem, form, flip in zip(stems, forms, flipped, strict=True)
        ]
    )
    public = _public(table)
    return public.add_column(1, "counterparty_name", names)


def instruments_on(universe: Universe, business_date: date) -> pa.Table:
    """Instruments, a few equities renamed that day."""
    table = universe.instruments
    flipped = pa.array(_flipped(table, business_date, INSTRUMENT_RENAME_PERIOD_DAYS))
    names = pc.if_else(flipped, table.column("_renamed_name"), table.column("instrument_name"))
    public = _public(table)
    return public.set_column(public.column_names.index("instrument_name"), "instrument_name", names)


def snapshot(universe: Universe, entity: str, business_date: date) -> pa.Table:
    """One entity's reference rows on the date (entity is one of `ENTITIES`)."""
    builders = {
        "traders": traders_on,
        "books": books_on,
        "counterparties": counterparties_on,
        "instruments": instruments_on,
    }
    return builders[entity](universe, business_date)
