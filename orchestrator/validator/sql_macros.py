"""DuckDB macros for identifier formats with real check digits (ISO 6166, ISO 17442, CUSIP)."""

from __future__ import annotations

import duckdb

# Letters count as two-digit numbers A=10..Z=35 in ISIN and LEI check digits.
_MACROS = (
    """create or replace macro mdp_expand_alnum(s) as array_to_string(list_transform(string_split(s, ''),
        lambda ch: case when ch between 'A' and 'Z' then cast(ascii(ch) - 55 as varchar) else ch end), '')""",
    """create or replace macro mdp_luhn_ok(d) as list_sum(list_transform(string_split(reverse(d), ''),
        lambda ch, i: case when i % 2 = 0 then (cast(ch as integer) * 2) // 10 + (cast(ch as integer) * 2) % 10
                           else cast(ch as integer) end)) % 10 = 0""",
    """create or replace macro mdp_is_isin(s) as coalesce(
        regexp_full_match(s, '[A-Z]{2}[A-Z0-9]{9}[0-9]') and mdp_luhn_ok(mdp_expand_alnum(s)), false)""",
    """create or replace macro mdp_mod97(d) as list_reduce(list_transform(string_split(d, ''),
        lambda ch: cast(ch as integer)), lambda acc, x: (acc * 10 + x) % 97)""",
    """create or replace macro mdp_is_lei(s) as coalesce(
        regexp_full_match(s, '[A-Z0-9]{18}[0-9]{2}') and mdp_mod97(mdp_expand_alnum(s)) = 1, false)""",
    """create or replace macro mdp_cusip_value(ch) as case when ch between '0' and '9' then ascii(ch) - 48
        when ch between 'A' and 'Z' then ascii(ch) - 55 when ch = '*' then 36 when ch = '@' then 37 else 38 end""",
    """create or replace macro mdp_cusip_weighted(ch, i) as
        (mdp_cusip_value(ch) * (1 + (i + 1) % 2)) // 10 + (mdp_cusip_value(ch) * (1 + (i + 1) % 2)) % 10""",
    """create or replace macro mdp_is_cusip(s) as coalesce(
        regexp_full_match(s, '[0-9A-Z*@#]{8}[0-9]')
        and (10 - list_sum(list_transform(string_split(left(s, 8), ''), lambda ch, i: mdp_cusip_weighted(ch, i))) % 10)
            % 10 = cast(right(s, 1) as integer), false)""",
)

CHECK_DIGIT_MACROS = {"isin": "mdp_is_isin", "lei": "mdp_is_lei", "cusip": "mdp_is_cusip"}


def install_identifier_macros(connection: duckdb.DuckDBPyConnection) -> None:
    """Create the identifier macros on a connection."""
    for statement in _MACROS:
        connection.execute(statement)
