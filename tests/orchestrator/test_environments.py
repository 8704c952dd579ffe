from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.environments import ConfigurationError, load_environment

CONFIG = Path(__file__).resolve().parents[2] / "config" / "environments"
MDP = str(Path(sys.executable).with_name("mdp"))


def test_local_needs_nothing() -> None:
    assert load_environment("local", CONFIG) is None


def test_prod_reads_its_checked_in_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MDP_PROJECT", raising=False)
    monkeypatch.setenv("MDP_BUCKET_LANDING", "override-landing")
    cloud = load_environment("prod", CONFIG)
    assert cloud is not None
    assert cloud.project == "markets-prod-12345"
    assert cloud.buckets["landing"] == "override-landing"
    assert cloud.buckets["archive"] == "markets-prod-12345-archive"
    assert not cloud.allow_reset
    assert cloud.dbt_target == "prod"


def test_emulator_without_services_names_the_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST", raising=False)
    with pytest.raises(ConfigurationError, match=r"storage_emulator_host.*make services-up"):
        load_environment("emulator", CONFIG)


def test_unknown_environment_fails_at_start_with_one_line() -> None:
    completed = subprocess.run(
        [MDP, "--env", "staging", "status"], env={**os.environ}, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.strip().count("\n") == 0
    assert "unknown environment 'staging' (MDP_ENV)" in completed.stderr
