from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.identity import MARKETS_NAMESPACE, trade_id

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("domain", "system", "source_id", "expected"),
    [
        pytest.param("trading", "MUREX", "MX0000000001", "21a4862beb8d96bee241fe64a7af148d", id="murex"),
        pytest.param(
            "trading",
            "VENUE_GW",
            "EX000000000001",
            trade_id("trading", "VENUE_GW", "EX000000000001"),
            id="venue-self-consistent",
        ),
    ],
)
def test_trade_id_is_pinned(domain: str, system: str, source_id: str, expected: str) -> None:
    assert trade_id(domain, system, source_id) == expected


def test_namespace_matches_dbt_var() -> None:
    project = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())
    assert project["vars"]["markets_namespace"] == MARKETS_NAMESPACE == "bank-markets"


def test_cli_prints_the_same_id() -> None:
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("mdp")), "trade-id", "--domain", "trading", "MUREX", "MX0000000001"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == "21a4862beb8d96bee241fe64a7af148d"
    assert completed.stderr == ""
