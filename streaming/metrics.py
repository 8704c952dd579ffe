"""The bridge's Prometheus metrics and its small HTTP server: `/metrics` and `/healthz`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_PARTITION = ("stream", "topic", "partition")
# Publish latency (consumed -> acknowledged by Pub/Sub), from a batch's first message.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class BridgeMetrics:
    """Counters and gauges per partition, in a registry of their own (one bridge per registry)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.consumed = Counter(
            "mdp_bridge_consumed_messages", "Kafka messages consumed.", _PARTITION, registry=registry
        )
        self.published = Counter(
            "mdp_bridge_published_messages", "Messages Pub/Sub acknowledged.", _PARTITION, registry=registry
        )
        self.dead_lettered = Counter(
            "mdp_bridge_dead_lettered_messages",
            "Messages sent to the dead-letter topic, by reason.",
            (*_PARTITION, "reason"),
            registry=registry,
        )
        self.in_flight = Gauge(
            "mdp_bridge_in_flight_messages", "Consumed, not yet acknowledged by Pub/Sub.", _PARTITION, registry=registry
        )
        self.commit_lag = Gauge(
            "mdp_bridge_commit_lag_messages",
            "Consumed beyond the last commit Kafka confirmed: what a crash would publish again.",
            _PARTITION,
            registry=registry,
        )
        self.kafka_backlog = Gauge(
            "mdp_bridge_kafka_backlog_messages",
            "Messages in Kafka beyond what this replica has consumed: the partition's high watermark (the newer of "
            "the last fetch's and the broker's, asked once a minute) minus the position.",
            _PARTITION,
            registry=registry,
        )
        self.committed_offset = Gauge(
            "mdp_bridge_committed_offset", "Last offset commit Kafka confirmed.", _PARTITION, registry=registry
        )
        self.publish_latency = Histogram(
            "mdp_bridge_publish_latency_seconds",
            "Consumed to acknowledged by Pub/Sub, per batch and partition.",
            _PARTITION,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight_bytes = Gauge(
            "mdp_bridge_in_flight_bytes",
            "Bytes held for publishes not yet acknowledged.",
            ("stream",),
            registry=registry,
        )
        self.paused = Gauge(
            "mdp_bridge_paused", "1 while consumption is paused by backpressure.", ("stream",), registry=registry
        )
        self.stalled_partitions = Gauge(
            "mdp_bridge_stalled_partitions",
            "Partitions that received messages in Kafka this replica has not read for the stall time.",
            ("stream",),
            registry=registry,
        )
        self.publish_retries = Counter(
            "mdp_bridge_publish_retries", "Publish batches resubmitted after an error.", ("stream",), registry=registry
        )
        self.commit_failures = Counter(
            "mdp_bridge_commit_failures", "Offset commits Kafka refused (retried).", ("stream",), registry=registry
        )


HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsServer:
    """`/metrics` (Prometheus text format) and `/healthz` (200 or 503, JSON) on a port, in a daemon thread."""

    def __init__(self, registry: CollectorRegistry, health: HealthCheck, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 (scraped by Prometheus and probed by Kubernetes)
        handler = _handler(registry, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bridge-metrics", daemon=True)

    @property
    def port(self) -> int:
        """The port served (useful with port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


def _handler(registry: CollectorRegistry, health: HealthCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._answer(200, CONTENT_TYPE_LATEST, generate_latest(registry))
            elif self.path == "/healthz":
                healthy, detail = health()
                body = json.dumps({"status": "ok" if healthy else "unhealthy", **detail}).encode()
                self._answer(200 if healthy else 503, "application/json", body)
            else:
                self._answer(404, "application/json", b'{"error": "not found: try /metrics or /healthz"}')

        def _answer(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # Scrapes every few seconds would drown the bridge's own log.
            pass

    return Handler
