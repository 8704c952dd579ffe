from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from orchestrator.specs import SourceSpec, check_specs

MDP = str(Path(sys.executable).with_name("mdp"))


def test_shipped_specs_are_valid(specs: list[SourceSpec]) -> None:
    kinds = {spec.name: (spec.kind, spec.format.type) for spec in specs}
    assert kinds["murex_trades"] == ("trade", "xml")
    assert kinds["venue_executions"] == ("trade", "csv")
    assert kinds["bloomberg_trades"] == ("trade", "jsonl")
    assert {name for name, (kind, _) in kinds.items() if kind == "reference"} == {
        "traders",
        "books",
        "counterparties",
        "instruments",
    }


def _broken_copy(specs_dir: Path, tmp_path: Path, change: dict[str, object]) -> Path:
    shutil.copy(specs_dir / "source_spec.schema.json", tmp_path / "source_spec.schema.json")
    raw = yaml.safe_load((specs_dir / "trading" / "venue_executions.yaml").read_text())
    for dotted, value in change.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(leaf) if leaf.isdigit() else leaf] = value
    target = tmp_path / "trading" / "venue_executions.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(yaml.safe_dump(raw, sort_keys=False))
    return target


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        pytest.param({"format.type": "xlsx"}, "format.type", "is not one of", id="unknown-format"),
        pytest.param({"columns.1.type": "money"}, "columns[1].type", "is not one of", id="unknown-type"),
        pytest.param(
            {"rules.row.0.expr": "qty > (select 1)"}, "rules.row[0].expr", "Subquery", id="sql-injection-in-rule"
        ),
        pytest.param({"trade_mapping.side": "getenv('X')"}, "trade_mapping.side", "not allowed", id="unsafe-mapping"),
        pytest.param({"identity.source_id_field": "nope"}, "identity.source_id_field", "unknown column", id="identity"),
        pytest.param({"columns.8.min": "x"}, "columns[8].min", "is not of type", id="min-not-number"),
        pytest.param(
            {"expectations.expected_from": "2026-02-30"}, "expectations.expected_from", "not a date", id="no-such-day"
        ),
        pytest.param(
            {"expectations.expected_from": "20/11/2026"}, "expectations.expected_from", "does not match", id="not-iso"
        ),
        pytest.param(
            {"expectations.min_files_per_day": 5},
            "expectations.min_files_per_day",
            "above max_files_per_day",
            id="min-files-above-max",
        ),
    ],
)
def test_invalid_spec_names_file_path_and_problem(
    specs_dir: Path, tmp_path: Path, change: dict[str, object], path: str, message: str
) -> None:
    target = _broken_copy(specs_dir, tmp_path, change)
    specs, problems = check_specs(tmp_path, [target])
    assert specs == []
    assert any(p[1] == path and message in p[2] and str(target) in p[0] for p in problems), problems


def test_go_live_date_may_be_written_unquoted(specs_dir: Path, tmp_path: Path) -> None:
    target = _broken_copy(specs_dir, tmp_path, {})
    target.write_text(target.read_text().replace("expectations:\n", "expectations:\n  expected_from: 2026-11-20\n"))
    [spec], problems = check_specs(tmp_path, [target])
    assert problems == []
    assert spec.expectations.expected_from == dt.date(2026, 11, 20)


def test_cli_reports_each_error_with_file_line_and_path(specs_dir: Path, tmp_path: Path) -> None:
    target = _broken_copy(specs_dir, tmp_path, {"columns.1.type": "money"})
    completed = subprocess.run(
        [MDP, "specs", "validate", str(target)],
        env={"MDP_SPECS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert f"{target}:" in completed.stderr
    assert "columns[1].type: 'money' is not one of" in completed.stderr
    assert "0 spec(s) valid, 1 error(s)" in completed.stdout


def test_cli_accepts_shipped_specs() -> None:
    completed = subprocess.run([MDP, "specs", "validate"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    # Source specs and stream specs alike: every YAML file under source_specs/.
    shipped = len(list((Path(__file__).resolve().parents[3] / "source_specs").rglob("*.yaml")))
    assert shipped == 8
    assert f"{shipped} spec(s) valid, 0 error(s)" in completed.stdout
