"""Prometheus metrics of one reporter instance, in their own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class ReporterMetrics:
    """Counters and histograms served on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter("reporter_events", "Events handled, by outcome.", ["outcome"], registry=self.registry)
        self.regulator_calls = Counter(
            "reporter_regulator_calls", "Regulator attempts, by result.", ["result"], registry=self.registry
        )
        self.rejected_requests = Counter(
            "reporter_rejected_requests", "Push requests refused, by HTTP status.", ["status"], registry=self.registry
        )
        self.processing_seconds = Histogram(
            "reporter_processing_seconds",
            "Time in the service per event.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.overhead_seconds = Histogram(
            "reporter_overhead_seconds",
            "Time in the service per event minus regulator calls and backoff.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.event_to_ack_seconds = Histogram(
            "reporter_event_to_ack_seconds",
            "From event_at to the regulator's acknowledgement.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_entries = Gauge(
            "reporter_reference_cache_entries",
            "Reference entries cached, by dimension.",
            ["dimension"],
            registry=self.registry,
        )
