"""The alerts in terraform/modules/monitoring watch what the code emits and point at runbook sections that exist:
a renamed metric, log field or runbook heading fails here rather than silencing an alert in production."""

from __future__ import annotations

import re
import shlex

import pytest
from typer.testing import CliRunner

from orchestrator.alerts import Alert
from orchestrator.cli import app
from regulatory_reporter.logs import DEAD_LETTER_ALERT
from streaming.metrics import BridgeMetrics
from streaming.runbook import SEVERITIES
from tests.conftest import REPO

MONITORING_DIR = REPO / "terraform" / "modules" / "monitoring"
MONITORING = (MONITORING_DIR / "main.tf").read_text()
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


def _job_alerts() -> dict[str, dict[str, str]]:
    """The `job_alerts` map of main.tf: each alert's quoted attributes."""
    block = MONITORING[MONITORING.index("  job_alerts = {") :]
    block = block[: block.index("\n  }\n")]
    entries = re.findall(r"^    ([A-Z_]+) = \{\n(.*?)^    \}", block, flags=re.MULTILINE | re.DOTALL)
    return {name: dict(re.findall(r'^\s+(\w+)\s*=\s*"(.*)"$', body, flags=re.MULTILINE)) for name, body in entries}


def test_every_alert_the_jobs_log_has_a_policy_and_every_policy_an_alert() -> None:
    assert set(_job_alerts()) == {alert.value for alert in Alert}


def test_a_policy_keeps_one_incident_per_subject_the_alert_names() -> None:
    # The label a policy groups by must be a field the jobs log (orchestrator/batch/findings.py, streaming/cli.py).
    labels = re.findall(r'^\s+(\w+)\s+= "EXTRACT\(jsonPayload\.(\w+)\)"', MONITORING, flags=re.MULTILINE)
    assert all(label == field for label, field in labels)
    for alert, attributes in _job_alerts().items():
        assert attributes["per"] in {"", *(label for label, _ in labels)}, alert


def test_the_gap_alert_knows_the_severities_the_build_logs() -> None:
    allowed = re.search(r"contains\((\[[^]]*\]), severity\)", (MONITORING_DIR / "variables.tf").read_text())
    assert allowed, "stream_gap_alert_severities has no list of allowed severities"
    assert tuple(re.findall(r'"([A-Z]+)"', allowed.group(1))) == SEVERITIES


def test_the_bridge_alerts_query_metrics_the_bridge_exports() -> None:
    exported = {family.name for family in BridgeMetrics().registry.collect()}
    for name in ("bridge_gauge_always_set", "bridge_paused_gauge", "bridge_backlog_gauge", "bridge_stalled_gauge"):
        assert _local(name) in exported, f"{_local(name)} is not a metric of streaming/metrics.py"


def test_every_runbook_link_names_a_section_of_the_support_runbook() -> None:
    anchors = {_anchor(heading) for heading in re.findall(r"^## (.+)$", RUNBOOK, flags=re.MULTILINE)}
    links = re.findall(r'"\$\{var\.runbook_url\}#([a-z0-9-]+)"', MONITORING)
    links += [attributes["runbook"] for attributes in _job_alerts().values()]
    assert len(links) == 4 + len(Alert)
    assert set(links) <= anchors, f"no such runbook sections: {sorted(set(links) - anchors)}"


ALERT_COMMANDS = [
    shlex.split(f"mdp --env int {attributes['command']}".replace("${var.stream_gap_alert_severities[0]}", "HIGH"))
    for attributes in _job_alerts().values()
] + [
    shlex.split(
        line.strip()
        .replace("${var.environment}", "int")
        .replace("${each.key}", "rfq")
        .replace("${var.stream_gap_alert_severities[0]}", "HIGH")
    )
    for line in MONITORING.splitlines()
    if line.strip().startswith("mdp ") and "${each.value.command}" not in line
]


@pytest.mark.parametrize("words", ALERT_COMMANDS, ids=[" ".join(words) for words in ALERT_COMMANDS])
def test_every_command_an_alert_suggests_parses(words: list[str]) -> None:
    assert "${" not in " ".join(words), "a Terraform expression the test does not fill in"
    # With --help last, the command line is parsed (unknown commands and options fail) and nothing runs.
    result = CliRunner().invoke(app, [*words[1:], "--help"])
    assert result.exit_code == 0, f"`{' '.join(words)}`: {result.output}"
