"""Seed spread and comparisons: every comparison in the book says whether a gap exceeds its noise.

The rule (`RULE`, printed with every verdict): a difference of seed means counts only when the 95 %
interval of Welch's t test excludes zero, i.e. when |difference| > t₀.₉₇₅(df) × standard error, with the
Welch–Satterthwaite degrees of freedom. With 3 seeds per arm t₀.₉₇₅ is 2.8 (df 4) or more, not the 2 of a
large-sample rule, so a "beats" needs a gap of about three standard errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Sequence

from scipy import stats as _scipy_stats

CONFIDENCE = 0.95
RULE = ("A difference counts (\"beats\") only when the 95 % interval of Welch's t test excludes zero: "
        "|difference of seed means| > t quantile (Welch–Satterthwaite degrees of freedom) × its standard error; "
        "otherwise it is \"within seed noise\".")


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
    """A against B: difference of means and its noise, the half-width of the 95 % Welch t interval.

    `se` is the standard error of the difference, `df` the Welch–Satterthwaite degrees of freedom and
    `quantile` the t quantile used (noise = quantile × se). The noise is infinite when an arm has fewer
    than two seeds: one run says nothing about the spread, so nothing can be called separated.
    """

    name_a: str
    name_b: str
    diff: float
    noise: float
    se: float = math.nan
    df: float = math.nan
    quantile: float = math.nan
    n_a: int = 0
    n_b: int = 0

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
        noise = "∞" if math.isinf(self.noise) else f"{self.noise:.{digits}f}"
        gap = (f"{abs(self.diff):.{digits}f}{unit} (noise ±{noise}{unit}: 95 % Welch t interval, "
               f"{self.n_a} vs {self.n_b} seeds)")
        if not self.separated:
            return f"{self.name_a} and {self.name_b} are within seed noise of each other on {metric}: {gap}."
        better_a = (self.diff > 0) == higher_is_better
        best, other = (self.name_a, self.name_b) if better_a else (self.name_b, self.name_a)
        return f"{best} beats {other} on {metric} by {gap}, more than the seed-to-seed spread."


def welch(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """(difference of means, standard error, Welch–Satterthwaite df, t quantile) for per-seed samples a and b."""
    mean_a, sd_a = mean_sd(a)
    mean_b, sd_b = mean_sd(b)
    if len(a) < 2 or len(b) < 2:
        return mean_a - mean_b, math.nan, math.nan, math.inf
    va, vb = sd_a ** 2 / len(a), sd_b ** 2 / len(b)
    se = math.sqrt(va + vb)
    if se == 0:  # identical runs in both arms: no spread at all; any difference is real
        return mean_a - mean_b, 0.0, math.nan, 0.0
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return mean_a - mean_b, se, df, float(_scipy_stats.t.ppf(0.5 + confidence / 2, df))


def compare(name_a: str, a: Sequence[float], name_b: str, b: Sequence[float]) -> Comparison:
    """Compare two sets of per-seed results; noise = half-width of the 95 % Welch t interval of the difference."""
    diff, se, df, quantile = welch(a, b)
    noise = math.inf if math.isinf(quantile) else quantile * se
    return Comparison(name_a, name_b, diff, noise, se, df, quantile, len(a), len(b))


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """Half-width of the t interval of one sample's mean (infinite for a single value)."""
    n = len(values)
    _, sd = mean_sd(values)
    if n < 2:
        return math.inf
    return float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
