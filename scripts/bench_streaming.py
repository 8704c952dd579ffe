"""Benchmark the streaming lane against its raw ceilings on this machine, in one run (`make bench-streaming`).

0. A warm-up of both ceilings, discarded: the broker and the emulator are JVMs; cold, the Kafka ceiling measured
   a fifth of its warm rate, and the emulator used twice the CPU per message until about 2 million publishes.
1. Kafka ceiling: librdkafka consuming a backlog alone, with the bridge's consumer settings, and the cores that
   takes (`kafka_consume_cpu_cores`): consuming's CPU, which the bridge pays and the publish ceiling does not.
2. Pub/Sub ceiling: the bridge's batching publisher alone, same batching, publishing the same messages routed
   and framed beforehand (so it measures publishing alone: no Kafka, no checks, no encoding).
3. The bridge's sustained rate over the same backlog; `bridge_ratio` = bridge rate / the lower ceiling. Before it,
   the bare bridge: the same consumer and publisher moving the backlog with nothing in between (no checks, no
   encoding, no offset tracking, no commits), what these two clients allow here. Steps 2 and 3 alternate over
   `--rounds` rounds (the publish ceiling alone varies by a third between runs: the emulator's JIT); each round's
   ratio pairs measurements taken a few seconds apart, and the figures reported are the medians, with every round
   under `rounds`.
   `isolated_cores`: steps 1 to 3 again with the machine split, every test service (the emulator, the broker) on
   core 0 and this process on the others, as in production, where Pub/Sub and Kafka do not share the bridge's
   CPU. Here they do: at the ceiling the emulator alone keeps 1.1 to 1.6 of the 2 cores busy.
   `ack_endpoint`: steps 1 to 3 again with Pub/Sub as production has it for one replica, never the limit: against
   bench/pubsub-ack-endpoint, which answers Publish at once without keeping the messages. Each ceiling is then its
   client's own rate, not the emulator's.
   `scale_out`: the same with every core in use, as many publisher processes against as many `mdp bridge run`
   replicas of one consumer group (by default one per core).
4. End to end at 2,000 msg/s: producer -> `mdp bridge run` -> Pub/Sub -> `mdp stream-load` -> DuckDB raw table;
   latency per message = when its row was written (`_ingested_at`) - its Kafka timestamp (producer create time).
5. A kill run: `mdp bridge run` killed with SIGKILL at random moments of a backlog and restarted; `lost_messages`
   counts Kafka offsets that never reached Pub/Sub.

Needs the test services (`make bench-streaming` starts them). Writes bench/results/streaming.json; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import os
import platform
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from confluent_kafka import Consumer, ConsumerGroupState, KafkaException, Producer  # noqa: E402 - the repository root must be importable first
from confluent_kafka.admin import AdminClient  # noqa: E402

from streaming.bridge import Bridge, collector_tuned  # noqa: E402
from streaming.kafka import consumer_config  # noqa: E402
from streaming.messages import MessageRouter  # noqa: E402
from streaming.pubsub import (  # noqa: E402
    BatchPublisher,
    BatchSettings,
    PublishBatch,
    PublishRpc,
    close,
    publisher_client,
)
from streaming.settings import BridgeSettings  # noqa: E402
from streaming.spec import StreamSpec  # noqa: E402
from streaming_codec import frame  # noqa: E402
from tests.streaming.support import (  # noqa: E402
    MDP,
    Collector,
    committed_total,
    create_topic,
    end_offsets,
    free_port,
    fresh_stream_spec,
    produce,
    rfq_event,
    rfq_messages,
    stream_specs_dir,
    stream_topics,
    unique,
)

RESULTS = REPO / "bench" / "results" / "streaming.json"
PARTITIONS = 4
E2E_RATE_MSGS = 2000
PUBLISH_POOL = 10_000
WARM_UP_PUBLISHES = 2_000_000
"""The emulator's JIT settles after about two million publishes: before, it used twice the CPU per message."""
TARGETS = {"min_bridge_ratio": 0.8, "max_e2e_p99_s": 5.0, "e2e_rate_msgs": E2E_RATE_MSGS, "max_lost_messages": 0}


ACK_ENDPOINT_PROGRAM = "pubsub-ack-endpoint"
SERVICE_PARTIES: dict[str, Callable[[list[str]], bool]] = {
    # The JVMs are known by their arguments; the endpoint by its program, whose path this process's own
    # arguments name too.
    "pubsub_emulator": lambda command: "cloud-pubsub-emulator" in " ".join(command),
    "kafka_broker": lambda command: "kafka.Kafka" in " ".join(command),
    "pubsub_ack_endpoint": lambda command: bool(command) and Path(command[0]).name == ACK_ENDPOINT_PROGRAM,
}


class CpuMeter:
    """Cores each party used over a measured span: the measured Python processes (this one, or the replicas or
    publishers it started), the Pub/Sub emulator, the Kafka broker, the acknowledging endpoint when it runs, and
    the whole machine. Shows whether a rate is bound by the machine."""

    def __init__(self, measured: list[psutil.Process] | None = None) -> None:
        self._processes: dict[str, list[psutil.Process]] = {"bench_python": measured or [psutil.Process()]}
        for party, matches in SERVICE_PARTIES.items():
            found = [p for p in psutil.process_iter(["cmdline"]) if matches(p.info["cmdline"] or [])]
            if found:
                self._processes[party] = found[:1]
        self._started_at: float | None = None
        self._cpu: dict[str, float] = {}
        self.cores: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        sample = {}
        for party, processes in self._processes.items():
            times = [process.cpu_times() for process in processes]
            sample[party] = sum(t.user + t.system + t.children_user + t.children_system for t in times)
        machine = psutil.cpu_times()
        sample["machine_busy"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return sample

    @property
    def started(self) -> bool:
        """Whether the span has begun."""
        return self._started_at is not None

    def start(self) -> None:
        """Begin the span."""
        self._started_at, self._cpu = time.perf_counter(), self._sample()

    def stop(self) -> float:
        """End the span: `cores` holds CPU seconds per wall second for each party. Returns the span in seconds."""
        assert self._started_at is not None, "stop() before start()"
        elapsed, now = time.perf_counter() - self._started_at, self._sample()
        self.cores = {party: round((now[party] - self._cpu[party]) / elapsed, 2) for party in now}
        return elapsed


def _environment() -> tuple[str, str]:
    for variable in ("KAFKA_BOOTSTRAP_SERVERS", "PUBSUB_EMULATOR_HOST", "PUBSUB_PROJECT_ID"):
        if not os.environ.get(variable):
            sys.exit(f"{variable} is not set: run `make bench-streaming`, or `make services-up` and export its env")
    return os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["PUBSUB_PROJECT_ID"]


def payload_sample() -> list[bytes]:
    """The 1,000 RFQ payloads every publisher measurement cycles through."""
    return [rfq_event(n, n) for n in range(1000)]


def kafka_ceiling(bootstrap: str, topic: str, count: int, meter: CpuMeter) -> float:
    """Messages per second librdkafka hands to Python, with the bridge's consumer settings and batch size; `meter`
    measures what consuming alone costs (this process: librdkafka's threads and confluent-kafka's messages)."""
    config = consumer_config(bootstrap, unique("bench-consume-"), None, 45_000, lambda error, partitions: None)
    consumer = Consumer(config)
    consumer.subscribe([topic])
    seen = 0
    try:
        while seen < count:
            messages = consumer.consume(1000, 1.0)
            if messages and not meter.started:
                meter.start()
            seen += sum(1 for m in messages if m.error() is None)
        return count / meter.stop()
    finally:
        consumer.close()


def _untracked(start: int, stop: int) -> int:
    """The token of a part of the framed pool a publish request takes: nothing is tracked."""
    return 0


def framed_pool(sample: list[bytes]) -> tuple[bytes, list[int]]:
    """`PUBLISH_POOL` messages routed and framed beforehand, cycled by the publishing-only measurements (millions
    of prepared messages would measure this process's memory, not the publisher): frames and their ends."""
    router = MessageRouter(fresh_stream_spec())
    framed = [
        frame(outgoing.data, outgoing.attributes, outgoing.ordering_key)
        for outgoing in (
            router.route(sample[n % len(sample)], b"RFQ", "bench", n % PARTITIONS, n, 1_795_400_000_000 + n)
            for n in range(PUBLISH_POOL)
        )
    ]
    return b"".join(framed), list(itertools.accumulate(map(len, framed)))


def pubsub_ceiling(
    project: str, count: int, sample: list[bytes], meter: CpuMeter, before_start: Callable[[], None] = lambda: None
) -> float:
    """Messages per second the bridge's publisher gets acknowledged, publishing alone: messages from the framed
    pool, handed over a thousand at a time as the bridge hands over a consumed batch."""
    client = publisher_client()
    topic = client.topic_path(project, unique("bench-publish-"))
    client.create_topic(name=topic)
    frames, ends = framed_pool(sample)
    chunk = 1000  # PUBLISH_POOL is a multiple
    completions: queue.SimpleQueue[PublishBatch[Any]] = queue.SimpleQueue()
    settings = BatchSettings()
    with ThreadPoolExecutor(max_workers=2 * settings.concurrency) as workers:
        publisher: BatchPublisher[int] = BatchPublisher(PublishRpc(client), topic, workers, completions, settings)
        acknowledged = 0
        before_start()
        meter.start()
        for number in range(0, count, chunk):
            first = number % PUBLISH_POOL
            size = min(chunk, count - number)
            publisher.add_frames(frames, ends, _untracked, first, first + size)
            publisher.pump()
            while True:  # settle without blocking, as the bridge does between consumes
                try:
                    batch = completions.get_nowait()
                except queue.Empty:
                    break
                settled = publisher.settle(batch)
                acknowledged += settled.count if settled else 0
        publisher.flush()
        while acknowledged < count:
            publisher.pump()
            try:
                batch = completions.get(timeout=0.05)
            except queue.Empty:
                continue
            settled = publisher.settle(batch)
            acknowledged += settled.count if settled else 0
        rate = count / meter.stop()
    close(client)
    return rate


def client_library_ceiling(project: str, count: int, sample: list[bytes]) -> float:
    """For reference: google-cloud-pubsub's own batching publisher with the same limits, a future per message."""
    import google.cloud.pubsub_v1 as pubsub_v1  # type: ignore[import-untyped]

    settings = BatchSettings()
    client = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(
            max_messages=settings.max_messages, max_bytes=settings.max_bytes, max_latency=settings.max_latency_s
        )
    )
    topic = client.topic_path(project, unique("bench-client-"))
    client.create_topic(name=topic)
    router = MessageRouter(fresh_stream_spec())
    outgoing = [router.route(sample[n % len(sample)], b"RFQ", "bench", 0, n, 1_795_400_000_000) for n in range(count)]
    done = threading.Semaphore(0)
    started = time.perf_counter()
    for message in outgoing:
        client.publish(topic, message.data, **message.attributes).add_done_callback(lambda _: done.release())
    for _ in range(count):
        done.acquire()
    rate = count / (time.perf_counter() - started)
    client.stop()
    return rate


def bridge_rate(bootstrap: str, project: str, topic: str, count: int, meter: CpuMeter) -> float:
    """Messages per second the bridge moves from a backlog to Pub/Sub acknowledgements, default settings."""
    spec = fresh_stream_spec(kafka_topics=(topic,))
    client = publisher_client()
    for name in (spec.pubsub_topic, spec.dead_letter_topic):
        client.create_topic(name=client.topic_path(project, name))
    bridge = Bridge(spec, BridgeSettings(bootstrap_servers=bootstrap, project=project), PublishRpc(client))
    stop = threading.Event()
    runner = threading.Thread(target=bridge.run, args=(stop,))
    with collector_tuned():  # as `mdp bridge run` runs it
        runner.start()
        while bridge.report.published < count:
            if not meter.started and bridge.report.consumed:
                meter.start()
            time.sleep(0.01)
        rate = count / meter.stop()
        stop.set()
        runner.join()
    close(client)
    return rate


def bare_bridge_rate(
    bootstrap: str, project: str, topic: str, count: int, sample: list[bytes], meter: CpuMeter
) -> float:
    """Messages per second from the backlog to Pub/Sub acknowledgements with nothing in between: the bridge's
    consumer settings and publisher, each consumed message replaced by one from the framed pool; no checks, no
    encoding, no offset tracking, no commits. What a bridge on these two clients could move on this machine if its
    own work cost nothing: the bridge's gap to it is that work."""
    client = publisher_client()
    topic_path = client.topic_path(project, unique("bench-bare-"))
    client.create_topic(name=topic_path)
    frames, ends = framed_pool(sample)
    consumer = Consumer(consumer_config(bootstrap, unique("bench-bare-"), None, 45_000, lambda error, partitions: None))
    consumer.subscribe([topic])
    completions: queue.SimpleQueue[PublishBatch[Any]] = queue.SimpleQueue()
    settings = BatchSettings()
    with ThreadPoolExecutor(max_workers=2 * settings.concurrency) as workers:
        publisher: BatchPublisher[int] = BatchPublisher(PublishRpc(client), topic_path, workers, completions, settings)
        taken, acknowledged = 0, 0
        while acknowledged < count:
            if taken < count:
                messages = consumer.consume(settings.max_messages, 0.01)
                if messages and not meter.started:
                    meter.start()
                size = min(len(messages), count - taken)
                first = taken % PUBLISH_POOL if taken % PUBLISH_POOL + size <= PUBLISH_POOL else 0
                publisher.add_frames(frames, ends, _untracked, first, first + size)
                taken += size
            else:
                publisher.flush()
            publisher.pump()
            while True:  # as the bridge: settle what finished, then send what may go
                try:
                    batch = completions.get(timeout=0.01) if taken >= count else completions.get_nowait()
                except queue.Empty:
                    break
                settled = publisher.settle(batch)
                acknowledged += settled.count if settled else 0
                publisher.pump()
        rate = count / meter.stop()
    consumer.close()
    close(client)
    return rate


def ceiling_and_bridge(
    bootstrap: str, project: str, topic: str, count: int, sample: list[bytes], kafka_ceiling_msgs: int
) -> dict[str, Any]:
    """One round: the Pub/Sub ceiling, the bare bridge, then the bridge over the backlog; the ratios, and the cores
    each used."""
    publishing, bare, bridging = CpuMeter(), CpuMeter(), CpuMeter()
    ceiling = round(pubsub_ceiling(project, count, sample, publishing))
    bare_bridge = round(bare_bridge_rate(bootstrap, project, topic, count, sample, bare))
    bridge = round(bridge_rate(bootstrap, project, topic, count, bridging))
    lower = min(kafka_ceiling_msgs, ceiling)
    return {
        "pubsub_publish_msgs": ceiling,
        "bare_bridge_msgs": bare_bridge,
        "bare_bridge_ratio": round(bare_bridge / lower, 3),
        "bridge_msgs": bridge,
        "bridge_ratio": round(bridge / lower, 3),
        "cpu_cores": {"pubsub_ceiling": publishing.cores, "bare_bridge": bare.cores, "bridge": bridging.cores},
    }


def rounds_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of ceiling-and-bridge rounds, the cores of the median round, and every round."""
    median = sorted(rounds, key=lambda r: r["bridge_ratio"])[len(rounds) // 2]
    return {
        "pubsub_publish_msgs": round(statistics.median(r["pubsub_publish_msgs"] for r in rounds)),
        "bare_bridge_msgs": round(statistics.median(r["bare_bridge_msgs"] for r in rounds)),
        "bare_bridge_ratio": statistics.median(r["bare_bridge_ratio"] for r in rounds),
        "bridge_msgs": round(statistics.median(r["bridge_msgs"] for r in rounds)),
        "bridge_ratio": median["bridge_ratio"],
        # Cores per party while each rate of the median round was measured; on a machine with few cores,
        # `machine_busy` near the core count means the rate is bound by the machine, not by the code.
        "cpu_cores": median["cpu_cores"],
        "rounds": rounds,
    }


def kafka_ceiling_and_rounds(
    bootstrap: str, project: str, topic: str, count: int, sample: list[bytes], rounds: int
) -> dict[str, Any]:
    """Steps 1 to 3: the Kafka ceiling and the cores it takes, then `rounds` rounds of the Pub/Sub ceiling, the bare
    bridge and the bridge, summarised."""
    print("measuring the Kafka ceiling", file=sys.stderr)
    consuming = CpuMeter()
    kafka = round(kafka_ceiling(bootstrap, topic, count, consuming))
    measured = []
    for number in range(1, rounds + 1):
        print(f"round {number} of {rounds}: the Pub/Sub ceiling, then the bridge", file=sys.stderr)
        measured.append(ceiling_and_bridge(bootstrap, project, topic, count, sample, kafka))
    # What consuming alone costs, beside the rate: the bridge pays it on top of the publish ceiling's work.
    return {"kafka_consume_msgs": kafka, "kafka_consume_cpu_cores": consuming.cores, **rounds_summary(measured)}


def _pin(pids: list[int], cores: set[int]) -> None:
    """Run every thread of these processes on `cores` (threads they start later inherit it)."""
    for pid in pids:
        for thread in psutil.Process(pid).threads():
            with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setaffinity(thread.id, cores)


def isolated_cores(
    bootstrap: str, project: str, topic: str, count: int, sample: list[bytes], rounds: int
) -> dict[str, Any]:
    """Steps 1 to 3 with the test services on core 0 and this process on the other cores, then the machine as it
    was. The services are every process of `make services-up` (their pid files), so none competes with the
    bridge; the bridge's own threads (librdkafka's, the publish workers) stay on its cores."""
    everything, services_core = set(range(os.cpu_count() or 1)), {0}
    pid_files = Path(os.environ.get("MDP_SERVICES_RUN", REPO / ".services")) / "pids"
    services = [int(path.read_text()) for path in pid_files.glob("*.pid") if path.read_text().strip().isdigit()]
    services = [pid for pid in services if psutil.pid_exists(pid)]
    services += [child.pid for pid in services for child in psutil.Process(pid).children(recursive=True)]
    try:
        _pin(services, services_core)
        _pin([os.getpid()], everything - services_core)
        measured = kafka_ceiling_and_rounds(bootstrap, project, topic, count, sample, rounds)
    finally:
        _pin([*services, os.getpid()], everything)
    return {"services_cores": sorted(services_core), "bridge_cores": sorted(everything - services_core), **measured}


@contextlib.contextmanager
def ack_endpoint(program: Path) -> Iterator[str]:
    """Run bench/pubsub-ack-endpoint on a port of the system's choice; yields its host:port."""
    process = subprocess.Popen([str(program)], stderr=subprocess.PIPE, text=True)
    try:
        started = process.stderr.readline() if process.stderr else ""  # "<date> <time> listening on <host:port>"
        if "listening on" not in started:
            sys.exit(f"{program} did not start: {started.strip() or 'no output'}")
        yield started.split()[-1]
    finally:
        process.kill()
        process.wait()


@contextlib.contextmanager
def publishing_to(host: str) -> Iterator[None]:
    """Every publisher client made meanwhile publishes to `host` (read as the emulator's address)."""
    emulator = os.environ["PUBSUB_EMULATOR_HOST"]
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        os.environ["PUBSUB_EMULATOR_HOST"] = emulator


def against_ack_endpoint(
    bootstrap: str, project: str, topic: str, count: int, sample: list[bytes], rounds: int, program: Path
) -> dict[str, Any]:
    """Steps 1 to 3 with Pub/Sub never the limit, as Google's is not for one replica: the same clients against an
    endpoint that acknowledges every Publish at once. Each ceiling is then its own client's rate on this machine,
    and the bridge pays both clients' work."""
    with ack_endpoint(program) as host, publishing_to(host):
        return kafka_ceiling_and_rounds(bootstrap, project, topic, count, sample, rounds)


def publish_child(count: int) -> None:
    """`--publish-child N`: one process of the scaled-out Pub/Sub ceiling. It says `ready`, waits for a line on
    stdin, publishes, and prints its wall-clock span as JSON."""
    started = 0.0

    def ready() -> None:
        nonlocal started
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.time()

    sample = payload_sample()
    pubsub_ceiling(os.environ["PUBSUB_PROJECT_ID"], count, sample, CpuMeter(), ready)
    print(json.dumps({"count": count, "started": started, "ended": time.time()}), flush=True)


def scaled_pubsub_ceiling(count: int, processes: int) -> tuple[float, dict[str, float]]:
    """Messages per second `processes` publisher processes get acknowledged together, released at once."""
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--publish-child", str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in range(processes)
    ]
    pipes = [(child.stdin, child.stdout) for child in children if child.stdin and child.stdout]
    for _, stdout in pipes:
        if stdout.readline().strip() != b"ready":
            sys.exit("a publisher process of the scaled-out ceiling did not start")
    meter = CpuMeter([psutil.Process(child.pid) for child in children])
    meter.start()
    for stdin, _ in pipes:
        stdin.write(b"go\n")
        stdin.flush()
    spans = [json.loads(stdout.readline()) for _, stdout in pipes]
    meter.stop()
    for child in children:
        child.wait(60)
    return sum(span["count"] for span in spans) / (
        max(span["ended"] for span in spans) - min(span["started"] for span in spans)
    ), meter.cores


def _group_settled(admin: AdminClient, group: str, replicas: int) -> bool:
    """Whether every replica is in the group and holds partitions, with no rebalance in progress."""
    try:
        described = admin.describe_consumer_groups([group])[group].result(timeout=5)
    except KafkaException:  # the group does not exist yet, or its coordinator moves
        return False
    return (
        described.state == ConsumerGroupState.STABLE
        and len(described.members) == replicas
        and all(member.assignment.topic_partitions for member in described.members)
    )


def bridge_replicas_rate(
    bootstrap: str, topic: str, count: int, replicas: int, work: Path
) -> tuple[float, dict[str, float]]:
    """Messages per second `replicas` `mdp bridge run` processes of one group commit together, from when the group
    holds every replica (their start and the group's rebalances stay out of the figure) to 90 % of a backlog of
    `count`."""
    spec = fresh_stream_spec(kafka_topics=(topic,))
    environment = {**os.environ, "MDP_SPECS_DIR": str(stream_specs_dir(work, spec)), "MDP_HOME": str(work / "home")}
    bridges = [
        subprocess.Popen(
            [MDP, "bridge", "run", "rfq", "--create-missing", "--instance-id", f"bench-replica-{n}"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(replicas)
    ]
    meter = CpuMeter([psutil.Process(bridge.pid) for bridge in bridges])
    admin = AdminClient({"bootstrap.servers": bootstrap})
    marks: list[tuple[float, int]] = []
    try:
        while len(marks) < 2:
            done = committed_total(bootstrap, spec.consumer_group, topic, PARTITIONS)
            if done >= 0.9 * count:
                if not marks:
                    sys.exit(f"{replicas} replicas drained {done} messages before all had joined their group")
                marks.append((time.perf_counter(), done))
                meter.stop()
            elif not marks and _group_settled(admin, spec.consumer_group, replicas):
                marks.append((time.perf_counter(), done))
                meter.start()
            if any(bridge.poll() is not None for bridge in bridges):
                sys.exit("a bridge replica exited on its own")
            time.sleep(0.1)
    finally:
        for bridge in bridges:
            bridge.send_signal(signal.SIGTERM)
        for bridge in bridges:
            bridge.wait(60)
    (first_at, first), (last_at, last) = marks
    return (last - first) / (last_at - first_at), meter.cores


def _healthy(port: int) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            detail: dict[str, Any] = json.loads(response.read())
            return detail
    except OSError:
        return {}


def end_to_end(bootstrap: str, project: str, work: Path, rate: int, seconds: int) -> dict[str, Any]:
    """Latency from Kafka produce to the row in raw.rfq_stream at a steady rate, through the real commands."""
    spec = fresh_stream_spec()
    create_topic(bootstrap, spec.kafka_topics[0], PARTITIONS)
    with stream_topics(project, spec, unique("bench-dead-letters-")):
        return _end_to_end(bootstrap, spec, work, rate, seconds)


def _end_to_end(bootstrap: str, spec: StreamSpec, work: Path, rate: int, seconds: int) -> dict[str, Any]:
    topic = spec.kafka_topics[0]
    environment = {**os.environ, "MDP_SPECS_DIR": str(stream_specs_dir(work, spec)), "MDP_HOME": str(work / "home")}
    port = free_port()
    bridge = subprocess.Popen(
        [MDP, "bridge", "run", "rfq", "--metrics-port", str(port), "--batch-latency-ms", "20"],
        env=environment,
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    loader = subprocess.Popen(
        [MDP, "stream-load", "rfq", "--batch-wait", "0.25", "--batch-messages", "5000", "--idle-exit", "6", "--json"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _healthy(port).get("partitions", 0) < PARTITIONS:
            assert time.monotonic() < deadline, "the bridge never got its partitions"
            time.sleep(0.2)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1, "acks": "all"})
        per_tick, total = rate // 100, rate * seconds  # paced in 10 ms steps
        started = time.perf_counter()
        for number in range(total):
            producer.produce(topic, rfq_event(number, number // PARTITIONS), partition=number % PARTITIONS)
            if number % per_tick == per_tick - 1:
                producer.poll(0)
                pause = started + (number + 1) / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
        producer.flush(30)
        produced_rate = total / (time.perf_counter() - started)
        stdout, _ = loader.communicate(timeout=300)
        loaded = json.loads(stdout)["loaded"]
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(60)
        if loader.poll() is None:
            loader.kill()
    with duckdb.connect(str(work / "home" / "warehouse.duckdb"), read_only=True) as connection:
        p50, p99, rows = connection.execute(
            "select quantile_cont(latency_s, 0.5), quantile_cont(latency_s, 0.99), count(*) from ("
            "  select epoch_ms(_ingested_at) - cast(json_extract_string(attributes, '$.kafka_timestamp') as bigint)"
            "  as latency_ms, latency_ms / 1000.0 as latency_s from raw.rfq_stream)"
        ).fetchone() or (None, None, 0)
    return {
        "rate_msgs": round(produced_rate),
        "messages": total,
        "rows": rows,
        "loaded": loaded,
        "p50_s": round(p50, 3),
        "p99_s": round(p99, 3),
    }


def kill_run(bootstrap: str, project: str, work: Path, count: int, kills: int) -> dict[str, Any]:
    """Backlog through `mdp bridge run`, SIGKILLed at random moments and restarted: lost and repeated messages."""
    spec = fresh_stream_spec()
    create_topic(bootstrap, spec.kafka_topics[0], PARTITIONS)
    with stream_topics(project, spec, unique("bench-dead-letters-")):
        return _kill_run(bootstrap, project, spec, work, count, kills)


def _kill_run(bootstrap: str, project: str, spec: StreamSpec, work: Path, count: int, kills: int) -> dict[str, Any]:
    topic = spec.kafka_topics[0]
    produce(bootstrap, topic, rfq_messages(count, PARTITIONS))
    wanted = {(topic, p, o) for p, end in end_offsets(bootstrap, topic, PARTITIONS).items() for o in range(end)}
    environment = {**os.environ, "MDP_SPECS_DIR": str(stream_specs_dir(work, spec)), "MDP_HOME": str(work / "home")}
    command = [MDP, "bridge", "run", "rfq", "--instance-id", "bench-kill-0", "--max-in-flight", "10000"]
    moments = random.Random()
    with Collector(project, spec.subscription, threads=3) as collector:
        for run in range(kills):
            bridge = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            progress = count * (run + moments.uniform(0.3, 0.9)) / (kills + 1)
            while committed_total(bootstrap, spec.consumer_group, topic, PARTITIONS) < progress:
                assert bridge.poll() is None, "the bridge exited on its own"
                time.sleep(0.05)
            time.sleep(moments.uniform(0, 0.1))
            bridge.kill()
            bridge.wait(30)
        bridge = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while not wanted <= set(collector.coordinates()) and time.monotonic() < deadline:
            time.sleep(0.5)
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(60)
        arrivals = collector.coordinates()
    return {
        "messages": count,
        "kills": kills,
        "lost_messages": len(wanted - set(arrivals)),
        "duplicates": sum(arrivals.values()) - len(arrivals),
        "max_in_flight": 10_000,
    }


def scale_out(bootstrap: str, replicas: int, publishes: int, backlog: int, results: dict[str, Any]) -> dict[str, Any]:
    """The same comparison with every core in use: `replicas` publisher processes against `replicas` bridges.
    The Kafka ceiling stays the one-consumer figure, a floor of what several consumers would take."""
    publish_rate, publish_cores = scaled_pubsub_ceiling(publishes, replicas)
    topic = unique("bench-scale-")
    create_topic(bootstrap, topic, PARTITIONS)
    produce(bootstrap, topic, rfq_messages(backlog, PARTITIONS))
    with tempfile.TemporaryDirectory() as scratch:
        bridge_rate, bridge_cores = bridge_replicas_rate(bootstrap, topic, backlog, replicas, Path(scratch))
    ceiling = min(results["kafka_consume_msgs"], publish_rate)
    return {
        "replicas": replicas,
        "pubsub_publish_msgs": round(publish_rate),
        "bridge_msgs": round(bridge_rate),
        "bridge_ratio": round(bridge_rate / ceiling, 3),
        "cpu_cores": {"pubsub_ceiling": publish_cores, "bridge": bridge_cores},
    }


def main() -> None:
    """Run every measurement and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=300_000, help="Messages for the ceilings and the bridge rate.")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of the Pub/Sub ceiling and the bridge rate.")
    parser.add_argument("--e2e-seconds", type=int, default=30, help="Length of the 2,000 msg/s run.")
    parser.add_argument("--kill-messages", type=int, default=100_000, help="Messages of the kill run.")
    parser.add_argument(
        "--replicas", type=int, default=os.cpu_count() or 2, help="Bridge replicas and publishers when scaled out."
    )
    parser.add_argument(
        "--scale-out-backlog", type=int, default=1_500_000, help="Messages for the scaled-out bridge rate."
    )
    parser.add_argument(
        "--ack-endpoint",
        type=Path,
        help=f"The {ACK_ENDPOINT_PROGRAM} program (`make bench-streaming` builds it); without it, no `ack_endpoint`.",
    )
    parser.add_argument("--publish-child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.publish_child:
        publish_child(arguments.publish_child)
        return
    bootstrap, project = _environment()
    results: dict[str, Any] = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_1m": os.getloadavg()[0]},
    }
    topic = unique("bench-backlog-")
    create_topic(bootstrap, topic, PARTITIONS)
    produce(bootstrap, topic, rfq_messages(arguments.backlog, PARTITIONS))
    sample = payload_sample()
    print("warming up the broker and the emulator", file=sys.stderr)
    kafka_ceiling(bootstrap, topic, arguments.backlog, CpuMeter())
    pubsub_ceiling(project, WARM_UP_PUBLISHES, sample, CpuMeter())
    results.update(kafka_ceiling_and_rounds(bootstrap, project, topic, arguments.backlog, sample, arguments.rounds))
    if (os.cpu_count() or 1) >= 2:
        print("the same with the services on core 0 and the bridge on the others", file=sys.stderr)
        results["isolated_cores"] = isolated_cores(
            bootstrap, project, topic, arguments.backlog, sample, arguments.rounds
        )
    if arguments.ack_endpoint:
        print("the same against a Publish endpoint that acknowledges at once", file=sys.stderr)
        results["ack_endpoint"] = against_ack_endpoint(
            bootstrap, project, topic, arguments.backlog, sample, arguments.rounds, arguments.ack_endpoint
        )
    print("measuring google-cloud-pubsub's own publisher, for reference", file=sys.stderr)
    results["client_library_publish_msgs"] = round(client_library_ceiling(project, arguments.backlog // 3, sample))
    print(f"measuring {arguments.replicas} bridge replicas against {arguments.replicas} publishers", file=sys.stderr)
    results["scale_out"] = scale_out(
        bootstrap, arguments.replicas, arguments.backlog, arguments.scale_out_backlog, results
    )
    with tempfile.TemporaryDirectory() as scratch:
        print("measuring end-to-end latency at 2,000 msg/s", file=sys.stderr)
        e2e = end_to_end(bootstrap, project, Path(scratch) / "e2e", E2E_RATE_MSGS, arguments.e2e_seconds)
        print("kill run", file=sys.stderr)
        killed = kill_run(bootstrap, project, Path(scratch) / "kill", arguments.kill_messages, kills=2)
    results.update(
        {
            "e2e_p50_s": e2e["p50_s"],
            "e2e_p99_s": e2e["p99_s"],
            "e2e": e2e,
            "lost_messages": killed["lost_messages"],
            "kill_run": killed,
            "targets": TARGETS,
            "meets_targets": results["bridge_ratio"] >= TARGETS["min_bridge_ratio"]
            and e2e["p99_s"] < TARGETS["max_e2e_p99_s"]
            and killed["lost_messages"] <= TARGETS["max_lost_messages"],
        }
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
