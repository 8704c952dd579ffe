"""`mdp` commands of this lane; `orchestrator.cli` calls `register` once at import."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this lane's commands to the `mdp` application."""
    del app
