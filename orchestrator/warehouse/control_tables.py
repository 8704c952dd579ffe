"""Columns of the control tables the orchestrator writes (see docs/batch_lane.md)."""

from __future__ import annotations

# Portable type names; each warehouse maps them to its own DDL.
CONTROL_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "ingested_files": (
        ("file_id", "string"),
        ("landing_key", "string"),
        ("source", "string"),
        ("business_date", "date"),
        ("outcome", "string"),
        ("size_bytes", "integer"),
        ("content_md5", "string"),
        ("rows_total", "integer"),
        ("rows_loaded", "integer"),
        ("rows_quarantined", "integer"),
        ("rows_warned", "integer"),
        ("reasons", "string"),
        ("run_id", "string"),
        ("landed_at", "timestamp"),
        ("processed_at", "timestamp"),
        ("staged_key", "string"),
        ("failed_key", "string"),
    ),
    "validation_runs": (
        ("run_id", "string"),
        ("started_at", "timestamp"),
        ("finished_at", "timestamp"),
        ("status", "string"),
        ("files_loaded", "integer"),
        ("files_failed", "integer"),
        ("files_duplicate", "integer"),
        ("files_unmatched", "integer"),
        ("files_waiting", "integer"),
        ("rows_loaded", "integer"),
        ("rows_quarantined", "integer"),
        ("dbt_status", "string"),
    ),
    "quarantined_rows": (
        ("file_id", "string"),
        ("source", "string"),
        ("landing_key", "string"),
        ("row_number", "integer"),
        ("raw_record", "string"),
        ("failed_rules", "string"),
        ("run_id", "string"),
        ("quarantined_at", "timestamp"),
    ),
    "rule_results": (
        ("file_id", "string"),
        ("source", "string"),
        ("rule", "string"),
        ("level", "string"),
        ("severity", "string"),
        ("failed_rows", "integer"),
        ("run_id", "string"),
    ),
    "dbt_runs": (
        ("run_id", "string"),
        ("command", "string"),
        ("started_at", "timestamp"),
        ("finished_at", "timestamp"),
        ("status", "string"),
        ("nodes_ok", "integer"),
        ("nodes_error", "integer"),
        ("nodes_skipped", "integer"),
        ("message", "string"),
    ),
    # One row per file per `mdp deliver` attempt (orchestrator/delivery; docs/vendor_delivery.md).
    "extract_deliveries": (
        ("delivery_id", "string"),
        ("business_date", "date"),
        ("target", "string"),
        ("file_name", "string"),
        ("role", "string"),
        ("extract_key", "string"),
        ("size_bytes", "integer"),
        ("sha256", "string"),
        ("status", "string"),
        ("reason", "string"),
        ("started_at", "timestamp"),
        ("finished_at", "timestamp"),
    ),
    # Audit mirror of the regulatory reporter's ledger (the ledger itself is Firestore, where create-if-absent is
    # atomic): appended by `mdp reporter mirror`, one row per ledger change; dbt keeps the latest per event_id.
    "regulatory_submissions": (
        ("event_id", "string"),
        ("state", "string"),
        ("event_type", "string"),
        ("event_at", "timestamp"),
        ("received_at", "timestamp"),
        ("submitted_at", "timestamp"),
        ("dead_lettered_at", "timestamp"),
        ("regulator_reference", "string"),
        ("latency_ms", "integer"),
        ("attempts", "integer"),
        ("replays", "integer"),
        ("reason", "string"),
        ("updated_at", "timestamp"),
        ("mirrored_at", "timestamp"),
    ),
    "regulatory_dead_letter": (
        ("event_id", "string"),
        ("event_type", "string"),
        ("event_at", "timestamp"),
        ("dead_lettered_at", "timestamp"),
        ("attempts", "integer"),
        ("reason", "string"),
        ("updated_at", "timestamp"),
        ("mirrored_at", "timestamp"),
    ),
}

DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "decimal": "DECIMAL(38,9)",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_file_id", "string"),
    ("_landing_key", "string"),
    ("_source_row_number", "integer"),
    ("_business_date", "date"),
    ("_ingested_at", "timestamp"),
)


def duckdb_control_ddl() -> list[str]:
    """CREATE statements for every control table, for DuckDB."""
    statements = []
    for table, columns in CONTROL_TABLES.items():
        body = ", ".join(f"{name} {DUCKDB_TYPES[kind]}" for name, kind in columns)
        statements.append(f"create table if not exists control.{table} ({body})")
    return statements
