"""Seed spread and comparisons: every comparison in the book says whether a gap exceeds its noise."""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    n = len(values)
    if n == 0:
        raise ValueError("no values: run at least one seed")
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def spread(values: Sequence[float], unit: str = "", digits: int = 1) -> str:
    """'71.2 ± 0.8 % (3 seeds)': the mean, the seed-to-seed standard deviation and the count."""
    mean, sd = mean_sd(values)
    n = len(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}{unit} ({n} seed{'s' if n != 1 else ''})"


@dataclass(frozen=True)
class Comparison:
    """A against B: difference of means, its noise (2 standard errors) and whether it stands out."""

    name_a: str
    name_b: str
    diff: float
    noise: float

    @property
    def separated(self) -> bool:
        return abs(self.diff) > self.noise

    @property
    def winner(self) -> str | None:
        if not self.separated:
            return None
        return self.name_a if self.diff > 0 else self.name_b

    def sentence(self, metric: str = "test accuracy", unit: str = " points", higher_is_better: bool = True,
                 digits: int = 1) -> str:
        """The verdict in words, computed from the numbers (never written by hand)."""
        gap = f"{abs(self.diff):.{digits}f}{unit} (noise ±{self.noise:.{digits}f}{unit})"
        if not self.separated:
            return f"{self.name_a} and {self.name_b} are within seed noise of each other on {metric}: {gap}."
        better_a = (self.diff > 0) == higher_is_better
        best, other = (self.name_a, self.name_b) if better_a else (self.name_b, self.name_a)
        return f"{best} beats {other} on {metric} by {gap}, more than the seed-to-seed spread."


def compare(name_a: str, a: Sequence[float], name_b: str, b: Sequence[float]) -> Comparison:
    """Compare two sets of per-seed results; noise = 2 standard errors of the difference of means."""
    mean_a, sd_a = mean_sd(a)
    mean_b, sd_b = mean_sd(b)
    noise = 2 * math.sqrt(sd_a ** 2 / len(a) + sd_b ** 2 / len(b))
    return Comparison(name_a, name_b, mean_a - mean_b, noise)
