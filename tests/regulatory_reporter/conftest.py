"""Fixtures of the reporter tests: a token signer, a reference warehouse, the regulator sandbox, settings."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.settings import Settings
from regulatory_reporter.settings import ReporterSettings
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.regulatory_reporter.support import (
    ADMIN_ACCOUNT,
    AUDIENCE,
    PUSH_ACCOUNT,
    SigningKey,
    write_reference_warehouse,
)
from tests.services import firestore_emulator_host

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the test signer's public keys live."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def signer(keys_dir: Path) -> SigningKey:
    """The key the service trusts (its PEM is MDP_REPORTER_OIDC_PUBLIC_KEY_FILE)."""
    return SigningKey(keys_dir, "google")


@pytest.fixture(scope="session")
def impostor(keys_dir: Path) -> SigningKey:
    """A key the service does not trust."""
    return SigningKey(keys_dir, "impostor")


@pytest.fixture(scope="session")
def reference_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose embedded warehouse holds a small reference set (T001/T002, two ISINs, two LEIs)."""
    home = tmp_path_factory.mktemp("reference-home")
    write_reference_warehouse(home)
    return home


@pytest.fixture
def sandbox() -> Iterator[RegulatorSandbox]:
    """A fresh regulator sandbox per test."""
    server = RegulatorSandbox().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_settings(tmp_path: Path, reference_home: Path, signer: SigningKey) -> Callable[..., ReporterSettings]:
    """Settings for a test: SQLite ledger in tmp_path, fast retries (10 ms base), the test signer's key."""

    def build(regulator_url: str, **overrides: Any) -> ReporterSettings:
        values: dict[str, Any] = {
            "base": Settings(
                home=reference_home, specs_dir=REPO / "source_specs", dbt_project_dir=REPO / "dbt_project"
            ),
            "ledger_backend": "sqlite",
            "ledger_path": tmp_path / "ledger.sqlite3",
            "regulator_url": regulator_url,
            "regulator_timeout_s": 0.5,
            "retry_base_s": 0.01,
            "lease_s": 10.0,
            "push_audience": AUDIENCE,
            "push_service_account": PUSH_ACCOUNT,
            "admin_emails": (ADMIN_ACCOUNT,),
            "oidc_public_key_file": signer.public_pem,
            "cache_refresh_s": 300.0,
            "instance_id": f"test-{uuid.uuid4().hex[:6]}",
        }
        values.update(overrides)
        return ReporterSettings(**values)

    return build


@pytest.fixture
def firestore_collection() -> str:
    """A collection name of this test's own on the shared Firestore emulator (and a check that it is up)."""
    firestore_emulator_host()
    return f"ledger_test_{uuid.uuid4().hex[:12]}"
