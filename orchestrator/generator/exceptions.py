"""Errors of the test-data generator."""

from __future__ import annotations

from orchestrator.exceptions import Terminal


class GeneratorError(Terminal):
    """A spec asks for data the generator cannot produce, or its inputs are unusable."""
