"""`mdp report`: the figures it gathers, the self-contained page it writes and how a browser renders it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from orchestrator.demo import run_demo
from orchestrator.report import LANE_TABLES, LaneTable, Window, figures
from orchestrator.report.cli import register
from orchestrator.report.queries import RECONCILIATION_STATUS_COLUMNS, lane_panel, rule_failure_rates
from orchestrator.report.service import write_report
from orchestrator.settings import Settings
from orchestrator.specs import SourceSpec
from orchestrator.storage import LocalFolderStore
from orchestrator.warehouse.duckdb_warehouse import DuckDBWarehouse
from tests.conftest import REPO
from tests.orchestrator.report import browser

DATE = dt.date(2026, 11, 20)
SECTIONS = ("files-and-rows", "quarantine", "row-accounting", "completeness", "extracts", "streaming", "regulatory")
# Charts on a page where every panel has data: files and rows, 2 quarantine, row accounting, completeness, extracts,
# lag, gaps, rejected stream events, latency, submissions by status, dead letters, reconciliation.
CHARTS_WITH_EVERY_LANE = 13
# Charts the lane tables feed: lag, gaps, rejected stream events, latency, submissions by status, dead letters,
# reconciliation. Without them the page has only the batch lane's.
CHARTS_OF_LANES = 7


def _drop_lane_tables(warehouse_path: Path) -> None:
    with duckdb.connect(str(warehouse_path)) as connection:
        for table in LANE_TABLES.values():
            found = connection.execute(
                "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
                [table.schema, table.name],
            ).fetchall()
            if found:
                kind = "view" if found[0][0] == "VIEW" else "table"
                connection.execute(f"drop {kind} {table.schema}.{table.name}")


def _lane_column_type(name: str) -> str:
    if name.endswith(("_at", "_hour")):
        return "timestamp"
    if name == "business_date":
        return "date"
    if name in ("event_date", "ingested_date"):
        return "date"
    if name.startswith(("lag_", "pipeline_lag_", "seconds_")):
        return "double"
    if name in (
        "missing_count",
        "events",
        "kafka_partition",
        "sla_seconds",
        "rejected_events",
        *RECONCILIATION_STATUS_COLUMNS,
    ):
        return "bigint"
    if name.startswith("is_"):
        return "boolean"
    return "varchar"


def _lane_rows(name: str) -> list[dict[str, Any]]:
    days = Window(DATE, 3).dates
    noon = [dt.datetime.combine(day, dt.time(12)) for day in days]
    if name == "streaming_lag":
        return [
            {
                "source": "rfq",
                "kafka_topic": "rfq.events",
                "kafka_partition": partition,
                "ingested_hour": at + dt.timedelta(hours=hour),
                "events": 1000,
                "lag_minutes_p95": 0.5 + hour + partition,
                "pipeline_lag_seconds_p99": 2.0 + partition,
            }
            for at in noon
            for hour in range(3)
            for partition in range(2)
        ]
    if name == "sequence_gaps":
        return [
            {
                "source": "rfq",
                "kafka_topic": "rfq.events",
                "kafka_partition": 0,
                "missing_count": missing,
                "severity": severity,
                "is_confirmed": True,
                "detected_at": at,
            }
            for at in noon[1:]
            for missing, severity in ((1, "LOW"), (50, "HIGH"))
        ]
    if name == "stream_rejections":
        return [
            {"source": source, "ingested_date": day, "rejected_events": count}
            for day in days[1:]
            for source, count in (("rfq", 3), ("quotes", 1))
        ]
    if name == "regulatory_submissions":
        # The mirror appends one row per ledger change: RECEIVED first, then the outcome.
        return [
            {
                "event_id": f"E{day_index}-{number}",
                "state": state,
                "event_at": at,
                "updated_at": at + dt.timedelta(seconds=version),
            }
            for day_index, at in enumerate(noon)
            for number in range(25)
            for version, state in enumerate(("RECEIVED", "DEAD_LETTERED" if number == 0 else "SUBMITTED"))
        ]
    if name == "dead_letters":
        return [
            {
                "event_id": f"E{day_index}-0",
                "dead_lettered_at": at,
                "reason": "regulator rejected: 422",
                "updated_at": at,
            }
            for day_index, at in enumerate(noon)
        ]
    # The first day has nothing acknowledged yet: its percentiles are null.
    return [
        {
            "event_date": day,
            "submitted_on_time": 20 * day_index,
            "submitted_late": 2 * day_index,
            "dead_lettered": 1,
            "missed": 0,
            "pending": 0 if day_index else 25,
            "seconds_to_submit_p50": 40.0 * day_index or None,
            "seconds_to_submit_p95": 500.0 * day_index or None,
            "seconds_to_submit_max": 1_100.0 * day_index or None,
            "sla_seconds": 900,
        }
        for day_index, day in enumerate(days)
    ]


def _add_lane_tables(warehouse_path: Path) -> None:
    with duckdb.connect(str(warehouse_path)) as connection:
        for name, table in LANE_TABLES.items():
            body = ", ".join(f"{column} {_lane_column_type(column)}" for column in table.columns)
            connection.execute(f"create table {table.schema}.{table.name} ({body})")
            placeholders = ", ".join("?" for _ in table.columns)
            connection.executemany(
                f"insert into {table.schema}.{table.name} values ({placeholders})",
                [[row[column] for column in table.columns] for row in _lane_rows(name)],
            )


def _copy_home(source: Path, target: Path) -> Path:
    """The parts of a home the report reads: the warehouse and the extracts bucket."""
    target.mkdir(parents=True)
    shutil.copy2(source / "warehouse.duckdb", target / "warehouse.duckdb")
    shutil.copytree(source / "extracts", target / "extracts")
    return target


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory, specs: list[SourceSpec]) -> Path:
    """One populated home for the module: the demo day, with no streaming or regulatory tables."""
    home = tmp_path_factory.mktemp("report") / "home"
    settings = Settings(home=home, specs_dir=REPO / "source_specs", dbt_project_dir=REPO / "dbt_project")
    result = run_demo(settings, specs, DATE, seed=7)
    assert result.extract is not None, result.cycle.as_dict()
    _drop_lane_tables(settings.warehouse_path)
    return home


@pytest.fixture(scope="session")
def home_with_lanes(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo home whose streaming and regulatory tables exist and hold rows."""
    home = _copy_home(demo_home, tmp_path_factory.mktemp("report-lanes") / "home")
    _add_lane_tables(home / "warehouse.duckdb")
    return home


def _write(home: Path, out: Path, days: int = 7) -> dict[str, Any]:
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    try:
        return write_report(warehouse, LocalFolderStore(home / "extracts"), DATE, days, out).as_dict()
    finally:
        warehouse.close()


@pytest.fixture(scope="session")
def page_without_lanes(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The report of the demo home, streaming and regulatory tables absent."""
    out = tmp_path_factory.mktemp("page") / "without_lanes.html"
    return out, _write(demo_home, out)


@pytest.fixture(scope="session")
def page_with_lanes(home_with_lanes: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The report with every lane table present."""
    out = tmp_path_factory.mktemp("page") / "with_lanes.html"
    return out, _write(home_with_lanes, out)


class _Elements(HTMLParser):
    """Every start tag with its attributes (script bodies are text to the parser, not tags)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main(home: Annotated[Path | None, typer.Option("--home")] = None) -> None:
        """Like `mdp`: `--home` on the root."""

    register(app)
    return app


def test_cli_writes_the_page_under_the_home_and_prints_its_path(demo_home: Path, tmp_path: Path) -> None:
    home = _copy_home(demo_home, tmp_path / "home")
    result = CliRunner().invoke(_app(), ["--home", str(home), "report", "--date", "2026-11-20"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    expected = home / "reports" / "status_report_2026-11-20_7d.html"
    assert result.stdout.strip() == str(expected)
    assert expected.read_text().startswith("<!DOCTYPE html>")


def test_cli_json_names_the_path_and_each_panel_state(demo_home: Path, tmp_path: Path) -> None:
    home = _copy_home(demo_home, tmp_path / "home")
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(
        _app(), ["--home", str(home), "report", "--date", "2026-11-20", "--days", "3", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["path"] == str(out)
    assert out.exists()
    assert (payload["start"], payload["date"], payload["days"]) == ("2026-11-18", "2026-11-20", 3)
    assert payload["panels"]["completeness"] == payload["panels"]["row_accounting"] == "ok"
    # The command prepares the warehouse layout first; a lane that creates its tables there leaves them empty.
    assert {payload["panels"][name] for name in LANE_TABLES} <= {"table_missing", "no_data"}


def test_cli_refuses_an_empty_window(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["--home", str(tmp_path), "report", "--date", "2026-11-20", "--days", "0"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--days" in result.stderr


def test_page_is_self_contained(page_without_lanes: tuple[Path, dict[str, Any]]) -> None:
    path, _ = page_without_lanes
    page = path.read_text()
    tags = _elements(page)
    references = [
        (tag, name, value)
        for tag, attrs in tags
        for name, value in attrs.items()
        if name in ("src", "href", "data", "action") and value and not value.startswith(("#", "data:"))
    ]
    assert references == []
    assert not [tag for tag, _ in tags if tag in ("link", "iframe", "object", "embed")]
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert all("src" not in attrs for attrs in scripts)
    assert page.count("plotly.js v") == 1, "plotly.js is inlined exactly once"


def test_page_has_every_section_with_the_demo_figures(page_without_lanes: tuple[Path, dict[str, Any]]) -> None:
    path, data = page_without_lanes
    sections = [attrs["id"] for tag, attrs in _elements(path.read_text()) if tag == "section"]
    assert sections == list(SECTIONS)
    loaded = {row["source"]: row for row in data["files_and_rows"] if row["outcome"] == "loaded"}
    assert loaded["venue_executions"]["rows_loaded"] == 49_975
    assert loaded["venue_executions"]["rows_quarantined"] == 25
    assert {row["outcome"] for row in data["files_and_rows"] if row["source"] == "murex_trades"} == {
        "loaded",
        "failed",
    }
    venue = next(row for row in data["quarantine_by_source"] if row["source"] == "venue_executions")
    assert venue["rate"] == pytest.approx(25 / 50_000)
    assert {row["source"] for row in data["quarantine_by_rule"]} == {"venue_executions"}
    assert {(row["business_date"], row["status"]) for row in data["completeness"] if row["source"] == "traders"} >= {
        ("2026-11-20", "LATE")
    }
    assert [(row["date"], row["format"]) for row in data["extracts"]] == [("2026-11-20", "jsonl")]
    assert data["extracts"][0]["rows"] > 0
    accounted = {row["source"]: row for row in data["row_accounting"]}
    assert {row["reconciliation_status"] for row in accounted.values()} == {"BALANCED"}
    assert len(accounted) == 7, "every file loaded on the demo day"
    venue = accounted["venue_executions"]
    assert venue["rows_current"] + venue["rows_superseded"] == venue["rows_in_raw"] == 49_975
    assert venue["rows_quarantined"] == 25
    assert accounted["traders"]["rows_current"] is None
    assert "All 7 files loaded in the window reconcile." in path.read_text()


def test_absent_lane_tables_get_a_notice_panel(page_without_lanes: tuple[Path, dict[str, Any]]) -> None:
    path, data = page_without_lanes
    assert {data["panels"][name] for name in LANE_TABLES} == {"table_missing"}
    notices = [attrs for tag, attrs in _elements(path.read_text()) if tag == "div" and "data-state" in attrs]
    assert {attrs["data-state"] for attrs in notices} == {"table_missing"}
    assert {str(attrs["data-panel"]).rsplit("-", 1)[0] for attrs in notices} == {"streaming", "regulatory"}
    page = path.read_text()
    for table in LANE_TABLES.values():
        assert f"Table not present: {table.schema}.{table.name} does not exist" in page


def test_present_lane_tables_are_drawn(page_with_lanes: tuple[Path, dict[str, Any]]) -> None:
    path, data = page_with_lanes
    assert set(data["panels"].values()) == {"ok"}
    tags = _elements(path.read_text())
    assert not [attrs for tag, attrs in tags if tag == "div" and "data-state" in attrs]
    assert len([attrs for tag, attrs in tags if tag == "div" and "data-chart" in attrs]) == CHARTS_WITH_EVERY_LANE
    latest = data["lanes"]["regulatory_submissions"]
    assert len(latest) == 75, "one row per event: its latest ledger change"
    assert sorted({row["state"] for row in latest}) == ["DEAD_LETTERED", "SUBMITTED"]


def test_regulatory_charts_draw_the_daily_model_values_on_every_day_of_the_window() -> None:
    window = Window(DATE, 4)
    rows = _lane_rows("submission_daily")
    latency = figures.submission_latency(rows, window)
    assert [trace.name for trace in latency.data] == ["median", "p95", "max"]
    # The window starts a day before the rows do; the first day of rows has no acknowledged event.
    assert list(latency.data[0].y) == [None, None, 40.0, 80.0]
    assert [shape.y0 for shape in latency.layout.shapes] == [900.0]
    statuses = figures.reconciliation(rows, window)
    assert [trace.name for trace in statuses.data] == [
        "submitted on time",
        "submitted late",
        "dead-lettered",
        "missed",
        "pending",
    ]
    assert list(statuses.data[4].y) == [0, 25, 0, 0]
    assert list(statuses.data[0].y) == [0, 0, 20, 40]


def test_row_accounting_stacks_each_days_rows_by_fate_and_marks_files_that_do_not_reconcile() -> None:
    def file(
        day: str, status: str, raw: int, current: int | None, quarantined: int = 0, not_curated: int = 0
    ) -> dict[str, Any]:
        superseded = None if current is None else raw - current - not_curated
        return {
            "business_date": dt.date.fromisoformat(day),
            "reconciliation_status": status,
            "rows_in_raw": raw,
            "rows_current": current,
            "rows_superseded": superseded,
            "rows_not_curated": None if current is None else not_curated,
            "rows_quarantined": quarantined,
        }

    rows = [
        file("2026-11-19", "BALANCED", 100, 90, quarantined=5),
        file("2026-11-19", "BALANCED", 40, None),
        file("2026-11-20", "ROWS_MISSING", 10, 10),
        file("2026-11-20", "BALANCED", 30, 20),
        file("2026-11-18", "NOT_CURATED", 8, 0, not_curated=6),
    ]
    chart = figures.row_accounting(rows, Window(DATE, 3))
    by_name = {trace.name: list(trace.y) for trace in chart.data}
    assert by_name == {
        "current trade version": [0, 90, 30],
        "superseded by a later version": [2, 10, 10],
        "latest version not in curation": [6, 0, 0],
        "reference rows": [0, 40, 0],
        "quarantined": [0, 5, 0],
        "files not balanced": [1, None, 1],
    }


def test_lane_table_without_the_expected_columns_is_named(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    try:
        warehouse.ensure_layout([])
        table = LaneTable("control", "streaming_lag", ("stream", "measured_at", "lag_seconds"), "measured_at")
        assert lane_panel(warehouse, table, Window(DATE, 7)).state == "table_missing"
        warehouse.query("create table control.streaming_lag (stream varchar, lag_ms bigint)")
        panel = lane_panel(warehouse, table, Window(DATE, 7))
    finally:
        warehouse.close()
    assert (panel.state, panel.detail) == ("columns_missing", "measured_at, lag_seconds")


def test_rule_rates_count_loaded_files_of_the_window_once(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    try:
        warehouse.ensure_layout([])
        files = [
            ("f1", DATE, "loaded", 1000),
            ("f1", DATE, "duplicate", 0),
            ("f2", DATE - dt.timedelta(days=1), "loaded", 3000),
            ("f3", DATE - dt.timedelta(days=30), "loaded", 9000),
            ("f4", DATE, "failed", 500),
        ]
        warehouse.insert_rows(
            "ingested_files",
            [
                {"file_id": f, "source": "feed", "business_date": d, "outcome": o, "rows_total": n}
                for f, d, o, n in files
            ],
        )
        warehouse.insert_rows(
            "rule_results",
            [
                {
                    "file_id": f,
                    "source": "feed",
                    "rule": "isin:isin",
                    "level": "row",
                    "severity": "error",
                    "failed_rows": n,
                }
                for f, n in (("f1", 10), ("f2", 30), ("f3", 500), ("f4", 7))
            ]
            + [{"file_id": "f4", "source": "feed", "rule": "control_row_count", "level": "file", "failed_rows": 1}],
        )
        rates = rule_failure_rates(warehouse, Window(DATE, 7))
    finally:
        warehouse.close()
    assert rates == [
        {
            "source": "feed",
            "rule": "isin:isin",
            "severity": "error",
            "failed_rows": 40,
            "rows_total": 4000,
            "rate": 0.01,
        }
    ]


@pytest.fixture(scope="session")
def rendered(
    page_without_lanes: tuple[Path, dict[str, Any]],
    page_with_lanes: tuple[Path, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, browser.PageVisit, int]]:
    """Each page opened in headless Chromium: its screenshot, what the browser reported, charts expected."""
    folder = tmp_path_factory.mktemp("screenshots")
    visits = {}
    for name, (path, _), charts in (
        ("without-lanes", page_without_lanes, CHARTS_WITH_EVERY_LANE - CHARTS_OF_LANES),
        ("with-lanes", page_with_lanes, CHARTS_WITH_EVERY_LANE),
    ):
        screenshot = folder / f"status_report_{name}.png"
        visits[name] = (screenshot, browser.visit(path.resolve().as_uri(), screenshot, _CHARTS_DRAWN), charts)
    return visits


# Resolves once every chart container holds a drawn plotly SVG (or after ~10 s of frames, with what it has).
_CHARTS_DRAWN = """
new Promise((resolve) => {
  let frames = 0;
  const check = () => {
    const charts = document.querySelectorAll("div.chart").length;
    const drawn = document.querySelectorAll("div.chart .js-plotly-plot svg.main-svg").length > 0
      ? [...document.querySelectorAll("div.chart")].filter((c) => c.querySelector("svg.main-svg")).length : 0;
    if ((charts > 0 && drawn === charts) || frames++ > 600) {
      resolve({charts: charts, drawn: drawn, notices: document.querySelectorAll("div.notice").length});
    } else {
      requestAnimationFrame(check);
    }
  };
  check();
})
"""


@pytest.mark.parametrize("name", [pytest.param("without-lanes"), pytest.param("with-lanes")])
def test_chromium_renders_the_page_without_console_errors(
    rendered: dict[str, tuple[Path, browser.PageVisit, int]], name: str
) -> None:
    screenshot, visit, charts = rendered[name]
    assert visit.console_errors == []
    assert visit.evaluated["charts"] == charts
    assert visit.evaluated["drawn"] == charts
    assert screenshot.exists()
    assert len(browser.png_colours(screenshot.read_bytes())) > 100, "the screenshot is blank"


def test_build_docs_writes_the_dbt_site_for_a_built_home(demo_home: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [str(REPO / "scripts" / "build_docs.sh")],
        env={**os.environ, "MDP_DOCS_HOME": str(demo_home), "MDP_DOCS_DIR": str(tmp_path / "docs")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    page = tmp_path / "docs" / "site" / "static_index.html"
    assert f"dbt docs (one self-contained page): {page}" in completed.stdout
    catalog = json.loads((tmp_path / "docs" / "site" / "catalog.json").read_text())
    assert "model.markets.source_completeness" in catalog["nodes"]
    assert "model.markets.source_completeness" in page.read_text()
