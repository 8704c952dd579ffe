"""Generate one landed file (and its control file) for a source spec, deterministically."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa

from orchestrator.generator.codes import load_code_lists
from orchestrator.generator.control import write_control_file
from orchestrator.generator.exceptions import GeneratorError
from orchestrator.generator.faults import Faults, bad_row_positions, break_rows, plan_breakages
from orchestrator.generator.reference_layout import reference_layout
from orchestrator.generator.render import render_text
from orchestrator.generator.seeding import rng_for
from orchestrator.generator.trade_layout import NOTIONAL_COLUMN, trade_layout
from orchestrator.generator.universe import build_universe
from orchestrator.generator.writers import open_data_file
from orchestrator.specs.model import SourceSpec, control_key_for

# Rows generated, rendered and written at a time: bounds memory whatever the file size.
CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class GeneratedFile:
    """A generated data file, its control file (if the spec has one) and what went into it."""

    data_path: Path
    control_path: Path | None
    landing_key: str
    rows: int
    bad_rows: int


class _Layout(Protocol):
    @property
    def rows(self) -> int: ...

    def typed_chunk(self, first_row: int, size: int, rng: np.random.Generator) -> pa.Table: ...

    def text_columns(self, typed: pa.Table) -> dict[str, str]: ...


def generate_source_file(
    spec: SourceSpec,
    rows: int,
    business_date: date,
    out_dir: Path,
    seed: int = 0,
    *,
    faults: Faults | None = None,
    reference_lists_dir: Path | None = None,
) -> GeneratedFile:
    """Write one deterministic data file (and control file) at its landing key; reference sources ignore `rows`.

    Currencies and MICs come from `reference_lists_dir` (the settings' dbt seeds, which the validator checks
    against); without it, from the seeds of the source tree this package runs from.
    """
    # A reference file holds its whole universe entity (every trader, book, counterparty or instrument)
    # so every key a trade file of the same seed uses resolves; `rows` only sizes trade files.
    faults = faults or Faults()
    if rows < 0:
        raise GeneratorError(f"source={spec.name}: rows={rows} must not be negative")
    if faults.control_count_delta and spec.control is None:
        raise GeneratorError(f"source={spec.name}: has no control file to state a wrong row count in")
    codes = load_code_lists(reference_lists_dir) if reference_lists_dir else load_code_lists()
    universe = build_universe(seed, codes)
    stamp = business_date.strftime("%Y%m%d")
    landing_key = spec.landing_key(stamp, faults.seq)
    if not spec.landing_regex().match(landing_key):
        raise GeneratorError(
            f"source={spec.name}: seq={faults.seq!r} gives key {landing_key!r}, which its spec would not match"
        )

    layout: _Layout
    if spec.kind == "trade":
        trades = trade_layout(spec, universe, business_date, rows, seed, faults.seq)
        role_columns = trades.roles.columns
        notional = NOTIONAL_COLUMN if NOTIONAL_COLUMN in spec.column_names and trades.notional_inputs() else None
        layout = trades
    else:
        layout = reference_layout(spec, universe, business_date, rows)
        role_columns, notional = {}, None
    breakages = plan_breakages(spec, codes, role_columns, notional)
    positions = bad_row_positions(layout.rows, faults.bad_rows)
    if len(positions) and not breakages:
        raise GeneratorError(f"source={spec.name}: no declared constraint or row rule the generator can break")
    planned = [(int(position), breakages[index % len(breakages)]) for index, position in enumerate(positions)]

    data_path = out_dir / landing_key
    with duckdb.connect() as con, open_data_file(spec, data_path, con) as writer:
        for first_row in range(0, layout.rows, CHUNK_ROWS):
            size = min(CHUNK_ROWS, layout.rows - first_row)
            rng = rng_for(seed, spec.name, stamp, faults.seq, first_row)
            typed = layout.typed_chunk(first_row, size, rng)
            in_chunk = [
                (position, breakage) for position, breakage in planned if first_row <= position < first_row + size
            ]
            if in_chunk:
                text = render_text(con, typed, layout.text_columns(typed))
                writer.write_text(break_rows(text, first_row, in_chunk))
            else:
                writer.write_typed(typed, layout.text_columns(typed))

    control_key = control_key_for(spec, landing_key)
    control_path = out_dir / control_key if control_key else None
    if spec.control is not None and control_path is not None:
        write_control_file(spec.control, control_path, data_path, layout.rows + faults.control_count_delta)
    return GeneratedFile(
        data_path=data_path,
        control_path=control_path,
        landing_key=landing_key,
        rows=layout.rows,
        bad_rows=len(planned),
    )
