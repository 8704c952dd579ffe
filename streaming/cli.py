"""`mdp` commands of this lane; `orchestrator.cli` calls `register` once at import."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.alerts import Alert, alert_on_failure, raise_alert
from orchestrator.backends import open_warehouse
from orchestrator.console import print_json, print_table
from orchestrator.exceptions import MdpError
from orchestrator.settings import Settings
from streaming import runbook
from streaming.bridge import run_bridge
from streaming.dead_letters import DeadLetterLease, DeadLetterReplay, listing
from streaming.exceptions import StreamSettingError
from streaming.group_backlog import group_backlog
from streaming.load import StreamLoader
from streaming.messages import DeadLetterReason, message_router
from streaming.pubsub import (
    BatchSettings,
    close,
    ensure_subscription,
    ensure_topic,
    publisher_client,
    subscriber_client,
)
from streaming.schema_registry import open_schema_registry
from streaming.settings import BridgeSettings, LoadSettings, SchemaRegistrySettings
from streaming.spec import find_stream_spec, load_stream_specs

bridge_app = typer.Typer(help="The Kafka -> Pub/Sub bridge of the streaming lane.", no_args_is_help=True)
stream_app = typer.Typer(
    help="Streaming lane runbook: streams, the hourly build, the daily check, lag, sequence gaps, rejected events, "
    "dead letters.",
    no_args_is_help=True,
)
dead_letters_app = typer.Typer(
    help="A stream's dead letters (the bridge's poison messages, the subscription's undelivered ones): list, replay.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
StreamArgument = Annotated[str, typer.Argument(help="Stream spec name (source_specs/streaming/<name>.yaml).")]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        envvar=["MDP_PUBSUB_PROJECT", "PUBSUB_PROJECT_ID"],
        help="Google Cloud project of the Pub/Sub topics and subscriptions.",
    ),
]
CreateOption = Annotated[
    bool,
    typer.Option(
        "--create-missing",
        envvar="MDP_STREAM_CREATE_MISSING",
        help="Create missing Pub/Sub topics and subscriptions (emulators; Terraform owns them in the cloud).",
    ),
]

SchemaRegistryUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="MDP_SCHEMA_REGISTRY_URL",
        help="Schema registry (base URL of its Confluent API) of Avro streams whose spec takes schemas from it.",
    ),
]
SchemaRegistryUserInfoOption = Annotated[
    str | None,
    typer.Option(
        envvar="MDP_SCHEMA_REGISTRY_USER_INFO",
        help="user:password for the schema registry; better set as the environment variable.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this lane's commands to the `mdp` application."""
    app.add_typer(bridge_app, name="bridge")
    app.add_typer(stream_app, name="stream")
    stream_app.add_typer(dead_letters_app, name="dead-letters")
    app.command("stream-load")(stream_load)


def _settings(ctx: typer.Context) -> Settings:
    """Settings from the root command's --home and --env (or their environment variables)."""
    root = ctx.find_root().params
    home: Path | None = root.get("home")
    env: str | None = root.get("env")
    return Settings.from_env(home, env)


def _project(project: str | None) -> str:
    if not project:
        raise StreamSettingError(
            "setting 'project' is missing: pass --project or set MDP_PUBSUB_PROJECT (or PUBSUB_PROJECT_ID)"
        )
    return project


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C): the service drains and exits."""
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


@bridge_app.command("run")
def bridge_run(
    ctx: typer.Context,
    stream: StreamArgument,
    bootstrap_servers: Annotated[
        str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka brokers, host:port[,host:port].")
    ],
    project: ProjectOption = None,
    group_id: Annotated[
        str | None, typer.Option(envvar="MDP_BRIDGE_GROUP_ID", help="Consumer group (default: the spec's).")
    ] = None,
    instance_id: Annotated[
        str | None,
        typer.Option(envvar="MDP_BRIDGE_INSTANCE_ID", help="Static membership id, e.g. the pod name."),
    ] = None,
    session_timeout_ms: Annotated[
        int, typer.Option(envvar="MDP_BRIDGE_SESSION_TIMEOUT_MS", min=6000, help="Group session timeout.")
    ] = 45_000,
    max_in_flight: Annotated[
        int,
        typer.Option(
            envvar="MDP_BRIDGE_MAX_IN_FLIGHT", min=1, help="Messages beyond the confirmed commit, at most (pause)."
        ),
    ] = 50_000,
    max_in_flight_bytes: Annotated[
        int,
        typer.Option(envvar="MDP_BRIDGE_MAX_IN_FLIGHT_BYTES", min=1, help="Bytes awaiting Pub/Sub, at most (pause)."),
    ] = 256_000_000,
    batch_latency_ms: Annotated[
        int, typer.Option(envvar="MDP_BRIDGE_BATCH_LATENCY_MS", min=1, help="Longest wait of a publish batch.")
    ] = 50,
    metrics_port: Annotated[
        int | None,
        typer.Option(envvar="MDP_BRIDGE_METRICS_PORT", help="Serve /metrics and /healthz on this port."),
    ] = None,
    partition_stall_s: Annotated[
        float,
        typer.Option(
            envvar="MDP_BRIDGE_PARTITION_STALL_S",
            min=1,
            help="Seconds a partition may receive messages this replica does not read before /healthz fails.",
        ),
    ] = 300.0,
    schema_registry_url: SchemaRegistryUrlOption = None,
    schema_registry_user_info: SchemaRegistryUserInfoOption = None,
    create_missing: CreateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Bridge a stream's Kafka topics to Pub/Sub until SIGTERM; then finish publishes, commit and exit 0."""
    settings = _settings(ctx)
    spec = find_stream_spec(settings.specs_dir, stream)
    bridge_settings = BridgeSettings(
        bootstrap_servers=bootstrap_servers,
        project=_project(project),
        group_id=group_id,
        instance_id=instance_id,
        session_timeout_ms=session_timeout_ms,
        max_in_flight_messages=max_in_flight,
        max_in_flight_bytes=max_in_flight_bytes,
        batch=BatchSettings(max_latency_s=batch_latency_ms / 1000),
        metrics_port=metrics_port,
        partition_stall_s=partition_stall_s,
        schema_registry=SchemaRegistrySettings(schema_registry_url, schema_registry_user_info),
        create_topics=create_missing,
    )
    report = run_bridge(spec, bridge_settings, _stop_on_signals())
    if as_json:
        print_json(report.as_dict())
    else:
        print_table(f"bridge {stream}", [{**report.as_dict(), "committed": len(report.committed)}])


@bridge_app.command("backlog")
def bridge_backlog(
    ctx: typer.Context,
    stream: StreamArgument,
    bootstrap_servers: Annotated[
        str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka brokers, host:port[,host:port].")
    ],
    group_id: Annotated[
        str | None, typer.Option(envvar="MDP_BRIDGE_GROUP_ID", help="Consumer group (default: the spec's).")
    ] = None,
    timeout_s: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the brokers.")] = 15.0,
    as_json: JsonOption = False,
) -> None:
    """The stream's consumer group as the broker sees it: each partition's replica, commit and waiting messages."""
    spec = find_stream_spec(_settings(ctx).specs_dir, stream)
    group = group_id or spec.consumer_group
    backlog = group_backlog(bootstrap_servers, spec.kafka_topics, group, timeout_s)
    if as_json:
        print_json({"stream": stream, **backlog.as_dict()})
        return
    members = ", ".join(backlog.members) or "none"
    print_table(
        f"bridge {stream}: group {group} {backlog.state}, replicas: {members}, waiting: {backlog.waiting}",
        [dict(partition.__dict__) for partition in backlog.partitions],
    )


def stream_load(
    ctx: typer.Context,
    stream: StreamArgument,
    project: ProjectOption = None,
    subscription: Annotated[
        str | None, typer.Option(envvar="MDP_STREAM_SUBSCRIPTION", help="Subscription id (default: the spec's).")
    ] = None,
    batch_messages: Annotated[int, typer.Option(min=1, help="Messages per warehouse write, at most.")] = 5000,
    batch_wait: Annotated[float, typer.Option(min=0.05, help="Seconds a batch collects messages.")] = 1.0,
    idle_exit: Annotated[
        float | None, typer.Option(min=0.0, help="Exit once the subscription has been empty this many seconds.")
    ] = None,
    create_missing: CreateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Land a stream's subscription in raw.<stream>_stream, acknowledging only written messages (no BigQuery
    subscription: locally and on emulators)."""
    settings = _settings(ctx)
    spec = find_stream_spec(settings.specs_dir, stream)
    load_settings = LoadSettings(
        project=_project(project),
        subscription=subscription,
        batch_messages=batch_messages,
        batch_wait_s=batch_wait,
        idle_exit_s=idle_exit,
        create_subscription=create_missing,
    )
    subscriber = subscriber_client()
    try:
        path = subscriber.subscription_path(load_settings.project, load_settings.subscription or spec.subscription)
        if load_settings.create_subscription:
            publisher = publisher_client()
            topic = publisher.topic_path(load_settings.project, spec.pubsub_topic)
            ensure_topic(publisher, topic)
            ensure_subscription(subscriber, path, topic)
            close(publisher)
        loader = StreamLoader(
            spec.name,
            subscriber,
            path,
            spec.raw_table,
            lambda: open_warehouse(settings),
            load_settings.batch_messages,
            load_settings.batch_wait_s,
        )
        report = loader.run(_stop_on_signals(), load_settings.idle_exit_s)
    finally:
        close(subscriber)
    if as_json:
        print_json(report.as_dict())
    else:
        print_table(f"stream-load {stream}", [report.as_dict()])


@stream_app.command("list")
def stream_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every stream spec: owner, Kafka topics, Pub/Sub topics, raw table."""
    rows = [
        {
            "name": spec.name,
            "owner": spec.owner,
            "payload_format": spec.payload_format,
            "kafka_topics": ", ".join(spec.kafka_topics),
            "consumer_group": spec.consumer_group,
            "pubsub_topic": spec.pubsub_topic,
            "dead_letter_topic": spec.dead_letter_topic,
            "subscription": spec.subscription,
            "raw_table": f"raw.{spec.raw_table}",
        }
        for spec in load_stream_specs(_settings(ctx).specs_dir)
    ]
    if as_json:
        print_json(rows)
    else:
        print_table("streams", rows)


@stream_app.command("build")
def stream_build(
    ctx: typer.Context,
    lookback_hours: Annotated[
        int, typer.Option(min=1, help="Hours before the newest curated hour that the merge reprocesses.")
    ] = 3,
    window_hours: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Hours of raw messages staging covers (default: the dbt var stream_staging_window_hours, 12); "
            "raise it to catch up after the build stopped.",
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option(help="Rebuild the curated streams from every message raw keeps (30 days).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The hourly streaming build: `dbt build --select tag:streaming` (dedupe, reject, merge, gaps, lag); says how
    many events it rejected and which sequence gaps it confirmed, and logs each for alerting."""
    variables: dict[str, int] = {"stream_lookback_hours": lookback_hours}
    if window_hours is not None:
        variables["stream_staging_window_hours"] = window_hours
    settings = _settings(ctx)
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    try:
        with alert_on_failure(Alert.STREAM_BUILD_FAILED, "the streaming build"):
            result = runbook.build_streaming_models(settings, variables, full_refresh)
    except MdpError:
        # A failed build may still have recorded rejects and confirmed gaps: report them too.
        _report_findings(settings, started_at)
        raise
    rejected, gaps = _report_findings(settings, started_at)
    payload = {
        "command": result.command,
        "status": result.status,
        "message": result.message,
        "rejected": sum(rejected.values()),
        "rejected_by_stream": rejected,
        "confirmed_gaps": gaps,
    }
    if as_json:
        print_json(payload)
        return
    typer.echo(f"dbt {result.command}: {result.status} ({result.message})")
    if rejected:
        typer.echo(
            f"{sum(rejected.values())} events rejected by their stream spec, kept out of curation: `mdp stream rejects`"
        )
    for found in gaps:
        typer.echo(
            f"{found['gaps']} {found['severity']} sequence gaps newly confirmed in {found['source']}, "
            f"{found['missing']} events missing: `mdp stream gaps --confirmed-only`"
        )


def _report_findings(settings: Settings, started_at: dt.datetime) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """What this build found per stream, logged for the alerts: events it rejected, gaps it confirmed."""
    with closing(open_warehouse(settings)) as warehouse:
        if not all(warehouse.table_columns("control", name) for name in runbook.BUILD_FINDINGS_TABLES):
            return {}, []
        rejected = runbook.rejected_since(warehouse, started_at)
        gaps = runbook.confirmed_gaps_since(warehouse, started_at)
    for stream, count in rejected.items():
        raise_alert(
            Alert.STREAM_EVENTS_REJECTED,
            f"{count} events of stream {stream} rejected by their stream spec",
            stream=stream,
            rejected=count,
        )
    for found in gaps:
        raise_alert(
            Alert.STREAM_SEQUENCE_GAPS_CONFIRMED,
            f"{found['gaps']} {found['severity']} sequence gaps newly confirmed in stream {found['source']}, "
            f"{found['missing']} events missing",
            stream=found["source"],
            gap_severity=found["severity"],
            gaps=found["gaps"],
            missing=found["missing"],
        )
    return rejected, gaps


@stream_app.command("check")
def stream_check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The daily audit: every data test of the streaming models over whole tables (the hourly build tests the
    partitions it can change)."""
    with alert_on_failure(Alert.STREAM_CHECK_FAILED, "the daily streaming check"):
        result = runbook.check_streaming_models(_settings(ctx))
    if as_json:
        print_json({"command": result.command, "status": result.status, "message": result.message})
    else:
        typer.echo(f"dbt {result.command}: {result.status} ({result.message})")


@stream_app.command("lag")
def stream_lag(
    ctx: typer.Context,
    hours: Annotated[int, typer.Option(min=1, help="Ingested hours to cover, up to the latest.")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Minutes from event to warehouse per partition (control.streaming_lag, as of the last build)."""
    with closing(open_warehouse(_settings(ctx))) as warehouse:
        rows = runbook.lag(warehouse, hours)
    if as_json:
        print_json(rows)
    else:
        print_table("stream lag", rows)


@stream_app.command("gaps")
def stream_gaps(
    ctx: typer.Context,
    severity: Annotated[str, typer.Option(help="Lowest severity shown: LOW, MEDIUM, HIGH or CRITICAL.")] = "LOW",
    confirmed_only: Annotated[bool, typer.Option(help="Only gaps past the grace period.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Missing sequence ranges per source and partition (control.streaming_sequence_gaps, as of the last build)."""
    if severity not in runbook.SEVERITIES:
        raise typer.BadParameter(f"must be one of {', '.join(runbook.SEVERITIES)}", param_hint="--severity")
    with closing(open_warehouse(_settings(ctx))) as warehouse:
        rows = runbook.gaps(warehouse, severity, confirmed_only)
    if as_json:
        print_json(rows)
    else:
        print_table("sequence gaps", rows)


@stream_app.command("rejects")
def stream_rejects(
    ctx: typer.Context,
    hours: Annotated[int, typer.Option(min=1, help="First ingested in the last this many hours.")] = 24,
    source: Annotated[str | None, typer.Option(help="Only this stream (spec name).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many events, newest first.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array, each event with its payload, instead of a table.")
    ] = False,
) -> None:
    """Events their stream spec rejected, with the reason naming each field, rule and value, and where they are in
    Kafka (control.streaming_rejected_events, as of the last build)."""
    with closing(open_warehouse(_settings(ctx))) as warehouse:
        rows = runbook.rejects(warehouse, hours, source, limit, with_payload=as_json)
    if as_json:
        print_json(rows)
    else:
        print_table("rejected stream events", rows)


DeadLetterSubscriptionOption = Annotated[
    str | None,
    typer.Option(
        "--subscription",
        help="Subscription on the stream's dead-letter topic (default: named like the topic, as Terraform makes it).",
    ),
]
DEAD_LETTER_REASONS = (*(reason.value for reason in DeadLetterReason), "not_delivered")


@dead_letters_app.command("list")
def dead_letters_list(
    ctx: typer.Context,
    stream: StreamArgument,
    project: ProjectOption = None,
    subscription: DeadLetterSubscriptionOption = None,
    reason: Annotated[str | None, typer.Option(help=f"Only this reason: {', '.join(DEAD_LETTER_REASONS)}.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Look at the oldest this many dead letters.")] = 100,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array, each with its payload and attributes.")
    ] = False,
) -> None:
    """Dead letters of a stream, newest first: reason, detail, Kafka coordinates, event id. They stay on the
    subscription."""
    if reason is not None and reason not in DEAD_LETTER_REASONS:
        raise typer.BadParameter(f"must be one of {', '.join(DEAD_LETTER_REASONS)}", param_hint="--reason")
    spec = find_stream_spec(_settings(ctx).specs_dir, stream)
    subscriber = subscriber_client()
    try:
        path = subscriber.subscription_path(_project(project), subscription or spec.dead_letter_topic)
        with DeadLetterLease(subscriber, path) as leased:
            rows = [letter.row(with_data=as_json) for letter in listing(leased, limit, reason)]
    finally:
        close(subscriber)
    if as_json:
        print_json(rows)
    else:
        print_table(f"dead letters of {stream}", rows)


@dead_letters_app.command("replay")
def dead_letters_replay(
    ctx: typer.Context,
    stream: StreamArgument,
    project: ProjectOption = None,
    subscription: DeadLetterSubscriptionOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Replay the oldest this many dead letters.")] = 1000,
    dry_run: Annotated[bool, typer.Option(help="Say what a replay would do; publish and acknowledge nothing.")] = False,
    schema_registry_url: SchemaRegistryUrlOption = None,
    schema_registry_user_info: SchemaRegistryUserInfoOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put a stream's dead letters through its spec as it is now and publish those that pass to the stream's
    topic (forwarded ones as they were); acknowledge only what Pub/Sub took. Exit 1 if any are left."""
    spec = find_stream_spec(_settings(ctx).specs_dir, stream)
    project_id = _project(project)
    registry = open_schema_registry(spec, SchemaRegistrySettings(schema_registry_url, schema_registry_user_info))
    subscriber, publisher = subscriber_client(), publisher_client()
    try:
        path = subscriber.subscription_path(project_id, subscription or spec.dead_letter_topic)
        replay = DeadLetterReplay(
            spec, message_router(spec, registry), publisher, publisher.topic_path(project_id, spec.pubsub_topic)
        )
        with DeadLetterLease(subscriber, path) as leased:
            report = replay.run(leased, path, limit, dry_run)
    finally:
        close(subscriber)
        close(publisher)
        if registry is not None:
            registry.close()
    if as_json:
        print_json(report.as_dict())
    else:
        print_table(f"dead-letter replay of {stream}{' (dry run)' if dry_run else ''}", report.rows)
        typer.echo(", ".join(f"{count} {outcome}" for outcome, count in report.counts().items()))
    if report.left:
        raise typer.Exit(1)
