"""`mdp files drop-unrecorded`: remove raw rows that no loaded file records.

The repair for a `NOT_RECORDED` break of `control.file_reconciliation` that lasts: rows whose `_file_id` has no
loaded record cannot be traced to a file, so they leave the warehouse; a file that should be there is delivered
again and loads with a record. A file_id that a loaded file records is refused: its rows are that file's, and
`mdp files reload` is their repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrator.exceptions import Terminal
from orchestrator.specs import SourceSpec
from orchestrator.specs.loader import find_spec
from orchestrator.warehouse.base import Warehouse


class NotDroppableError(Terminal):
    """The file_id is recorded as loaded, or the raw table holds no row of it."""


def drop_unrecorded_rows(
    warehouse: Warehouse, specs: Sequence[SourceSpec], source: str, file_id: str
) -> dict[str, Any]:
    """Delete the rows of `raw.<source>` whose `_file_id` is `file_id`, which no loaded file records."""
    spec = find_spec(specs, source)
    recorded = warehouse.query(
        f"select landing_key from {warehouse.table('control', 'ingested_files')} "
        "where file_id = @file_id and outcome = 'loaded' order by processed_at desc limit 1",
        {"file_id": file_id},
    )
    if recorded:
        landing_key = recorded[0]["landing_key"]
        raise NotDroppableError(
            f"source={source} file_id={file_id}: recorded as the loaded file {landing_key}, so its rows are not "
            f"unrecorded; 'mdp files reload {landing_key}' repairs them; nothing was changed"
        )
    raw = warehouse.table("raw", spec.name)
    rows = warehouse.query(f"select count(*) as n from {raw} where _file_id = @file_id", {"file_id": file_id})[0]["n"]
    if rows == 0:
        raise NotDroppableError(
            f"source={source} file_id={file_id}: raw.{spec.name} holds no row of it; "
            "the FILE_RECONCILIATION_BREAK alert and 'mdp files reconcile --breaks --json' name the file_id of "
            "NOT_RECORDED rows"
        )
    warehouse.replace_raw_rows(spec, file_id, None)
    return {
        "source": spec.name,
        "file_id": file_id,
        "rows_deleted": rows,
        "next_step": (
            "run 'mdp run' (or wait for the hourly cycle): its reconciliation no longer lists them. Trades curated "
            "from them stay in curation until 'mdp rebuild --select trades_enriched+ --full-refresh'. If they "
            "were good data, have the file delivered again: it loads with a record"
        ),
    }
