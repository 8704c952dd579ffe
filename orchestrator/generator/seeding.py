"""Random generators derived from the seed and stable labels, never from the clock."""

from __future__ import annotations

import hashlib

import numpy as np


def stable_hash(*labels: object) -> int:
    """A 64-bit number that depends only on the labels' text (unlike `hash`, stable across runs)."""
    text = "\x1f".join(str(label) for label in labels)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def rng_for(seed: int, *labels: object) -> np.random.Generator:
    """A generator for one purpose (named by the labels) under one seed."""
    return np.random.default_rng([seed % 2**64, stable_hash(*labels)])
