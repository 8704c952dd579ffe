"""The reference cache: current traders, instruments and counterparties from the dimension tables."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.backends import open_warehouse
from orchestrator.exceptions import Transient
from orchestrator.settings import Settings

log = logging.getLogger("mdp.reporter")


@dataclass(frozen=True)
class Trader:
    """A current trader version."""

    name: str
    desk: str


@dataclass(frozen=True)
class Instrument:
    """An instrument's latest attributes."""

    name: str
    asset_class: str
    currency: str


@dataclass(frozen=True)
class Counterparty:
    """A current counterparty version."""

    name: str
    country_code: str


@dataclass(frozen=True)
class ReferenceData:
    """One consistent load of the three dimensions, keyed by their business keys."""

    traders: Mapping[str, Trader] = field(default_factory=dict)
    instruments: Mapping[str, Instrument] = field(default_factory=dict)
    counterparties: Mapping[str, Counterparty] = field(default_factory=dict)
    loaded_at: dt.datetime | None = None

    def counts(self) -> dict[str, int]:
        """Entries per dimension."""
        return {
            "traders": len(self.traders),
            "instruments": len(self.instruments),
            "counterparties": len(self.counterparties),
        }


ReferenceLoader = Callable[[], ReferenceData]

# Current versions only: an event is enriched with what the reference says now, the regulator's view too.
_TRADERS = "select trader_id, trader_name, desk from {table} where is_current and coalesce(is_active, true)"
_INSTRUMENTS = "select isin, instrument_name, asset_class, currency from {table}"
_COUNTERPARTIES = "select counterparty_lei, counterparty_name, country_code from {table} where is_current"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def warehouse_loader(settings: Settings, busy_retries: int = 20, busy_wait_s: float = 0.25) -> ReferenceLoader:
    """A loader that reads the dimension tables of the warehouse in use, opened per load and closed after."""

    def load() -> ReferenceData:
        for attempt in range(busy_retries + 1):
            try:
                warehouse = open_warehouse(settings)
                break
            except Transient:
                # The embedded DuckDB file admits one process at a time; dbt or a cycle may hold it briefly.
                if attempt == busy_retries:
                    raise
                time.sleep(busy_wait_s)
        try:
            traders = warehouse.query(_TRADERS.format(table=warehouse.table("dimensions", "dim_trader")))
            instruments = warehouse.query(_INSTRUMENTS.format(table=warehouse.table("dimensions", "dim_instrument")))
            counterparties = warehouse.query(
                _COUNTERPARTIES.format(table=warehouse.table("dimensions", "dim_counterparty"))
            )
        finally:
            warehouse.close()
        return ReferenceData(
            traders={str(r["trader_id"]): Trader(_text(r["trader_name"]), _text(r["desk"])) for r in traders},
            instruments={
                str(r["isin"]): Instrument(_text(r["instrument_name"]), _text(r["asset_class"]), _text(r["currency"]))
                for r in instruments
            },
            counterparties={
                str(r["counterparty_lei"]): Counterparty(_text(r["counterparty_name"]), _text(r["country_code"]))
                for r in counterparties
            },
            loaded_at=dt.datetime.now(dt.UTC),
        )

    return load


class ReferenceCache:
    """Holds the last good reference load; a failed refresh keeps it and records the error."""

    def __init__(self, loader: ReferenceLoader, refresh_s: float) -> None:
        self._loader = loader
        self._refresh_s = refresh_s
        self._data = ReferenceData()
        self._last_error: str | None = None
        self._last_attempt_at: dt.datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def data(self) -> ReferenceData:
        """The current reference data (empty until the first successful load)."""
        return self._data

    def refresh(self) -> bool:
        """Reload now; True when the load succeeded."""
        with self._lock:
            self._last_attempt_at = dt.datetime.now(dt.UTC)
            try:
                self._data = self._loader()
            # Any failure, including an SDK error we did not translate, must keep the last good load serving.
            except Exception as error:
                self._last_error = f"{type(error).__name__}: {error}"
                log.warning("reference cache refresh failed; keeping the previous load: %s", self._last_error)
                return False
            self._last_error = None
            return True

    def status(self) -> dict[str, Any]:
        """Loaded-at, counts and the last error, for /admin/cache-status and `mdp reporter status`."""
        return {
            "loaded_at": self._data.loaded_at,
            "last_attempt_at": self._last_attempt_at,
            "refresh_s": self._refresh_s,
            "counts": self._data.counts(),
            "last_error": self._last_error,
        }

    def start(self) -> None:
        """Load once, then refresh in a daemon thread every `refresh_s`."""
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="reference-cache", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._refresh_s):
            self.refresh()

    def stop(self) -> None:
        """Stop the refresher thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
