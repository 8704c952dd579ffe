"""`mdp deliver` and `mdp deliveries list`: parse, call the delivery service, print."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from orchestrator.alerts import Alert, alert_on_failure
from orchestrator.console import print_json, print_table
from orchestrator.settings import Settings

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


def _settings() -> Settings:
    # --home/--env live on the root command's State; imported here to avoid an import cycle with orchestrator.cli.
    from orchestrator.cli import State

    return Settings.from_env(State.home, State.env)


def register(app: typer.Typer) -> None:
    """Add `deliver` and `deliveries list` to the `mdp` application."""
    deliveries_app = typer.Typer(help="Extract deliveries to the surveillance vendor.", no_args_is_help=True)
    app.add_typer(deliveries_app, name="deliveries")

    @app.command()
    def deliver(
        date: Annotated[
            dt.datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Business date of the extract to send.")
        ],
        as_json: JsonOption = False,
    ) -> None:
        """Send the date's extract and manifest to the vendor (SFTP or GCS), manifest last, nothing twice."""
        from orchestrator.delivery.service import deliver_extract

        with alert_on_failure(Alert.VENDOR_EXTRACT_FAILED, f"the vendor delivery for {date.date()}"):
            report = deliver_extract(_settings(), date.date())
        if as_json:
            print_json(report.as_dict())
        else:
            rows = [{**f.as_dict(), "sha256": (f.sha256 or "")[:16]} for f in report.files]
            print_table(
                f"delivery {report.delivery_id} to {report.target}",
                rows,
                ["file", "role", "status", "size_bytes", "sha256"],
            )

    @deliveries_app.command("list")
    def deliveries_list(
        date: Annotated[
            dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="Only this business date.")
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Recorded delivery attempts (control.extract_deliveries), newest first, one row per file."""
        from orchestrator.delivery.service import list_deliveries

        rows = list_deliveries(_settings(), date.date() if date else None)
        if as_json:
            print_json(rows)
        else:
            print_table(
                "deliveries",
                rows,
                ["delivery_id", "business_date", "file_name", "role", "status", "size_bytes", "reason"],
            )
