"""Addresses of the test services that `make services-up` starts (scripts/services.sh), read from the environment.

A test that needs a service calls one of these; when the variable is missing the test fails with
`ServicesNotUpError`, it never skips: a green run means every integration test talked to its service.
"""

from __future__ import annotations

import os

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

__all__ = [
    "ServicesNotUpError",
    "bigquery_client",
    "bigquery_emulator_host",
    "bigquery_project",
    "bigquery_spare_project",
    "firestore_emulator_host",
    "kafka_bootstrap_servers",
    "pubsub_emulator_host",
    "pubsub_project",
    "schema_registry_url",
    "storage_emulator_host",
]


class ServicesNotUpError(RuntimeError):
    """A test needs a service whose address is not in the environment."""

    def __init__(self, variable: str, service: str) -> None:
        super().__init__(
            f"{variable} is not set, so this test cannot reach {service}: run `make services-up`, then "
            '`eval "$(scripts/services.sh env)"` in the shell that runs pytest (`make test` does both)'
        )
        self.variable = variable
        self.service = service


def _require(variable: str, service: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ServicesNotUpError(variable, service)
    return value


def storage_emulator_host() -> str:
    """fake-gcs-server's base URL, e.g. `http://127.0.0.1:24443` (STORAGE_EMULATOR_HOST)."""
    return _require("STORAGE_EMULATOR_HOST", "fake-gcs-server")


def bigquery_emulator_host() -> str:
    """The BigQuery emulator's REST base URL, for `client_options={"api_endpoint": ...}` (BIGQUERY_EMULATOR_HOST)."""
    return _require("BIGQUERY_EMULATOR_HOST", "the BigQuery emulator")


def bigquery_project() -> str:
    """The project the BigQuery emulator serves (MDP_BIGQUERY_PROJECT)."""
    return _require("MDP_BIGQUERY_PROJECT", "the BigQuery emulator")


def bigquery_spare_project(number: int) -> str:
    """The `number`th (from 1) spare project on the BigQuery emulator (MDP_BIGQUERY_SPARE_PROJECTS), for the one
    test module that uses it: one that empties a whole project, or runs many queries. The emulator reads a
    project's every job, dataset and table on each request, so each module's requests stay fast only in a project
    no other module filled."""
    projects = _require("MDP_BIGQUERY_SPARE_PROJECTS", "the BigQuery emulator").split(",")
    if not 1 <= number <= len(projects):
        raise ValueError(f"spare project {number}: the emulator serves {len(projects)} (scripts/services.sh)")
    return projects[number - 1]


def bigquery_client(project: str | None = None) -> bigquery.Client:
    """An anonymous BigQuery client on the emulator, for `project` (default: the emulator's main project)."""
    return bigquery.Client(
        project=project or bigquery_project(),
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=bigquery_emulator_host()),
    )


def pubsub_emulator_host() -> str:
    """The Pub/Sub emulator's `host:port`, no scheme (PUBSUB_EMULATOR_HOST)."""
    return _require("PUBSUB_EMULATOR_HOST", "the Pub/Sub emulator")


def pubsub_project() -> str:
    """The project for Pub/Sub topics and subscriptions on the emulator (PUBSUB_PROJECT_ID)."""
    return _require("PUBSUB_PROJECT_ID", "the Pub/Sub emulator")


def firestore_emulator_host() -> str:
    """The Firestore emulator's `host:port`, no scheme (FIRESTORE_EMULATOR_HOST)."""
    return _require("FIRESTORE_EMULATOR_HOST", "the Firestore emulator")


def kafka_bootstrap_servers() -> str:
    """The Kafka broker's `host:port` list for `bootstrap.servers` (KAFKA_BOOTSTRAP_SERVERS)."""
    return _require("KAFKA_BOOTSTRAP_SERVERS", "the Kafka broker")


def schema_registry_url() -> str:
    """The schema registry's Confluent-compatible API base URL (MDP_SCHEMA_REGISTRY_URL)."""
    return _require("MDP_SCHEMA_REGISTRY_URL", "the schema registry")
