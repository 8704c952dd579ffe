from __future__ import annotations

import numpy as np
import pytest

from orchestrator.generator.roles import resolve_roles
from orchestrator.specs import SourceSpec, find_spec


@pytest.mark.parametrize(
    ("source", "events", "sides", "version_raw_for_one"),
    [
        pytest.param(
            "murex_trades", {"NEW": "NEW", "AMEND": "AMD", "CANCEL": "CNL"}, {"BUY": "B", "SELL": "S"}, 1, id="murex"
        ),
        pytest.param(
            "bloomberg_trades",
            {"NEW": "New", "AMEND": "Correct", "CANCEL": "Cancel"},
            {"BUY": "B", "SELL": "S"},
            0,
            id="bloomberg-revision-plus-one",
        ),
        pytest.param(
            "venue_executions",
            {"NEW": "NEW", "AMEND": "AMEND", "CANCEL": "CANCEL"},
            {"BUY": "BUY", "SELL": "SELL"},
            1,
            id="venue-identity",
        ),
    ],
)
def test_mapping_expressions_are_inverted(
    specs: list[SourceSpec], source: str, events: dict[str, str], sides: dict[str, str], version_raw_for_one: int
) -> None:
    roles = resolve_roles(find_spec(specs, source))
    assert roles.codes["event_type"] == events
    assert roles.codes["side"] == sides
    assert roles.raw_numbers("trade_version", np.array([1])).tolist() == [version_raw_for_one]


def test_constant_mappings_have_no_column(specs: list[SourceSpec]) -> None:
    roles = resolve_roles(find_spec(specs, "murex_trades"))
    assert "venue_mic" not in roles.columns
    assert roles.columns["counterparty_lei"] == "cpty_lei"
    assert roles.columns["quantity"] == "nominal"


def test_null_mappings_have_no_column(specs: list[SourceSpec]) -> None:
    assert "settlement_date" not in resolve_roles(find_spec(specs, "venue_executions")).columns
