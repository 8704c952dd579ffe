"""`mdp`: the command line of the Markets Data Pipeline. Parses arguments, calls a service, prints."""

from __future__ import annotations

import datetime as dt
import logging
import sys
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, closing, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator import runbook
from orchestrator.alerts import Alert, alert_on_failure, raise_alert
from orchestrator.backends import Buckets, open_buckets, open_warehouse, warehouse_dbt_target
from orchestrator.batch.cycle import dbt_variables, run_cycle
from orchestrator.batch.lock import cycle_lock
from orchestrator.batch.reload import reload_file
from orchestrator.batch.requarantine import requarantine_file
from orchestrator.batch.unrecorded import drop_unrecorded_rows
from orchestrator.console import configure_logging, print_json, print_table, progress_display, stderr
from orchestrator.dbt_runner import run_dbt
from orchestrator.delivery.cli import register as register_delivery_commands
from orchestrator.demo import DEMO_BAD_ROWS, run_demo
from orchestrator.exceptions import MdpError
from orchestrator.extract import ExtractFormat, write_extract
from orchestrator.generator import Faults, generate_source_file
from orchestrator.identity import trade_id
from orchestrator.report.cli import register as register_report_commands
from orchestrator.settings import Settings
from orchestrator.smoke import smoke_test_source
from orchestrator.specs import check_specs, find_spec, load_specs
from orchestrator.specs.dbt_codegen import generate_dbt_files, stale_dbt_files
from orchestrator.storage.base import ObjectStore
from orchestrator.warehouse.base import Warehouse
from orchestrator.watch.cli import register as register_watch_commands
from regulatory_reporter.cli import register as register_reporter_commands
from streaming.cli import register as register_streaming_commands
from streaming.dbt_codegen import generate_stream_dbt_files, stale_stream_dbt_files
from streaming.k8s_codegen import generate_stream_k8s_files, stale_stream_k8s_files
from streaming.spec import check_stream_specs, is_stream_spec_path, load_stream_specs

app = typer.Typer(help="Markets Data Pipeline: batch lane commands and the on-call runbook.", no_args_is_help=True)
specs_app = typer.Typer(help="Check and use source specs.", no_args_is_help=True)
sources_app = typer.Typer(help="Known sources.", no_args_is_help=True)
files_app = typer.Typer(help="Landed files and their outcomes.", no_args_is_help=True)
app.add_typer(specs_app, name="specs")
app.add_typer(sources_app, name="sources")
app.add_typer(files_app, name="files")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
DateOption = Annotated[dt.datetime | None, typer.Option("--date", formats=["%Y-%m-%d"], help="Business date (UTC).")]


class State:
    """Options shared by every command."""

    home: Path | None = None
    env: str | None = None


def _settings() -> Settings:
    return Settings.from_env(State.home, State.env)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@app.callback()
def main(
    home: Annotated[
        Path | None, typer.Option("--home", envvar="MDP_HOME", help="Folder of the embedded buckets and warehouse.")
    ] = None,
    env: Annotated[
        str | None,
        typer.Option("--env", envvar="MDP_ENV", help="Settings profile: local (default), emulator, int or prod."),
    ] = None,
) -> None:
    """Options for every command."""
    State.home = home
    State.env = env
    configure_logging()


def _date(value: dt.datetime | None) -> dt.date:
    return value.date() if value else _today()


@app.command()
def generate(
    source: Annotated[str, typer.Option(help="Source spec name.")],
    out: Annotated[Path, typer.Option(help="Folder to write under, at the file's landing path.")],
    rows: Annotated[int, typer.Option(min=1, help="Data rows (reference sources write their whole universe).")] = 1000,
    date: DateOption = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives byte-identical files.")] = 0,
    bad_rows: Annotated[int, typer.Option(min=0, help="Rows that deliberately break rules.")] = 0,
    control_count_delta: Annotated[int, typer.Option(help="Make the control file state a wrong row count.")] = 0,
    seq: Annotated[str, typer.Option(help="File sequence in the landing name.")] = "001",
    as_json: JsonOption = False,
) -> None:
    """Write one realistic, deterministic file (and its control file) for a source."""
    settings = _settings()
    spec = find_spec(load_specs(settings.specs_dir), source)
    faults = Faults(bad_rows=bad_rows, control_count_delta=control_count_delta, seq=seq)
    generated = generate_source_file(
        spec, rows, _date(date), out, seed, faults=faults, reference_lists_dir=settings.reference_lists_dir
    )
    payload = {
        "source": source,
        "data_path": str(generated.data_path),
        "control_path": str(generated.control_path) if generated.control_path else None,
        "landing_key": generated.landing_key,
        "rows": generated.rows,
        "bad_rows": generated.bad_rows,
    }
    if as_json:
        print_json(payload)
    else:
        print_table(f"generated {source}", [payload])


def _print_files(title: str, files: list[dict[str, Any]]) -> None:
    columns = ["path", "status", "rows_total", "rows_loaded", "rows_quarantined", "checks"]
    # The check names only; `mdp files show PATH` prints the full messages.
    rows = [{**f, "checks": ", ".join(reason.split(":", 1)[0] for reason in f["reasons"])} for f in files]
    print_table(title, rows, columns)


@app.command()
def demo(
    date: DateOption = None,
    seed: Annotated[int, typer.Option(help="Seed for the generated day.")] = 7,
    trade_rows: Annotated[
        int | None,
        typer.Option(
            min=DEMO_BAD_ROWS + 1,
            help="Rows in every trade file (default: each source's realistic size, 80,000 in all).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fresh home, a generated trading day for every source plus bad files, one cycle, the daily extract."""
    settings = _settings()
    specs = load_specs(settings.specs_dir)
    when = _date(date) if date else dt.date(2026, 11, 20)
    with progress_display() as progress:
        result = run_demo(settings, specs, when, seed, progress, trade_rows)
    summary = result.summary()
    if as_json:
        print_json({**summary, "cycle": result.cycle.as_dict(), "home": str(settings.home)})
    else:
        _print_files("files", [f.as_dict() for f in result.cycle.files])
        print_table("files by outcome", [summary["files_by_outcome"]])
        extract = summary["extract"] or {}
        extracts = open_buckets(settings).extracts
        print_table(
            "summary",
            [
                {"item": "rows loaded", "value": summary["rows_loaded"]},
                {"item": "rows quarantined", "value": summary["rows_quarantined"]},
                {"item": "dbt build", "value": summary["dbt"]},
                {"item": "trades in extract", "value": summary["trades_in_extract"]},
                {"item": "extract", "value": extracts.uri(extract["data_key"]) if extract else "-"},
                {"item": "manifest", "value": extracts.uri(extract["manifest_key"]) if extract else "-"},
            ],
        )
    if result.cycle.exit_code == 2 or result.extract is None:
        raise typer.Exit(2)


def _cycle(validate_only: bool, as_of: dt.date, as_json: bool) -> None:
    settings = _settings()
    specs = load_specs(settings.specs_dir)
    with progress_display() as progress:
        report = run_cycle(settings, specs, as_of, validate_only=validate_only, progress=progress)
    if as_json:
        print_json(report.as_dict())
    else:
        _print_files(f"cycle {report.run_id}", [f.as_dict() for f in report.files])
        if report.dbt is not None:
            stdout_line = f"dbt build: {report.dbt.status} ({report.dbt.message})"
            typer.echo(stdout_line)
        if report.pipeline_error:
            stderr.print(f"[bold red]pipeline error[/]: {report.pipeline_error}", highlight=False)
    raise typer.Exit(report.exit_code)


@app.command("run")
def run_command(
    as_of: Annotated[
        dt.datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Business date dbt builds for.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """One hourly cycle: validate, load, dbt build, archive. Exit 0 ok, 1 files failed, 2 pipeline failed."""
    _cycle(False, _date(as_of), as_json)


@app.command()
def validate(as_json: JsonOption = False) -> None:
    """Validate landing alone: good files to staging and the warehouse, bad ones to failed."""
    _cycle(True, _today(), as_json)


@app.command()
def extract(
    date: Annotated[dt.datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="Last day of the 7-day window.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or parquet.")] = "jsonl",
    as_json: JsonOption = False,
) -> None:
    """Write the 7-day vendor extract ending at a date, then its manifest."""
    if fmt not in ("jsonl", "csv", "parquet"):
        raise typer.BadParameter("must be jsonl, csv or parquet", param_hint="--format")
    settings = _settings()
    format_name: ExtractFormat = fmt  # type: ignore[assignment]
    with (
        alert_on_failure(Alert.VENDOR_EXTRACT_FAILED, f"the vendor extract for {date.date()}"),
        closing(open_warehouse(settings)) as warehouse,
    ):
        result = write_extract(warehouse, open_buckets(settings), date.date(), format_name, settings.work_dir)
    if as_json:
        print_json(result.as_dict())
    else:
        print_table("extract", [result.as_dict()])


@specs_app.command("validate")
def specs_validate(
    paths: Annotated[list[Path] | None, typer.Argument(help="Spec files (default: every spec).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check specs against the JSON Schema and their own logic; print file, YAML path and message per error."""
    settings = _settings()
    # Stream specs (source_specs/streaming/) follow their own schema; both kinds are checked unless paths pick one.
    stream_paths = [p for p in paths or [] if is_stream_spec_path(p)]
    batch_paths = [p for p in paths or [] if not is_stream_spec_path(p)]
    specs, problems = check_specs(settings.specs_dir, batch_paths) if batch_paths or not paths else ([], [])
    streams, stream_problems = (
        check_stream_specs(settings.specs_dir, stream_paths) if stream_paths or not paths else ([], [])
    )
    problems += stream_problems
    valid = [s.name for s in specs] + [s.name for s in streams]
    if as_json:
        print_json({"valid": valid, "errors": [{"file": f, "path": p, "message": m} for f, p, m in problems]})
    else:
        for file, path, message in problems:
            typer.echo(f"{file}: {path}: {message}", err=True)
        typer.echo(f"{len(valid)} spec(s) valid, {len(problems)} error(s)")
    raise typer.Exit(1 if problems else 0)


@specs_app.command("generate-dbt")
def specs_generate_dbt(
    check: Annotated[bool, typer.Option("--check", help="Fail if generated dbt files are out of date.")] = False,
) -> None:
    """Generate the dbt sources and staging models of every source spec, and the models of every stream spec."""
    settings = _settings()
    specs = load_specs(settings.specs_dir)
    streams = load_stream_specs(settings.specs_dir)
    if check:
        stale = [
            *stale_dbt_files(specs, settings.dbt_project_dir),
            *stale_stream_dbt_files(streams, settings.dbt_project_dir),
        ]
        for path in stale:
            typer.echo(f"out of date: {path}", err=True)
        raise typer.Exit(1 if stale else 0)
    written = [
        *generate_dbt_files(specs, settings.dbt_project_dir),
        *generate_stream_dbt_files(streams, settings.dbt_project_dir),
    ]
    for path in written:
        typer.echo(f"wrote {path}")


@specs_app.command("generate-k8s")
def specs_generate_k8s(
    base: Annotated[
        Path,
        typer.Option(envvar="MDP_K8S_BASE_DIR", help="The kustomize base of the GKE workloads."),
    ] = Path("orchestrator/k8s/base"),
    check: Annotated[bool, typer.Option("--check", help="Fail if generated Kubernetes files are out of date.")] = False,
) -> None:
    """Generate the bridge Deployment and PodDisruptionBudget of every stream spec (`<base>/streams/`)."""
    streams = load_stream_specs(_settings().specs_dir)
    if check:
        stale = stale_stream_k8s_files(streams, base)
        for path in stale:
            typer.echo(f"out of date: {path}", err=True)
        raise typer.Exit(1 if stale else 0)
    for path in generate_stream_k8s_files(streams, base):
        typer.echo(f"wrote {path}")


@specs_app.command("smoke-test")
def specs_smoke_test(
    source: Annotated[str, typer.Argument(help="Source spec name.")],
    as_json: JsonOption = False,
) -> None:
    """Generate a sample for one source, run a cycle in a throwaway home, fail unless it reaches the extract."""
    settings = _settings()
    result = smoke_test_source(settings, load_specs(settings.specs_dir), source)
    if as_json:
        print_json(result)
    else:
        print_table(f"smoke test {source}: passed", [result])


@sources_app.command("list")
def sources_list(as_json: JsonOption = False) -> None:
    """Every known source with its domain, kind and format."""
    settings = _settings()
    rows = [
        {
            "name": s.name,
            "domain": s.domain,
            "kind": s.kind,
            "format": s.format.type,
            "compression": s.format.compression,
            "landing_pattern": s.landing_pattern,
            "owner": s.owner,
        }
        for s in load_specs(settings.specs_dir)
    ]
    if as_json:
        print_json(rows)
    else:
        print_table("sources", rows, ["name", "domain", "kind", "format", "landing_pattern"])


@sources_app.command("relayout-raw")
def sources_relayout_raw(
    names: Annotated[
        list[str] | None, typer.Argument(help="Sources whose raw tables to recreate (default: every source).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recreate the raw tables an earlier release partitioned by business date, partitioned by the day rows were
    loaded (BigQuery; DuckDB has no partitions), keeping every row; a rerun finishes a stopped one. Runs under the
    cycle lock."""

    def relayout(warehouse: Warehouse, _: Buckets, settings: Settings) -> dict[str, Any]:
        specs = load_specs(settings.specs_dir)
        chosen = [find_spec(specs, name) for name in names] if names else specs
        warehouse.ensure_layout(chosen)  # an older table gains the columns its spec clusters by
        return {"tables": [asdict(warehouse.relayout_raw_table(spec)) for spec in chosen]}

    result = _repair("relayout", relayout)
    if as_json:
        print_json(result)
    else:
        print_table("raw tables", result["tables"], ["table", "state", "partitioned_by", "rows"])


@app.command()
def status(
    date: DateOption = None,
    as_json: JsonOption = False,
) -> None:
    """Last cycles, files by outcome, late or missing sources, quarantine counts, files that do not reconcile."""
    settings = _settings()
    specs = load_specs(settings.specs_dir)
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(specs)
        report = runbook.status(warehouse, open_buckets(settings), specs, _date(date))
    if as_json:
        print_json(report)
        return
    print_table(
        "last cycles",
        report["last_cycles"],
        ["run_id", "status", "files_loaded", "files_failed", "rows_loaded", "rows_quarantined", "dbt_status"],
    )
    print_table("files by outcome", report["files_by_outcome"])
    print_table("sources not on time", report["sources_not_on_time"])
    print_table("quarantined rows", report["quarantined_rows_by_source"])
    if report["files_not_reconciled"]:
        print_table("files whose rows do not reconcile (mdp files reconcile --breaks)", report["files_not_reconciled"])
    typer.echo(f"files in landing: {report['files_in_landing']}, in failed: {report['files_in_failed']}")


@files_app.command("list")
def files_list(
    state: Annotated[str, typer.Option("--state", help="|".join(runbook.FILE_STATES))],
    as_json: JsonOption = False,
) -> None:
    """Files in a state, with reasons where they did not load cleanly."""
    if state not in runbook.FILE_STATES:
        raise typer.BadParameter(f"must be one of {', '.join(runbook.FILE_STATES)}", param_hint="--state")
    settings = _settings()
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(load_specs(settings.specs_dir))
        files = runbook.list_files(warehouse, open_buckets(settings), state)
    if as_json:
        print_json(files)
    else:
        rows = [{**f, "reasons": "; ".join(f.get("reasons", []))} for f in files]
        print_table(f"files: {state}", rows)


@files_app.command("show")
def files_show(
    path: Annotated[str, typer.Argument(help="Landing key of the file.")],
    as_json: JsonOption = False,
) -> None:
    """One file: arrivals, outcome, failed rules and its first quarantined rows."""
    settings = _settings()
    with closing(open_warehouse(settings)) as warehouse:
        warehouse.ensure_layout(load_specs(settings.specs_dir))
        detail = runbook.show_file(warehouse, open_buckets(settings), path)
    if as_json:
        print_json(detail)
        return
    arrivals = [
        {k: a[k] for k in ("outcome", "run_id", "rows_total", "rows_loaded", "rows_quarantined")}
        | {"reasons": "; ".join(a["reasons"])}
        for a in detail["arrivals"]
    ]
    print_table(f"file {path} (in: {', '.join(detail['in_buckets']) or 'no bucket'})", arrivals)
    print_table("failed rules", detail["rule_results"])
    print_table(
        "quarantined rows",
        [{**r, "failed_rules": ", ".join(r["failed_rules"])} for r in detail["quarantined_rows"]],
        ["row_number", "failed_rules", "raw_record"],
    )
    outdated = detail["reconciliation_outdated"]
    # Of a model an older release built, the columns it has.
    columns = None if outdated else _RECONCILED_COLUMNS
    print_table("where its rows went (control.file_reconciliation)", detail["reconciliation"], columns)
    if outdated:
        typer.echo(f"row counts not shown: {outdated}")


_RECONCILED_COLUMNS = (
    "source",
    "business_date",
    "landing_key",
    "reconciliation_status",
    "rows_total",
    "rows_quarantined",
    "rows_loaded",
    "rows_in_raw",
    "rows_current",
    "rows_superseded",
    "rows_not_curated",
    "rows_in_extract",
)


def _repair(name: str, repair: Callable[[Warehouse, Buckets, Settings], dict[str, Any]]) -> dict[str, Any]:
    """Run a repair of the warehouse under the cycle lock, so no loading cycle runs at the same time."""
    settings = _settings()
    buckets = open_buckets(settings)
    with _cycle_lock(settings, buckets.staging, name), closing(open_warehouse(settings)) as warehouse:
        return repair(warehouse, buckets, settings)


def _cycle_lock(settings: Settings, staging: ObjectStore, command: str) -> AbstractContextManager[None]:
    """The batch cycle lock, held by a one-off command; its holder names the command, so on-call sees who."""
    return cycle_lock(staging, f"{command}-{uuid.uuid4().hex[:8]}", settings.lock_ttl_minutes)


@files_app.command("reload")
def files_reload(
    path: Annotated[str, typer.Argument(help="Landing key of a loaded file.")],
    as_json: JsonOption = False,
) -> None:
    """Replace a loaded file's raw rows with the Parquet the validator staged for it (repairs ROWS_MISSING and
    ROWS_EXTRA); its records stay. Runs under the cycle lock."""
    result = _repair(
        "reload",
        lambda warehouse, buckets, settings: reload_file(warehouse, buckets, load_specs(settings.specs_dir), path),
    )
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"{path}: {result['rows_in_raw_before']} raw rows replaced by {result['rows_in_raw_after']} from "
            f"{result['staged_parquet']}\n{result['next_step']}"
        )


@files_app.command("requarantine")
def files_requarantine(
    path: Annotated[str, typer.Argument(help="Landing key of a loaded file.")],
    as_json: JsonOption = False,
) -> None:
    """Rebuild a loaded file's quarantined rows and rule results by validating its archived original again
    (repairs QUARANTINE_MISMATCH); refused unless that gives the record's counts. Runs under the cycle lock."""
    result = _repair(
        "requarantine",
        lambda warehouse, buckets, settings: requarantine_file(
            warehouse, buckets, settings, load_specs(settings.specs_dir), path
        ),
    )
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"{path}: {result['rows_in_quarantine_before']} quarantined rows replaced by "
            f"{result['rows_in_quarantine_after']} from {result['validated_from']}\n{result['next_step']}"
        )


@files_app.command("drop-unrecorded")
def files_drop_unrecorded(
    source: Annotated[str, typer.Argument(help="Source whose raw table holds the rows.")],
    file_id: Annotated[
        str, typer.Argument(help="The rows' _file_id, as the alert or 'mdp files reconcile --breaks --json' names it.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Delete raw rows of a file_id that no loaded file records (repairs a lasting NOT_RECORDED); refused for a
    file_id a loaded file records. Runs under the cycle lock."""
    result = _repair(
        "drop",
        lambda warehouse, _, settings: drop_unrecorded_rows(warehouse, load_specs(settings.specs_dir), source, file_id),
    )
    if as_json:
        print_json(result)
    else:
        typer.echo(
            f"raw.{result['source']}: {result['rows_deleted']} rows of file_id {file_id} deleted\n{result['next_step']}"
        )


@files_app.command("reconcile")
def files_reconcile(
    date: DateOption = None,
    breaks: Annotated[bool, typer.Option("--breaks", help="Only files that are not BALANCED.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Where each loaded file's rows went, as the last build counted them: validator, raw table, quarantine,
    curated trades and extract (files loaded in the last 28 days, or those of one business --date)."""
    business_date = _date(date) if date is not None else None
    rows = _read_warehouse(lambda warehouse, _: runbook.file_reconciliation(warehouse, business_date, breaks))
    if as_json:
        print_json({"files": rows})
        return
    broken = sum(1 for row in rows if row["reconciliation_status"] != "BALANCED")
    scope = f" for {business_date}" if business_date else ""
    title = f"file reconciliation{scope}: {len(rows)} files, {broken} not balanced"
    print_table(title, rows, _RECONCILED_COLUMNS)


DaysOption = Annotated[int, typer.Option("--days", min=1, help="Days in the window, ending at --date.")]


def _read_warehouse(read: Any) -> Any:
    settings = _settings()
    with closing(open_warehouse(settings)) as warehouse:
        return read(warehouse, settings)


@app.command()
def completeness(date: DateOption = None, days: DaysOption = 1, as_json: JsonOption = False) -> None:
    """Each expected source per business date: files loaded, late, failed and its status (ON_TIME, LATE, ...)."""
    rows = _read_warehouse(lambda warehouse, _: runbook.completeness(warehouse, _date(date), days))
    if as_json:
        print_json({"date": _date(date).isoformat(), "days": days, "sources": rows})
    else:
        print_table(f"source completeness, {days} day(s) to {_date(date)}", rows)


@app.command()
def anomalies(date: DateOption = None, days: DaysOption = 7, as_json: JsonOption = False) -> None:
    """Sources whose daily row count is far from their trailing history or outside their spec's typical range."""
    rows = _read_warehouse(lambda warehouse, _: runbook.anomalies(warehouse, _date(date), days))
    if as_json:
        print_json({"date": _date(date).isoformat(), "days": days, "anomalies": rows})
    else:
        print_table(f"row-count anomalies, {days} day(s) to {_date(date)}", rows)


@app.command()
def alerts(as_json: JsonOption = False) -> None:
    """What the last batch build pages on-call for: sources missing past their deadline, anomalous complete days."""
    rows = _read_warehouse(lambda warehouse, _: runbook.delivery_alerts(warehouse))
    if as_json:
        print_json({"alerts": rows})
    else:
        columns = ("alert", "source", "business_date", "delivery_status", "files_loaded", "rows_loaded", "anomaly_kind")
        print_table(f"delivery alerts of the last build: {len(rows)}", rows, columns)


# The streaming and regulatory models build on their own schedules, never inside a batch cycle: rebuilding only
# them does not wait for the batch lane, so a stuck batch cycle never blocks another lane.
_OTHER_LANE_SELECTORS = ("tag:streaming", "tag:regulatory")


def _batch_lock_unless_other_lanes(settings: Settings, selectors: list[str]) -> AbstractContextManager[None]:
    if selectors and all(selector in _OTHER_LANE_SELECTORS for selector in selectors):
        return nullcontext()
    return _cycle_lock(settings, open_buckets(settings).staging, "rebuild")


@app.command()
def rebuild(
    select: Annotated[str, typer.Option("--select", help="dbt selection, e.g. 'trades_enriched+' or 'tag:control'.")],
    as_of: Annotated[
        dt.datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Business date dbt builds for.")
    ] = None,
    full_refresh: Annotated[bool, typer.Option(help="Reprocess every trade through the merge.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Rerun `dbt build` for a selection of models and their tests, without validating files. Runs under the
    cycle lock, so it never builds while a cycle loads or builds (unless it selects only tag:streaming or
    tag:regulatory, which build on their own schedules)."""
    settings = _settings()
    with _batch_lock_unless_other_lanes(settings, select.split()):
        result = run_dbt(
            settings,
            warehouse_dbt_target(settings),
            ["build", "--select", *select.split()],
            dbt_variables(_date(as_of), full_refresh),
        )
    if as_json:
        print_json(result.as_row("rebuild"))
    else:
        typer.echo(f"dbt build --select {select}: {result.status} ({result.message})")
    if result.status != "success":
        raise typer.Exit(2)


@app.command()
def reconciliation(date: DateOption = None, as_json: JsonOption = False) -> None:
    """Regulatory events due on a date: SUBMITTED on time, LATE, MISSED, DEAD_LETTERED, PENDING, and every breach."""
    report = _read_warehouse(lambda warehouse, _: runbook.reconciliation(warehouse, _date(date)))
    if as_json:
        print_json(report)
    else:
        print_table(f"regulatory reconciliation, deadlines on {_date(date)}", report["by_status"])
        print_table("breaches (late, missed, dead-lettered)", report["breaches"])


@app.command("namespace-check")
def namespace_check_command(as_json: JsonOption = False) -> None:
    """The trade-id namespace in code and dbt agree, and stored trade ids equal the ids recomputed from their keys."""
    report = _read_warehouse(lambda warehouse, settings: runbook.namespace_check(warehouse, settings.dbt_project_dir))
    if as_json:
        print_json(report)
    else:
        print_table("namespace", [{k: v for k, v in report.items() if k != "trade_id_mismatches"}])
        print_table("trade id mismatches", report["trade_id_mismatches"])
    if not report["ok"]:
        raise_alert(
            Alert.NAMESPACE_CHECK_FAILED,
            f"trade-id namespace check failed: code {report['python_namespace']!r}, dbt {report['dbt_namespace']!r}, "
            f"{len(report['trade_id_mismatches'])} of {report['trades_checked']} stored trade ids differ "
            "from the ids recomputed from their keys",
            logging.ERROR,
        )
        raise typer.Exit(2)


@app.command()
def replay(
    path: Annotated[str, typer.Argument(help="Key of a file in the failed bucket.")],
    as_json: JsonOption = False,
) -> None:
    """Return a fixed failed file (and its control file) to landing for the next cycle."""
    result = runbook.replay_file(open_buckets(_settings()), path)
    if as_json:
        print_json(result)
    else:
        typer.echo(f"returned to landing: {', '.join(result['replayed'])}\n{result['next_step']}")


@app.command("trade-id")
def trade_id_command(
    source_system: Annotated[str, typer.Argument(help="Source system, e.g. MUREX.")],
    source_trade_id: Annotated[str, typer.Argument(help="The source's own trade id.")],
    domain: Annotated[str, typer.Option(help="Identity domain of the source spec.")] = "trading",
    as_json: JsonOption = False,
) -> None:
    """The deterministic trade_id dbt gives this source trade."""
    value = trade_id(domain, source_system, source_trade_id)
    if as_json:
        print_json(
            {"domain": domain, "source_system": source_system, "source_trade_id": source_trade_id, "trade_id": value}
        )
    else:
        typer.echo(value)


# The other lanes and operations keep their commands beside their code.
register_delivery_commands(app)
register_watch_commands(app)
register_report_commands(app)
register_streaming_commands(app)
register_reporter_commands(app)


def run() -> None:
    """Console entry point: the package's errors become one line on stderr and exit code 2."""
    try:
        app()
    except MdpError as error:
        stderr.print(f"[bold red]{type(error).__name__}[/]: {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
