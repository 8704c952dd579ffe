from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from orchestrator.generator import Faults, GeneratedFile, GeneratorError, generate_source_file, write_unmatched_file
from orchestrator.generator.codes import load_code_lists
from orchestrator.generator.roles import resolve_roles
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.specs.model import stem_of
from orchestrator.validator.control_file import parse_control_file
from tests.orchestrator.generator.file_checks import broken_checks, read_rows

REPO = Path(__file__).resolve().parents[3]
SHIPPED = sorted(path.stem for path in (REPO / "source_specs").glob("*/*.yaml") if path.parent.name != "streaming")
WITH_CONTROL = ["bloomberg_trades", "murex_trades", "venue_executions"]
TRADES = ["bloomberg_trades", "murex_trades", "venue_executions"]
REFERENCES = ["books", "counterparties", "instruments", "traders"]
BUSINESS_DATE = date(2026, 1, 7)
ROWS = 3_000


def _generate(spec: SourceSpec, out: Path, **kwargs: object) -> GeneratedFile:
    rows = kwargs.pop("rows", ROWS)
    seed = kwargs.pop("seed", 3)
    business_date = kwargs.pop("business_date", BUSINESS_DATE)
    faults = kwargs.pop("faults", None)
    assert not kwargs
    assert isinstance(rows, int)
    assert isinstance(seed, int)
    assert isinstance(business_date, date)
    assert faults is None or isinstance(faults, Faults)
    return generate_source_file(spec, rows, business_date, out, seed, faults=faults)


@pytest.fixture(scope="module")
def day(specs: list[SourceSpec], tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedFile]:
    """One clean business day of every shipped source, seed 3."""
    out = tmp_path_factory.mktemp("day")
    return {spec.name: _generate(spec, out) for spec in specs}


def test_every_shipped_spec_is_covered(specs: list[SourceSpec]) -> None:
    assert sorted(spec.name for spec in specs) == SHIPPED
    assert sorted(TRADES + REFERENCES) == SHIPPED


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in SHIPPED])
def test_rows_hold_every_constraint_and_row_rule(
    specs: list[SourceSpec], day: dict[str, GeneratedFile], source: str
) -> None:
    spec = find_spec(specs, source)
    generated = day[source]
    rows = read_rows(spec, generated.data_path)
    assert rows.num_rows == generated.rows
    assert generated.bad_rows == 0
    broken = [
        (number, errors + warnings)
        for number, (errors, warnings) in enumerate(broken_checks(spec, rows, load_code_lists()))
        if errors or warnings
    ]
    assert broken == []


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in SHIPPED])
def test_same_arguments_give_byte_identical_files(specs: list[SourceSpec], tmp_path: Path, source: str) -> None:
    spec = find_spec(specs, source)
    faults = Faults(bad_rows=5)
    first = _generate(spec, tmp_path / "first", faults=faults)
    second = _generate(spec, tmp_path / "second", faults=faults)
    assert first.data_path.read_bytes() == second.data_path.read_bytes()
    if first.control_path is not None:
        assert second.control_path is not None
        assert first.control_path.read_bytes() == second.control_path.read_bytes()


@pytest.mark.parametrize(
    ("change", "value"),
    [
        pytest.param("seed", 4, id="other-seed"),
        pytest.param("business_date", date(2026, 1, 8), id="other-date"),
        pytest.param("faults", Faults(seq="002"), id="other-seq"),
    ],
)
def test_other_inputs_give_other_trades(specs: list[SourceSpec], tmp_path: Path, change: str, value: object) -> None:
    spec = find_spec(specs, "venue_executions")
    base = _generate(spec, tmp_path / "base")
    other = _generate(spec, tmp_path / "other", **{change: value})
    base_ids = set(read_rows(spec, base.data_path).column("exec_id").to_pylist())
    other_ids = set(read_rows(spec, other.data_path).column("exec_id").to_pylist())
    assert base_ids.isdisjoint(other_ids)


def test_files_land_at_their_landing_keys(specs: list[SourceSpec], day: dict[str, GeneratedFile]) -> None:
    for spec in specs:
        generated = day[spec.name]
        assert spec.landing_regex().match(generated.landing_key)
        assert generated.data_path.as_posix().endswith(generated.landing_key)
        if spec.control is not None:
            assert generated.control_path is not None
            assert generated.control_path.name.startswith(stem_of(generated.landing_key))


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in WITH_CONTROL])
def test_control_file_states_row_count_and_checksum(
    specs: list[SourceSpec], day: dict[str, GeneratedFile], source: str
) -> None:
    spec = find_spec(specs, source)
    assert spec.control is not None
    assert spec.control.checksum_algorithm is not None
    generated = day[source]
    assert generated.control_path is not None
    stated = parse_control_file(generated.control_path.read_bytes(), spec.control)
    digest = hashlib.new(spec.control.checksum_algorithm, generated.data_path.read_bytes()).hexdigest()
    assert stated.row_count == ROWS
    assert stated.checksum == digest


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in SHIPPED])
def test_bad_rows_break_exactly_the_stated_number_of_rows(specs: list[SourceSpec], tmp_path: Path, source: str) -> None:
    spec = find_spec(specs, source)
    generated = _generate(spec, tmp_path, faults=Faults(bad_rows=13))
    checks = broken_checks(spec, read_rows(spec, generated.data_path), load_code_lists())
    bad = [number for number, (errors, _) in enumerate(checks) if errors]
    assert generated.bad_rows == 13
    assert len(bad) == 13
    assert bad[0] > 0
    assert bad[-1] < generated.rows - 1
    assert all(not warnings for errors, warnings in checks if not errors)
    kinds = Counter(error.split(":")[0] for errors, _ in checks for error in errors)
    assert len(kinds) >= 3


def test_bad_rows_are_capped_at_the_row_count(specs: list[SourceSpec], tmp_path: Path) -> None:
    generated = _generate(find_spec(specs, "murex_trades"), tmp_path, rows=10, faults=Faults(bad_rows=50))
    assert generated.bad_rows == 10


@pytest.mark.parametrize("delta", [pytest.param(3, id="too-many"), pytest.param(-1, id="too-few")])
def test_control_count_delta_states_a_wrong_count(specs: list[SourceSpec], tmp_path: Path, delta: int) -> None:
    spec = find_spec(specs, "murex_trades")
    assert spec.control is not None
    generated = _generate(spec, tmp_path, rows=500, faults=Faults(control_count_delta=delta, seq="002"))
    assert generated.control_path is not None
    assert generated.landing_key.endswith("_002.xml")
    assert parse_control_file(generated.control_path.read_bytes(), spec.control).row_count == 500 + delta


def test_control_count_delta_needs_a_control_file(specs: list[SourceSpec], tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="source=traders"):
        _generate(find_spec(specs, "traders"), tmp_path, faults=Faults(control_count_delta=1))


def test_negative_rows_are_refused(specs: list[SourceSpec], tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="rows=-1"):
        _generate(find_spec(specs, "venue_executions"), tmp_path, rows=-1)


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in TRADES])
def test_zero_rows_give_an_empty_but_well_formed_file(specs: list[SourceSpec], tmp_path: Path, source: str) -> None:
    spec = find_spec(specs, source)
    generated = _generate(spec, tmp_path, rows=0)
    assert generated.rows == 0
    assert read_rows(spec, generated.data_path).num_rows == 0


def test_gzip_header_carries_no_time_or_name(day: dict[str, GeneratedFile]) -> None:
    header = day["venue_executions"].data_path.read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] == 0  # no FNAME or other optional fields
    assert header[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert gzip.decompress(day["venue_executions"].data_path.read_bytes()).startswith(b"exec_id,exec_version,")


def _role_values(spec: SourceSpec, rows_path: Path, role: str) -> set[str]:
    column = resolve_roles(spec).columns[role]
    return {value for value in read_rows(spec, rows_path).column(column).to_pylist() if value is not None}


def _reference_keys(specs: list[SourceSpec], day: dict[str, GeneratedFile], source: str, column: str) -> set[str]:
    spec = find_spec(specs, source)
    return {str(value) for value in read_rows(spec, day[source].data_path).column(column).to_pylist()}


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in TRADES])
def test_every_key_a_trade_uses_is_in_the_reference_files(
    specs: list[SourceSpec], day: dict[str, GeneratedFile], source: str
) -> None:
    spec = find_spec(specs, source)
    path = day[source].data_path
    references = {
        "trader_id": _reference_keys(specs, day, "traders", "trader_id"),
        "book_id": _reference_keys(specs, day, "books", "book_id"),
        "counterparty_lei": _reference_keys(specs, day, "counterparties", "counterparty_lei"),
        "isin": _reference_keys(specs, day, "instruments", "isin"),
        "currency": _reference_keys(specs, day, "instruments", "currency"),
    }
    for role, known in references.items():
        used = _role_values(spec, path, role)
        assert used
        assert used <= known, role


def test_trades_are_booked_by_active_traders_in_books_of_their_desk(
    specs: list[SourceSpec], day: dict[str, GeneratedFile]
) -> None:
    traders = read_rows(find_spec(specs, "traders"), day["traders"].data_path).to_pylist()
    books = read_rows(find_spec(specs, "books"), day["books"].data_path).to_pylist()
    desk_of_trader = {row["trader_id"]: row["desk"] for row in traders if row["is_active"] == "true"}
    desk_of_book = {row["book_id"]: row["desk"] for row in books}
    venue = read_rows(find_spec(specs, "venue_executions"), day["venue_executions"].data_path).to_pylist()
    same_desk = sum(desk_of_trader.get(row["trader_id"]) == desk_of_book[row["book_id"]] for row in venue)
    assert all(row["trader_id"] in desk_of_trader for row in venue)
    assert same_desk / len(venue) > 0.9


def test_trade_lifecycle_has_amendments_cancellations_and_late_trades(specs: list[SourceSpec], tmp_path: Path) -> None:
    spec = find_spec(specs, "murex_trades")
    generated = _generate(spec, tmp_path, rows=20_000)
    rows = read_rows(spec, generated.data_path).to_pylist()
    statuses = Counter(row["status"] for row in rows)
    trades = statuses["NEW"]
    assert 0.04 < statuses["AMD"] / trades < 0.08
    assert 0.01 < statuses["CNL"] / trades < 0.03
    versions: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        versions.setdefault(row["trade_ref"], []).append((int(row["version"]), row["status"]))
    for history in versions.values():
        assert [version for version, _ in history] == list(range(1, len(history) + 1))
        assert history[0][1] == "NEW"
        assert all(status != "CNL" for _, status in history[:-1])
    trade_dates = Counter(row["trade_date"] for row in rows)
    assert trade_dates.most_common(1)[0][0] == BUSINESS_DATE.isoformat()
    late = {day_ for day_ in trade_dates if day_ != BUSINESS_DATE.isoformat()}
    assert late
    earliest = np.busday_offset(np.datetime64(BUSINESS_DATE), -3, roll="backward")
    assert all(np.datetime64(day_) >= earliest for day_ in late)
    assert all(
        np.busday_offset(np.datetime64(row["trade_date"]), 2, roll="forward") == np.datetime64(row["settle_date"])
        for row in rows
    )


def test_amendments_keep_the_trade_and_change_its_economics(specs: list[SourceSpec], tmp_path: Path) -> None:
    spec = find_spec(specs, "bloomberg_trades")
    rows = read_rows(spec, _generate(spec, tmp_path, rows=10_000).data_path).to_pylist()
    by_ticket: dict[str, list[dict[str, str | None]]] = {}
    for row in rows:
        by_ticket.setdefault(str(row["ticket_number"]), []).append(row)
    amended = [history for history in by_ticket.values() if any(row["action"] == "Correct" for row in history)]
    assert amended
    for history in amended:
        assert history[0]["revision"] == "0"
        assert len({(row["isin"], row["trader_uuid"], row["book"], row["side"]) for row in history}) == 1
        assert len({(row["amount"], row["price"]) for row in history}) > 1


def test_prices_and_sizes_are_plausible(specs: list[SourceSpec], day: dict[str, GeneratedFile]) -> None:
    venue = read_rows(find_spec(specs, "venue_executions"), day["venue_executions"].data_path)
    prices = np.array(venue.column("px").to_pylist(), dtype=float)
    quantities = np.array(venue.column("qty").to_pylist(), dtype=float)
    assert 5 < np.median(prices) < 500
    assert 50 < np.median(quantities) < 10_000
    assert set(venue.column("side").to_pylist()) == {"BUY", "SELL"}
    bonds = read_rows(find_spec(specs, "bloomberg_trades"), day["bloomberg_trades"].data_path)
    bond_prices = np.array(bonds.column("price").to_pylist(), dtype=float)
    assert 80 < np.median(bond_prices) < 120
    assert np.median(np.array(bonds.column("amount").to_pylist(), dtype=float)) >= 100_000


def test_reference_files_hold_the_whole_entity_whatever_rows_says(specs: list[SourceSpec], tmp_path: Path) -> None:
    spec = find_spec(specs, "traders")
    small = _generate(spec, tmp_path / "small", rows=5)
    large = _generate(spec, tmp_path / "large", rows=50_000)
    assert small.rows == large.rows == read_rows(spec, small.data_path).num_rows
    assert small.data_path.read_bytes() == large.data_path.read_bytes()


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in REFERENCES])
def test_reference_files_change_a_little_from_day_to_day(specs: list[SourceSpec], tmp_path: Path, source: str) -> None:
    spec = find_spec(specs, source)
    changed = 0
    for offset in range(5):
        first = date(2026, 1, 5 + offset)
        today = read_rows(spec, _generate(spec, tmp_path / "a", business_date=first).data_path)
        tomorrow = read_rows(spec, _generate(spec, tmp_path / "b", business_date=date(2026, 1, 6 + offset)).data_path)
        keys = spec.source_id_field
        assert today.column(keys).equals(tomorrow.column(keys))
        attributes = [name for name in spec.column_names if name != spec.business_date_field]
        changed += sum(
            a != b
            for a, b in zip(today.select(attributes).to_pylist(), tomorrow.select(attributes).to_pylist(), strict=True)
        )
    assert changed > 0


def test_unmatched_file_matches_no_spec(specs: list[SourceSpec], tmp_path: Path) -> None:
    path = write_unmatched_file(tmp_path, BUSINESS_DATE)
    key = path.relative_to(tmp_path).as_posix()
    assert key == "inbound/unknown_feed/positions_20260107.csv"
    assert not any(spec.landing_regex().match(key) for spec in specs)
    assert path.read_text().startswith("position_id,")
    assert write_unmatched_file(tmp_path, BUSINESS_DATE).read_bytes() == path.read_bytes()


def test_jsonl_records_are_objects_keyed_by_column(specs: list[SourceSpec], day: dict[str, GeneratedFile]) -> None:
    spec = find_spec(specs, "bloomberg_trades")
    lines = day["bloomberg_trades"].data_path.read_text().splitlines()
    assert len(lines) == ROWS
    assert all(list(json.loads(line)) == list(spec.column_names) for line in lines[:50])


@pytest.mark.parametrize("seq", [pytest.param("a/b", id="slash"), pytest.param("", id="empty")])
def test_seq_must_give_a_key_the_spec_matches(specs: list[SourceSpec], tmp_path: Path, seq: str) -> None:
    with pytest.raises(GeneratorError, match="would not match"):
        _generate(find_spec(specs, "venue_executions"), tmp_path, faults=Faults(seq=seq))
    assert not any(tmp_path.rglob("*.partial"))


def test_currencies_and_mics_come_from_the_reference_lists_it_is_given(specs: list[SourceSpec], tmp_path: Path) -> None:
    # An installed package has no source tree beside it: the lists must come from the settings, as in an image.
    lists = tmp_path / "seeds"
    lists.mkdir()
    (lists / "iso_currencies.csv").write_text("currency_code\nUSD\nEUR\n")
    (lists / "iso_mics.csv").write_text("mic\nXNYS\nXETR\n")
    spec = find_spec(specs, "instruments")
    generated = generate_source_file(spec, ROWS, BUSINESS_DATE, tmp_path / "out", 3, reference_lists_dir=lists)
    rows = read_rows(spec, generated.data_path).to_pylist()
    assert {row["currency"] for row in rows} == {"USD", "EUR"}
    assert {row["primary_mic"] for row in rows} - {None, ""} == {"XNYS", "XETR"}
