"""Sources added by YAML alone are generated too: formats, encodings and mappings the shipped specs do not use."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest
import yaml

from orchestrator.generator import Faults, generate_source_file
from orchestrator.generator.codes import load_code_lists
from orchestrator.specs.loader import check_spec_file
from orchestrator.specs.model import SourceSpec
from orchestrator.validator.control_file import parse_control_file
from tests.orchestrator.generator.file_checks import broken_checks, read_rows

REPO = Path(__file__).resolve().parents[3]
BUSINESS_DATE = date(2026, 3, 12)

_COMMON = {
    "owner": "new-feeds@bank.example",
    "domain": "trading",
    "expectations": {"frequency": "weekdays", "expected_by": "19:00"},
}

FX_PARQUET = {
    **_COMMON,
    "name": "fx_parquet_deals",
    "kind": "trade",
    "description": "FX deals from a new e-trading platform, delivered as Parquet with a CSV control file.",
    "landing": {"pattern": "fx/deals/fx_deals_{business_date}_{seq}.parquet"},
    "format": {"type": "parquet"},
    "control": {
        "required": True,
        "pattern": "{stem}.ctl.csv",
        "format": "csv",
        "row_count_field": "rows",
        "checksum_field": "sha256",
        "checksum_algorithm": "sha256",
    },
    "columns": [
        {"name": "deal_no", "type": "string", "nullable": False, "regex": "^FX-[A-Z]{2}[0-9]{8}$"},
        {"name": "deal_seq", "type": "integer", "nullable": False, "min": 0},
        {"name": "lifecycle", "type": "integer", "nullable": False, "allowed_values": [1, 2, 3]},
        {"name": "trade_dt", "type": "date", "nullable": False, "format": "%d/%m/%Y"},
        {"name": "exec_at", "type": "timestamp", "nullable": False, "format": "%Y%m%d-%H:%M:%S"},
        {"name": "value_date", "type": "date", "nullable": False, "format": "%d/%m/%Y"},
        {"name": "direction", "type": "string", "nullable": False, "allowed_values": ["buy", "sell"]},
        {"name": "isin", "type": "string", "nullable": False, "id_format": "isin"},
        {"name": "qty", "type": "decimal", "nullable": False, "min": 1},
        {"name": "rate", "type": "decimal", "nullable": False, "min": 0.0001, "max": 100000},
        {"name": "notional", "type": "decimal", "nullable": False},
        {"name": "ccy", "type": "string", "nullable": False, "id_format": "currency"},
        {"name": "dealer", "type": "string", "nullable": False, "regex": "^T[0-9]{5}$"},
        {"name": "portfolio", "type": "string", "nullable": False, "regex": "^BK[0-9]{4}$"},
        {"name": "cpty", "type": "string", "nullable": False, "id_format": "lei"},
        {"name": "desk", "type": "string", "nullable": False},
        {"name": "is_block", "type": "boolean", "nullable": False},
        {"name": "channel", "type": "string", "nullable": False, "allowed_values": ["RFQ", "STREAM", "VOICE"]},
        {"name": "comment", "type": "string", "nullable": True},
        {"name": "fee_bps", "type": "decimal", "nullable": True, "min": 0.05, "max": 2.5},
    ],
    "rules": {
        "row": [
            {"name": "value_on_or_after_trade", "expr": "value_date >= trade_dt", "severity": "error"},
            {"name": "notional_matches", "expr": "abs(notional - qty * rate) <= 0.01", "severity": "error"},
            {"name": "executed_on_trade_date", "expr": "cast(exec_at as date) = trade_dt", "severity": "warning"},
        ]
    },
    "identity": {
        "source_system": "FX_ECN",
        "source_id_field": "deal_no",
        "version_field": "deal_seq",
        "business_date_field": "trade_dt",
    },
    "trade_mapping": {
        "source_trade_id": "deal_no",
        "trade_version": "deal_seq + 1",
        "event_type": "case lifecycle when 1 then 'NEW' when 2 then 'AMEND' else 'CANCEL' end",
        "trade_date": "trade_dt",
        "executed_at": "exec_at",
        "settlement_date": "value_date",
        "isin": "isin",
        "side": "upper(direction)",
        "quantity": "qty",
        "price": "rate",
        "currency": "ccy",
        "trader_id": "dealer",
        "book_id": "portfolio",
        "counterparty_lei": "cpty",
        "venue_mic": "'XOFF'",
    },
}

CREDIT_XML = {
    **_COMMON,
    "name": "credit_xml_deals",
    "kind": "trade",
    "description": "Credit bond trades from a regional booking system, gzip XML in latin-1 with attributes.",
    "landing": {"pattern": "credit/xml/CREDIT_{business_date}_{seq}.xml.gz"},
    "format": {
        "type": "xml",
        "compression": "gzip",
        "encoding": "latin-1",
        "xml": {
            "row_element": "Deal",
            "fields": {
                "ref": "@ref",
                "ver": "@v",
                "evt": "Event/@code",
                "tdate": "Dates/Trade",
                "ts": "Dates/Executed",
                "sdate": "Dates/Settle",
                "isin": "Bond/@isin",
                "cusip": "Bond/Cusip",
                "asset_class": "Bond/Class",
                "side": "Side",
                "nominal": "Economics/@nominal",
                "px": "Economics/Price",
                "ccy": "Economics/@ccy",
                "trader": "People/Trader",
                "book": "People/Book",
                "lei": "Cpty/@lei",
                "counterparty_name": "Cpty/Name",
                "mic": "Venue",
            },
        },
    },
    "control": {
        "required": True,
        "pattern": "{stem}.done.json",
        "format": "json",
        "row_count_field": "count",
        "checksum_field": "digest",
        "checksum_algorithm": "md5",
    },
    "columns": [
        {"name": "ref", "type": "integer", "nullable": False, "min": 1},
        {"name": "ver", "type": "integer", "nullable": False, "min": 1},
        {"name": "evt", "type": "string", "nullable": False, "allowed_values": ["N", "A", "X"]},
        {"name": "tdate", "type": "date", "nullable": False, "format": "%Y%m%d"},
        {"name": "ts", "type": "timestamp", "nullable": False, "format": "%Y-%m-%d %H:%M:%S.%f"},
        {"name": "sdate", "type": "date", "nullable": True, "format": "%Y%m%d"},
        {"name": "isin", "type": "string", "nullable": False, "id_format": "isin"},
        {"name": "cusip", "type": "string", "nullable": True, "id_format": "cusip"},
        {
            "name": "asset_class",
            "type": "string",
            "nullable": False,
            "allowed_values": ["EQUITY", "ETF", "GOVT_BOND", "CORP_BOND", "IRS"],
        },
        {"name": "side", "type": "string", "nullable": False, "allowed_values": ["1", "2"]},
        {"name": "nominal", "type": "decimal", "nullable": False, "min": 1000},
        {"name": "px", "type": "decimal", "nullable": False, "min": 0.01, "max": 1000},
        {"name": "ccy", "type": "string", "nullable": False, "id_format": "currency"},
        {"name": "trader", "type": "string", "nullable": False, "regex": "^T[0-9]{5}$"},
        {"name": "book", "type": "string", "nullable": False, "regex": "^BK[0-9]{4}$"},
        {"name": "lei", "type": "string", "nullable": False, "id_format": "lei"},
        {"name": "counterparty_name", "type": "string", "nullable": True},
        {"name": "mic", "type": "string", "nullable": False, "id_format": "mic"},
    ],
    "rules": {
        "row": [
            {"name": "settles_after_trade", "expr": "sdate is null or sdate >= tdate", "severity": "error"},
            {"name": "executed_on_trade_date", "expr": "cast(ts as date) = tdate", "severity": "warning"},
        ]
    },
    "identity": {"source_system": "CREDIT_BOOK", "source_id_field": "ref", "version_field": "ver"},
    "trade_mapping": {
        "source_trade_id": "ref",
        "trade_version": "ver",
        "event_type": "case evt when 'N' then 'NEW' when 'A' then 'AMEND' else 'CANCEL' end",
        "trade_date": "tdate",
        "executed_at": "ts",
        "settlement_date": "sdate",
        "isin": "isin",
        "side": "case side when '1' then 'BUY' else 'SELL' end",
        "quantity": "nominal",
        "price": "px",
        "currency": "ccy",
        "trader_id": "trader",
        "book_id": "book",
        "counterparty_lei": "lei",
        "venue_mic": "mic",
    },
}

CPTY_SEMICOLON = {
    **_COMMON,
    "name": "cpty_master_v2",
    "kind": "reference",
    "domain": "reference",
    "description": "Counterparties from the new client master: semicolon CSV without a header, XML control file.",
    "landing": {"pattern": "reference/cpty_v2/cpty_{business_date}.txt"},
    "format": {"type": "csv", "delimiter": ";", "header": False},
    "control": {"required": True, "pattern": "{stem}.ctl.xml", "format": "xml", "row_count_field": "Rows"},
    "columns": [
        {"name": "entity_lei", "type": "string", "nullable": False, "id_format": "lei"},
        {"name": "counterparty_name", "type": "string", "nullable": False},
        {"name": "country_code", "type": "string", "nullable": False, "regex": "^[A-Z]{2}$"},
        {"name": "rating", "type": "string", "nullable": True, "allowed_values": ["AAA", "AA", "A", "BBB", "BB"]},
        {"name": "as_of", "type": "date", "nullable": False, "format": "%Y%m%d"},
    ],
    "identity": {"source_system": "CLIENT_MASTER_V2", "source_id_field": "entity_lei", "business_date_field": "as_of"},
}

DESKS_JSONL = {
    **_COMMON,
    "name": "desk_budgets",
    "kind": "reference",
    "domain": "reference",
    "description": "Desk budgets from finance: an entity the universe does not know, as JSON lines.",
    "landing": {"pattern": "reference/desk_budgets/desks_{business_date}.jsonl"},
    "format": {"type": "jsonl"},
    "columns": [
        {"name": "desk_code", "type": "string", "nullable": False, "regex": "^DSK-[0-9]{4}$"},
        {"name": "label", "type": "string", "nullable": False},
        {"name": "head_count", "type": "integer", "nullable": False, "min": 1, "max": 50},
        {"name": "budget_musd", "type": "decimal", "nullable": False, "min": 0.5, "max": 900},
        {"name": "reviewed_at", "type": "timestamp", "nullable": True, "format": "%Y-%m-%dT%H:%M:%S"},
        {"name": "as_of", "type": "date", "nullable": False, "format": "%Y-%m-%d"},
    ],
    "identity": {"source_system": "FINANCE", "source_id_field": "desk_code", "business_date_field": "as_of"},
}

NEW_SOURCES = [
    pytest.param(FX_PARQUET, id="fx-parquet-csv-control"),
    pytest.param(CREDIT_XML, id="credit-gzip-xml-latin1"),
    pytest.param(CPTY_SEMICOLON, id="counterparty-semicolon-no-header"),
    pytest.param(DESKS_JSONL, id="unknown-entity-jsonl"),
]


def _spec(raw: Mapping[str, object], tmp_path: Path) -> SourceSpec:
    folder = tmp_path / "specs" / str(raw["domain"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{raw['name']}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    spec, problems = check_spec_file(path, REPO / "source_specs")
    assert problems == []
    assert spec is not None
    return spec


@pytest.mark.parametrize("raw", NEW_SOURCES)
def test_new_source_rows_hold_constraints_and_rules(raw: Mapping[str, object], tmp_path: Path) -> None:
    spec = _spec(raw, tmp_path)
    generated = generate_source_file(spec, 2_500, BUSINESS_DATE, tmp_path / "out", seed=9)
    rows = read_rows(spec, generated.data_path)
    assert rows.num_rows == generated.rows > 0
    broken = [checks for checks in broken_checks(spec, rows, load_code_lists()) if checks != ([], [])]
    assert broken == []


@pytest.mark.parametrize("raw", NEW_SOURCES)
def test_new_source_faults_and_determinism(raw: Mapping[str, object], tmp_path: Path) -> None:
    spec = _spec(raw, tmp_path)
    faults = Faults(bad_rows=9, control_count_delta=2 if spec.control else 0)
    first = generate_source_file(spec, 2_500, BUSINESS_DATE, tmp_path / "a", seed=9, faults=faults)
    second = generate_source_file(spec, 2_500, BUSINESS_DATE, tmp_path / "b", seed=9, faults=faults)
    assert first.data_path.read_bytes() == second.data_path.read_bytes()
    checks = broken_checks(spec, read_rows(spec, first.data_path), load_code_lists())
    assert sum(1 for errors, _ in checks if errors) == first.bad_rows == 9
    if spec.control is not None:
        assert first.control_path is not None
        stated = parse_control_file(first.control_path.read_bytes(), spec.control)
        assert stated.row_count == first.rows + 2
        if spec.control.checksum_algorithm:
            expected = hashlib.new(spec.control.checksum_algorithm, first.data_path.read_bytes()).hexdigest()
            assert stated.checksum == expected


def test_entity_reference_found_by_identifier_format(tmp_path: Path) -> None:
    spec = _spec(CPTY_SEMICOLON, tmp_path)
    generated = generate_source_file(spec, 5, BUSINESS_DATE, tmp_path / "out", seed=0)
    rows = read_rows(spec, generated.data_path)
    assert generated.rows == 400
    assert all(name and not name[-1].isdigit() for name in rows.column("counterparty_name").to_pylist())


def test_unknown_entity_reference_has_requested_rows_and_distinct_keys(tmp_path: Path) -> None:
    spec = _spec(DESKS_JSONL, tmp_path)
    generated = generate_source_file(spec, 321, BUSINESS_DATE, tmp_path / "out", seed=0)
    keys = read_rows(spec, generated.data_path).column("desk_code").to_pylist()
    assert len(keys) == len(set(keys)) == 321


def test_integer_trade_ids_respect_their_minimum_and_are_distinct_per_version(tmp_path: Path) -> None:
    spec = _spec(CREDIT_XML, tmp_path)
    rows = read_rows(spec, generate_source_file(spec, 3_000, BUSINESS_DATE, tmp_path / "out").data_path)
    keys = list(zip(rows.column("ref").to_pylist(), rows.column("ver").to_pylist(), strict=True))
    assert len(set(keys)) == len(keys)
    assert min(int(str(ref)) for ref, _ in keys) >= 1
    classes = set(rows.column("asset_class").to_pylist())
    assert classes <= {"GOVT_BOND", "CORP_BOND"}
