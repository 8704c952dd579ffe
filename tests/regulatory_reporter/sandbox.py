"""A regulator sandbox: a real HTTP server standing in for the regulator's API, with injectable faults.

It records every request it receives. Submissions are idempotent by the `Idempotency-Key` header, as the
regulator's are: a second submission under a known key is answered with the first one's reference. Run it
in-process (`RegulatorSandbox`) or as its own process (`python -m tests.regulatory_reporter.sandbox --port P`,
used by the benchmark so the sandbox does not share the measured process's GIL).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    """One request as the sandbox received it; recorded on arrival, its answer filled in when sent."""

    idempotency_key: str | None
    body: dict[str, Any] | None
    received_at: float
    authorization: str | None = None
    status: int = 0
    answered_at: float = 0.0


@dataclass
class Faults:
    """What the next answers do; each queued fault is used once, in order."""

    queued: deque[tuple[str, Any]] = field(default_factory=deque)
    delay_s: float = 0.0
    reject_event_ids: dict[str, tuple[int, str]] = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class RegulatorSandbox:
    """The sandbox server; `url` is its base URL."""

    def __init__(self, port: int = 0) -> None:
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.accepted: dict[str, str] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="regulator-sandbox", daemon=True
        )

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RegulatorSandbox:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    # Fault injection

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` submissions with `status` (a 5xx burst)."""
        with self._lock:
            self.faults.queued.extend([("status", status)] * count)

    def hang_next(self, count: int, seconds: float) -> None:
        """Hold the next `count` submissions for `seconds` before answering 503 (a client timeout)."""
        with self._lock:
            self.faults.queued.extend([("hang", seconds)] * count)

    def slow(self, seconds: float) -> None:
        """Answer every submission after `seconds` (a slow regulator; 0 for normal)."""
        self.faults.delay_s = seconds

    def reject(self, event_id: str, status: int = 422, message: str = "field trade.venue_mic: unknown MIC") -> None:
        """Refuse every submission of this event with a 4xx and a validation message."""
        with self._lock:
            self.faults.reject_event_ids[event_id] = (status, message)

    # What happened

    def requests_for(self, event_id: str) -> list[RecordedRequest]:
        """Every request carrying this idempotency key."""
        with self._lock:
            return [r for r in self.requests if r.idempotency_key == event_id]

    def accepted_count(self) -> int:
        """Distinct submissions the regulator holds (one per idempotency key)."""
        with self._lock:
            return len(self.accepted)

    def first_accepts(self) -> int:
        """Requests answered 201: new submissions. More than one per key would be a duplicate submission."""
        with self._lock:
            return sum(1 for r in self.requests if r.status == 201)

    def _answer(self, key: str | None, body: dict[str, Any] | None) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            fault = self.faults.queued.popleft() if self.faults.queued else None
            rejection = self.faults.reject_event_ids.get(key or "")
            if fault is not None:
                kind, value = fault
                if kind == "status":
                    return int(value), {"message": f"sandbox injected HTTP {value}"}, self.faults.delay_s
                return 503, {"message": "sandbox held the request"}, float(value)
            if key is None or body is None:
                return 400, {"message": "Idempotency-Key header and a JSON body are required"}, self.faults.delay_s
            if rejection is not None:
                return rejection[0], {"message": rejection[1]}, self.faults.delay_s
            if key in self.accepted:
                return 409, {"reference": self.accepted[key], "duplicate": True}, self.faults.delay_s
            reference = f"REG-{uuid.uuid4().hex[:12].upper()}"
            self.accepted[key] = reference
            return 201, {"reference": reference}, self.faults.delay_s

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and the client's delayed ACK
            # hold every answer back ~40 ms, which would be measured as regulator (or relay) latency.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                received = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                key = self.headers.get("Idempotency-Key")
                record = RecordedRequest(key, body, received, self.headers.get("Authorization"))
                with sandbox._lock:
                    sandbox.requests.append(record)
                if self.path != "/v1/submissions":
                    status, answer, delay = 404, {"message": f"no such path {self.path}"}, 0.0
                else:
                    status, answer, delay = sandbox._answer(key, body)
                if delay:
                    time.sleep(delay)
                record.status, record.answered_at = status, time.time()
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout); the request still counts as received

            def do_GET(self) -> None:
                # /stats: what the sandbox saw, for the benchmark running it as a separate process.
                with sandbox._lock:
                    stats = {
                        "requests": len(sandbox.requests),
                        "accepted": len(sandbox.accepted),
                        "first_accepts": sum(1 for r in sandbox.requests if r.status == 201),
                        "answered": [
                            [r.idempotency_key, r.answered_at, r.status, r.received_at] for r in sandbox.requests
                        ],
                    }
                payload = json.dumps(stats).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        return Handler


def main() -> None:
    """Run the sandbox in the foreground until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-s", type=float, default=0.0)
    arguments = parser.parse_args()
    sandbox = RegulatorSandbox(arguments.port)
    sandbox.slow(arguments.delay_s)
    print(f"sandbox listening on {sandbox.url}", flush=True)
    sandbox._server.serve_forever()


if __name__ == "__main__":
    main()
