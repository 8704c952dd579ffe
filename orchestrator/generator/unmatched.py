"""A landed file that no source spec claims, to exercise the validator's `unmatched` outcome."""

from __future__ import annotations

from datetime import date
from pathlib import Path

UNMATCHED_KEY_PATTERN = "inbound/unknown_feed/positions_{business_date}.csv"

_POSITIONS = (
    ("P000001", "US0378331005", "1500", "USD"),
    ("P000002", "GB0002634946", "-2000", "GBP"),
    ("P000003", "US5949181045", "300", "USD"),
)


def write_unmatched_file(out_dir: Path, business_date: date) -> Path:
    """Write a small positions CSV at a key no spec matches and return its path."""
    key = UNMATCHED_KEY_PATTERN.format(business_date=business_date.strftime("%Y%m%d"))
    path = out_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["position_id,isin,quantity,currency,as_of_date"]
    lines += [",".join((*position, business_date.isoformat())) for position in _POSITIONS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
    return path
