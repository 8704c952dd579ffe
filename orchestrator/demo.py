"""The main job on the embedded default: a realistic trading day from landing to the vendor extract."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.backends import open_buckets, open_warehouse, reset_environment
from orchestrator.batch.cycle import CycleReport, Progress, run_cycle
from orchestrator.extract import ExtractResult, write_extract
from orchestrator.generator import Faults, generate_source_file, write_unmatched_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec

# Rows per trade source in the demo day: big enough to be realistic, small enough for a laptop minute.
DEMO_ROWS = {"murex_trades": 20_000, "venue_executions": 50_000, "bloomberg_trades": 10_000}
DEFAULT_TRADE_ROWS = 5_000


@dataclass(frozen=True)
class DemoResult:
    """The cycle and the extract of one demo day."""

    cycle: CycleReport
    extract: ExtractResult | None

    def summary(self) -> dict[str, Any]:
        """Files by outcome, rows, extract size and where it went."""
        loaded = [f for f in self.cycle.files if f.status == "loaded"]
        return {
            "files_by_outcome": self.cycle.counts(),
            "rows_loaded": sum(f.rows_loaded for f in loaded),
            "rows_quarantined": sum(f.rows_quarantined for f in loaded),
            "trades_in_extract": self.extract.rows if self.extract else 0,
            "extract": self.extract.as_dict() if self.extract else None,
            "dbt": self.cycle.dbt.status if self.cycle.dbt else "not_run",
        }


# Rows the demo breaks on purpose in the venue file, and the rows of the Murex file that fails whole.
DEMO_BAD_ROWS = 25
FAILING_FILE_ROWS = 500


def deliver_demo_files(
    specs: Sequence[SourceSpec],
    date: dt.date,
    seed: int,
    out_dir: Path,
    reference_lists_dir: Path,
    trade_rows: int | None = None,
) -> None:
    """A clean trading day for every source plus deliberately bad files.

    `trade_rows` sizes every trade file alike (the reference files always hold their whole universe); by
    default each trade source gets its realistic demo size. Currencies and MICs come from `reference_lists_dir`.
    """
    if trade_rows is not None and trade_rows <= DEMO_BAD_ROWS:
        raise ValueError(f"trade_rows={trade_rows} must be more than the {DEMO_BAD_ROWS} rows the demo breaks")
    for spec in specs:
        rows = trade_rows or DEMO_ROWS.get(spec.name, DEFAULT_TRADE_ROWS)
        faults = Faults(bad_rows=DEMO_BAD_ROWS) if spec.name == "venue_executions" else None
        generate_source_file(spec, rows, date, out_dir, seed, faults=faults, reference_lists_dir=reference_lists_dir)
    murex = find_spec(specs, "murex_trades")
    # A second Murex file whose control file states the wrong row count: it must fail whole.
    failing_rows = min(FAILING_FILE_ROWS, trade_rows or FAILING_FILE_ROWS)
    failing = Faults(control_count_delta=3, seq="002")
    generate_source_file(
        murex, failing_rows, date, out_dir, seed + 1, faults=failing, reference_lists_dir=reference_lists_dir
    )
    write_unmatched_file(out_dir, date)


def run_demo(
    settings: Settings,
    specs: Sequence[SourceSpec],
    date: dt.date,
    seed: int,
    progress: Progress | None = None,
    trade_rows: int | None = None,
) -> DemoResult:
    """Fresh home, one day of files dropped into landing, one cycle, the daily extract."""
    reset_environment(settings)
    buckets = open_buckets(settings)
    with tempfile.TemporaryDirectory(prefix="mdp-demo-") as scratch:
        out_dir = Path(scratch)
        if progress:
            progress("generating files", 0, 1)
        deliver_demo_files(specs, date, seed, out_dir, settings.reference_lists_dir, trade_rows)
        for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
            buckets.landing.upload_file(path, path.relative_to(out_dir).as_posix())
    cycle = run_cycle(settings, specs, date, progress=progress)
    extract = None
    if cycle.dbt is not None and cycle.dbt.status == "success":
        with closing(open_warehouse(settings)) as warehouse:
            extract = write_extract(warehouse, buckets, date, "jsonl", settings.work_dir)
    return DemoResult(cycle=cycle, extract=extract)
