"""Writer schemas from a schema registry with Confluent's API (Confluent's own, or Apicurio's `/apis/ccompat/v7`), for
Avro streams whose spec lets the bridge look up ids it does not list (`payload.avro.schema_registry`).

A registry id names one schema for good, so the decoder keeps each schema it gets for the life of the process
(streaming/avro.py) and asks for an id once. A schema that refers to others (Confluent's schema references:
subject and version) gets their named types written in. An id the registry does not hold is asked again after
`_UNKNOWN_KEPT_S`, so poison values with random ids do not send a request each.
While the registry does not answer (refused connections, timeouts, 5xx, 429), the lookup retries with backoff up
to a deadline and then raises `SchemaRegistryUnavailableError`: a schema it cannot fetch is never a dead letter.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import fastavro
import httpx

from streaming.exceptions import SchemaRegistryRefusedError, SchemaRegistryUnavailableError, StreamSettingError

if TYPE_CHECKING:  # both import modules that import this one
    from streaming.settings import SchemaRegistrySettings
    from streaming.spec import StreamSpec

__all__ = ["RegistrySchemaError", "SchemaRegistry", "open_schema_registry"]

log = logging.getLogger(__name__)

_UNKNOWN_KEPT_S = 60.0
_FIRST_BACKOFF_S = 0.25
_MAX_BACKOFF_S = 4.0
_ACCEPT = "application/vnd.schemaregistry.v1+json, application/json"


class RegistrySchemaError(ValueError):
    """The registry holds no schema under an id, or one the bridge cannot decode with; the message says which."""


class SchemaRegistry:
    """Looks up Avro writer schemas by id at `url` (the API's base, e.g. `https://registry.example/apis/ccompat/v7`)."""

    def __init__(
        self,
        url: str,
        *,
        user_info: str | None = None,
        timeout_s: float = 5.0,
        deadline_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self._deadline_s = deadline_s
        self._clock = clock
        auth = httpx.BasicAuth(*user_info.split(":", 1)) if user_info and ":" in user_info else None
        self._client = httpx.Client(base_url=self.url, auth=auth, timeout=timeout_s, headers={"Accept": _ACCEPT})
        self._unknown: dict[int, tuple[float, str]] = {}

    def writer_schema(self, schema_id: int) -> Any:
        """The parsed Avro schema under `schema_id`, with the named types of the schemas it refers to written in;
        `RegistrySchemaError` when there is none the bridge can use."""
        unknown = self._unknown.get(schema_id)
        if unknown is not None and self._clock() - unknown[0] < _UNKNOWN_KEPT_S:
            raise RegistrySchemaError(unknown[1])
        lookup = _Lookup(schema_id, self._clock() + self._deadline_s)
        try:
            answer = self._fetch(
                lookup, f"/schemas/ids/{schema_id}", f"the schema registry holds no schema with id {schema_id}"
            )
            named: dict[str, Any] = {}
            self._parse_references(lookup, answer, named)
            schema = _parsed(f"schema id {schema_id} in the schema registry", answer, named)
        except RegistrySchemaError as error:
            self._unknown[schema_id] = (self._clock(), str(error))
            raise
        self._unknown.pop(schema_id, None)
        log.info("schema registry %s: schema id %d fetched; decoding with it from now on", self.url, schema_id)
        return schema

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _parse_references(self, lookup: _Lookup, answer: dict[str, Any], named: dict[str, Any]) -> None:
        """Fetch and parse the schemas `answer` refers to (theirs first), adding their named types to `named`."""
        for reference in answer.get("references") or []:
            subject, version = str(reference.get("subject")), str(reference.get("version"))
            if (subject, version) in lookup.seen:
                continue
            lookup.seen.add((subject, version))
            referred = self._fetch(
                lookup,
                f"/subjects/{quote(subject, safe='')}/versions/{quote(version, safe='')}",
                f"schema id {lookup.schema_id} refers to subject {subject} version {version}, which the schema "
                "registry does not hold",
            )
            self._parse_references(lookup, referred, named)
            where = f"subject {subject} version {version} (referred to by schema id {lookup.schema_id})"
            _parsed(where, referred, named)

    def _fetch(self, lookup: _Lookup, path: str, missing: str) -> dict[str, Any]:
        """The registry's answer at `path`: the JSON object of a 200; `RegistrySchemaError(missing)` for a 404."""
        backoff = _FIRST_BACKOFF_S
        while True:
            problem = self._ask(lookup, path, missing)
            if isinstance(problem, dict):
                return problem
            if self._clock() + backoff > lookup.give_up_at:
                raise SchemaRegistryUnavailableError(
                    self.url, lookup.schema_id, f"no answer within {self._deadline_s:g} s (last: {problem})"
                )
            log.warning("schema registry %s: %s: %s; asking again in %.2f s", self.url, path, problem, backoff)
            time.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _ask(self, lookup: _Lookup, path: str, missing: str) -> dict[str, Any] | str:
        """One request: the answer's JSON object, or why it is worth asking again."""
        try:
            response = self._client.get(path)
        except httpx.TransportError as error:
            return f"{type(error).__name__}: {error}"
        if response.status_code == httpx.codes.NOT_FOUND:
            raise RegistrySchemaError(missing)
        if response.status_code == httpx.codes.TOO_MANY_REQUESTS or response.status_code >= 500:
            return _answer(response)
        if response.status_code != httpx.codes.OK:  # 401, 403, another 4xx: no retry mends them
            raise SchemaRegistryRefusedError(self.url, lookup.schema_id, _answer(response))
        try:
            answer = response.json()
        except ValueError:
            return f"HTTP 200 with a body that is not JSON: {response.text[:200]}"
        if not isinstance(answer, dict) or not isinstance(answer.get("schema"), str):
            return f"HTTP 200 without a schema: {response.text[:200]}"
        return answer


@dataclass
class _Lookup:
    """One schema id being looked up: when to give up, and the references already parsed."""

    schema_id: int
    give_up_at: float
    seen: set[tuple[str, str]] = field(default_factory=set)


def _answer(response: httpx.Response) -> str:
    """A failed answer in a few words: its status and the start of its body."""
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _parsed(where: str, answer: dict[str, Any], named: dict[str, Any]) -> Any:
    """The parsed Avro schema of a registry answer, named types from `named` written in (its own are added there);
    `RegistrySchemaError` for one the bridge cannot decode with."""
    schema_type = answer.get("schemaType", "AVRO")
    if schema_type != "AVRO":
        raise RegistrySchemaError(f"{where} is a {schema_type} schema, not Avro")
    try:
        return fastavro.parse_schema(json.loads(answer["schema"]), named_schemas=named, expand=True)
    except Exception as error:  # not JSON, or fastavro's several error types for a bad schema
        raise RegistrySchemaError(f"{where} is not an Avro schema: {type(error).__name__}: {error}") from error


def open_schema_registry(spec: StreamSpec, settings: SchemaRegistrySettings) -> SchemaRegistry | None:
    """The registry client a stream's spec asks for (`payload.avro.schema_registry`), else None."""
    if spec.payload_format != "avro" or not spec.avro_schema_registry:
        return None
    if not settings.url:
        raise StreamSettingError(
            f"stream={spec.name}: its spec takes Avro writer schemas from the schema registry "
            "(payload.avro.schema_registry), so the setting 'schema_registry_url' is needed: pass "
            "--schema-registry-url or set MDP_SCHEMA_REGISTRY_URL"
        )
    if settings.user_info and ":" not in settings.user_info:
        raise StreamSettingError(
            "setting 'schema_registry_user_info' must be user:password (MDP_SCHEMA_REGISTRY_USER_INFO); it has no ':'"
        )
    return SchemaRegistry(settings.url, user_info=settings.user_info, deadline_s=settings.deadline_s)
