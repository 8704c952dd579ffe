"""Shared cloud fixtures: fresh buckets on the fake-gcs-server that `make services-up` starts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import google.cloud.storage as storage  # type: ignore[import-untyped]
import pytest
import requests
from google.auth.credentials import AnonymousCredentials

from orchestrator.storage import GcsStore, gcs_client
from tests import services

EMULATOR_PROJECT = "mdp-test"

NewGcsStore = Callable[..., GcsStore]


@pytest.fixture(scope="session")
def emulator_client() -> Iterator[storage.Client]:
    """One client for the session, built the way the product builds it; without the emulator the GCS cases fail."""
    client = gcs_client(EMULATOR_PROJECT, services.storage_emulator_host())
    yield client
    client.close()


@pytest.fixture
def new_gcs_store(emulator_client: storage.Client) -> Iterator[NewGcsStore]:
    """Makes a store on a fresh, uniquely named bucket, optionally talking through a given HTTP session."""
    bucket_names: list[str] = []
    session_clients: list[storage.Client] = []

    def make(session: requests.Session | None = None) -> GcsStore:
        name = f"mdp-test-{uuid.uuid4().hex[:20]}"
        GcsStore(emulator_client, name).ensure_bucket()
        bucket_names.append(name)
        if session is None:
            return GcsStore(emulator_client, name)
        # A session at the HTTP boundary lets a test see or alter what goes over the wire.
        client = storage.Client(
            project=EMULATOR_PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": emulator_client.api_endpoint},
            _http=session,
        )
        session_clients.append(client)
        return GcsStore(client, name)

    yield make
    for client in session_clients:
        client.close()
    for name in bucket_names:
        emulator_client.bucket(name).delete(force=True)
