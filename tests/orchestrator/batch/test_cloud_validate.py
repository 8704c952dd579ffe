"""The batch lane's validate-and-load on the cloud path: fake-gcs-server buckets and the BigQuery emulator."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path

import pytest

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.generator import Faults, generate_source_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.storage.gcs import GcsStore
from tests import services

MDP = str(Path(sys.executable).with_name("mdp"))


def test_emulator_environment_validates_and_loads_like_local(
    specs: list[SourceSpec], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.storage_emulator_host()
    services.bigquery_emulator_host()
    run = uuid.uuid4().hex[:8]
    seed = int(run, 16)  # new content each run: the emulator's control tables outlive a single test
    environment = {**os.environ, "MDP_ENV": "emulator", "MDP_HOME": str(tmp_path / "home")}
    environment |= {
        f"MDP_BUCKET_{role.upper()}": f"mdp-{run}-{role}"
        for role in ("landing", "staging", "failed", "archive", "extracts")
    }
    for key, value in environment.items():
        if key.startswith("MDP_BUCKET_"):
            monkeypatch.setenv(key, value)
    settings = Settings.from_env(tmp_path / "home", "emulator")
    buckets = open_buckets(settings)
    for role in ("landing", "staging", "failed", "archive", "extracts"):
        store = buckets.by_name(role)
        assert isinstance(store, GcsStore)
        store.ensure_bucket()
    out = tmp_path / "out"
    good = generate_source_file(
        find_spec(specs, "venue_executions"), 500, dt.date(2026, 11, 20), out, seed=seed, faults=Faults(bad_rows=4)
    )
    generate_source_file(
        find_spec(specs, "murex_trades"),
        50,
        dt.date(2026, 11, 20),
        out,
        seed=seed,
        faults=Faults(control_count_delta=1),
    )
    file_id = hashlib.sha256(good.data_path.read_bytes()).hexdigest()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        buckets.landing.upload_file(path, path.relative_to(out).as_posix())

    completed = subprocess.run(
        [MDP, "validate", "--json"], env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 1, completed.stderr
    statuses = {
        f["source"]: (f["status"], f["rows_loaded"], f["rows_quarantined"])
        for f in json.loads(completed.stdout)["files"]
    }
    assert statuses == {"venue_executions": ("loaded", 496, 4), "murex_trades": ("failed", 0, 0)}
    assert list(buckets.landing.list()) == []
    assert any(info.key.endswith(".error.json") for info in buckets.failed.list())
    with closing(open_warehouse(settings)) as warehouse:
        raw = warehouse.query(
            f"select count(*) as n from {warehouse.table('raw', 'venue_executions')} where _file_id = @file_id",
            {"file_id": file_id},
        )
        quarantined = warehouse.query(
            f"select count(*) as n from {warehouse.table('control', 'quarantined_rows')} where file_id = @file_id",
            {"file_id": file_id},
        )
    assert raw[0]["n"] == 496
    assert quarantined[0]["n"] == 4
