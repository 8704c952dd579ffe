"""Helpers shared by the streaming tests and the benchmark: events, Kafka topics, Pub/Sub subscriptions, a
collector of what reached Pub/Sub, private broker and emulator instances, a gate in front of a service."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from google.api_core import exceptions as google_exceptions

from streaming.bridge import Bridge, BridgeReport
from streaming.dead_letters import REPLAYED_FROM
from streaming.kafka import create_consumer
from streaming.pubsub import BatchSettings, PublishRpc, close, publisher_client, subscriber_client
from streaming.settings import BridgeSettings
from streaming.spec import StreamSpec, find_stream_spec

REPO = Path(__file__).resolve().parents[2]
MDP = str(Path(sys.executable).with_name("mdp"))

Coordinates = tuple[str, int, int]
"""(Kafka topic, partition, offset) of a message."""


def unique(prefix: str) -> str:
    """A name no other test uses: Pub/Sub ids need a letter first and 3+ characters."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# --- events --------------------------------------------------------------------------------------------------


def rfq_event(number: int, sequence_number: int, **changes: Any) -> bytes:
    """One RFQ lifecycle event as the gateway writes it to Kafka."""
    event: dict[str, Any] = {
        "event_id": f"EV{number:09d}",
        "sequence": sequence_number,
        "event_at": "2026-11-20T10:00:00.250Z",
        "rfq_id": f"RFQ{number // 4:08d}",
        "event_type": ("REQUEST", "QUOTE", "QUOTE", "TRADE")[number % 4],
        "isin": "US0378331005",
        "side": "BUY" if number % 2 else "SELL",
        "quantity": "1000000",
        "price": "99.875",
        "currency": "USD",
        "client_lei": "5493001KJTIIGC8Y1R12",
        "dealer_id": "T00001",
        "platform_mic": "TWEB",
    }
    event.update(changes)
    return json.dumps(event, separators=(",", ":")).encode()


# --- specs ---------------------------------------------------------------------------------------------------


def stream_specs_dir(folder: Path, spec: StreamSpec) -> Path:
    """A copy of the shipped specs whose rfq stream uses the given topics, group and subscription (for `mdp`)."""
    specs_dir = folder / "source_specs"
    shutil.copytree(REPO / "source_specs", specs_dir, dirs_exist_ok=True)
    (specs_dir / "streaming" / "rfq.yaml").write_text(
        f"""name: rfq
owner: tests@bank.example
description: The rfq stream of one test, on topics of its own.
kafka:
  topics: [{", ".join(spec.kafka_topics)}]
  consumer_group: {spec.consumer_group}
pubsub:
  topic: {spec.pubsub_topic}
  dead_letter_topic: {spec.dead_letter_topic}
  subscription: {spec.subscription}
payload:
  format: json
  schema_version: "{spec.schema_version}"
fields:
  event_id: {spec.event_id_field}
  sequence: {spec.sequence_field}
  event_time: {spec.event_time_field}
"""
    )
    return specs_dir


def fresh_stream_spec(**changes: Any) -> StreamSpec:
    """The shipped rfq spec on fresh Kafka and Pub/Sub names."""
    names: dict[str, Any] = {
        "kafka_topics": (unique("rfq-events-"),),
        "consumer_group": unique("bridge-"),
        "pubsub_topic": unique("rfq-events-"),
        "dead_letter_topic": unique("rfq-dead-letters-"),
        "subscription": unique("rfq-load-"),
    }
    return dataclasses.replace(find_stream_spec(REPO / "source_specs", "rfq"), **{**names, **changes})


# --- Kafka ---------------------------------------------------------------------------------------------------


def create_topic(
    bootstrap: str, topic: str, partitions: int, config: dict[str, str] | None = None, exist_ok: bool = False
) -> None:
    """A topic with replication factor 1, waited for; with `exist_ok`, one already there is kept as it is."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, partitions, 1, config=config or {})], operation_timeout=30)
    try:
        futures[topic].result(timeout=60)
    except KafkaException as error:
        if not (exist_ok and error.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS):
            raise


def produce(
    bootstrap: str, topic: str, messages: Iterable[tuple[int, bytes | None, bytes | None]], **config: Any
) -> Counter[int]:
    """Write (partition, key, value) messages and wait until all are acknowledged; count per partition."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", **config})
    failures: list[str] = []

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    counts: Counter[int] = Counter()
    for partition, key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key=key, partition=partition, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        counts[partition] += 1
    assert producer.flush(60) == 0, "messages left unacknowledged by the broker"
    assert not failures, failures[:3]
    return counts


def rfq_messages(count: int, partitions: int, first: int = 0) -> Iterator[tuple[int, bytes | None, bytes | None]]:
    """`count` events spread over the partitions; each partition numbers its events 0, 1, 2, ..."""
    for number in range(first, first + count):
        partition = number % partitions
        yield partition, f"RFQ{number // 4:08d}".encode(), rfq_event(number, number // partitions)


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The next offset to be written, per partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("watermarks-")})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(partitions)}
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset per partition (-1001 when none)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
                return {tp.partition: tp.offset for tp in found}
            except KafkaException:
                # The group's coordinator moving or loading (after a broker restart) answers for a while with
                # NOT_COORDINATOR or times out.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Messages the group has committed over all partitions (offsets start at 0 on a fresh topic)."""
    return sum(max(offset, 0) for offset in committed_offsets(bootstrap, group, topic, partitions).values())


# --- Pub/Sub -------------------------------------------------------------------------------------------------


def create_topics_and_subscriptions(project: str, spec: StreamSpec, dead_letter_subscription: str) -> None:
    """The stream's topics, its warehouse subscription and one on the dead-letter topic (Terraform's job)."""
    publisher = publisher_client()
    subscriber = subscriber_client()
    try:
        for topic in (spec.pubsub_topic, spec.dead_letter_topic):
            publisher.create_topic(name=publisher.topic_path(project, topic))
        for subscription, topic in (
            (spec.subscription, spec.pubsub_topic),
            (dead_letter_subscription, spec.dead_letter_topic),
        ):
            subscriber.create_subscription(
                name=subscriber.subscription_path(project, subscription),
                topic=publisher.topic_path(project, topic),
                ack_deadline_seconds=60,
            )
    finally:
        close(subscriber)
        close(publisher)


def delete_topics_and_subscriptions(project: str, topics: Iterable[str], subscriptions: Iterable[str]) -> None:
    """Delete what a test created, if it exists. The emulator keeps every message a subscription ever received,
    acknowledged or not, in memory until the subscription is deleted: a run that leaves them fills its heap."""
    publisher, subscriber = publisher_client(), subscriber_client()
    try:
        for subscription in subscriptions:
            with contextlib.suppress(google_exceptions.NotFound):
                subscriber.delete_subscription(subscription=subscriber.subscription_path(project, subscription))
        for topic in topics:
            with contextlib.suppress(google_exceptions.NotFound):
                publisher.delete_topic(topic=publisher.topic_path(project, topic))
    finally:
        close(subscriber)
        close(publisher)


@contextlib.contextmanager
def stream_topics(project: str, spec: StreamSpec, dead_letter_subscription: str) -> Iterator[None]:
    """`create_topics_and_subscriptions` for the duration of a block, deleted afterwards."""
    create_topics_and_subscriptions(project, spec, dead_letter_subscription)
    try:
        yield
    finally:
        delete_topics_and_subscriptions(
            project, [spec.pubsub_topic, spec.dead_letter_topic], [spec.subscription, dead_letter_subscription]
        )


@dataclasses.dataclass(frozen=True)
class Received:
    """A message pulled from a subscription."""

    data: bytes
    attributes: dict[str, str]

    @property
    def coordinates(self) -> Coordinates:
        """Its Kafka topic, partition and offset, from the bridge's attributes."""
        a = self.attributes
        return a["kafka_topic"], int(a["kafka_partition"]), int(a["kafka_offset"])


class Collector:
    """Pulls a subscription on background threads and keeps every message (acknowledging it)."""

    def __init__(self, project: str, subscription: str, threads: int = 2) -> None:
        self._subscriber = subscriber_client()
        self._path = self._subscriber.subscription_path(project, subscription)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.messages: list[Received] = []
        self.errors = 0
        self._threads = [threading.Thread(target=self._pull, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Collector:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        close(self._subscriber)

    def _pull(self) -> None:
        while not self._stop.is_set():
            try:
                response = self._subscriber.pull(subscription=self._path, max_messages=1000, timeout=5)
            except Exception:  # emulator restarting, deadline: keep pulling
                self.errors += 1
                self._stop.wait(0.2)
                continue
            received = [Received(bytes(m.message.data), dict(m.message.attributes)) for m in response.received_messages]
            if not received:
                continue
            with contextlib.suppress(Exception):
                self._subscriber.acknowledge(
                    subscription=self._path, ack_ids=[m.ack_id for m in response.received_messages]
                )
            with self._lock:
                self.messages.extend(received)

    def coordinates(self) -> Counter[Coordinates]:
        """How many times each Kafka message arrived."""
        with self._lock:
            return Counter(message.coordinates for message in self.messages)

    def wait_for(self, wanted: set[Coordinates], timeout: float, progress: Callable[[], None] | None = None) -> None:
        """Until every wanted message has arrived at least once; fails naming how many are missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = wanted - set(self.coordinates())
            if not missing:
                return
            if progress is not None:
                progress()
            time.sleep(0.2)
        missing = wanted - set(self.coordinates())
        raise AssertionError(
            f"{len(missing)} of {len(wanted)} messages never reached Pub/Sub, e.g. {sorted(missing)[:5]}"
        )


def replayed_messages(collector: Collector) -> list[Received]:
    """What a dead-letter replay published (a test's bridge publishes to the same subscription)."""
    return [message for message in collector.messages if REPLAYED_FROM in message.attributes]


# --- the bridge ----------------------------------------------------------------------------------------------


class BridgeThread:
    """A bridge running in this process on its own thread, with the real Pub/Sub client (or a given API)."""

    def __init__(self, spec: StreamSpec, bootstrap: str, project: str, api: Any = None, **settings: Any) -> None:
        self._client = publisher_client()
        batch = settings.pop("batch", BatchSettings())
        consumer_factory = settings.pop("consumer_factory", create_consumer)
        bridge_settings = BridgeSettings(bootstrap_servers=bootstrap, project=project, batch=batch, **settings)
        self.bridge = Bridge(spec, bridge_settings, api or PublishRpc(self._client), consumer_factory=consumer_factory)
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._report: BridgeReport | None = None
        self._thread = threading.Thread(target=self._run, name="bridge", daemon=True)

    def _run(self) -> None:
        try:
            self._report = self.bridge.run(self._stop)
        except BaseException as error:  # handed to the test thread
            self._failure = error

    def __enter__(self) -> BridgeThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self.stop()

    def check(self) -> None:
        """Fail the test if the bridge died."""
        if self._failure is not None:
            raise AssertionError(f"the bridge failed: {self._failure!r}") from self._failure

    def failed_with(self, timeout: float) -> BaseException:
        """The error the bridge stopped with on its own; fails the test if it still runs after `timeout` seconds."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the bridge still runs after {timeout}s"
        close(self._client)
        assert self._failure is not None, "the bridge stopped without an error"
        return self._failure

    def stop(self) -> BridgeReport:
        """SIGTERM's path: drain, commit, close; returns the report."""
        self._stop.set()
        self._thread.join(timeout=120)
        close(self._client)
        self.check()
        assert self._report is not None, "the bridge did not stop within 120 s"
        return self._report


def wait_until(
    what: str, condition: Callable[[], bool], timeout: float, check: Callable[[], None] = lambda: None
) -> None:
    """Poll a condition; fail naming it after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting until {what}")


# --- private service instances -------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(what: str, ready: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} did not answer within {timeout}s; log: {log}\n{log.read_text()[-3000:]}")


def _stop_group(process: subprocess.Popen[bytes], hard: bool) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL if hard else signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


class PrivateKafka:
    """A single-node KRaft broker of one test, from the jars `scripts/services.sh` installed; its data survives a
    restart. Never the shared broker: restarting that one would break every other test."""

    def __init__(self, folder: Path) -> None:
        services = (REPO / "scripts" / "services.sh").read_text()
        versions = {name: re.search(rf"^{name}=(\S+)$", services, re.M) for name in ("KAFKA_VERSION", "LOG4J_VERSION")}
        kafka, log4j = (match.group(1) if match else "" for match in versions.values())
        cache = Path(os.environ.get("MDP_SERVICES_CACHE", Path.home() / ".cache" / "mdp-services"))
        self._libs = cache / "kafka" / f"{kafka}-log4j-{log4j}" / "libs"
        assert self._libs.is_dir(), f"no Kafka install at {self._libs}: run `make services-up` once"
        self.folder = folder
        self.port, controller = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._properties = folder / "server.properties"
        self._properties.write_text(
            f"""process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{controller}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={folder}/logs
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
"""
        )
        self._java = [
            "java",
            "-Xms128m",
            "-Xmx384m",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={REPO / 'scripts' / 'services' / 'kafka' / 'log4j2.properties'}",
            "-cp",
            f"{self._libs}/*",
        ]
        subprocess.run(
            [
                *self._java,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                # Joined to its option: an id that starts with "-" (one in 64) would read as another option.
                f"--cluster-id={uuid_base64()}",
                "-c",
                str(self._properties),
            ],
            check=True,
            capture_output=True,
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._log = folder / "broker.log"

    def start(self) -> None:
        """Start the broker and wait until it answers metadata requests."""
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [*self._java, "kafka.Kafka", str(self._properties)], stdout=log, stderr=log, start_new_session=True
            )
        _wait(f"private Kafka on {self.bootstrap}", self._answers, 90, self._log)

    def _answers(self) -> bool:
        try:
            AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=1)
        except Exception:
            return False
        return True

    def kill(self) -> None:
        """kill -9 the broker (its log survives on disk)."""
        assert self._process is not None
        _stop_group(self._process, hard=True)

    def stop(self) -> None:
        """Stop the broker if it runs."""
        if self._process is not None:
            _stop_group(self._process, hard=False)


def uuid_base64() -> str:
    """A KRaft cluster id: a base64url UUID without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class PrivatePubSub:
    """A Pub/Sub emulator of one test (gcloud's), which starts empty each time: never the shared emulator."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._folder = folder
        self._log = folder / "pubsub.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the emulator and wait until it answers."""
        data = self._folder / "pubsub-data"
        data.mkdir(parents=True, exist_ok=True)
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    "gcloud",
                    "beta",
                    "emulators",
                    "pubsub",
                    "start",
                    f"--host-port={self.host}",
                    "--project=mdp-test",
                    f"--data-dir={data}",
                ],
                stdout=log,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"},
            )
        _wait(f"private Pub/Sub emulator on {self.host}", self._answers, 90, self._log)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                return bool(response.read().strip() == b"Ok")
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9 the emulator and its Java child: every topic and message is gone."""
        assert self._process is not None
        _stop_group(self._process, hard=True)

    def stop(self) -> None:
        """Stop the emulator if it runs."""
        if self._process is not None:
            _stop_group(self._process, hard=False)


class Gate:
    """A TCP forwarder in front of a service that can be shut: while shut, connections are refused and open ones
    cut, so a test can prepare a restarted service before its client sees it."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self._open = threading.Event()
        self._open.set()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def shut(self) -> None:
        """Refuse and cut every connection."""
        self._open.clear()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def open(self) -> None:
        """Forward connections again."""
        self._open.set()

    def close(self) -> None:
        """Stop forwarding for good."""
        self.shut()
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
