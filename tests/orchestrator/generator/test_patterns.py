from __future__ import annotations

import re

import numpy as np
import pytest

from orchestrator.generator.exceptions import GeneratorError
from orchestrator.generator.patterns import digits_text, parse_pattern


@pytest.mark.parametrize(
    "regex",
    [
        pytest.param(r"^MX[0-9]{10}$", id="prefix-and-digits"),
        pytest.param(r"^T[0-9]{5}$", id="trader-id"),
        pytest.param(r"^[A-Z]{2}$", id="country-code"),
        pytest.param(r"^[^@ ]+@[^@ ]+$", id="negated-classes"),
        pytest.param(r"^(AB|C[0-9]{2})-?x{1,3}$", id="group-alternatives-optional"),
        pytest.param(r"^\d{3}\.[a-f]+$", id="escapes"),
        pytest.param(r"^(?:EUR|USD)_[A-Z0-9]{2,}$", id="non-capturing-open-range"),
        pytest.param(r"BOOK|DESK", id="top-level-alternatives"),
    ],
)
def test_samples_match_their_regex(regex: str) -> None:
    samples = parse_pattern(regex).sample(500, np.random.default_rng(7))
    assert all(re.fullmatch(regex, str(sample)) for sample in samples)


def test_counter_fills_the_longest_digit_run_and_keeps_ids_distinct() -> None:
    pattern = parse_pattern(r"^BBG[0-9]{9}$")
    counter = np.arange(999_999_990, 1_000_000_010) % 10**pattern.counter_width
    ids = pattern.sample(len(counter), np.random.default_rng(0), counter=counter)
    assert pattern.counter_width == 9
    assert ids[0] == "BBG999999990"
    assert len(set(ids.tolist())) == len(ids)


def test_digits_text_pads_with_zeros() -> None:
    assert digits_text(np.array([0, 42, 123456]), 6).tolist() == ["000000", "000042", "123456"]


@pytest.mark.parametrize(
    "regex",
    [
        pytest.param(r"^(?=A)[A-Z]+$", id="look-ahead"),
        pytest.param(r"^(A)\1$", id="back-reference"),
        pytest.param(r"^[A-Z$", id="unclosed-class"),
        pytest.param(r"^\bA$", id="word-boundary"),
    ],
)
def test_unsupported_regex_raises(regex: str) -> None:
    with pytest.raises(GeneratorError, match="beyond what the generator can produce"):
        parse_pattern(regex)


def test_counter_needs_a_digit_run() -> None:
    with pytest.raises(GeneratorError, match="no run of"):
        parse_pattern(r"^[A-Z]{6}$").sample(3, np.random.default_rng(0), counter=np.arange(3))
