"""The regulatory lane's scheduled reconciliation: build its dbt models, then say which events of the last day
passed their deadline unsubmitted (MISSED) or were submitted late."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orchestrator.backends import warehouse_dbt_target
from orchestrator.batch.cycle import dbt_variables
from orchestrator.dbt_runner import DbtResult, run_dbt
from orchestrator.exceptions import DbtFailedError
from orchestrator.settings import Settings
from orchestrator.warehouse.base import Warehouse

REGULATORY_DBT_BUILD = ("build", "--select", "tag:regulatory")
# Deadlines this far back are reported; older breaches are in `mdp reconciliation --date`.
BREACH_LOOKBACK = dt.timedelta(hours=24)
# Missed events named in the report (and its alert line); the count covers all of them.
NAMED_EVENTS = 10


def build_regulatory_models(settings: Settings, as_of: dt.date) -> DbtResult:
    """`dbt build --select tag:regulatory` (reconciliation, daily summary); `DbtFailedError` when a node fails."""
    result = run_dbt(settings, warehouse_dbt_target(settings), REGULATORY_DBT_BUILD, dbt_variables(as_of))
    if result.status != "success":
        raise DbtFailedError(result.command, result.message)
    return result


def recent_breaches(warehouse: Warehouse, now: dt.datetime) -> dict[str, Any]:
    """Events whose deadline fell in the last day, as the build reconciled them: how many are MISSED (still
    unsubmitted) and LATE, the oldest missed deadline, and the first missed event ids by deadline."""
    table = warehouse.table("control", "regulatory_reconciliation")
    window = {"since": now - BREACH_LOOKBACK}
    counts = warehouse.query(
        f"select reconciliation_status, count(*) as events, min(deadline_at) as oldest_deadline from {table} "
        "where deadline_at >= @since and reconciliation_status in ('MISSED', 'LATE') group by reconciliation_status",
        window,
    )
    by_status = {row["reconciliation_status"]: row for row in counts}
    missed = warehouse.query(
        f"select event_id from {table} where deadline_at >= @since and reconciliation_status = 'MISSED' "
        f"order by deadline_at, event_id limit {NAMED_EVENTS}",
        window,
    )
    oldest = by_status.get("MISSED", {}).get("oldest_deadline")
    return {
        "missed": int(by_status.get("MISSED", {}).get("events", 0)),
        "late": int(by_status.get("LATE", {}).get("events", 0)),
        "oldest_missed_deadline": oldest.isoformat() if oldest is not None else None,
        "missed_event_ids": [row["event_id"] for row in missed],
    }
