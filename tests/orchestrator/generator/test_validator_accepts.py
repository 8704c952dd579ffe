"""Generated files go through the real validator: good rows load, deliberately broken rows are quarantined."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from orchestrator.generator import Faults, GeneratedFile, generate_source_file
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.validator.validate_file import FileValidation, LandedFile, ValidatorSettings, validate_file

REPO = Path(__file__).resolve().parents[3]
SHIPPED = sorted(path.stem for path in (REPO / "source_specs").glob("*/*.yaml") if path.parent.name != "streaming")
BUSINESS_DATE = date(2026, 1, 7)


def _validate(spec: SourceSpec, generated: GeneratedFile, work: Path) -> FileValidation:
    data = generated.data_path.read_bytes()
    landed = LandedFile(
        path=generated.data_path,
        landing_key=generated.landing_key,
        file_id=hashlib.sha256(data).hexdigest(),
        content_md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        content_sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        business_date=BUSINESS_DATE,
        control_bytes=generated.control_path.read_bytes() if generated.control_path else None,
    )
    settings = ValidatorSettings(work_dir=work / "work", reference_lists_dir=REPO / "dbt_project" / "seeds")
    return validate_file(spec, landed, settings, work / "staged.parquet")


@pytest.mark.parametrize("source", [pytest.param(name, id=name) for name in SHIPPED])
def test_validator_loads_good_rows_and_quarantines_broken_ones(
    specs: list[SourceSpec], tmp_path: Path, source: str
) -> None:
    spec = find_spec(specs, source)
    generated = generate_source_file(spec, 2_000, BUSINESS_DATE, tmp_path / "out", seed=1, faults=Faults(bad_rows=6))
    result = _validate(spec, generated, tmp_path)
    assert result.passed, result.reasons
    assert result.rows_total == generated.rows
    assert result.rows_quarantined == generated.bad_rows == 6
    assert result.rows_loaded == generated.rows - 6
    assert result.rows_warned == 0


def test_validator_fails_a_file_whose_control_count_is_wrong(specs: list[SourceSpec], tmp_path: Path) -> None:
    spec = find_spec(specs, "murex_trades")
    faults = Faults(control_count_delta=3, seq="002")
    generated = generate_source_file(spec, 500, BUSINESS_DATE, tmp_path / "out", seed=1, faults=faults)
    result = _validate(spec, generated, tmp_path)
    assert not result.passed
    assert any(reason.startswith("control_row_count") for reason in result.reasons)
