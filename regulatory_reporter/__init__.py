"""Regulatory lane of the Markets Data Pipeline: submits each reportable event to the regulator exactly once."""

from regulatory_reporter.exceptions import ReporterError
from regulatory_reporter.ledger import DEAD_LETTERED, RECEIVED, SUBMITTED, Ledger, LedgerEntry
from regulatory_reporter.service import Outcome, Reporter
from regulatory_reporter.settings import ReporterSettings

__all__ = [
    "DEAD_LETTERED",
    "RECEIVED",
    "SUBMITTED",
    "Ledger",
    "LedgerEntry",
    "Outcome",
    "Reporter",
    "ReporterError",
    "ReporterSettings",
]
