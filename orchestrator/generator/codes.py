"""ISO 4217 currency codes and ISO 10383 MICs, read from the dbt seeds the validator checks against."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from orchestrator.generator.exceptions import GeneratorError

DEFAULT_SEEDS_DIR = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds"
CURRENCY_SEED = "iso_currencies.csv"
MIC_SEED = "iso_mics.csv"

# Used only while the seed files do not exist yet; every code here is a real ISO code.
FALLBACK_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF")
FALLBACK_MICS = ("XLON", "XNYS", "XNAS", "XPAR", "XETR", "XOFF")


@dataclass(frozen=True)
class CodeLists:
    """The currency codes and market identifier codes generated files may use."""

    currencies: tuple[str, ...]
    mics: tuple[str, ...]


def _seed_column(path: Path, column: str, fallback: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct upper-case values of one seed column, sorted; the fallback when the seed is absent."""
    if not path.exists():
        return fallback
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
    """Currencies from `iso_currencies.csv` and MICs from `iso_mics.csv`, or the built-in fallback."""
    return CodeLists(
        currencies=_seed_column(seeds_dir / CURRENCY_SEED, "currency_code", FALLBACK_CURRENCIES),
        mics=_seed_column(seeds_dir / MIC_SEED, "mic", FALLBACK_MICS),
    )
