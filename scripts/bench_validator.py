"""Benchmark the validator against DuckDB's own floor on the same file, in the same run.

Each measurement runs in its own process so its peak memory (ru_maxrss) is its own.
Writes bench/results/validator.json; asserts nothing (targets are read by people).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from orchestrator.generator import generate_source_file
from orchestrator.specs import find_spec, load_specs
from orchestrator.validator import checks
from orchestrator.validator.sql_macros import install_identifier_macros
from orchestrator.validator.validate_file import LandedFile, ValidatorSettings, validate_file

REPO = Path(__file__).resolve().parents[1]
ROWS = 1_000_000
DATE = dt.date(2026, 11, 20)


def _landed(path: Path, key: str) -> LandedFile:
    data = path.read_bytes()
    control = path.parent / (path.name.split(".", 1)[0] + ".ctl.json")
    if not control.exists():
        control = path.parent / (path.name.split(".", 1)[0] + ".ctrl.xml")
    return LandedFile(
        path=path,
        landing_key=key,
        file_id=hashlib.sha256(data).hexdigest(),
        content_md5=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        content_sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        business_date=DATE,
        control_bytes=control.read_bytes() if control.exists() else None,
    )


def child_validate(source: str, path: Path, key: str, work: Path) -> dict[str, float | int]:
    """Validate and stage one file; report time, rows and this process's peak memory."""
    spec = find_spec(load_specs(REPO / "source_specs"), source)
    settings = ValidatorSettings(work_dir=work, reference_lists_dir=REPO / "dbt_project" / "seeds")
    started = time.perf_counter()
    result = validate_file(spec, _landed(path, key), settings, work / "staged.parquet")
    seconds = time.perf_counter() - started
    assert result.passed, result.reasons
    return {
        "rows": result.rows_total,
        "rows_loaded": result.rows_loaded,
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child_floor(source: str, path: Path) -> dict[str, float | int]:
    """DuckDB alone: read the file with the same types and evaluate the same rules in one query."""
    spec = find_spec(load_specs(REPO / "source_specs"), source)
    connection = duckdb.connect()
    connection.execute("set threads = 2")
    install_identifier_macros(connection)
    for table, key in checks.LIST_TABLES.values():
        seed = REPO / "dbt_project" / "seeds" / f"{table}.csv"
        connection.execute(f"create table {table} as select distinct {key} from read_csv('{seed}', all_varchar = true)")
    started = time.perf_counter()
    connection.execute(
        f"create view raw_input as select 0 as _row_number, * from read_csv('{path}', header = true, "
        "all_varchar = true, compression = 'gzip')"
    )
    connection.execute(f"create view typed as {checks.typed_select(spec, set(spec.column_names))}")
    for statement in checks.id_set_statements(spec):
        connection.execute(statement)
    row = connection.execute(
        f"select count(*), count(*) filter (where not _failed) from ({checks.checked_select(spec)})"
    ).fetchone()
    seconds = time.perf_counter() - started
    assert row is not None
    return {"rows": int(row[0]), "seconds": seconds}


def _run_child(*arguments: str) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", *arguments], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Generate the inputs, measure, print and write the figures."""
    specs = load_specs(REPO / "source_specs")
    with tempfile.TemporaryDirectory(prefix="mdp-bench-") as scratch:
        out = Path(scratch) / "files"
        started = time.perf_counter()
        venue = generate_source_file(find_spec(specs, "venue_executions"), ROWS, DATE, out, seed=11)
        venue_gen_s = time.perf_counter() - started
        started = time.perf_counter()
        murex = generate_source_file(find_spec(specs, "murex_trades"), ROWS, DATE, out, seed=11)
        murex_gen_s = time.perf_counter() - started
        floor = _run_child("floor", "venue_executions", str(venue.data_path))
        validator = _run_child(
            "validate", "venue_executions", str(venue.data_path), venue.landing_key, str(Path(scratch) / "w1")
        )
        xml = _run_child("validate", "murex_trades", str(murex.data_path), murex.landing_key, str(Path(scratch) / "w2"))
    rows_per_s = validator["rows"] / validator["seconds"]
    floor_rows_per_s = floor["rows"] / floor["seconds"]
    figures = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": int(validator["rows"]),
        "seconds": round(validator["seconds"], 3),
        "rows_per_s": round(rows_per_s),
        "floor_rows_per_s": round(floor_rows_per_s),
        "floor_ratio": round(floor_rows_per_s / rows_per_s, 2),
        "peak_rss_mb": round(validator["peak_rss_mb"], 1),
        "xml_rows": int(xml["rows"]),
        "xml_seconds": round(xml["seconds"], 3),
        "xml_rows_per_s": round(xml["rows"] / xml["seconds"]),
        "xml_peak_rss_mb": round(xml["peak_rss_mb"], 1),
        "generate_venue_csv_s": round(venue_gen_s, 2),
        "generate_murex_xml_s": round(murex_gen_s, 2),
        "targets": {"rows_per_s": 300_000, "max_floor_ratio": 3.0, "xml_peak_rss_mb": 1024},
    }
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "validator.json").write_text(json.dumps(figures, indent=2) + "\n")
    for name, value in figures.items():
        print(f"{name:>24}: {value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs="+")
    arguments = parser.parse_args()
    if arguments.child:
        kind, *rest = arguments.child
        if kind == "floor":
            output = child_floor(rest[0], Path(rest[1]))
        else:
            output = child_validate(rest[0], Path(rest[1]), rest[2], Path(rest[3]))
        print(json.dumps(output))
    else:
        main()
