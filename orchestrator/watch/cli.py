"""`mdp watch`: parse, call the watcher, print one line per picked-up file."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orchestrator.settings import Settings


def _settings() -> Settings:
    # --home/--env live on the root command's State; imported here to avoid an import cycle with orchestrator.cli.
    from orchestrator.cli import State

    return Settings.from_env(State.home, State.env)


def register(app: typer.Typer) -> None:
    """Add `watch` to the `mdp` application."""

    @app.command()
    def watch(
        once: Annotated[bool, typer.Option("--once", help="One pull (or one look at landing), then exit.")] = False,
        max_messages: Annotated[
            int | None, typer.Option("--max-messages", min=1, help="Exit after this many notifications or files.")
        ] = None,
        timeout: Annotated[float | None, typer.Option("--timeout", min=0, help="Exit after this many seconds.")] = None,
        poll: Annotated[
            bool, typer.Option("--poll", help="Poll the landing bucket instead of reading notifications (cloud).")
        ] = False,
        interval: Annotated[
            float, typer.Option("--interval", min=0.1, help="Seconds between looks when polling.")
        ] = 2.0,
        settle: Annotated[
            float, typer.Option("--settle", min=0, help="Polling: a file is picked up once this many seconds old.")
        ] = 1.0,
        subscription: Annotated[
            str | None,
            typer.Option("--subscription", envvar="MDP_WATCH_SUBSCRIPTION", help="Pub/Sub subscription id (cloud)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per picked-up file.")] = False,
    ) -> None:
        """Pick up files as they land: GCS notifications in the cloud, polling locally; exit 1 if any failed."""
        from orchestrator.specs import load_specs
        from orchestrator.watch.pickup import PickupOutcome
        from orchestrator.watch.service import WatchLimits, watch_landing, watch_subscription
        from orchestrator.watch.settings import load_subscription_settings

        settings = _settings()
        specs = load_specs(settings.specs_dir)
        limits = WatchLimits(once=once, max_messages=max_messages, timeout_seconds=timeout)

        def show(outcome: PickupOutcome) -> None:
            if as_json:
                typer.echo(json.dumps(outcome.as_dict()))
                return
            counts = f" rows_loaded={outcome.rows_loaded} rows_quarantined={outcome.rows_quarantined}"
            detail = counts if outcome.status == "loaded" else ""
            reasons = f"  ({'; '.join(outcome.reasons)})" if outcome.reasons and outcome.status != "loaded" else ""
            typer.echo(f"{outcome.status:<10} {outcome.data_key or outcome.key}{detail}{reasons}")

        if settings.cloud is None or poll:
            summary = watch_landing(settings, specs, limits, show, interval_seconds=interval, settle_seconds=settle)
        else:
            source = load_subscription_settings(settings, subscription)
            summary = watch_subscription(settings, specs, source, limits, show)
        if not as_json:
            counts = ", ".join(f"{status} {count}" for status, count in sorted(summary.by_status.items()))
            typer.echo(f"watch: {summary.handled} handled" + (f" ({counts})" if counts else ""), err=True)
        raise typer.Exit(summary.exit_code)
