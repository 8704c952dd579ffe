"""Generation of the dbt staging layer and expected-sources seed from source specs."""

from __future__ import annotations

import csv
import dataclasses
import io
import shutil
from pathlib import Path

import pytest

from orchestrator.exceptions import UnsafeExpressionError
from orchestrator.specs.dbt_codegen import GENERATED_MARKER, generate_dbt_files, stale_dbt_files
from orchestrator.specs.loader import find_spec, load_specs
from orchestrator.specs.model import CANONICAL_TRADE_FIELDS, SourceSpec
from streaming.dbt_codegen import STREAM_GENERATED_MARKER

REPO = Path(__file__).resolve().parents[3]
SPECS_DIR = REPO / "source_specs"
PROJECT_DIR = REPO / "dbt_project"


@pytest.fixture(scope="module")
def specs() -> list[SourceSpec]:
    """The shipped specs."""
    return load_specs(SPECS_DIR)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the dbt project without build output."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"))
    return copy


def _trade_source_models(project: Path) -> str:
    return (project / "macros/generated/trade_source_models.sql").read_text()


def test_checked_in_files_are_up_to_date(specs: list[SourceSpec]) -> None:
    assert stale_dbt_files(specs, PROJECT_DIR) == []


def test_generation_is_idempotent(specs: list[SourceSpec], project: Path) -> None:
    assert generate_dbt_files(specs, project) == []
    assert stale_dbt_files(specs, project) == []


def test_new_trade_spec_yields_staging_model(specs: list[SourceSpec], project: Path) -> None:
    template = find_spec(specs, "murex_trades")
    new = dataclasses.replace(template, name="calypso_trades", path=SPECS_DIR / "trading" / "calypso_trades.yaml")
    folder = project / "models/staging/calypso_trades"
    assert stale_dbt_files([*specs, new], project) == sorted(
        [
            project / "macros/generated/raw_source_tables.sql",
            project / "macros/generated/trade_source_models.sql",
            folder / "_calypso_trades__models.yml",
            folder / "_calypso_trades__sources.yml",
            folder / "stg_calypso_trades__trades.sql",
            project / "seeds/expected_sources.csv",
        ]
    )

    changed = generate_dbt_files([*specs, new], project)

    assert folder / "stg_calypso_trades__trades.sql" in changed
    model = (folder / "stg_calypso_trades__trades.sql").read_text()
    assert "{{ source('raw', 'calypso_trades') }}" in model
    assert "'stg_calypso_trades__trades'" in _trade_source_models(project)
    assert "'calypso_trades'" in (project / "macros/generated/raw_source_tables.sql").read_text()
    seed = list(csv.DictReader(io.StringIO((project / "seeds/expected_sources.csv").read_text())))
    assert [row["source"] for row in seed if row["source"] == "calypso_trades"] == ["calypso_trades"]
    assert stale_dbt_files([*specs, new], project) == []


def test_removed_spec_loses_its_generated_files(specs: list[SourceSpec], project: Path) -> None:
    remaining = [spec for spec in specs if spec.name != "venue_executions"]

    changed = generate_dbt_files(remaining, project)

    assert project / "models/staging/venue_executions/stg_venue_executions__trades.sql" in changed
    assert not (project / "models/staging/venue_executions").exists()
    assert "venue_executions" not in _trade_source_models(project)
    assert "venue_executions" not in (project / "macros/generated/raw_source_tables.sql").read_text()
    assert (project / "models/curation/trades_enriched.sql").exists()


def test_spec_text_that_dbt_would_execute_is_refused(specs: list[SourceSpec], project: Path) -> None:
    template = find_spec(specs, "murex_trades")
    smuggled = "'{{ run_query(\"drop schema raw cascade\") }}'"
    bad = dataclasses.replace(template, trade_mapping={**template.trade_mapping, "venue_mic": smuggled})
    others = [spec for spec in specs if spec.name != "murex_trades"]

    with pytest.raises(UnsafeExpressionError, match=r"source=murex_trades: trade_mapping\.venue_mic"):
        generate_dbt_files([*others, bad], project)

    assert stale_dbt_files(specs, project) == []


def test_trade_model_maps_every_canonical_field(specs: list[SourceSpec]) -> None:
    for spec in specs:
        if spec.kind != "trade":
            continue
        model = (PROJECT_DIR / f"models/staging/{spec.name}/stg_{spec.name}__trades.sql").read_text()
        for field in (*CANONICAL_TRADE_FIELDS, "source_name", "domain", "source_system"):
            assert f" as {field},\n" in model or f" as {field}\n" in model, (spec.name, field)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(
            "models/staging/venue_executions/stg_venue_executions__trades.sql",
            "cast(null as date) as settlement_date",
            id="null-mapping-typed-null",
        ),
        pytest.param(
            "models/staging/bloomberg_trades/stg_bloomberg_trades__trades.sql",
            "cast(revision + 1 as {{ dbt.type_bigint() }}) as trade_version",
            id="expression-cast-to-canonical-type",
        ),
        pytest.param(
            "models/staging/murex_trades/stg_murex_trades__trades.sql",
            "cast(CASE buy_sell WHEN 'B' THEN 'BUY' ELSE 'SELL' END as {{ dbt.type_string() }}) as side",
            id="expression-rendered-by-sqlglot",
        ),
        pytest.param(
            "models/staging/reference/stg_reference__traders.sql",
            "cast(is_active as {{ dbt.type_boolean() }}) as is_active",
            id="reference-column-cast",
        ),
    ],
)
def test_generated_sql(path: str, expected: str) -> None:
    assert expected in (PROJECT_DIR / path).read_text()


def test_generated_files_carry_header(specs: list[SourceSpec]) -> None:
    generated = [
        path
        for folder in ("models/staging", "macros/generated")
        for path in (PROJECT_DIR / folder).rglob("*")
        if path.is_file()
    ]
    assert generated
    for path in generated:
        first_line = path.read_text().splitlines()[0]
        # macros/generated also holds the streaming lane's generated list of curated streams.
        assert GENERATED_MARKER in first_line or STREAM_GENERATED_MARKER in first_line, path
        assert "do not edit" in first_line, path
    murex = (PROJECT_DIR / "models/staging/murex_trades/stg_murex_trades__trades.sql").read_text()
    assert murex.startswith("-- Generated from source_specs/trading/murex_trades.yaml ")
