"""Exponential backoff with jitter: the delays between regulator attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """`retries` delays doubling from `base_s` (1, 2, 4, 8, 16 s by default), each scaled by ±`jitter`."""

    base_s: float = 1.0
    retries: int = 5
    jitter: float = 0.2

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """The wait before retry number `retry` (0-based)."""
        nominal = self.base_s * float(2**retry)
        factor: float = 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return nominal * factor
