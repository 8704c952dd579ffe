"""Typed settings of the bridge and the stream loader; the CLI fills them from options or environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field

from streaming.pubsub import BatchSettings


@dataclass(frozen=True)
class SchemaRegistrySettings:
    """Where Avro streams whose spec allows it look up writer schemas the spec does not list."""

    url: str | None = None
    """Base URL of the registry's Confluent-compatible API (MDP_SCHEMA_REGISTRY_URL)."""
    user_info: str | None = None
    """`user:password` for HTTP basic authentication, as Confluent clients take it (MDP_SCHEMA_REGISTRY_USER_INFO)."""
    deadline_s: float = 30.0
    """How long one lookup keeps asking a registry that does not answer before the command stops."""


@dataclass(frozen=True)
class BridgeSettings:
    """How one bridge replica reads Kafka and publishes to Pub/Sub."""

    bootstrap_servers: str
    """Kafka brokers, `host:port[,host:port]` (KAFKA_BOOTSTRAP_SERVERS)."""
    project: str
    """Google Cloud project of the Pub/Sub topics (MDP_PUBSUB_PROJECT, else PUBSUB_PROJECT_ID)."""
    group_id: str | None = None
    """Consumer group; default the stream spec's `kafka.consumer_group` (MDP_BRIDGE_GROUP_ID)."""
    instance_id: str | None = None
    """Static group membership id, e.g. the pod name; a restart under it resumes without a rebalance
    (MDP_BRIDGE_INSTANCE_ID)."""
    session_timeout_ms: int = 45_000
    """How long the group waits for a silent replica before moving its partitions (MDP_BRIDGE_SESSION_TIMEOUT_MS)."""
    max_in_flight_messages: int = 50_000
    """Messages consumed beyond the confirmed commits, at most; consumption pauses there. It bounds what a crash
    publishes twice (MDP_BRIDGE_MAX_IN_FLIGHT)."""
    max_in_flight_bytes: int = 256_000_000
    """Bytes held for unacknowledged publishes; consumption pauses above it (MDP_BRIDGE_MAX_IN_FLIGHT_BYTES)."""
    hold_s: float = 1.0
    """While half of either bound waits for Pub/Sub, the bridge takes no messages but keeps librdkafka fetching;
    a hold that lasts this long becomes a pause."""
    consume_batch: int = 1000
    """Messages taken from librdkafka per call."""
    commit_interval_s: float = 0.2
    """How often the handled prefix of each partition is committed (asynchronously)."""
    drain_timeout_s: float = 30.0
    """On revocation or shutdown, how long to wait for in-flight publishes before committing what is done."""
    watermark_interval_s: float = 60.0
    """How often the broker is asked for each partition's watermarks and the group's commits (the backlog gauge
    and the stall watch); librdkafka's own figures stop with the fetching."""
    partition_stall_s: float = 300.0
    """A partition that receives messages this replica does not read for this long is stalled: resumed, and
    reported on `/healthz` (MDP_BRIDGE_PARTITION_STALL_S)."""
    batch: BatchSettings = field(default_factory=BatchSettings)
    """Pub/Sub publish batching."""
    schema_registry: SchemaRegistrySettings = field(default_factory=SchemaRegistrySettings)
    """The schema registry of Avro streams whose spec takes schemas from it."""
    metrics_port: int | None = None
    """Port of `/metrics` and `/healthz`; none serves nothing (MDP_BRIDGE_METRICS_PORT)."""
    create_topics: bool = False
    """Create missing Pub/Sub topics (emulators only; Terraform owns them in the cloud) (MDP_STREAM_CREATE_MISSING)."""


@dataclass(frozen=True)
class LoadSettings:
    """How `mdp stream-load` moves a subscription into the warehouse."""

    project: str
    """Google Cloud project of the subscription (MDP_PUBSUB_PROJECT, else PUBSUB_PROJECT_ID)."""
    subscription: str | None = None
    """Subscription id; default the stream spec's `pubsub.subscription`."""
    batch_messages: int = 5000
    """Messages written to the warehouse per batch, at most."""
    batch_wait_s: float = 1.0
    """How long a batch collects messages before it is written."""
    idle_exit_s: float | None = None
    """Exit after the subscription has been empty this long; none runs until stopped."""
    create_subscription: bool = False
    """Create a missing subscription (emulators only) (MDP_STREAM_CREATE_MISSING)."""
