"""CLI behaviour: exit codes, stdout and stderr checked separately."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from orchestrator.alerts import Alert
from orchestrator.backends import open_buckets
from orchestrator.batch.lock import LOCK_KEY, cycle_lock
from orchestrator.settings import Settings
from orchestrator.storage.base import read_bytes

MDP = str(Path(sys.executable).with_name("mdp"))
REPO = Path(__file__).resolve().parents[2]


def _mdp(home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MDP, *arguments], env={**os.environ, "MDP_HOME": str(home)}, capture_output=True, text=True, check=False
    )


def test_replay_of_unknown_file_names_it_and_exits_2(tmp_path: Path) -> None:
    completed = _mdp(tmp_path, "replay", "venues/executions/nope.csv.gz")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "NotReplayableError" in completed.stderr
    assert "file=venues/executions/nope.csv.gz" in completed.stderr


def test_extract_before_first_build_says_what_to_run(tmp_path: Path) -> None:
    completed = _mdp(tmp_path, "extract", "--date", "2026-11-20")
    assert completed.returncode == 2
    assert "run 'mdp run'" in completed.stderr


def test_sources_list_json_lists_kind_and_format(tmp_path: Path) -> None:
    completed = _mdp(tmp_path, "sources", "list", "--json")
    assert completed.returncode == 0
    sources = {row["name"]: row for row in json.loads(completed.stdout)}
    assert sources["murex_trades"]["kind"] == "trade"
    assert sources["murex_trades"]["format"] == "xml"
    assert sources["traders"]["kind"] == "reference"


def test_empty_landing_validates_cleanly(tmp_path: Path) -> None:
    completed = _mdp(tmp_path, "validate", "--json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["files"] == []


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        ["status"],
        ["files", "list"],
        ["files", "show"],
        ["replay"],
        ["sources", "list"],
        ["run"],
        ["validate"],
        ["extract"],
        ["generate"],
        ["demo"],
        ["trade-id"],
        ["specs", "validate"],
    ):
        completed = _mdp(tmp_path, *command, "--help")
        assert completed.returncode == 0, command
        assert "--json" in completed.stdout, command


def test_relayout_raw_on_duckdb_finds_every_table_current_and_names_an_unknown_source(tmp_path: Path) -> None:
    completed = _mdp(tmp_path, "sources", "relayout-raw", "books", "traders", "--json")
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {
        "tables": [
            {"table": f"raw.{name}", "state": "current", "partitioned_by": None, "rows": 0}
            for name in ("books", "traders")
        ]
    }
    unknown = _mdp(tmp_path, "sources", "relayout-raw", "no_such_source")
    assert unknown.returncode == 2
    assert "no_such_source" in unknown.stderr


def test_completeness_before_first_build_names_the_model_and_exits_2(tmp_path: Path) -> None:
    completed = _mdp(tmp_path, "completeness", "--date", "2026-11-20")
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert "model=control.source_completeness: not built yet; run 'mdp run' first" in completed.stderr


def test_namespace_check_fails_when_dbt_and_code_disagree(tmp_path: Path) -> None:
    repo = REPO
    project = tmp_path / "dbt_project"
    project.mkdir()
    text = (repo / "dbt_project" / "dbt_project.yml").read_text()
    (project / "dbt_project.yml").write_text(text.replace("markets_namespace: bank-markets", "markets_namespace: x"))
    agreeing = _mdp(tmp_path / "home", "namespace-check", "--json")
    assert agreeing.returncode == 0, agreeing.stderr
    assert json.loads(agreeing.stdout)["namespaces_agree"] is True
    completed = subprocess.run(
        [MDP, "namespace-check", "--json"],
        env={**os.environ, "MDP_HOME": str(tmp_path / "home"), "MDP_DBT_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    report = json.loads(completed.stdout)
    assert report["dbt_namespace"] == "x"
    assert report["ok"] is False
    [alert] = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith('{"')]
    assert (alert["severity"], alert["alert"]) == ("ERROR", Alert.NAMESPACE_CHECK_FAILED)
    assert alert["message"].startswith("trade-id namespace check failed: code 'bank-markets', dbt 'x', 0 of 0 ")


def test_repairs_and_batch_rebuilds_refuse_while_a_cycle_holds_the_lock(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, specs_dir=REPO / "source_specs", dbt_project_dir=REPO / "dbt_project")
    staging = open_buckets(settings).staging
    with cycle_lock(staging, "run-in-progress", ttl_minutes=60):
        for command in (
            ["rebuild", "--select", "trades_enriched+"],
            ["files", "reload", "venues/executions/venue_executions_20261120_001.csv.gz"],
            ["files", "requarantine", "venues/executions/venue_executions_20261120_001.csv.gz"],
            ["files", "drop-unrecorded", "books", "0" * 64],
            ["sources", "relayout-raw"],
        ):
            completed = _mdp(tmp_path, *command)
            assert completed.returncode == 2, command
            assert "CycleLockedError" in completed.stderr, command
            assert "run-in-progress" in completed.stderr, command
        assert not (tmp_path / "warehouse.duckdb").exists(), "refused before opening the warehouse"
        # The regulatory lane's models build on their own schedule: a batch cycle does not hold them up.
        regulatory = _mdp(tmp_path, "rebuild", "--select", "tag:regulatory")
        assert "CycleLockedError" not in regulatory.stderr
        assert regulatory.stdout.startswith("dbt build --select tag:regulatory: ")
        assert "run-in-progress" in read_bytes(staging, LOCK_KEY).decode()
    assert staging.stat(LOCK_KEY) is None


def test_a_model_an_older_release_built_is_named_with_its_missing_columns_and_the_rebuild(tmp_path: Path) -> None:
    assert _mdp(tmp_path, "status").returncode == 0  # lays out the warehouse
    # control.file_reconciliation as a release before processed_at and rows_not_curated built it, with one break.
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.execute(
            "insert into control.ingested_files (file_id, landing_key, source, outcome, rows_total, rows_loaded, "
            f"rows_quarantined, reasons) values ('{'f' * 64}', 'venues/executions/v_001.csv.gz', 'venue_executions', "
            "'loaded', 10, 10, 0, '[]')"
        )
        connection.execute(
            "create table control.file_reconciliation as select 'venue_executions' as source, "
            "date '2026-11-20' as business_date, 'venues/executions/v_001.csv.gz' as landing_key, "
            f"'{'f' * 64}' as file_id, 'ROWS_MISSING' as reconciliation_status, 10 as rows_total, "
            "0 as rows_quarantined, 0 as rows_in_quarantine, 10 as rows_loaded, 7 as rows_in_raw, "
            "7 as rows_current, 0 as rows_superseded, 7 as rows_in_extract"
        )

    refused = _mdp(tmp_path, "files", "reconcile", "--breaks")

    assert refused.returncode == 2
    assert refused.stdout == ""
    assert (
        "model=control.file_reconciliation: built before its columns processed_at, rows_not_curated existed; "
        "run 'mdp rebuild --select file_reconciliation'" in " ".join(refused.stderr.split())
    )
    # The on-call's first command still shows the break: it reads only columns every release has.
    status = _mdp(tmp_path, "status", "--json")
    assert status.returncode == 0, status.stderr
    the_break = {
        "source": "venue_executions",
        "business_date": "2026-11-20",
        "landing_key": "venues/executions/v_001.csv.gz",
        "file_id": "f" * 64,
        "reconciliation_status": "ROWS_MISSING",
    }
    assert json.loads(status.stdout)["files_not_reconciled"] == [the_break]
    # So does the file's own page, without the row counts the old model lacks, and says why.
    shown = _mdp(tmp_path, "files", "show", "venues/executions/v_001.csv.gz", "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert [arrival["outcome"] for arrival in detail["arrivals"]] == ["loaded"]
    assert detail["reconciliation"] == [the_break]
    assert detail["reconciliation_outdated"].startswith(
        "model=control.file_reconciliation: built before its columns processed_at, rows_not_curated existed"
    )
    table = _mdp(tmp_path, "files", "show", "venues/executions/v_001.csv.gz")
    assert table.returncode == 0, table.stderr
    assert "ROWS_MISSING" in table.stdout
    assert "row counts not shown: model=control.file_reconciliation" in " ".join(table.stdout.split())
