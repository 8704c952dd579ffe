"""Every `mdp` command the Kubernetes workloads run exists and accepts its options (images' entrypoint is `mdp`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli import app
from streaming.spec import load_stream_specs
from tests.conftest import REPO

BASE = REPO / "orchestrator" / "k8s" / "base"
# Values the job scripts compute at run time, as the command line would see them.
SCRIPT_VALUES = {"${date}": "2026-11-20"}


def _pod_specs(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if document["kind"] == "CronJob":
        yield document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif document["kind"] == "Deployment":
        yield document["spec"]["template"]["spec"]


def _mdp_commands(container: dict[str, Any]) -> Iterator[list[str]]:
    """The argument lists `mdp` gets: the container's args, or each `mdp` line of its shell script."""
    command = container.get("command")
    if command is None:
        yield list(container["args"])
    elif command[:2] == ["/bin/sh", "-ec"]:
        for line in container["args"][0].splitlines():
            if line.strip().startswith("mdp "):
                words = [SCRIPT_VALUES.get(word, word) for word in shlex.split(line)[1:]]
                unknown = [word for word in words if re.search(r"\$\{?\w", word)]
                assert not unknown, f"{line}: add a sample value for {unknown} to SCRIPT_VALUES"
                yield words


def _workload_commands() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(BASE.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            for pod in _pod_specs(document or {"kind": None}):
                for container in pod["containers"]:
                    for words in _mdp_commands(container):
                        found.append((f"{document['metadata']['name']}/{container['name']}", words))
    return found


WORKLOAD_COMMANDS = _workload_commands()


def test_every_lane_has_its_scheduled_jobs() -> None:
    commands = {" ".join(words) for _, words in WORKLOAD_COMMANDS}
    assert {
        "run",
        "watch",
        "bridge run rfq",
        "stream build --json",
        "stream check --json",
        "reporter mirror --json",
        "reporter reconcile --json",
    } <= commands


def test_every_stream_spec_has_a_bridge_deployment() -> None:
    bridged = {words[2] for _, words in WORKLOAD_COMMANDS if words[:2] == ["bridge", "run"] and len(words) > 2}
    streams = {spec.name for spec in load_stream_specs(REPO / "source_specs")}
    assert streams <= bridged, (
        f"stream spec(s) {sorted(streams - bridged)} have no bridge Deployment: `mdp specs generate-k8s` writes it"
    )


@pytest.mark.parametrize(("workload", "words"), WORKLOAD_COMMANDS, ids=[name for name, _ in WORKLOAD_COMMANDS])
def test_workload_command_parses(workload: str, words: list[str]) -> None:
    # With --help last, the command line is parsed (unknown commands and options fail) and nothing runs.
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, f"{workload}: `mdp {' '.join(words)}`: {result.output}"
