"""The only module that knows which object store and warehouse are in use."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.environments import CloudSettings, ConfigurationError
from orchestrator.settings import Settings
from orchestrator.storage import LocalFolderStore, ObjectStore
from orchestrator.warehouse.base import Warehouse
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse

if TYPE_CHECKING:
    from google.cloud import bigquery

# Cloud SDKs are imported only when a cloud environment is selected: the embedded default starts fast.

BUCKETS = ("landing", "staging", "failed", "archive", "extracts")


@dataclass(frozen=True)
class Buckets:
    """The five buckets of the batch lane."""

    landing: ObjectStore
    staging: ObjectStore
    failed: ObjectStore
    archive: ObjectStore
    extracts: ObjectStore

    def by_name(self, name: str) -> ObjectStore:
        """A bucket by its role name."""
        store: ObjectStore = getattr(self, name)
        return store


def open_buckets(settings: Settings) -> Buckets:
    """Folders under the home, or GCS buckets for a cloud environment."""
    if settings.cloud is None:
        return Buckets(*(LocalFolderStore(settings.home / name) for name in BUCKETS))
    from orchestrator.storage.gcs import GcsStore, gcs_client

    client = gcs_client(settings.cloud.project, settings.cloud.storage_emulator_host)
    return Buckets(*(GcsStore(client, settings.cloud.buckets[name]) for name in BUCKETS))


def _bigquery_client(cloud: CloudSettings) -> bigquery.Client:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    if cloud.bigquery_endpoint:
        return bigquery.Client(
            project=cloud.project,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=ClientOptions(api_endpoint=cloud.bigquery_endpoint),
        )
    return bigquery.Client(project=cloud.project, location=cloud.location)


def open_warehouse(settings: Settings) -> Warehouse:
    """The DuckDB file under the home, or BigQuery for a cloud environment."""
    if settings.cloud is None:
        return DuckDBWarehouse(settings.warehouse_path)
    from orchestrator.warehouse.bigquery_warehouse import BigQueryWarehouse

    client = _bigquery_client(settings.cloud)
    return BigQueryWarehouse(client, settings.cloud.project, settings.cloud.location, open_buckets(settings).staging)


def warehouse_dbt_target(settings: Settings) -> tuple[str, dict[str, str]]:
    """The dbt target and environment that reach the warehouse in use."""
    if settings.cloud is None:
        return "local", {"MDP_WAREHOUSE_PATH": str(settings.warehouse_path.resolve())}
    environment = {"MDP_BQ_PROJECT": settings.cloud.project, "MDP_BQ_LOCATION": settings.cloud.location}
    if settings.cloud.bigquery_endpoint:
        environment["MDP_BQ_ENDPOINT"] = settings.cloud.bigquery_endpoint
    return settings.cloud.dbt_target, environment


def reset_environment(settings: Settings) -> None:
    """Empty the buckets and the warehouse for a fresh demo; refused where the environment forbids it."""
    if settings.cloud is None:
        if settings.home.exists():
            shutil.rmtree(settings.home)
        return
    if not settings.cloud.allow_reset:
        raise ConfigurationError(
            f"--env {settings.env} does not allow a reset: the demo runs only locally or on emulators"
        )
    from orchestrator.storage.gcs import GcsStore

    buckets = open_buckets(settings)
    for name in BUCKETS:
        store = buckets.by_name(name)
        assert isinstance(store, GcsStore)
        store.ensure_bucket()
        for info in list(store.list()):
            store.delete(info.key)
    client: bigquery.Client = _bigquery_client(settings.cloud)
    try:
        for dataset in client.list_datasets():
            client.delete_dataset(dataset.reference, delete_contents=True, not_found_ok=True)
    finally:
        client.close()  # type: ignore[no-untyped-call]
