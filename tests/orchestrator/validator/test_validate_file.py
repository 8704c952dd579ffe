from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest

from orchestrator.specs import SourceSpec, find_spec
from orchestrator.validator.validate_file import FileValidation, LandedFile, ValidatorSettings, validate_file

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SEEDS = Path(__file__).resolve().parents[3] / "dbt_project" / "seeds"


def _validate(
    spec: SourceSpec, fixture: str, tmp_path: Path, control: str | None = None, gzip_it: bool = False
) -> FileValidation:
    data = (FIXTURES / fixture).read_bytes()
    if gzip_it:
        data = gzip.compress(data, mtime=0)
    path = tmp_path / ("landed.gz" if gzip_it else "landed")
    path.write_bytes(data)
    landed = LandedFile(
        path=path,
        landing_key=f"test/{fixture}",
        file_id=hashlib.sha256(data).hexdigest(),
        content_md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        content_sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        business_date=dt.date(2026, 11, 20),
        control_bytes=(FIXTURES / control).read_bytes() if control else None,
    )
    settings = ValidatorSettings(work_dir=tmp_path / "work", reference_lists_dir=SEEDS)
    return validate_file(spec, landed, settings, tmp_path / "staged.parquet")


@pytest.mark.parametrize(
    ("source", "fixture", "control", "gzip_it", "reason"),
    [
        pytest.param(
            "murex_trades",
            "murex_trades.valid.xml",
            "murex_trades.ctrl_count_mismatch.ctrl.xml",
            False,
            "control_row_count: control file states 7 rows, file has 4",
            id="control-count-mismatch",
        ),
        pytest.param(
            "murex_trades",
            "murex_trades.valid.xml",
            "murex_trades.ctrl_checksum_mismatch.ctrl.xml",
            False,
            "control_checksum: control file states md5 00000000000000000000000000000000",
            id="control-checksum-mismatch",
        ),
        pytest.param(
            "murex_trades", "murex_trades.truncated.xml", None, False, "unreadable: cannot read XML", id="truncated-xml"
        ),
        pytest.param(
            "venue_executions",
            "venue_executions.unexpected_column.csv",
            None,
            True,
            "schema_drift: unexpected columns comment",
            id="unexpected-column-rejected-by-policy",
        ),
        pytest.param(
            "venue_executions",
            "venue_executions.duplicate_keys.csv",
            None,
            True,
            "duplicate_keys: 1 keys (exec_id, exec_version) appear more than once, e.g. EX000000000001/1 at rows 1, 2",
            id="duplicate-keys",
        ),
        pytest.param(
            "venue_executions",
            "venue_executions.header_only.csv",
            None,
            True,
            "empty_file: the file has no data rows",
            id="empty-file",
        ),
        pytest.param(
            "venue_executions",
            "venue_executions.bad_rows.csv",
            None,
            False,
            "unreadable: cannot read CSV",
            id="not-gzip-although-spec-says-gzip",
        ),
    ],
)
def test_whole_file_failures_name_the_check(
    specs: list[SourceSpec],
    tmp_path: Path,
    source: str,
    fixture: str,
    control: str | None,
    gzip_it: bool,
    reason: str,
) -> None:
    result = _validate(find_spec(specs, source), fixture, tmp_path, control, gzip_it)
    assert not result.passed
    assert any(reason in found for found in result.reasons), result.reasons
    assert result.staged_path is None


def test_bad_rows_are_quarantined_with_row_numbers_and_rules(specs: list[SourceSpec], tmp_path: Path) -> None:
    result = _validate(find_spec(specs, "venue_executions"), "venue_executions.bad_rows.csv", tmp_path, gzip_it=True)
    assert result.passed, result.reasons
    assert (result.rows_total, result.rows_loaded, result.rows_quarantined) == (6, 1, 5)
    quarantined = {row["row_number"]: json.loads(row["failed_rules"]) for row in result.quarantine.to_pylist()}
    assert quarantined[2] == ["isin:isin"]
    assert quarantined[3][0].startswith("malformed_record: MISSING COLUMNS")
    assert quarantined[4] == ["notional_equals_qty_times_px"]
    assert set(quarantined[5]) >= {"type:qty", "currency:ccy"}
    assert quarantined[6] == ["lei:cpty_lei"]
    raw = json.loads(result.quarantine.to_pylist()[0]["raw_record"])
    assert raw["isin"] == "US0378331006"


def test_xml_rows_are_typed_and_bad_ones_quarantined(specs: list[SourceSpec], tmp_path: Path) -> None:
    result = _validate(
        find_spec(specs, "murex_trades"), "murex_trades.valid.xml", tmp_path, "murex_trades.valid.ctrl.xml"
    )
    assert result.passed, result.reasons
    assert (result.rows_total, result.rows_loaded, result.rows_quarantined) == (4, 3, 1)
    [bad] = result.quarantine.to_pylist()
    assert bad["row_number"] == 4
    assert set(json.loads(bad["failed_rules"])) == {
        "isin:isin",
        "allowed_values:buy_sell",
        "min:nominal",
        "currency:currency",
        "settles_on_or_after_trade_date",
    }
    import duckdb

    staged = (
        duckdb.connect()
        .execute(
            f"select trade_ref, version, nominal, exec_time, _source_row_number from '{tmp_path / 'staged.parquet'}' "
            "order by _source_row_number"
        )
        .fetchall()
    )
    assert staged[1][:3] == ("MX0000000001", 2, 1500000)
    assert staged[0][3] == dt.datetime(2026, 11, 20, 9, 15)
    assert [row[4] for row in staged] == [1, 2, 3]


def test_jsonl_malformed_line_is_quarantined_and_unexpected_keys_ignored(
    specs: list[SourceSpec], tmp_path: Path
) -> None:
    result = _validate(find_spec(specs, "bloomberg_trades"), "bloomberg_trades.malformed_line.jsonl", tmp_path)
    assert result.passed, result.reasons
    assert (result.rows_total, result.rows_loaded, result.rows_quarantined) == (3, 1, 2)
    rules = {row["row_number"]: json.loads(row["failed_rules"]) for row in result.quarantine.to_pylist()}
    assert rules == {2: ["malformed_record: not a JSON object"], 3: ["cusip:cusip"]}
