"""Kill the validator at random moments; afterwards every file is loaded exactly once."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.batch.cycle import run_cycle
from orchestrator.batch.lock import cycle_lock
from orchestrator.exceptions import CycleLockedError
from orchestrator.generator import Faults, generate_source_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec

MDP = str(Path(sys.executable).with_name("mdp"))
DATE = dt.date(2026, 11, 20)


def _deliver(settings: Settings, specs: list[SourceSpec], tmp_path: Path, files: int, rows: int) -> dict[str, int]:
    out = tmp_path / "out"
    landing = open_buckets(settings).landing
    expected = {}
    for number in range(files):
        generated = generate_source_file(
            find_spec(specs, "venue_executions"), rows, DATE, out, seed=number, faults=Faults(seq=f"{number:03d}")
        )
        expected[generated.landing_key] = generated.rows
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        landing.upload_file(path, path.relative_to(out).as_posix())
    return expected


def test_kill_at_random_moments_loses_nothing_and_loads_nothing_twice(
    settings: Settings, specs: list[SourceSpec], tmp_path: Path
) -> None:
    expected = _deliver(settings, specs, tmp_path, files=8, rows=20_000)
    environment = {**os.environ, "MDP_HOME": str(settings.home)}
    chooser = random.Random(20261120)
    kills = 0
    for _ in range(5):
        process = subprocess.Popen(
            [MDP, "validate", "--json"], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(chooser.uniform(0.3, 2.5))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    final = subprocess.run([MDP, "validate", "--json"], env=environment, capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stderr
    assert kills >= 3
    assert list(open_buckets(settings).landing.list()) == []
    with closing(open_warehouse(settings)) as warehouse:
        loaded = warehouse.query(
            "select landing_key, count(*) as times, max(rows_total) as rows_total from control.ingested_files "
            "where outcome = 'loaded' group by landing_key"
        )
        raw = warehouse.query('select _landing_key, count(*) as n from raw."venue_executions" group by _landing_key')
        other = warehouse.query("select count(*) as n from control.ingested_files where outcome <> 'loaded'")
    assert {row["landing_key"]: (row["times"], row["rows_total"]) for row in loaded} == {
        key: (1, rows) for key, rows in expected.items()
    }
    assert {row["_landing_key"]: row["n"] for row in raw} == expected
    assert other[0]["n"] == 0
    summary = json.loads(final.stdout)
    assert all(f["status"] in ("loaded",) for f in summary["files"])


def test_two_cycles_never_overlap(settings: Settings, specs: list[SourceSpec]) -> None:
    buckets = open_buckets(settings)
    with cycle_lock(buckets.staging, "first-run", ttl_minutes=60), pytest.raises(CycleLockedError, match="first-run"):
        run_cycle(settings, specs, DATE, validate_only=True)
    assert buckets.staging.stat("_locks/cycle.lock") is None
