"""The push endpoint in-process: each bad request gets its own 4xx and nothing reaches the regulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestrator.settings import Settings
from regulatory_reporter.app import create_app
from regulatory_reporter.settings import ReporterSettings
from regulatory_reporter.sqlite_ledger import SqliteLedger
from tests.regulatory_reporter.sandbox import RegulatorSandbox
from tests.regulatory_reporter.support import (
    ADMIN_ACCOUNT,
    PUSH_ACCOUNT,
    SigningKey,
    make_event,
    push_body,
    serve_in_thread,
)

MAX_BODY = 4096


@pytest.fixture
def client(sandbox: RegulatorSandbox, make_settings: Callable[..., ReporterSettings]) -> Iterator[httpx.Client]:
    """The application with its lifespan running (reference cache loaded, ledger open)."""
    with (
        serve_in_thread(create_app(make_settings(sandbox.url, max_body_bytes=MAX_BODY))) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield http


def test_valid_push_is_submitted_and_acknowledged(
    client: httpx.Client, signer: SigningKey, sandbox: RegulatorSandbox
) -> None:
    response = client.post(
        "/push",
        content=push_body(make_event(1)),
        headers={**signer.header(), "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "SUBMITTED"
    assert sandbox.first_accepts() == 1
    again = client.post("/push", content=push_body(make_event(1)), headers=signer.header())
    assert (again.status_code, again.json()["outcome"]) == (200, "DUPLICATE")
    assert len(sandbox.requests) == 1


def _headers(signer: SigningKey, impostor: SigningKey, case: str) -> dict[str, str]:
    cases: dict[str, Callable[[], dict[str, str]]] = {
        "no-token": dict,
        "not-bearer": lambda: {"Authorization": "Basic dXNlcjpwYXNz"},
        "garbage-token": lambda: {"Authorization": "Bearer not.a.jwt"},
        "untrusted-key": impostor.header,
        "expired": lambda: signer.header(expires_in=-120),
        "wrong-issuer": lambda: signer.header(issuer="https://evil.example"),
        "wrong-audience": lambda: signer.header(audience="https://other-service.example/push"),
        "wrong-account": lambda: signer.header(email="someone@mdp-test.iam.gserviceaccount.com"),
        "unverified-email": lambda: signer.header(email_verified=False),
    }
    return cases[case]()


@pytest.mark.parametrize(
    ("case", "status", "reason"),
    [
        pytest.param("no-token", 401, "no Authorization header", id="no-token"),
        pytest.param("not-bearer", 401, "not 'Bearer <token>'", id="not-bearer"),
        pytest.param("garbage-token", 401, "token is invalid", id="garbage-token"),
        pytest.param("untrusted-key", 401, "Signature verification failed", id="untrusted-key"),
        pytest.param("expired", 401, "token has expired", id="expired-token"),
        pytest.param("wrong-issuer", 401, "is not Google", id="wrong-issuer"),
        pytest.param("wrong-audience", 403, "token audience is not", id="wrong-audience"),
        pytest.param("wrong-account", 403, "is not allowed here", id="wrong-service-account"),
        pytest.param("unverified-email", 403, "is not verified", id="unverified-email"),
    ],
)
def test_unauthenticated_pushes_are_refused(
    client: httpx.Client,
    signer: SigningKey,
    impostor: SigningKey,
    sandbox: RegulatorSandbox,
    case: str,
    status: int,
    reason: str,
) -> None:
    response = client.post("/push", content=push_body(make_event(1)), headers=_headers(signer, impostor, case))
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert sandbox.requests == []


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        pytest.param(b"{not json", 400, "request body is not JSON", id="malformed-body"),
        pytest.param(b'{"hello": "world"}', 400, "not a Pub/Sub push envelope", id="not-an-envelope"),
        pytest.param(push_body(b"plain text"), 400, "message data is not JSON", id="data-not-json"),
        pytest.param(push_body({"source_system": "MUREX"}), 400, "event breaks event.schema.json", id="wrong-schema"),
        pytest.param(
            push_body(make_event(1, quantity=100)), 400, "quantity: 100 is not of type 'string'", id="wrong-type"
        ),
        pytest.param(push_body(make_event(1, padding="x" * MAX_BODY)), 413, "larger than 4096 bytes", id="oversize"),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_submitted(
    client: httpx.Client, signer: SigningKey, sandbox: RegulatorSandbox, body: bytes, status: int, reason: str
) -> None:
    response = client.post("/push", content=body, headers=signer.header())
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert sandbox.requests == []


def test_admin_endpoints_need_an_admin_token(client: httpx.Client, signer: SigningKey) -> None:
    assert client.get("/admin/cache-status").status_code == 401
    assert client.get("/admin/cache-status", headers=signer.header(email=PUSH_ACCOUNT)).status_code == 403
    status = client.get("/admin/cache-status", headers=signer.header(email=ADMIN_ACCOUNT))
    assert status.status_code == 200
    assert status.json()["counts"] == {"traders": 2, "instruments": 2, "counterparties": 2}
    refreshed = client.post("/admin/refresh-cache", headers=signer.header(email=ADMIN_ACCOUNT))
    assert (refreshed.status_code, refreshed.json()["refreshed"], refreshed.json()["last_error"]) == (200, True, None)


def test_health_and_metrics(client: httpx.Client, signer: SigningKey) -> None:
    client.post("/push", content=push_body(make_event(2)), headers=signer.header())
    client.post("/push", content=b"{", headers=signer.header())
    assert client.get("/healthz").json() == {"status": "ok", "reference_loaded": True}
    assert client.get("/health").status_code == 200
    metrics: Any = client.get("/metrics").text
    assert 'reporter_events_total{outcome="SUBMITTED"} 1.0' in metrics
    assert 'reporter_rejected_requests_total{status="400"} 1.0' in metrics
    assert 'reporter_reference_cache_entries{dimension="traders"} 2.0' in metrics


def test_events_wait_while_reference_data_is_not_loaded(
    tmp_path: Path, sandbox: RegulatorSandbox, make_settings: Callable[..., ReporterSettings], signer: SigningKey
) -> None:
    empty = Settings(home=tmp_path / "no-dimensions", specs_dir=tmp_path, dbt_project_dir=tmp_path)
    settings = make_settings(sandbox.url, base=empty)
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/healthz").status_code == 503
        response = http.post("/push", content=push_body(make_event(3)), headers=signer.header())
        assert response.status_code == 503
        assert "reference data not loaded yet" in response.json()["error"]
    assert sandbox.requests == []
    ledger = SqliteLedger(settings.sqlite_ledger_path)
    try:
        assert ledger.counts() == {"RECEIVED": 0, "SUBMITTED": 0, "DEAD_LETTERED": 0}
    finally:
        ledger.close()
