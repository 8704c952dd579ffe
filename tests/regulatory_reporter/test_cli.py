"""Runbook commands: `mdp dlq list|show|replay`, `mdp reporter status|mirror`; exit code, stdout, stderr apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from orchestrator.settings import Settings
from regulatory_reporter.events import parse_event
from regulatory_reporter.runtime import open_reporter
from regulatory_reporter.settings import ReporterSettings
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.regulatory_reporter.support import make_event, write_reference_warehouse

MDP = str(Path(sys.executable).with_name("mdp"))
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home of this test's own: reference dimensions in its warehouse, the ledger beside it."""
    path = tmp_path / "home"
    write_reference_warehouse(path)
    return path


def _mdp(home: Path, regulator_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "MDP_HOME": str(home),
        "MDP_ENV": "local",
        "MDP_REPORTER_LEDGER": "sqlite",
        "MDP_REPORTER_LEDGER_PATH": str(home / "ledger.sqlite3"),
        "MDP_REGULATOR_URL": regulator_url,
        "MDP_REGULATOR_TIMEOUT_S": "0.5",
        "MDP_REPORTER_RETRY_BASE_S": "0.01",
        "MDP_REPORTER_LEASE_S": "10",
    }
    return subprocess.run([MDP, *arguments], env=environment, capture_output=True, text=True, check=False)


def test_dead_letter_runbook_from_list_to_replay(
    home: Path, sandbox: RegulatorSandbox, make_settings: Callable[..., ReporterSettings]
) -> None:
    event = parse_event(json.dumps(make_event(1)).encode(), "m1")
    sandbox.reject(event.event_id, 422, "field trade.venue_mic: unknown MIC")
    base = Settings(home=home, specs_dir=REPO / "source_specs", dbt_project_dir=REPO / "dbt_project")
    settings = make_settings(sandbox.url, base=base, ledger_path=home / "ledger.sqlite3")
    with open_reporter(settings, refresh_in_background=False) as reporter:
        reporter.handle(event, "m1")

    listed = _mdp(home, sandbox.url, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["event_id"] == event.event_id
    assert row["reason"] == "regulator rejected the submission (HTTP 422): field trade.venue_mic: unknown MIC"

    shown = _mdp(home, sandbox.url, "dlq", "show", event.event_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["event"]["source_event_id"] == "EV0000000001"

    # The fix happened on the regulator's side (say, the MIC list): the replay goes through.
    sandbox.faults.reject_event_ids.clear()
    replayed = _mdp(home, sandbox.url, "dlq", "replay", event.event_id)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == f"event {event.event_id}: SUBMITTED (reference {sandbox.accepted[event.event_id]})\n"
    assert sandbox.first_accepts() == 1

    again = _mdp(home, sandbox.url, "dlq", "replay", event.event_id)
    assert again.returncode == 2
    assert again.stdout == ""
    assert "NotReplayableError" in again.stderr
    assert "state is SUBMITTED" in again.stderr

    status = _mdp(home, sandbox.url, "reporter", "status", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["counts"] == {"RECEIVED": 0, "SUBMITTED": 1, "DEAD_LETTERED": 0}

    mirrored = _mdp(home, sandbox.url, "reporter", "mirror")
    assert (mirrored.returncode, mirrored.stdout) == (0, "mirrored 1 ledger change(s), 0 dead letter(s)\n")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute("select event_id, state, replays from control.regulatory_submissions").fetchall()
    assert rows == [(event.event_id, "SUBMITTED", 1)]


def test_show_unknown_event_names_it_and_exits_2(home: Path) -> None:
    completed = _mdp(home, "http://127.0.0.1:9", "dlq", "show", "0123456789abcdef0123456789abcdef")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "EventNotFoundError" in completed.stderr
    assert "event_id=0123456789abcdef0123456789abcdef" in completed.stderr


def test_missing_regulator_url_is_named(home: Path) -> None:
    environment = {**os.environ, "MDP_HOME": str(home), "MDP_REPORTER_LEDGER": "sqlite"}
    environment.pop("MDP_REGULATOR_URL", None)
    completed = subprocess.run(
        [MDP, "dlq", "replay", "x"], env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 2
    assert "MDP_REGULATOR_URL is missing" in completed.stderr


@pytest.mark.parametrize(
    ("group", "commands"),
    [
        pytest.param("reporter", ("serve", "worker", "status", "mirror"), id="reporter"),
        pytest.param("dlq", ("list", "show", "replay"), id="dlq"),
    ],
)
def test_command_groups_list_their_commands(home: Path, group: str, commands: tuple[str, ...]) -> None:
    completed = _mdp(home, "http://127.0.0.1:9", group, "--help")
    assert completed.returncode == 0, completed.stderr
    for command in commands:
        assert command in completed.stdout
