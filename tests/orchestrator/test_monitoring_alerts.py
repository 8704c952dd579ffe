"""The alerts in terraform/modules/monitoring watch what the code emits and point at runbook sections that exist:
a renamed metric, log field or runbook heading fails here rather than silencing an alert in production."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from regulatory_reporter.logs import DEAD_LETTER_ALERT
from streaming.metrics import BridgeMetrics
from tests.conftest import REPO

MONITORING = (REPO / "terraform" / "modules" / "monitoring" / "main.tf").read_text()
RUNBOOK = (REPO / "docs" / "support_runbook.md").read_text()


def _local(name: str) -> str:
    found = re.search(rf'^\s*{name}\s*=\s*"([^"]*)"', MONITORING, flags=re.MULTILINE)
    assert found, f"local {name} is not in terraform/modules/monitoring/main.tf"
    return found.group(1)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")


def test_the_regulatory_alert_counts_the_reporters_dead_letter_log_line() -> None:
    assert _local("regulatory_dead_letter_log_alert") == DEAD_LETTER_ALERT


def test_the_bridge_alerts_query_metrics_the_bridge_exports() -> None:
    exported = {family.name for family in BridgeMetrics().registry.collect()}
    for name in ("bridge_gauge_always_set", "bridge_paused_gauge", "bridge_backlog_gauge"):
        assert _local(name) in exported, f"{_local(name)} is not a metric of streaming/metrics.py"


def test_every_runbook_link_names_a_section_of_the_support_runbook() -> None:
    anchors = {_anchor(heading) for heading in re.findall(r"^## (.+)$", RUNBOOK, flags=re.MULTILINE)}
    links = re.findall(r'"\$\{var\.runbook_url\}#([a-z0-9-]+)"', MONITORING)
    assert len(links) == 3
    assert set(links) <= anchors, f"no such runbook sections: {sorted(set(links) - anchors)}"


ALERT_COMMANDS = [
    shlex.split(line.strip().replace("${var.environment}", "int").replace("${each.key}", "rfq"))
    for line in MONITORING.splitlines()
    if line.strip().startswith("mdp ")
]


@pytest.mark.parametrize("words", ALERT_COMMANDS, ids=[" ".join(words) for words in ALERT_COMMANDS])
def test_every_command_an_alert_suggests_parses(words: list[str]) -> None:
    # With --help last, the command line is parsed (unknown commands and options fail) and nothing runs.
    result = CliRunner().invoke(app, [*words[1:], "--help"])
    assert result.exit_code == 0, f"`{' '.join(words)}`: {result.output}"
