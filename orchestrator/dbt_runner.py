"""Run dbt as a subprocess against the warehouse in use and read its results."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.settings import Settings


@dataclass(frozen=True)
class DbtResult:
    """The outcome of one dbt invocation."""

    command: str
    status: str
    nodes_ok: int
    nodes_error: int
    nodes_skipped: int
    message: str
    started_at: dt.datetime
    finished_at: dt.datetime

    def as_row(self, run_id: str) -> dict[str, Any]:
        """A `control.dbt_runs` row."""
        return {"run_id": run_id, **self.__dict__}


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def _summarise(results_path: Path) -> tuple[int, int, int, list[str]]:
    if not results_path.exists():
        return 0, 0, 0, []
    results = json.loads(results_path.read_text())["results"]
    ok = sum(1 for r in results if r["status"] in ("success", "pass", "warn"))
    error = sum(1 for r in results if r["status"] in ("error", "fail", "runtime error"))
    skipped = sum(1 for r in results if r["status"] == "skipped")
    failures = [
        f"{r['unique_id']}: {(r.get('message') or '').strip()[:300]}"
        for r in results
        if r["status"] in ("error", "fail")
    ]
    return ok, error, skipped, failures


def run_dbt(
    settings: Settings,
    target: tuple[str, Mapping[str, str]],
    arguments: Sequence[str],
    variables: Mapping[str, Any],
) -> DbtResult:
    """Run `dbt <arguments>` with vars; never raises on model failures, the result says what failed."""
    target_name, environment = target
    target_path = settings.home / "dbt" / "target"
    log_path = settings.home / "dbt" / "logs"
    command = [
        _dbt_executable(),
        *arguments,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
        "--target",
        target_name,
        "--target-path",
        str(target_path.resolve()),
        "--log-path",
        str(log_path.resolve()),
        "--vars",
        json.dumps(dict(variables)),
    ]
    (target_path / "run_results.json").unlink(missing_ok=True)
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    completed = subprocess.run(
        command,
        env={**os.environ, **environment, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
        check=False,
    )
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    ok, error, skipped, failures = _summarise(target_path / "run_results.json")
    if completed.returncode == 0:
        status, message = "success", f"{ok} nodes ok"
    else:
        status = "error"
        tail = completed.stdout.strip().splitlines()[-5:] if not failures else []
        message = "; ".join(failures[:5] or tail or [completed.stderr.strip()[-500:]])
    return DbtResult(" ".join(arguments), status, ok, error, skipped, message, started, finished)
