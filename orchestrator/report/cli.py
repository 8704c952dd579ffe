"""`mdp report`; `orchestrator.cli` calls `register` once at import."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.backends import open_buckets, open_warehouse
from orchestrator.console import print_json
from orchestrator.report.queries import DEFAULT_DAYS, MAX_DAYS
from orchestrator.settings import Settings
from orchestrator.specs import load_specs


def _settings(context: typer.Context) -> Settings:
    # `--home` and `--env` belong to the root `mdp` callback; a bare app (tests) falls back to MDP_HOME / MDP_ENV.
    root = context.find_root().params
    return Settings.from_env(root.get("home"), root.get("env"))


def default_report_path(home: Path, date: dt.date, days: int) -> Path:
    """Where `mdp report` writes unless told otherwise: the home's reports folder."""
    return home / "reports" / f"status_report_{date.isoformat()}_{days}d.html"


def register(app: typer.Typer) -> None:
    """Add `mdp report` to the application."""

    @app.command("report")
    def report(
        context: typer.Context,
        date: Annotated[
            dt.datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Last business date of the window.")
        ],
        days: Annotated[
            int, typer.Option("--days", min=1, max=MAX_DAYS, help="Business dates in the window, ending at --date.")
        ] = DEFAULT_DAYS,
        out: Annotated[
            Path | None, typer.Option("--out", help="HTML file to write (default: <home>/reports/...).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the path.")] = False,
    ) -> None:
        """Write the status report: one self-contained HTML page of charts; prints its path."""
        # plotly is imported here, not at the top: every other `mdp` command starts without it.
        from orchestrator.report.service import write_report

        settings = _settings(context)
        target = out or default_report_path(settings.home, date.date(), days)
        with closing(open_warehouse(settings)) as warehouse:
            warehouse.ensure_layout(load_specs(settings.specs_dir))
            result = write_report(warehouse, open_buckets(settings).extracts, date.date(), days, target)
        if as_json:
            print_json(result.as_dict())
        else:
            typer.echo(str(result.path))
