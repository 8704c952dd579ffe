"""Errors of the streaming lane; only the CLI catches them (as `MdpError`)."""

from __future__ import annotations

from orchestrator.exceptions import MdpError, Terminal, Transient


class StreamingError(MdpError):
    """Base of every error the streaming lane raises on purpose."""


# --- configuration -------------------------------------------------------------------------------------------


class StreamSpecError(StreamingError, Terminal):
    """A stream spec is invalid; `problems` lists (file, yaml_path, message)."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        self.problems = problems
        lines = [f"{file}: {path}: {message}" for file, path, message in problems]
        super().__init__("invalid stream spec(s):\n" + "\n".join(lines))


class UnknownStreamError(StreamingError, Terminal):
    """No stream spec has this name."""

    def __init__(self, stream: str, known: list[str]) -> None:
        self.stream = stream
        super().__init__(f"stream={stream}: no stream spec with this name; known streams: {', '.join(known) or 'none'}")


class StreamSettingError(StreamingError, Terminal):
    """A setting of the bridge or the loader is missing or wrong; nothing was started."""


class StreamModelsNotBuiltError(StreamingError, Terminal):
    """A runbook command reads a streaming model that the warehouse does not hold yet."""

    def __init__(self, table: str) -> None:
        self.table = table
        super().__init__(
            f"table={table}: not in this warehouse; the streaming build has not run here yet (`mdp stream build`)"
        )


class StreamModelOutdatedError(StreamingError, Terminal):
    """A runbook command reads a streaming model that an older release built: it lacks columns."""

    def __init__(self, table: str, missing: list[str]) -> None:
        self.table = table
        self.missing = missing
        super().__init__(
            f"table={table}: built before its columns {', '.join(missing)} existed; run `mdp stream build` "
            "(the next hourly streaming build rebuilds it too)"
        )


# --- services ------------------------------------------------------------------------------------------------


class KafkaFatalError(StreamingError, Terminal):
    """The Kafka client reported a fatal error; the bridge stops and a restart resumes from the last commit."""


class KafkaUnavailableError(StreamingError, Transient):
    """The Kafka brokers did not answer a question in time."""


class PubSubUnavailableError(StreamingError, Transient):
    """Pub/Sub did not answer or refused a request that a retry may get through."""


class SchemaRegistryError(StreamingError):
    """A writer schema lookup in the schema registry failed; the bridge stops, and a restart resumes from the last
    commit, at the message that needed the schema (`message_at`: its Kafka coordinates, once known)."""

    def __init__(self, url: str, schema_id: int, problem: str, message_at: str = "") -> None:
        self.url = url
        self.schema_id = schema_id
        self.problem = problem
        self.message_at = message_at
        needed_by = f" (needed by {message_at})" if message_at else ""
        super().__init__(f"schema registry {url}: schema id {schema_id}{needed_by}: {problem}; {self._next_step}")

    _next_step = ""

    def for_message(self, message_at: str) -> SchemaRegistryError:
        """The same error, naming the Kafka message that needed the schema."""
        return type(self)(self.url, self.schema_id, self.problem, message_at)


class SchemaRegistryUnavailableError(SchemaRegistryError, Transient):
    """The schema registry did not answer a lookup before the deadline."""

    _next_step = "stopping; a restart publishes from that message on once the registry answers"


class SchemaRegistryRefusedError(SchemaRegistryError, Terminal):
    """The schema registry refused a lookup (credentials, or a request it does not take); no retry helps."""

    _next_step = (
        "stopping; check MDP_SCHEMA_REGISTRY_URL and MDP_SCHEMA_REGISTRY_USER_INFO, then restart: it publishes from "
        "that message on"
    )
