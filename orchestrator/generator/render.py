"""Turn typed values into the text a file carries, in DuckDB, using each column's declared type and format.

Dates and timestamps go through DuckDB's `strftime` with the spec's own format, so the validator's
`strptime` with that format reads them back.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from orchestrator.specs.model import Column

# Decimal text keeps two places and drops further trailing zeros: 187.25, 99.875, 100.00.
_TRIM_ZEROS = r"(\.[0-9]{2}[0-9]*?)0+$"
NOTIONAL_DECIMALS = 2


def quote_identifier(name: str) -> str:
    """A DuckDB identifier for a column name."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def _decimal_text(value_sql: str) -> str:
    return f"regexp_replace(cast(cast({value_sql} as decimal(38,6)) as varchar), '{_TRIM_ZEROS}', '\\1')"


def text_sql(column: Column, value_sql: str, value_type: pa.DataType) -> str:
    """SQL rendering a typed value as this column's text; NULL stays NULL."""
    if pa.types.is_string(value_type) or pa.types.is_large_string(value_type):
        return f"cast({value_sql} as varchar)"
    match column.type:
        case "integer":
            return f"cast(cast(round({value_sql}) as bigint) as varchar)"
        case "decimal" if pa.types.is_integer(value_type):
            return f"cast({value_sql} as varchar)"
        case "decimal":
            return _decimal_text(value_sql)
        case "date":
            return f"strftime(cast({value_sql} as date), {quote_literal(column.format or '%Y-%m-%d')})"
        case "timestamp":
            return f"strftime(cast({value_sql} as timestamp), {quote_literal(column.format or '%Y-%m-%d %H:%M:%S.%f')})"
        case "boolean":
            return f"case {value_sql} when true then 'true' when false then 'false' end"
        case _:
            return f"cast({value_sql} as varchar)"


def product_text(quantity: str, price: str, decimals: int = NOTIONAL_DECIMALS) -> str:
    """SQL for quantity * price, computed exactly in decimals and rounded half away from zero."""
    product = f"cast({quantity} as decimal(38,6)) * cast({price} as decimal(38,6))"
    return f"cast(cast(round({product}, {decimals}) as decimal(38,{decimals})) as varchar)"


def render_text(con: duckdb.DuckDBPyConnection, typed: pa.Table, columns: dict[str, str]) -> pa.Table:
    """A table of text columns: each output column is the SQL given for it, evaluated over the typed table."""
    select = ", ".join(f"{sql} as {quote_identifier(name)}" for name, sql in columns.items())
    con.register("typed_rows", typed)
    try:
        text: pa.Table = con.sql(f"select {select} from typed_rows").to_arrow_table()
        return text
    finally:
        con.unregister("typed_rows")
