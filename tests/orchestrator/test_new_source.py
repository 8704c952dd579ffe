"""A new source is a YAML file: no code change, and its trades reach the extract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MDP = str(Path(sys.executable).with_name("mdp"))


def test_source_added_by_yaml_alone_reaches_markets_extract(tmp_path: Path) -> None:
    specs_dir = tmp_path / "source_specs"
    dbt_dir = tmp_path / "dbt_project"
    shutil.copytree(REPO / "source_specs", specs_dir)
    shutil.copytree(REPO / "dbt_project", dbt_dir, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    spec = yaml.safe_load((specs_dir / "trading" / "venue_executions.yaml").read_text())
    spec["name"] = "lit_executions"
    spec["description"] = "Lit-book executions from a second venue gateway, added by YAML alone."
    spec["landing"]["pattern"] = "venues/lit/lit_executions_{business_date}_{seq}.csv.gz"
    spec["identity"]["source_system"] = "LIT_GW"
    (specs_dir / "trading" / "lit_executions.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    completed = subprocess.run(
        [MDP, "specs", "smoke-test", "lit_executions", "--json"],
        env={**os.environ, "MDP_SPECS_DIR": str(specs_dir), "MDP_DBT_PROJECT_DIR": str(dbt_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout)
    assert result["source"] == "lit_executions"
    assert result["trades_in_extract"] > 0
    assert (dbt_dir / "models" / "staging" / "lit_executions" / "stg_lit_executions__trades.sql").exists()
