"""Check digits of ISIN (ISO 6166), CUSIP and LEI (ISO 17442): validate and build identifiers."""

from __future__ import annotations

import re

_ISIN_SHAPE = re.compile(r"[A-Z]{2}[A-Z0-9]{9}[0-9]")
_CUSIP_SHAPE = re.compile(r"[A-Z0-9*@#]{8}[0-9]")
_LEI_SHAPE = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_CUSIP_SPECIALS = {"*": 36, "@": 37, "#": 38}


def _alnum_value(char: str) -> int:
    """Digits keep their value, letters count A=10 .. Z=35."""
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10


def _as_digits(text: str) -> str:
    """The text with every letter replaced by its two-digit number (A=10 .. Z=35)."""
    return "".join(str(_alnum_value(char)) for char in text)


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit to append to a string of decimal digits."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def isin_check_digit(body: str) -> int:
    """The check digit of an ISIN's first 11 characters (country + NSIN)."""
    return luhn_check_digit(_as_digits(body))


def make_isin(country: str, nsin: str) -> str:
    """An ISIN from a 2-letter country code and a 9-character national number."""
    body = country + nsin.rjust(9, "0")
    if not _ISIN_SHAPE.fullmatch(body + "0"):
        raise ValueError(f"not an ISIN body: {body!r}")
    return body + str(isin_check_digit(body))


def is_valid_isin(value: str) -> bool:
    """True when the value is 12 characters of ISIN shape with a correct check digit."""
    return bool(_ISIN_SHAPE.fullmatch(value)) and isin_check_digit(value[:11]) == int(value[11])


def cusip_check_digit(body: str) -> int:
    """The check digit of a CUSIP's first 8 characters."""
    total = 0
    for position, char in enumerate(body):
        value = _CUSIP_SPECIALS.get(char) or _alnum_value(char)
        if position % 2 == 1:
            value *= 2
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def make_cusip(body: str) -> str:
    """A CUSIP from its 8-character issuer and issue code."""
    if not _CUSIP_SHAPE.fullmatch(body + "0"):
        raise ValueError(f"not a CUSIP body: {body!r}")
    return body + str(cusip_check_digit(body))


def is_valid_cusip(value: str) -> bool:
    """True when the value is 9 characters of CUSIP shape with a correct check digit."""
    return bool(_CUSIP_SHAPE.fullmatch(value)) and cusip_check_digit(value[:8]) == int(value[8])


def lei_check_digits(body: str) -> str:
    """The two ISO 7064 MOD 97-10 check digits of an LEI's first 18 characters."""
    return f"{98 - int(_as_digits(body + '00')) % 97:02d}"


def make_lei(body: str) -> str:
    """An LEI from its 18-character prefix and entity code."""
    if not _LEI_SHAPE.fullmatch(body + "00"):
        raise ValueError(f"not an LEI body: {body!r}")
    return body + lei_check_digits(body)


def is_valid_lei(value: str) -> bool:
    """True when the value is 20 characters of LEI shape whose number is 1 modulo 97."""
    return bool(_LEI_SHAPE.fullmatch(value)) and int(_as_digits(value)) % 97 == 1
