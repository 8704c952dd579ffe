"""Helpers shared by the reporter tests and the benchmark: events, tokens, push bodies, a reference warehouse."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "https://reporter.example.test/push"
PUSH_ACCOUNT = "pubsub-push@mdp-test.iam.gserviceaccount.com"
ADMIN_ACCOUNT = "oncall@mdp-test.iam.gserviceaccount.com"

TRADERS = [("T001", "Ada Lovelace", "RATES", True), ("T002", "Alan Turing", "CREDIT", True)]
INSTRUMENTS = [
    ("US0378331005", "APPLE INC", "EQUITY", "USD"),
    ("GB0002634946", "BAE SYSTEMS PLC", "EQUITY", "GBP"),
]
COUNTERPARTIES = [("5493001KJTIIGC8Y1R12", "ACME BANK", "US"), ("529900T8BM49AURSDO55", "BETA AG", "DE")]


def make_event(number: int, **overrides: Any) -> dict[str, Any]:
    """A valid reportable event; `number` makes its source ids unique within a test."""
    event = {
        "domain": "trading",
        "source_system": "MUREX",
        "source_trade_id": f"MX{number:010d}",
        "source_event_id": f"EV{number:010d}",
        "event_type": "NEW",
        "event_at": "2026-11-20T10:00:00Z",
        "trader_id": "T001",
        "isin": "US0378331005",
        "counterparty_lei": "5493001KJTIIGC8Y1R12",
        "side": "BUY",
        "quantity": "100",
        "price": "187.25",
        "currency": "USD",
        "venue_mic": "XNAS",
    }
    event.update(overrides)
    return event


def push_body(event: dict[str, Any] | bytes, message_id: str = "1") -> bytes:
    """A Pub/Sub push request body carrying the event."""
    data = event if isinstance(event, bytes) else json.dumps(event).encode()
    envelope = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": message_id,
            "publishTime": "2026-11-20T10:00:01.000Z",
            "attributes": {},
        },
        "subscription": "projects/mdp-test/subscriptions/reporter-push",
    }
    return json.dumps(envelope).encode()


class SigningKey:
    """An RSA key pair standing in for Google's token signer; the public half is written as PEM for the service."""

    def __init__(self, folder: Path, name: str = "signer") -> None:
        self._private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = folder / f"{name}.pub.pem"
        self.public_pem.write_bytes(
            self._private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def token(
        self,
        audience: str = AUDIENCE,
        email: str = PUSH_ACCOUNT,
        issuer: str = "https://accounts.google.com",
        expires_in: int = 600,
        email_verified: bool = True,
    ) -> str:
        """A signed OIDC token shaped like the ones Pub/Sub push attaches."""
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "email": email,
            "email_verified": email_verified,
            "sub": "1234567890",
            "iat": now - 5,
            "exp": now + expires_in,
        }
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": "test"})

    def header(self, **claims: Any) -> dict[str, str]:
        """An Authorization header with a token."""
        return {"Authorization": f"Bearer {self.token(**claims)}"}


def write_reference_warehouse(home: Path) -> Path:
    """A throwaway embedded warehouse holding the three dimensions the reference cache reads."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create schema if not exists dimensions")
        connection.execute(
            "create or replace table dimensions.dim_trader "
            "(trader_id varchar, trader_name varchar, desk varchar, is_active boolean, is_current boolean)"
        )
        connection.executemany(
            "insert into dimensions.dim_trader values (?, ?, ?, ?, true)", [list(t) for t in TRADERS]
        )
        # A retired version of T001 that must not be used.
        connection.execute("insert into dimensions.dim_trader values ('T001', 'Ada L.', 'FX', true, false)")
        connection.execute(
            "create or replace table dimensions.dim_instrument "
            "(isin varchar, instrument_name varchar, asset_class varchar, currency varchar)"
        )
        connection.executemany("insert into dimensions.dim_instrument values (?, ?, ?, ?)", INSTRUMENTS)
        connection.execute(
            "create or replace table dimensions.dim_counterparty "
            "(counterparty_lei varchar, counterparty_name varchar, country_code varchar, is_current boolean)"
        )
        connection.executemany(
            "insert into dimensions.dim_counterparty values (?, ?, ?, true)", [list(c) for c in COUNTERPARTIES]
        )
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.1) -> None:
    """Poll until the condition holds; fail naming what never happened (a deadline, not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:g}s waiting for: {what}")
        time.sleep(poll_s)


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free port in a thread; yields its base URL, stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive(), 30, f"uvicorn on port {port} to start")
        if not server.started:
            raise AssertionError(f"uvicorn on port {port} exited during startup")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class TokenRelay:
    """Stands in for Google's push delivery, which signs an OIDC token per request: the Pub/Sub emulator does not.

    The emulator pushes here; the relay forwards the body unchanged with a token from the test signer to the
    current target and answers with the target's status, so the emulator's ack and redelivery follow the service.
    Production code has no bypass: the service verifies these tokens exactly as it verifies Google's.
    """

    def __init__(self, signer: SigningKey, target: str) -> None:
        self.target = target
        self.statuses: list[int] = []
        self.timings: list[tuple[str | None, int, float]] = []
        self._signer = signer
        self._header: dict[str, str] | None = None
        self._header_at = 0.0
        self._http = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=200))
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and the client's delayed ACK
            # hold every answer back ~40 ms, which would be measured as regulator (or relay) latency.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                started = time.perf_counter()
                event_id: str | None = None
                try:
                    answer = relay._http.post(
                        relay.target + "/push",
                        content=body,
                        headers={"Content-Type": "application/json", **relay.authorization()},
                    )
                    status = answer.status_code
                    if answer.headers.get("content-type") == "application/json":
                        event_id = answer.json().get("event_id")
                except httpx.TransportError:
                    status = 502  # the instance is gone; the emulator delivers again
                relay.statuses.append(status)
                relay.timings.append((event_id, status, time.perf_counter() - started))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def authorization(self) -> dict[str, str]:
        """A token header, re-signed every 5 minutes as Google's are reused within their hour."""
        now = time.monotonic()
        if self._header is None or now - self._header_at > 300:
            self._header, self._header_at = self._signer.header(), now
        return self._header

    @property
    def url(self) -> str:
        """Where the push subscription points."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/push"

    def stop(self) -> None:
        """Stop relaying."""
        self._server.shutdown()
        self._server.server_close()
        self._http.close()


class ReporterProcess:
    """`mdp reporter serve` in its own process, as Cloud Run runs it; killable to simulate a crash."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("ab")
        mdp = str(Path(sys.executable).with_name("mdp"))
        self.process = subprocess.Popen(
            [mdp, "reporter", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env={**os.environ, **environment},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = log_path

    def wait_ready(self, timeout_s: float = 60) -> ReporterProcess:
        """Wait until /healthz answers 200 (reference cache loaded)."""

        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"reporter exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout_s, f"reporter on {self.url} to be healthy", poll_s=0.2)
        return self

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, in-flight requests die with it."""
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
