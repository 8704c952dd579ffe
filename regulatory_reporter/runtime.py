"""Opens what a reporter process needs (ledger, regulator client, reference cache) and closes it afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from regulatory_reporter.ledger import Ledger
from regulatory_reporter.metrics import ReporterMetrics
from regulatory_reporter.reference import ReferenceCache, ReferenceLoader, warehouse_loader
from regulatory_reporter.regulator import RegulatorClient
from regulatory_reporter.retry import Backoff
from regulatory_reporter.service import Reporter
from regulatory_reporter.settings import ReporterSettings
from regulatory_reporter.sqlite_ledger import SqliteLedger


def open_ledger(settings: ReporterSettings) -> Ledger:
    """The SQLite file of the embedded default, or the Firestore collection of a cloud environment."""
    if settings.ledger_backend == "sqlite":
        return SqliteLedger(settings.sqlite_ledger_path)
    from regulatory_reporter.firestore_ledger import FirestoreLedger, firestore_client

    return FirestoreLedger(firestore_client(settings.firestore_project), settings.ledger_collection)


@contextmanager
def open_reporter(
    settings: ReporterSettings, loader: ReferenceLoader | None = None, refresh_in_background: bool = True
) -> Iterator[Reporter]:
    """A ready reporter: reference cache loaded (and refreshing), ledger and regulator client open."""
    settings.check_lease()
    regulator = RegulatorClient(
        settings.require_regulator(), settings.regulator_timeout_s, api_key=settings.regulator_api_key
    )
    ledger = open_ledger(settings)
    cache = ReferenceCache(loader or warehouse_loader(settings.base), settings.cache_refresh_s)
    if refresh_in_background:
        cache.start()
    else:
        cache.refresh()
    try:
        yield Reporter(
            ledger,
            regulator,
            cache,
            Backoff(settings.retry_base_s, settings.retries, settings.retry_jitter),
            settings.lease_s,
            settings.instance_id,
            ReporterMetrics(),
        )
    finally:
        cache.stop()
        ledger.close()
        regulator.close()
