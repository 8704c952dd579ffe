"""docs/identity.md: every Python and SQL example computes the id the page says it does."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from orchestrator import identity

DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


def _python_examples() -> list[tuple[str, str]]:
    examples = []
    for block in _blocks("python"):
        for line in block.splitlines():
            if "# ->" in line:
                expression, expected = line.split("# ->")
                examples.append((expression.strip(), expected.strip()))
    return examples


def _sql_examples() -> list[tuple[str, str]]:
    examples = []
    for block in _blocks("sql"):
        query, _, expected = block.partition("-- ->")
        examples.append((query.strip(), expected.strip()))
    return examples


def test_the_page_has_examples_of_both_kinds() -> None:
    assert len(_python_examples()) >= 2
    assert len(_sql_examples()) >= 2


@pytest.mark.parametrize(("expression", "expected"), _python_examples())
def test_python_example_gives_the_documented_id(expression: str, expected: str) -> None:
    namespace = {"trade_id": identity.trade_id, "event_id": identity.event_id}
    assert eval(expression, namespace) == expected  # noqa: S307 - the expressions are the doc's own examples


@pytest.mark.parametrize(("query", "expected"), _sql_examples())
def test_sql_example_gives_the_documented_id(query: str, expected: str) -> None:
    row = duckdb.connect().execute(query).fetchone()
    assert row is not None
    assert row[0] == expected
