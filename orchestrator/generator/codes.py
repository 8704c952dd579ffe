"""ISO 4217 currency codes and ISO 10383 MICs, read from the dbt seeds the validator checks against."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from orchestrator.generator.exceptions import GeneratorError

DEFAULT_SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
CURRENCY_SEED = "iso_currencies.csv"
MIC_SEED = "iso_mics.csv"


@dataclass(frozen=True)
class CodeLists:
    """The currency codes and market identifier codes generated files may use."""

    currencies: tuple[str, ...]
    mics: tuple[str, ...]


def _seed_column(path: Path, column: str) -> tuple[str, ...]:
    """Distinct upper-case values of one seed column, sorted."""
    if not path.exists():
        # No built-in list: codes the validator's seeds lack would make generated files fail validation.
        raise GeneratorError(f"file={path}: seed not found; the generator draws its codes from it")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or column not in reader.fieldnames:
            raise GeneratorError(f"file={path}: seed has no column {column!r}; fix the seed before generating data")
        values = {(row[column] or "").strip().upper() for row in reader}
    values.discard("")
    if not values:
        raise GeneratorError(f"file={path}: seed column {column!r} is empty; fix the seed before generating data")
    return tuple(sorted(values))


def load_code_lists(seeds_dir: Path = DEFAULT_SEEDS_DIR) -> CodeLists:
    """Currencies from `iso_currencies.csv` and MICs from `iso_mics.csv`."""
    return CodeLists(
        currencies=_seed_column(seeds_dir / CURRENCY_SEED, "currency_code"),
        mics=_seed_column(seeds_dir / MIC_SEED, "mic"),
    )
