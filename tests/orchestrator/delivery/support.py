"""Helpers of the delivery tests: a day's extract in a throwaway home, and settings reaching the test sshd."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from orchestrator.backends import open_buckets
from orchestrator.extract import EXTRACT_COLUMNS, ExtractResult, write_extract
from orchestrator.settings import Settings
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.sshd import SftpServer

EXTRACT_DATE = dt.date(2026, 11, 20)


def build_extract(settings: Settings, rows: int, salt: str = "") -> ExtractResult:
    """`consumer.markets_extract` with rows of hash-like (poorly compressible) text, and the day's extract of it."""
    text_columns = ", ".join(
        f"md5(i::varchar || '{salt}{position}') as {name}"
        for position, name in enumerate(EXTRACT_COLUMNS)
        if name not in ("trade_id", "trade_date")
    )
    warehouse = DuckDBWarehouse(settings.warehouse_path)
    try:
        warehouse.query("create schema if not exists consumer")
        warehouse.query(
            "create or replace table consumer.markets_extract as select md5(i::varchar || @salt) as trade_id, "
            f"date '{EXTRACT_DATE.isoformat()}' as trade_date, {text_columns} from range(@rows) as t(i)",
            {"rows": rows, "salt": salt},
        )
        return write_extract(warehouse, open_buckets(settings), EXTRACT_DATE, "jsonl", settings.work_dir)
    finally:
        warehouse.close()


def sftp_environment(server: SftpServer, home: Path, **overrides: str) -> dict[str, str]:
    """Environment for `mdp deliver` against the server, with the server's real host key pinned."""
    remote = server.root / "inbound"
    remote.mkdir(exist_ok=True)
    values = {
        "MDP_ENV": "local",
        "MDP_HOME": str(home),
        "MDP_DELIVERY_TARGET": "sftp",
        "MDP_DELIVERY_SFTP_HOST": server.host,
        "MDP_DELIVERY_SFTP_PORT": str(server.port),
        "MDP_DELIVERY_SFTP_USER": server.user,
        "MDP_DELIVERY_SFTP_KEY_PATH": str(server.client_key),
        "MDP_DELIVERY_SFTP_HOST_KEY": server.host_key,
        "MDP_DELIVERY_SFTP_REMOTE_DIR": str(remote),
    }
    return {**os.environ, **values, **overrides}
