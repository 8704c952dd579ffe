"""`mdp watch` on the embedded default: polls the landing folder and picks files up as they land."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from orchestrator.alerts import Alert
from orchestrator.generator import Faults, generate_source_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.storage import LocalFolderStore
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse

MDP = str(Path(sys.executable).with_name("mdp"))
DATE = dt.date(2026, 11, 20)


def _next_outcome(stream: IO[str]) -> dict[str, Any]:
    line = stream.readline()
    assert line, "mdp watch ended before reporting the next file"
    outcome: dict[str, Any] = json.loads(line)
    return outcome


def test_watch_picks_up_files_as_they_land_and_holds_control_files_for_their_data(
    settings: Settings, specs: list[SourceSpec], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    venue = generate_source_file(
        find_spec(specs, "venue_executions"), 300, DATE, out, seed=3, faults=Faults(bad_rows=2)
    )
    murex = generate_source_file(find_spec(specs, "murex_trades"), 40, DATE, out, seed=3)
    assert venue.control_path is not None
    assert murex.control_path is not None
    landing = LocalFolderStore(settings.home / "landing")

    def land(path: Path) -> None:
        landing.upload_file(path, path.relative_to(out).as_posix())

    # Already there when the watcher starts (as after a restart): picked up on its first look.
    land(venue.control_path)
    land(venue.data_path)
    environment = {**os.environ, "MDP_ENV": "local", "MDP_HOME": str(settings.home)}
    command = [
        MDP,
        "watch",
        "--max-messages",
        "4",
        "--timeout",
        "180",
        "--interval",
        "0.2",
        "--settle",
        "0.2",
        "--json",
    ]
    with subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        first = _next_outcome(process.stdout)
        land(murex.control_path)  # a control file ahead of its data file is held, as the cycle holds it
        held = _next_outcome(process.stdout)
        land(murex.data_path)
        second = _next_outcome(process.stdout)
        unknown = out / "inbound" / "unknown_feed" / "positions_20261120.csv"
        unknown.parent.mkdir(parents=True)
        unknown.write_text("book,position\nB1,100\n")
        land(unknown)  # matches no spec: raises its alert
        unmatched = _next_outcome(process.stdout)
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 1, f"a file matched no spec: exit 1\n{stderr}"
    assert (held["key"], held["status"]) == (murex.landing_key.replace(".xml", ".ctrl.xml"), "ignored")
    assert (first["data_key"], first["status"], first["rows_loaded"], first["rows_quarantined"]) == (
        venue.landing_key,
        "loaded",
        298,
        2,
    )
    assert (second["data_key"], second["status"], second["rows_loaded"]) == (murex.landing_key, "loaded", 40)
    assert (unmatched["key"], unmatched["status"]) == ("inbound/unknown_feed/positions_20261120.csv", "unmatched")
    alerts = [json.loads(line) for line in stderr.splitlines() if line.startswith('{"') and '"alert"' in line]
    assert [(alert["alert"], alert["file"]) for alert in alerts] == [
        (Alert.FILE_UNMATCHED, "inbound/unknown_feed/positions_20261120.csv")
    ]
    assert list(LocalFolderStore(settings.home / "landing").list()) == []
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        recorded = warehouse.query(
            "select landing_key, outcome, rows_loaded from control.ingested_files order by landing_key"
        )
    finally:
        warehouse.close()
    assert [(r["landing_key"], r["outcome"], r["rows_loaded"]) for r in recorded] == [
        ("inbound/unknown_feed/positions_20261120.csv", "unmatched", 0),
        (murex.landing_key, "loaded", 40),
        (venue.landing_key, "loaded", 298),
    ]
