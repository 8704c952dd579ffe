from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from orchestrator.generator import generate_source_file
from orchestrator.specs import SourceSpec, find_spec

MILLION = 1_000_000


def test_a_million_venue_executions(
    specs: list[SourceSpec], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.perf_counter()
    generated = generate_source_file(find_spec(specs, "venue_executions"), MILLION, date(2026, 1, 7), tmp_path)
    seconds = time.perf_counter() - started
    with capsys.disabled():
        size_mb = generated.data_path.stat().st_size / 1e6
        print(f"\nvenue_executions: {MILLION:,} rows, {size_mb:.0f} MB gzip, generated in {seconds:.2f} s")
    assert generated.rows == MILLION
    assert generated.control_path is not None
