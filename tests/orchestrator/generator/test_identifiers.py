from __future__ import annotations

from collections.abc import Callable

import pytest

from orchestrator.generator.codes import load_code_lists
from orchestrator.generator.identifiers import (
    is_valid_cusip,
    is_valid_isin,
    is_valid_lei,
    make_cusip,
    make_isin,
    make_lei,
)
from orchestrator.generator.universe import build_universe


@pytest.mark.parametrize(
    "isin",
    [
        pytest.param("US0378331005", id="apple"),
        pytest.param("GB0002634946", id="bae-systems"),
        pytest.param("US5949181045", id="microsoft"),
        pytest.param("DE0007164600", id="sap"),
    ],
)
def test_real_isins_are_valid(isin: str) -> None:
    assert is_valid_isin(isin)
    assert make_isin(isin[:2], isin[2:11]) == isin


@pytest.mark.parametrize(
    "isin",
    [
        pytest.param("US0378331006", id="wrong-check-digit"),
        pytest.param("US037833100", id="too-short"),
        pytest.param("us0378331005", id="lower-case"),
        pytest.param("1S0378331005", id="digit-country"),
        pytest.param("US03783310O5", id="letter-check-digit"),
    ],
)
def test_broken_isins_are_invalid(isin: str) -> None:
    assert not is_valid_isin(isin)


@pytest.mark.parametrize(
    "cusip",
    [
        pytest.param("037833100", id="apple"),
        pytest.param("594918104", id="microsoft"),
        pytest.param("38259P508", id="google-with-letter"),
    ],
)
def test_real_cusips_are_valid(cusip: str) -> None:
    assert is_valid_cusip(cusip)
    assert make_cusip(cusip[:8]) == cusip


@pytest.mark.parametrize(
    "cusip",
    [pytest.param("037833101", id="wrong-check-digit"), pytest.param("03783310", id="too-short")],
)
def test_broken_cusips_are_invalid(cusip: str) -> None:
    assert not is_valid_cusip(cusip)


@pytest.mark.parametrize(
    "lei",
    [
        pytest.param("HWUPKR0MPOU8FGXBT394", id="apple"),
        pytest.param("5493001KJTIIGC8Y1R12", id="bloomberg-finance"),
    ],
)
def test_real_leis_are_valid(lei: str) -> None:
    assert is_valid_lei(lei)
    assert make_lei(lei[:18]) == lei


@pytest.mark.parametrize(
    "lei",
    [
        pytest.param("HWUPKR0MPOU8FGXBT395", id="wrong-check-digits"),
        pytest.param("HWUPKR0MPOU8FGXBT39", id="too-short"),
        pytest.param("HWUPKR0MPOU8FGXBTA94", id="letter-in-check-digits"),
    ],
)
def test_broken_leis_are_invalid(lei: str) -> None:
    assert not is_valid_lei(lei)


@pytest.mark.parametrize(
    ("make", "body"),
    [
        pytest.param(lambda body: make_isin("U", body), "037833100", id="isin-one-letter-country"),
        pytest.param(make_cusip, "0378331", id="cusip-short-body"),
        pytest.param(make_lei, "HWUPKR0MPOU8FGXB", id="lei-short-body"),
    ],
)
def test_makers_reject_malformed_bodies(make: Callable[[str], str], body: str) -> None:
    with pytest.raises(ValueError, match="body"):
        make(body)


def test_every_universe_identifier_validates() -> None:
    universe = build_universe(0, load_code_lists())
    isins = [str(isin) for isin in universe.instruments.column("isin").to_pylist()]
    cusips = universe.instruments.column("cusip").to_pylist()
    leis = [str(lei) for lei in universe.counterparties.column("counterparty_lei").to_pylist()]
    leis += universe.bank_entity_leis
    assert all(is_valid_isin(isin) for isin in isins)
    assert all(is_valid_lei(lei) for lei in leis)
    us = [(isin, cusip) for isin, cusip in zip(isins, cusips, strict=True) if isin.startswith("US")]
    assert us
    assert all(cusip is not None and is_valid_cusip(cusip) and isin[2:11] == cusip for isin, cusip in us)
    assert all(cusip is None for isin, cusip in zip(isins, cusips, strict=True) if not isin.startswith("US"))
