"""Benchmark the regulatory reporter: publish → Pub/Sub push → service → regulator sandbox, at increasing rates.

Needs the test services (`make bench-reporter` starts them). The sandbox answers in 50 ms and runs in its own
process; the service is `mdp reporter serve` with the Firestore emulator ledger; a relay signs the OIDC token the
Pub/Sub emulator does not attach (see tests/regulatory_reporter/support.py). Latency is measured from just before
publish to the regulator's acknowledgement (the sandbox's answer time); service overhead is the time the service
took per push minus the regulator's answer time for that event. Duplicate submissions are regulator requests beyond
one per event. Writes bench/results/reporter.json; asserts nothing (targets are read by people).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent import futures
from pathlib import Path
from typing import Any

import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]
import httpx
import urllib3
from google.pubsub_v1.types import PublishRequest, PubsubMessage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from orchestrator.identity import event_id as compute_event_id  # noqa: E402
from streaming import pubsub as streaming_pubsub  # noqa: E402
from tests.regulatory_reporter.support import (  # noqa: E402 - the repository root must be importable first
    AUDIENCE,
    PUSH_ACCOUNT,
    ReporterProcess,
    SigningKey,
    TokenRelay,
    free_port,
    make_event,
    wait_until,
    write_reference_warehouse,
)

_PUBLISH_REQUEST: Any = PublishRequest.pb()
_PUBSUB_MESSAGE: Any = PubsubMessage.pb()
RATES = (25, 50, 100, 200)
TARGET_RATE = 200
SANDBOX_DELAY_S = 0.05


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(_percentile(values, 0.50), 4),
        "p95_s": round(_percentile(values, 0.95), 4),
        "p99_s": round(_percentile(values, 0.99), 4),
        "max_s": round(max(values), 4) if values else float("nan"),
        "mean_s": round(statistics.fmean(values), 4) if values else float("nan"),
    }


class PushDispatcher:
    """Pub/Sub push as production delivers it: each message POSTed with a signed OIDC token, acked on 2xx.

    The emulator's own push loop delivers about 20 messages/s whatever the rate (measured: 1,000 messages
    published at 200/s took ~50 s to arrive), so at benchmark rates the bench pulls from the emulator and pushes
    itself, with as many requests in flight as Pub/Sub push would open. It shares the machine's two cores with
    the service under test, so it is lean: plain Pull and Acknowledge RPCs (acks batched every few ms) and
    urllib3 for the pushes, rather than the client library's streaming pull with its lease management.
    """

    def __init__(self, signer: SigningKey, target: str, subscription: str, in_flight: int = 64) -> None:
        self.timings: list[tuple[str | None, int, float]] = []
        self._headers = {**signer.header(), "Content-Type": "application/json"}
        self._url = target + "/push"
        self._subscription = subscription
        self._in_flight = in_flight
        self._http = urllib3.PoolManager(maxsize=in_flight, timeout=urllib3.Timeout(120), retries=False)
        self._subscriber = pubsub_v1.SubscriberClient()
        self._slots = threading.BoundedSemaphore(in_flight)
        self._pushers = futures.ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="push")
        self._answers: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._pull_loop, name="pull", daemon=True),
            threading.Thread(target=self._ack_loop, name="ack", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pull_loop(self) -> None:
        while not self._stopping.is_set():
            received = streaming_pubsub.pull(self._subscriber, self._subscription, self._in_flight, timeout=5)
            if not received:
                time.sleep(0.005)  # the emulator answers an empty pull at once
            for message in received:
                self._slots.acquire()
                self._pushers.submit(self._push, message.ack_id, message.message)

    def _ack_loop(self) -> None:
        while not self._stopping.is_set() or not self._answers.empty():
            time.sleep(0.005)
            acks: list[str] = []
            nacks: list[str] = []
            while not self._answers.empty():
                ack_id, ok = self._answers.get()
                (acks if ok else nacks).append(ack_id)
            if acks:
                streaming_pubsub.acknowledge(self._subscriber, self._subscription, acks)
            if nacks:
                self._subscriber.modify_ack_deadline(
                    subscription=self._subscription, ack_ids=nacks, ack_deadline_seconds=0
                )

    def _push(self, ack_id: str, message: Any) -> None:
        try:
            envelope = {
                "message": {
                    "data": base64.b64encode(message.data).decode(),
                    "messageId": message.message_id,
                    "publishTime": message.publish_time.isoformat(),
                    "attributes": dict(message.attributes),
                },
                "subscription": "bench",
            }
            started = time.perf_counter()
            try:
                answer = self._http.request(
                    "POST", self._url, body=json.dumps(envelope).encode(), headers=self._headers
                )
            except urllib3.exceptions.HTTPError:
                self._answers.put((ack_id, False))
                return
            self.timings.append((json.loads(answer.data).get("event_id"), answer.status, time.perf_counter() - started))
            self._answers.put((ack_id, answer.status == 200))
        finally:
            self._slots.release()

    def stop(self) -> None:
        """Stop pulling, finish the pushes in flight, send their acknowledgements."""
        self._stopping.set()
        self._threads[0].join(timeout=30)
        self._pushers.shutdown(wait=True)
        self._threads[1].join(timeout=30)
        self._subscriber.close()
        self._http.clear()


class Publisher:
    """Publishes each event at its due time: one Publish RPC per tick with the events due by then.

    The client library's batching publisher costs about a millisecond of CPU per message here (a future, a
    proto-plus message and a hand-off between threads each); a plain Publish RPC of pre-built protobufs costs a
    fraction of that, so the bench takes less of the CPU the service is measured on.
    """

    def __init__(self, topic: str) -> None:
        self._client = pubsub_v1.PublisherClient()
        self._topic = topic

    def publish(self, payloads: list[bytes]) -> None:
        """One Publish RPC carrying these message bodies."""
        request = _PUBLISH_REQUEST(topic=self._topic, messages=[_PUBSUB_MESSAGE(data=data) for data in payloads])
        self._client.api.publish(request=PublishRequest.wrap(request), timeout=60)

    def close(self) -> None:
        """Close the channel."""
        self._client.transport.close()


def _run_rate(
    rate: int, seconds: float, first_number: int, topic: str, sandbox_url: str, relay: TokenRelay | PushDispatcher
) -> dict[str, Any]:
    publisher = Publisher(topic)
    count = int(rate * seconds)
    published: dict[str, float] = {}
    started = time.perf_counter()
    wall_start = time.time()
    index = 0
    while index < count:
        # Every event whose due time has come goes out now, in one RPC; then sleep until the next is due.
        due_now = min(count, int((time.perf_counter() - started) * rate) + 1)
        payloads = []
        for number in range(index, due_now):
            event = make_event(first_number + number)
            event_id = compute_event_id(
                event["domain"], event["source_system"], event["source_trade_id"], event["source_event_id"]
            )
            published[event_id] = time.time()
            payloads.append(json.dumps(event).encode())
        publisher.publish(payloads)
        index = due_now
        pause = started + index / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    publish_s = time.perf_counter() - started
    publisher.close()

    def stats() -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(sandbox_url + "/stats", timeout=30).json()
        return answer

    def acknowledged_count() -> int:
        return sum(1 for key, _, status, _ in stats()["answered"] if key in published and status in (201, 409))

    wait_until(
        lambda: acknowledged_count() >= count,
        300,
        f"{count} acknowledgements at {rate}/s",
        poll_s=0.5,
    )
    answered = [row for row in stats()["answered"] if row[0] in published]
    acknowledged: dict[str, float] = {}
    regulator_s: dict[str, float] = {}
    requests_per_event: dict[str, int] = {}
    for key, answered_at, status, received_at in answered:
        requests_per_event[key] = requests_per_event.get(key, 0) + 1
        if status in (201, 409):
            acknowledged.setdefault(key, answered_at)
            regulator_s.setdefault(key, answered_at - received_at)
    latencies = [acknowledged[key] - published[key] for key in published if key in acknowledged]
    overheads = [
        elapsed - regulator_s[key]
        for key, status, elapsed in relay.timings
        if key in published and status == 200 and key in regulator_s
    ]
    duplicates = sum(n - 1 for n in requests_per_event.values())
    return {
        "rate_eps": rate,
        "events": count,
        "achieved_publish_eps": round(count / publish_s, 1),
        **_summary(latencies),
        "overhead": _summary(overheads),
        "duplicate_submissions": duplicates,
        "acknowledged": len(acknowledged),
        "window_start": wall_start,
    }


def main() -> None:
    """Run the rates, print a table, write bench/results/reporter.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="Publishing time per rate.")
    parser.add_argument("--rates", type=int, nargs="*", default=list(RATES))
    parser.add_argument(
        "--ledger",
        choices=("firestore", "sqlite"),
        default="firestore",
        help="firestore: the emulator (default, the cloud path); sqlite: the embedded ledger file.",
    )
    parser.add_argument(
        "--driver",
        choices=("dispatch", "emulator-push"),
        default="dispatch",
        help="dispatch: pull from the emulator and push with tokens (default); emulator-push: the emulator's own push "
        "subscription through a token relay (capped at ~20 msg/s by the emulator).",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="Service processes (`mdp reporter serve --workers`); default one per core, as on a Cloud Run instance.",
    )
    arguments = parser.parse_args()
    for variable in ("PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "PUBSUB_PROJECT_ID"):
        if not os.environ.get(variable):
            sys.exit(f"{variable} is not set: run `make bench-reporter` (it starts the test services)")

    work = Path(tempfile.mkdtemp(prefix="bench-reporter-"))
    signer = SigningKey(work)
    home = work / "home"
    write_reference_warehouse(home)
    sandbox_port = free_port()
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.regulatory_reporter.sandbox",
            "--port",
            str(sandbox_port),
            "--delay-s",
            str(SANDBOX_DELAY_S),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    suffix = uuid.uuid4().hex[:10]
    environment = {
        "MDP_HOME": str(home),
        "MDP_ENV": "local",
        "MDP_REPORTER_LEDGER": arguments.ledger,
        "MDP_REPORTER_LEDGER_PATH": str(work / "ledger.sqlite3"),
        "MDP_REPORTER_FIRESTORE_PROJECT": "mdp-bench-reporter",
        "MDP_REPORTER_LEDGER_COLLECTION": f"bench_ledger_{suffix}",
        "MDP_REGULATOR_URL": sandbox_url,
        "MDP_REPORTER_AUDIENCE": AUDIENCE,
        "MDP_REPORTER_PUSH_SERVICE_ACCOUNT": PUSH_ACCOUNT,
        "MDP_REPORTER_OIDC_PUBLIC_KEY_FILE": str(signer.public_pem),
        "MDP_REPORTER_WORKERS": str(arguments.workers),
    }
    project = os.environ["PUBSUB_PROJECT_ID"]
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, f"bench-reportable-events-{suffix}")
    subscription = subscriber.subscription_path(project, f"bench-reporter-push-{suffix}")
    service: ReporterProcess | None = None
    relay: TokenRelay | PushDispatcher | None = None
    results = []
    try:
        wait_until(lambda: _answers(sandbox_url), 30, "the sandbox to listen")
        service = ReporterProcess(environment, work / "reporter.log").wait_ready()
        publisher.create_topic(name=topic)
        if arguments.driver == "emulator-push":
            relay = TokenRelay(signer, service.url)
            push_config: dict[str, Any] = {"push_config": {"push_endpoint": relay.url}}
        else:
            push_config = {}
        subscriber.create_subscription(
            request={"name": subscription, "topic": topic, "ack_deadline_seconds": 120, **push_config}
        )
        if relay is None:
            relay = PushDispatcher(signer, service.url, subscription)
        number = 1
        for rate in arguments.rates:
            result = _run_rate(rate, arguments.seconds, number, topic, sandbox_url, relay)
            number += result["events"]
            results.append(result)
            overhead = result["overhead"]
            print(
                f"{rate:>4} ev/s  events={result['events']:>5}  publish→ack p50={result['p50_s']:.3f}s "
                f"p95={result['p95_s']:.3f}s p99={result['p99_s']:.3f}s  "
                f"service overhead p50={overhead['p50_s']:.3f}s "
                f"p95={overhead['p95_s']:.3f}s p99={overhead['p99_s']:.3f}s  "
                f"duplicates={result['duplicate_submissions']}",
                flush=True,
            )
    finally:
        if relay is not None:
            relay.stop()
        if service is not None:
            service.stop()
        sandbox.terminate()
        sandbox.wait(timeout=30)
        try:
            subscriber.delete_subscription(subscription=subscription)
            publisher.delete_topic(topic=topic)
        except Exception as error:
            print(f"cleanup: {error}", file=sys.stderr)
        subscriber.close()
        publisher.transport.close()
    target = next((r for r in results if r["rate_eps"] == TARGET_RATE), results[-1])
    report = {
        "rate_eps": target["rate_eps"],
        "p50_s": target["p50_s"],
        "p95_s": target["p95_s"],
        "p99_s": target["p99_s"],
        "duplicate_submissions": target["duplicate_submissions"],
        "service_overhead": target["overhead"],
        "sandbox_delay_s": SANDBOX_DELAY_S,
        "seconds_per_rate": arguments.seconds,
        "ledger": arguments.ledger,
        "driver": arguments.driver,
        "service_workers": arguments.workers,
        "rates": results,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
    out = REPO / "bench" / "results" / "reporter.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/stats", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    main()
