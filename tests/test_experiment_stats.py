"""The verdict rule: Welch's t interval with its small-sample quantile, checked against scipy's own test."""

from __future__ import annotations

import math
import random

import pytest
from scipy import stats as scipy_stats

from course_lib.experiments import stats


def test_three_seeds_need_the_t_quantile_not_two_standard_errors():
    a, b = [71.0, 72.0, 73.0], [69.0, 70.0, 71.0]  # gap 2.0, standard error 0.816
    comparison = stats.compare("a", a, "b", b)
    assert comparison.df == pytest.approx(4.0)
    assert comparison.quantile == pytest.approx(2.776, abs=1e-3)
    assert 2 * comparison.se < abs(comparison.diff) < comparison.noise  # the old 2-SE rule said "beats"
    assert not comparison.separated and "within seed noise" in comparison.sentence()


@pytest.mark.parametrize("seed", range(20))
def test_separated_exactly_when_scipys_welch_test_rejects_at_5_percent(seed):
    rng = random.Random(seed)
    n_a, n_b = rng.randint(2, 6), rng.randint(2, 6)
    a = [rng.gauss(70, rng.uniform(0.2, 3)) for _ in range(n_a)]
    b = [rng.gauss(70 + rng.uniform(-4, 4), rng.uniform(0.2, 3)) for _ in range(n_b)]
    comparison = stats.compare("a", a, "b", b)
    test = scipy_stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(0.95)
    assert comparison.noise == pytest.approx((interval.high - interval.low) / 2, rel=1e-9)
    assert comparison.separated == (test.pvalue < 0.05)


def test_one_seed_says_nothing_about_the_spread():
    comparison = stats.compare("a", [80.0], "b", [70.0, 71.0, 69.0])
    assert math.isinf(comparison.noise) and not comparison.separated
    assert "within seed noise" in comparison.sentence() and "±∞" in comparison.sentence()


def test_the_sentence_names_the_rule_and_the_seed_counts():
    sentence = stats.compare("BN", [80.0, 80.5, 79.5, 80.2, 80.1], "no BN", [70.0, 70.5, 69.5]).sentence()
    assert sentence.startswith("BN beats no BN") and "95 % Welch t interval, 5 vs 3 seeds" in sentence
    assert "Welch" in stats.RULE and "t quantile" in stats.RULE
