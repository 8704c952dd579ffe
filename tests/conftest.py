"""Shared fixtures: the repository's specs and an isolated home per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec, load_specs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    """The shipped source specs."""
    return REPO / "source_specs"


@pytest.fixture(scope="session")
def specs(specs_dir: Path) -> list[SourceSpec]:
    """Every shipped spec, loaded once."""
    return load_specs(specs_dir)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a throwaway home using the repository's specs and dbt project."""
    return Settings(home=tmp_path / "home", specs_dir=REPO / "source_specs", dbt_project_dir=REPO / "dbt_project")
