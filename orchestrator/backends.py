"""The only module that knows which object store and warehouse are in use."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.settings import Settings
from orchestrator.storage import LocalFolderStore, ObjectStore
from orchestrator.warehouse.base import Warehouse
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse

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
    """Buckets as folders under the home."""
    return Buckets(*(LocalFolderStore(settings.home / name) for name in BUCKETS))


def open_warehouse(settings: Settings) -> Warehouse:
    """The DuckDB file under the home."""
    return DuckDBWarehouse(settings.warehouse_path)


def warehouse_dbt_target(settings: Settings) -> tuple[str, dict[str, str]]:
    """The dbt target and environment that reach the warehouse in use."""
    return "local", {"MDP_WAREHOUSE_PATH": str(settings.warehouse_path.resolve())}
