"""Smoke-test one source: a sample file through a cycle in a throwaway home, into the extract."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.batch.cycle import run_cycle
from orchestrator.exceptions import Terminal
from orchestrator.generator import generate_source_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec

SMOKE_DATE = dt.date(2026, 11, 20)


class SmokeTestFailedError(Terminal):
    """The source's sample trades did not reach `consumer.markets_extract`."""


def smoke_test_source(settings: Settings, specs: Sequence[SourceSpec], name: str, rows: int = 200) -> dict[str, Any]:
    """Generate a sample (plus reference data), run one cycle in a throwaway home, count the source's extract rows."""
    spec = find_spec(specs, name)
    with tempfile.TemporaryDirectory(prefix="mdp-smoke-") as scratch:
        home_settings = dataclasses.replace(settings, home=Path(scratch) / "home")
        buckets = open_buckets(home_settings)
        out_dir = Path(scratch) / "files"
        for candidate in [spec, *(s for s in specs if s.kind == "reference" and s.name != spec.name)]:
            generate_source_file(
                candidate, rows, SMOKE_DATE, out_dir, seed=1, reference_lists_dir=settings.reference_lists_dir
            )
        for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
            buckets.landing.upload_file(path, path.relative_to(out_dir).as_posix())
        report = run_cycle(home_settings, specs, SMOKE_DATE)
        outcome = next((f for f in report.files if f.source == name), None)
        if outcome is None or outcome.status != "loaded":
            reasons = "; ".join(outcome.reasons) if outcome else "file not picked up"
            raise SmokeTestFailedError(f"source={name}: sample file did not load: {reasons}")
        if report.dbt is None or report.dbt.status != "success":
            raise SmokeTestFailedError(f"source={name}: dbt build failed: {report.dbt.message if report.dbt else ''}")
        extract_rows = 0
        if spec.kind == "trade":
            with closing(open_warehouse(home_settings)) as warehouse:
                counted = warehouse.query(
                    f"select count(*) as trades from {warehouse.table('consumer', 'markets_extract')} "
                    "where source_name = @name",
                    {"name": name},
                )
            extract_rows = int(counted[0]["trades"])
            if extract_rows == 0:
                raise SmokeTestFailedError(f"source={name}: no trades reached consumer.markets_extract")
        return {
            "source": name,
            "rows_loaded": outcome.rows_loaded,
            "rows_quarantined": outcome.rows_quarantined,
            "trades_in_extract": extract_rows,
        }
