"""Parse rule and mapping expressions and accept only a safe subset of SQL.

A spec is a pull request from a source owner: its expressions must not be able to
read other tables, call arbitrary functions or smuggle statements into our SQL.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from orchestrator.exceptions import UnsafeExpressionError

# Node types a row expression may contain: columns, literals, operators, CASE and CAST.
_ROW_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.DataType,
    exp.DPipe,
    exp.Tuple,
    exp.Interval,
    exp.Var,
)

# Scalar functions allowed everywhere; each has the same meaning in DuckDB and BigQuery.
_SCALAR_FUNCTIONS: tuple[type[exp.Expression], ...] = (
    exp.Abs,
    exp.Round,
    exp.Coalesce,
    exp.Upper,
    exp.Lower,
    exp.Trim,
    exp.Length,
    exp.Nullif,
    exp.Substring,
    exp.Concat,
    exp.Greatest,
    exp.Least,
)

# Aggregates allowed in file rules only.
_AGGREGATES: tuple[type[exp.Expression], ...] = (
    exp.Count,
    exp.Sum,
    exp.Min,
    exp.Max,
    exp.Avg,
    exp.Distinct,
    exp.Filter,
    exp.Where,
    exp.Star,
)


def _parse(text: str) -> exp.Expr:
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except ParseError as error:
        raise UnsafeExpressionError(f"cannot parse expression {text!r}: {error.errors[0]['description']}") from error
    if len(statements) != 1 or statements[0] is None:
        raise UnsafeExpressionError(f"expression {text!r} must be exactly one expression")
    tree: exp.Expr = statements[0]
    return tree


def check_expression(text: str, columns: set[str], *, aggregate: bool = False) -> exp.Expr:
    """Return the parsed expression, or raise if it uses anything outside the allow-list."""
    tree = _parse(text)
    allowed = _ROW_NODES + _SCALAR_FUNCTIONS + (_AGGREGATES if aggregate else ())
    for node in tree.walk():
        if not isinstance(node, allowed):
            name = node.sql_name() if isinstance(node, exp.Func) else type(node).__name__
            raise UnsafeExpressionError(f"expression {text!r}: {name} is not allowed here")
        if isinstance(node, exp.Column):
            if node.table:
                raise UnsafeExpressionError(f"expression {text!r}: qualified column {node.sql()} is not allowed")
            if node.name not in columns:
                raise UnsafeExpressionError(f"expression {text!r}: unknown column {node.name!r}")
    return tree


def referenced_columns(tree: exp.Expr) -> set[str]:
    """Names of the columns an expression reads."""
    return {column.name for column in tree.find_all(exp.Column)}
