from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from orchestrator.generator.codes import CodeLists, load_code_lists
from orchestrator.generator.exceptions import GeneratorError
from orchestrator.generator.snapshots import ENTITIES, snapshot
from orchestrator.generator.universe import build_universe

MONDAY = date(2026, 1, 5)


def test_universe_has_realistic_sizes_and_key_formats() -> None:
    universe = build_universe(0, load_code_lists())
    traders = [str(trader) for trader in universe.traders.column("trader_id").to_pylist()]
    books = [str(book) for book in universe.books.column("book_id").to_pylist()]
    assert 150 <= len(traders) <= 250
    assert 40 <= len(books) <= 80
    assert 300 <= universe.counterparties.num_rows <= 500
    assert 1500 <= universe.instruments.num_rows <= 2500
    assert all(re.fullmatch(r"T[0-9]{5}", trader) for trader in traders)
    assert all(re.fullmatch(r"BK[0-9]{4}", book) for book in books)
    for table in (universe.traders, universe.books, universe.counterparties, universe.instruments):
        keys = table.column(0).to_pylist()
        assert len(set(keys)) == len(keys)


def test_currencies_and_mics_come_from_the_code_lists() -> None:
    codes = load_code_lists()
    instruments = build_universe(0, codes).instruments
    assert set(instruments.column("currency").to_pylist()) <= set(codes.currencies)
    assert set(instruments.column("primary_mic").drop_null().to_pylist()) <= set(codes.mics)
    asset_classes = set(instruments.column("asset_class").to_pylist())
    assert asset_classes == {"EQUITY", "ETF", "GOVT_BOND", "CORP_BOND", "IRS"}


def test_short_code_lists_still_give_a_consistent_universe() -> None:
    codes = CodeLists(currencies=("EUR", "USD"), mics=("XLON", "XPAR"))
    instruments = build_universe(3, codes).instruments
    assert set(instruments.column("currency").to_pylist()) <= {"EUR", "USD"}
    assert set(instruments.column("primary_mic").drop_null().to_pylist()) <= {"XLON", "XPAR"}


def test_a_missing_seed_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "iso_currencies.csv").write_text("currency_code\nEUR\n")
    with pytest.raises(GeneratorError, match=r"file=.*iso_mics\.csv: seed not found"):
        load_code_lists(tmp_path)


def test_universe_depends_on_the_seed_only() -> None:
    codes = load_code_lists()
    first, again, other = build_universe(5, codes), build_universe.__wrapped__(5, codes), build_universe(6, codes)
    assert first.instruments.equals(again.instruments)
    assert first.traders.equals(again.traders)
    assert not first.instruments.equals(other.instruments)


@pytest.mark.parametrize("entity", [pytest.param(entity, id=entity) for entity in ENTITIES])
def test_snapshots_change_a_few_rows_a_day_and_keep_every_key(entity: str) -> None:
    universe = build_universe(0, load_code_lists())
    changed_per_day = []
    for offset in range(10):
        today = snapshot(universe, entity, MONDAY + timedelta(days=offset))
        tomorrow = snapshot(universe, entity, MONDAY + timedelta(days=offset + 1))
        assert today.column(0).equals(tomorrow.column(0))
        assert not any(name.startswith("_") for name in today.column_names)
        changed_per_day.append(sum(a != b for a, b in zip(today.to_pylist(), tomorrow.to_pylist(), strict=True)))
    assert sum(changed_per_day) > 0
    assert max(changed_per_day) <= max(10, today.num_rows // 20)
