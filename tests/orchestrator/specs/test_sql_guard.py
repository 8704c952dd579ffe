from __future__ import annotations

import pytest

from orchestrator.exceptions import UnsafeExpressionError
from orchestrator.specs.sql_guard import check_expression

COLUMNS = {"qty", "px", "notional", "status", "trade_date", "settle_date"}


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("abs(notional - qty * px) <= 0.01", id="arithmetic"),
        pytest.param("settle_date is null or settle_date >= trade_date", id="null-check"),
        pytest.param("case status when 'NEW' then 'NEW' else 'CANCEL' end", id="case"),
        pytest.param("cast(qty as integer) between 1 and 10", id="cast-between"),
        pytest.param("upper(trim(status)) in ('NEW', 'AMD')", id="allowed-functions"),
    ],
)
def test_accepts_safe_row_expressions(expression: str) -> None:
    assert check_expression(expression, COLUMNS) is not None


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("qty > (select max(qty) from raw.murex_trades)", "Subquery", id="subquery"),
        pytest.param("qty > 1; drop table raw.murex_trades", "exactly one expression", id="second-statement"),
        pytest.param("read_csv('/etc/passwd') is not null", "READ_CSV", id="table-function"),
        pytest.param("getenv('HOME') = 'x'", "not allowed", id="unknown-function"),
        pytest.param("raw.murex_trades.qty > 1", "qualified column", id="qualified-column"),
        pytest.param("missing_column > 1", "unknown column", id="unknown-column"),
        pytest.param("count(*) > 1", "not allowed", id="aggregate-in-row-rule"),
        pytest.param("qty >", "cannot parse", id="syntax-error"),
    ],
)
def test_rejects_unsafe_row_expressions(expression: str, message: str) -> None:
    with pytest.raises(UnsafeExpressionError, match=message):
        check_expression(expression, COLUMNS)


def test_file_rules_may_aggregate() -> None:
    assert check_expression("count(distinct trade_date) = 1", COLUMNS, aggregate=True) is not None
