"""`mdp` commands of this lane; `orchestrator.cli` calls `register` once at import."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import threading
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.alerts import Alert, alert_on_failure, raise_alert
from orchestrator.backends import open_warehouse
from orchestrator.console import print_json, print_table
from orchestrator.settings import Settings
from regulatory_reporter.settings import ReporterSettings

reporter_app = typer.Typer(help="Regulatory reporter: serve pushes, pull, status, audit mirror.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead-lettered regulatory events: list, show, replay.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
SLA_MINUTES_DEFAULT = 15.0


def _settings(context: typer.Context) -> ReporterSettings:
    # --home and --env belong to the root `mdp` command; read them from its parsed parameters.
    root = context.find_root().params
    home: Path | None = root.get("home")
    env: str | None = root.get("env")
    return ReporterSettings.from_env(Settings.from_env(home, env))


@reporter_app.command("serve")
def serve(
    context: typer.Context,
    host: Annotated[str, typer.Option(envvar="MDP_REPORTER_HOST", help="Interface to listen on.")] = "0.0.0.0",  # noqa: S104 - Cloud Run needs all interfaces
    port: Annotated[int, typer.Option(envvar="PORT", help="Port to listen on (Cloud Run sets PORT).")] = 8080,
    workers: Annotated[
        int,
        typer.Option(
            envvar="MDP_REPORTER_WORKERS",
            min=1,
            help="Server processes sharing the port; one per vCPU, as each process runs Python on one core.",
        ),
    ] = 1,
) -> None:
    """Serve Pub/Sub push requests (Cloud Run): OIDC-verified, each event submitted to the regulator once."""
    import uvicorn

    from regulatory_reporter.app import create_app, create_app_from_environment
    from regulatory_reporter.logs import configure_reporter_logging

    settings = _settings(context)
    configure_reporter_logging()
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 30,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
        return
    # Worker processes build their own application (ledger client, regulator pool, reference cache) from the
    # environment, so the root command's --home and --env travel there.
    os.environ["MDP_HOME"] = str(settings.base.home)
    os.environ["MDP_ENV"] = settings.base.env
    uvicorn.run(
        f"{create_app_from_environment.__module__}:{create_app_from_environment.__name__}",
        factory=True,
        workers=workers,
        **options,
    )


@reporter_app.command("worker")
def worker(
    context: typer.Context,
    subscription: Annotated[
        str | None, typer.Option(envvar="MDP_REPORTER_SUBSCRIPTION", help="Pull subscription id or full path.")
    ] = None,
) -> None:
    """Pull mode (GKE): streaming pull, ack only after the ledger records the outcome; stops on SIGTERM."""
    from regulatory_reporter.exceptions import ReporterConfigurationError
    from regulatory_reporter.logs import configure_reporter_logging
    from regulatory_reporter.worker import pull_until_stopped

    settings = _settings(context)
    name = subscription or settings.subscription
    if not name:
        raise ReporterConfigurationError("setting MDP_REPORTER_SUBSCRIPTION (or --subscription) is missing")
    configure_reporter_logging()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    pull_until_stopped(settings, name, stop)


@reporter_app.command("status")
def status(
    context: typer.Context,
    sla_minutes: Annotated[float, typer.Option(help="Regulatory deadline after event_at.")] = SLA_MINUTES_DEFAULT,
    as_json: JsonOption = False,
) -> None:
    """Ledger entries per state, events still unsubmitted past the SLA, latest dead letters."""
    from regulatory_reporter import runbook
    from regulatory_reporter.runtime import open_ledger

    ledger = open_ledger(_settings(context))
    try:
        report = runbook.status(ledger, dt.datetime.now(dt.UTC), sla_minutes)
    finally:
        ledger.close()
    if as_json:
        print_json(report)
        return
    print_table("ledger entries by state", [report["counts"]])
    print_table(f"received, past the {sla_minutes:g}-minute SLA", report["received_past_sla"])
    print_table("latest dead letters", report["latest_dead_letters"], ["event_id", "dead_lettered_at", "reason"])


@reporter_app.command("mirror")
def mirror(context: typer.Context, as_json: JsonOption = False) -> None:
    """Append ledger changes since the last mirror to control.regulatory_submissions and regulatory_dead_letter."""
    from regulatory_reporter import runbook
    from regulatory_reporter.runtime import open_ledger

    settings = _settings(context)
    ledger = open_ledger(settings)
    warehouse = open_warehouse(settings.base)
    try:
        warehouse.ensure_layout([])
        result = runbook.mirror_ledger(ledger, warehouse, dt.datetime.now(dt.UTC))
    finally:
        warehouse.close()
        ledger.close()
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"mirrored {result['entries_mirrored']} ledger change(s), {result['dead_letters_mirrored']} dead letter(s)"
        )


@reporter_app.command("reconcile")
def reconcile(context: typer.Context, as_json: JsonOption = False) -> None:
    """The scheduled reconciliation: `dbt build --select tag:regulatory`, then the events of the last day that
    passed their deadline unsubmitted (MISSED: logged for the alert) or were submitted late."""
    from regulatory_reporter.reconcile import build_regulatory_models, recent_breaches

    settings = _settings(context).base
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with alert_on_failure(Alert.REGULATORY_RECONCILE_FAILED, "the regulatory reconciliation"):
        result = build_regulatory_models(settings, now.date())
        with closing(open_warehouse(settings)) as warehouse:
            breaches = recent_breaches(warehouse, now)
    if breaches["missed"]:
        raise_alert(
            Alert.REGULATORY_SUBMISSIONS_MISSED,
            f"{breaches['missed']} regulatory events passed their deadline unsubmitted, the oldest due "
            f"{breaches['oldest_missed_deadline']}: {', '.join(breaches['missed_event_ids'])}",
            logging.ERROR,
            missed=breaches["missed"],
        )
    if as_json:
        print_json({"command": result.command, "status": result.status, "message": result.message, **breaches})
        return
    typer.echo(f"dbt {result.command}: {result.status} ({result.message})")
    typer.echo(
        f"deadlines in the last day: {breaches['missed']} missed, {breaches['late']} submitted late"
        + (f"; `mdp reconciliation --date {now.date()}` lists them" if breaches["missed"] + breaches["late"] else "")
    )


@dlq_app.command("list")
def dlq_list(
    context: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, most recent first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Dead-lettered events with their reasons, most recent first."""
    from regulatory_reporter import runbook
    from regulatory_reporter.runtime import open_ledger

    ledger = open_ledger(_settings(context))
    try:
        rows = runbook.dead_letters(ledger, limit)
    finally:
        ledger.close()
    if as_json:
        print_json(rows)
    else:
        print_table("dead-lettered events", rows, ["event_id", "event_type", "dead_lettered_at", "attempts", "reason"])


@dlq_app.command("show")
def dlq_show(
    context: typer.Context,
    event_id: Annotated[str, typer.Argument(help="The event's id (32 hex characters).")],
    as_json: JsonOption = False,
) -> None:
    """One ledger entry: state, attempts, reason, regulator reference and the event it holds."""
    from regulatory_reporter import runbook
    from regulatory_reporter.runtime import open_ledger

    ledger = open_ledger(_settings(context))
    try:
        detail = runbook.show_event(ledger, event_id)
    finally:
        ledger.close()
    if as_json:
        print_json(detail)
        return
    event = detail.pop("event")
    print_table(f"event {event_id}", [{"field": k, "value": v} for k, v in detail.items()])
    print_table("event data", [{"field": k, "value": v} for k, v in event.items()])


@dlq_app.command("replay")
def dlq_replay(
    context: typer.Context,
    event_id: Annotated[str, typer.Argument(help="Id of a DEAD_LETTERED event.")],
    as_json: JsonOption = False,
) -> None:
    """Resubmit a dead-lettered event through the same ledger claim and idempotency key. Exit 1 if it fails again."""
    from regulatory_reporter.logs import configure_reporter_logging
    from regulatory_reporter.runtime import open_reporter

    settings = _settings(context)
    configure_reporter_logging()
    with open_reporter(settings, refresh_in_background=False) as reporter:
        outcome = reporter.replay(event_id)
    result: dict[str, Any] = outcome.as_dict()
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"event {event_id}: {result['state']}"
            + (f" (reference {result['regulator_reference']})" if result["regulator_reference"] else "")
            + (f": {result['reason']}" if result["reason"] else "")
        )
    if outcome.status != "SUBMITTED":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this lane's commands to the `mdp` application."""
    app.add_typer(reporter_app, name="reporter")
    app.add_typer(dlq_app, name="dlq")
