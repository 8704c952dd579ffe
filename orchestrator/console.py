"""Output helpers for the CLI: JSON, tables, progress and structured logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.alerts import log as alerts_log
from orchestrator.batch.cycle import Progress as ProgressCallback
from orchestrator.logs import JsonFormatter

# Wide enough for landing paths when output goes to a file or CI log rather than a terminal.
stdout = Console(width=None if sys.stdout.isatty() else 160)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def _default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def print_json(payload: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(payload, default=_default, indent=2) + "\n")


def print_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Rows as a table on stdout."""
    names = list(columns or (rows[0].keys() if rows else []))
    table = Table(title=title)
    for name in names:
        table.add_column(name)
    for row in rows:
        table.add_row(*["" if row.get(name) is None else str(row.get(name)) for name in names])
    stdout.print(table)


def configure_logging() -> None:
    """Structured JSON logs on stderr when it is not a terminal (a job's log, which Cloud Logging parses); on a
    terminal, warnings and errors alone, as plain lines (the progress bar shows the steps), without the alert
    lines: they are for Cloud Monitoring, and the command's own output already says the same."""
    handler = logging.StreamHandler(sys.stderr)
    terminal = sys.stderr.isatty()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s") if terminal else JsonFormatter())
    if terminal:
        handler.addFilter(lambda record: not record.name.startswith(alerts_log.name))
    root = logging.getLogger("mdp")
    root.handlers = [handler]
    root.setLevel(logging.WARNING if terminal else logging.INFO)
    root.propagate = False


@contextmanager
def progress_display() -> Iterator[ProgressCallback | None]:
    """A progress bar on a terminal, nothing otherwise (logs carry the steps)."""
    if not stderr.is_terminal:
        log = logging.getLogger("mdp.progress")
        yield lambda step, done, total: log.info("step=%r done=%s total=%s", step, done, total)
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=max(total, 1))

        yield update
