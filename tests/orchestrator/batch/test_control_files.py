"""Control files left in landing: an orphan of a handled data file is swept, a resent one waits for its data."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from orchestrator.backends import open_buckets
from orchestrator.batch.cycle import run_cycle
from orchestrator.generator import generate_source_file
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, find_spec
from orchestrator.storage.local import LocalFolderStore

DATE = dt.date(2026, 11, 20)


def _generate(specs: list[SourceSpec], out: Path, seed: int = 3) -> tuple[Path, Path, str, str]:
    generated = generate_source_file(find_spec(specs, "murex_trades"), 40, DATE, out, seed=seed)
    assert generated.control_path is not None
    data_key = generated.landing_key
    control_key = generated.control_path.relative_to(out).as_posix()
    return generated.data_path, generated.control_path, data_key, control_key


def _landing(settings: Settings) -> LocalFolderStore:
    landing = open_buckets(settings).landing
    assert isinstance(landing, LocalFolderStore)
    return landing


def _keys(store: LocalFolderStore) -> set[str]:
    return {info.key for info in store.list()}


def test_control_file_left_behind_by_a_handled_data_file_is_archived(
    settings: Settings, specs: list[SourceSpec], tmp_path: Path
) -> None:
    data_path, control_path, data_key, control_key = _generate(specs, tmp_path / "out")
    landing = _landing(settings)
    landing.upload_file(data_path, data_key)
    landing.upload_file(control_path, control_key)
    first = run_cycle(settings, specs, DATE, validate_only=True)
    assert [f.status for f in first.files] == ["loaded"]
    # A run that died after recording the data file but before moving its control file leaves the control
    # file in landing, landed before the record was written.
    landing.upload_file(control_path, control_key)
    landed_before = time.time() - 3600
    os.utime(landing.root / control_key, (landed_before, landed_before))

    run_cycle(settings, specs, DATE, validate_only=True)

    assert _keys(landing) == set()
    buckets = open_buckets(settings)
    assert any(info.key.endswith(control_key) for info in buckets.archive.list())
    assert list(buckets.failed.list()) == []


def test_control_file_resent_ahead_of_its_data_file_waits_for_it(
    settings: Settings, specs: list[SourceSpec], tmp_path: Path
) -> None:
    data_path, control_path, data_key, control_key = _generate(specs, tmp_path / "out")
    landing = _landing(settings)
    landing.upload_file(data_path, data_key)
    landing.upload_file(control_path, control_key)
    run_cycle(settings, specs, DATE, validate_only=True)
    # The upstream system resends the file with corrected content under the same name.
    corrected_data, corrected_control, _, _ = _generate(specs, tmp_path / "corrected", seed=4)

    landing.upload_file(corrected_control, control_key)
    waiting = run_cycle(settings, specs, DATE, validate_only=True)

    assert _keys(landing) == {control_key}, "the resent control file must wait for its data file"
    assert waiting.files == [] or all(f.status == "waiting" for f in waiting.files)
    landing.upload_file(corrected_data, data_key)
    loaded = run_cycle(settings, specs, DATE, validate_only=True)
    assert [(f.path, f.status) for f in loaded.files] == [(data_key, "loaded")]
    assert _keys(landing) == set()
