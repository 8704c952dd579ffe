"""Turn a spec into DuckDB SQL: typed columns and, per row, the list of rules it breaks.

Everything here is pure: it returns SQL text. Rule names in results look like
`not_null:isin`, `type:price`, `isin:isin` or the spec's own rule names.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.specs.model import Column, SourceSpec
from orchestrator.specs.sql_guard import check_expression
from orchestrator.validator.sql_macros import CHECK_DIGIT_MACROS
from orchestrator.warehouse.control_tables import DUCKDB_TYPES

RAW_PREFIX = "__raw__"

# Reference lists loaded into the validation connection (from the dbt seeds).
LIST_TABLES = {"currency": ("iso_currencies", "currency_code"), "mic": ("iso_mics", "mic")}


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str | float) -> str:
    """A SQL literal for a string or number."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def raw_name(column: str) -> str:
    """The name the raw text of a column carries next to its typed value."""
    return quote(RAW_PREFIX + column)


def typed_expression(column: Column, source: str) -> str:
    """Cast raw text to the column's type; NULL when it does not parse."""
    if column.type == "string":
        return source
    if column.type in ("integer", "decimal", "boolean"):
        # The raw tables' types, so staged Parquet loads without conversion.
        return f"try_cast({source} as {DUCKDB_TYPES[column.type]})"
    fmt = literal(column.format or "")
    parsed = f"try_strptime({source}, {fmt})"
    if column.format and "%z" in column.format.lower():
        parsed = f"timezone('UTC', {parsed})"
    return f"cast({parsed} as date)" if column.type == "date" else f"cast({parsed} as timestamp)"


@dataclass(frozen=True)
class Check:
    """One named condition that is true when the row breaks the rule."""

    name: str
    fails_when: str
    severity: str = "error"


def _valid_id_table(column: Column) -> str:
    return quote(f"valid_ids__{column.name}")


def _valid_id_set(column: Column) -> str:
    """A subquery of the values that pass an identifier check (a reference list, or check digits)."""
    assert column.id_format is not None
    if column.id_format in LIST_TABLES:
        table, key = LIST_TABLES[column.id_format]
        return f"(select {key} from {table})"
    return f"(select value from {_valid_id_table(column)})"


def id_set_statements(spec: SourceSpec) -> list[str]:
    """Statements that collect, per check-digit column, the distinct values that pass.

    Check digits are computed once per distinct value, not once per row: files repeat the same
    few thousand instruments and counterparties across millions of rows. Two statements, so the
    optimiser cannot push the check below the DISTINCT.
    """
    statements = []
    for column in spec.columns:
        if column.id_format in CHECK_DIGIT_MACROS:
            table, raw = _valid_id_table(column), raw_name(column.name)
            macro = CHECK_DIGIT_MACROS[column.id_format]
            statements.append(f"create or replace temp table {table} as select distinct {raw} as value from typed")
            statements.append(f"delete from {table} where value is null or not {macro}(value)")
    return statements


def column_checks(column: Column) -> list[Check]:
    """The declared constraints of one column as checks."""
    raw, typed = raw_name(column.name), quote(column.name)
    checks: list[Check] = []
    if not column.nullable:
        checks.append(Check(f"not_null:{column.name}", f"{raw} is null"))
    if column.type != "string":
        checks.append(Check(f"type:{column.name}", f"{raw} is not null and {typed} is null"))
    if column.allowed_values:
        values = ", ".join(literal(value) for value in column.allowed_values)
        checks.append(Check(f"allowed_values:{column.name}", f"{typed} not in ({values})"))
    if column.min is not None:
        checks.append(Check(f"min:{column.name}", f"{typed} < {column.min!r}"))
    if column.max is not None:
        checks.append(Check(f"max:{column.name}", f"{typed} > {column.max!r}"))
    if column.regex:
        checks.append(Check(f"regex:{column.name}", f"not regexp_full_match({raw}, {literal(column.regex)})"))
    if column.id_format:
        checks.append(
            Check(f"{column.id_format}:{column.name}", f"{raw} is not null and {raw} not in {_valid_id_set(column)}")
        )
    return checks


def row_checks(spec: SourceSpec) -> list[Check]:
    """Every row-level check of a spec: declared constraints, then row rules."""
    checks = [check for column in spec.columns for check in column_checks(column)]
    names = set(spec.column_names)
    for rule in spec.row_rules:
        expression = check_expression(rule.expr, names).sql(dialect="duckdb")
        checks.append(Check(rule.name, f"not coalesce(({expression}), false)", rule.severity))
    return checks


def _failed_list(checks: list[Check]) -> str:
    if not checks:
        return "cast([] as varchar[])"
    # `is true` keeps a NULL comparison (e.g. a NULL value against a bound) from counting as a failure.
    items = ", ".join(f"case when ({check.fails_when}) is true then {literal(check.name)} end" for check in checks)
    return f"list_filter([{items}], lambda name: name is not null)"


def typed_select(spec: SourceSpec, present: set[str]) -> str:
    """Columns of the `typed` view: raw text and typed value of every declared column."""
    parts = ["_row_number"]
    for column in spec.columns:
        source = quote(column.name) if column.name in present else "cast(null as varchar)"
        parts.append(f"{source} as {raw_name(column.name)}")
        parts.append(f"{typed_expression(column, source)} as {quote(column.name)}")
    return "select " + ", ".join(parts) + " from raw_input"


def _any_failed(checks: list[Check]) -> str:
    if not checks:
        return "false"
    return " or ".join(f"({check.fails_when}) is true" for check in checks)


def checked_select(spec: SourceSpec) -> str:
    """Typed columns from `typed` with `_failed` (breaks an error rule) and `_warned` (breaks a warning rule).

    Only booleans here: naming the broken rules costs a list per row, so `rule_lists_select` does it
    for the few flagged rows alone.
    """
    checks = row_checks(spec)
    errors = [check for check in checks if check.severity == "error"]
    warnings = [check for check in checks if check.severity == "warning"]
    typed_columns = ", ".join(quote(name) for name in spec.column_names)
    return (
        f"select _row_number, {typed_columns}, {_any_failed(errors)} as _failed, "
        f"{_any_failed(warnings)} as _warned from typed"
    )


def rule_lists_select(spec: SourceSpec) -> str:
    """For flagged rows only: the error and warning rules each breaks, and its raw values as JSON."""
    checks = row_checks(spec)
    errors = [check for check in checks if check.severity == "error"]
    warnings = [check for check in checks if check.severity == "warning"]
    return (
        f"select _row_number, {_failed_list(errors)} as _errors, {_failed_list(warnings)} as _warnings, "
        f"{raw_record_json(spec)} as raw_record from typed "
        "where _row_number in (select _row_number from checked where _failed or _warned)"
    )


def raw_record_json(spec: SourceSpec) -> str:
    """A JSON object of a row's raw text values, for the quarantine."""
    pairs = ", ".join(f"{literal(column.name)}, {raw_name(column.name)}" for column in spec.columns)
    return f"cast(json_object({pairs}) as varchar)"


def file_rule_select(spec: SourceSpec) -> str | None:
    """One aggregate query over the valid rows answering every file rule (true = holds)."""
    if not spec.file_rules:
        return None
    names = set(spec.column_names)
    parts = [
        f"coalesce(({check_expression(rule.expr, names, aggregate=True).sql(dialect='duckdb')}), false) "
        f"as {quote(rule.name)}"
        for rule in spec.file_rules
    ]
    return "select " + ", ".join(parts) + " from checked where not _failed"
