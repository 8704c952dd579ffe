"""A new source is a YAML file: docs/adding_new_source.md's walkthrough, followed literally, reaches the extract."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
MDP = str(Path(sys.executable).with_name("mdp"))
DOC = REPO / "docs" / "adding_new_source.md"


def _walkthrough() -> tuple[list[list[str]], dict[str, Any]]:
    text = DOC.read_text().split("## Walkthrough", 1)[1]
    commands = [
        shlex.split(line)
        for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
        for line in block.splitlines()
        if line.strip()
    ]
    (changes,) = re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL)
    return commands, yaml.safe_load(changes)


def _merge(spec: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        spec[key] = _merge(spec.get(key) or {}, value) if isinstance(value, dict) else value
    return spec


def test_walkthrough_adds_a_source_whose_trades_reach_markets_extract(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "source_specs", repo / "source_specs")
    shutil.copytree(
        REPO / "dbt_project", repo / "dbt_project", ignore=shutil.ignore_patterns("target", "logs", "dbt_packages")
    )
    commands, changes = _walkthrough()
    environment = {
        **os.environ,
        "MDP_HOME": str(tmp_path / "home"),
        "MDP_SPECS_DIR": str(repo / "source_specs"),
        "MDP_DBT_PROJECT_DIR": str(repo / "dbt_project"),
    }
    outputs = []
    for command in commands:
        if command[0] == "mdp":
            command = [MDP, *command[1:]]
        completed = subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, check=False)
        assert completed.returncode == 0, f"{shlex.join(command)}: {completed.stdout}{completed.stderr}"
        outputs.append(completed.stdout)
        if command[0] == "cp":
            spec_path = repo / command[-1]
            spec_path.write_text(yaml.safe_dump(_merge(yaml.safe_load(spec_path.read_text()), changes)))

    assert any("9 spec(s) valid, 0 error(s)" in output for output in outputs)
    assert (repo / "dbt_project" / "models" / "staging" / "lit_executions" / "stg_lit_executions__trades.sql").exists()
    assert "smoke test lit_executions: passed" in outputs[-1]
    # The new source is not expected before its go-live.
    seed = (repo / "dbt_project" / "seeds" / "expected_sources.csv").read_text().splitlines()
    assert any(line.startswith("lit_executions,") and ",2026-11-20," in line for line in seed)
