"""Errors of the batch lane; only the CLI catches `MdpError`."""

from __future__ import annotations


class MdpError(Exception):
    """Base of every error the batch lane raises on purpose."""


class Terminal(MdpError):
    """Retrying will not help: the input or configuration must change."""


class Transient(MdpError):
    """A retry may succeed: a backend was briefly unavailable."""


class SpecError(Terminal):
    """A source spec is invalid; `problems` lists (file, yaml_path, message)."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        lines = [f"{file}: {path}: {message}" for file, path, message in problems]
        super().__init__("invalid source spec(s):\n" + "\n".join(lines))


class UnsafeExpressionError(Terminal):
    """A rule or mapping expression uses SQL outside the allow-list."""


class UnknownSourceError(Terminal):
    """No shipped spec has this name."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(f"source={source}: no spec with this name; run 'mdp sources list' to see the known sources")


class CycleLockedError(Terminal):
    """Another cycle holds the lock; this one does not start."""

    def __init__(self, holder: str) -> None:
        self.holder = holder
        super().__init__(f"another cycle is running ({holder}); this run exits without touching any file")


class FileNotFoundInStoreError(Terminal):
    """The named object is in none of the buckets."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"file={key}: not found in any bucket")


class PreconditionFailedError(Transient):
    """An object changed under us (generation mismatch); another runner got there first."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"file={key}: changed concurrently; the next cycle will pick it up")


class DbtFailedError(MdpError):
    """dbt exited non-zero; the models it names did not build."""

    def __init__(self, command: str, summary: str) -> None:
        self.command = command
        super().__init__(f"dbt {command} failed: {summary}")
