"""The training engine: learning-rate schedules, a real short training run, checkpoints and resume."""

from __future__ import annotations

import math

import pytest

from course_lib.train import cosine, linear_decay, lr_curve, onecycle, step


def test_cosine_runs_from_the_initial_rate_to_the_floor():
    rates = lr_curve(cosine(final=0.0), 101, lr=0.2, total_steps=100)
    assert rates[0] == pytest.approx(0.2)
    assert rates[50] == pytest.approx(0.1)
    assert rates[100] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_linear_decay_reaches_one_percent_at_tau_then_stays():
    lr0, tau = 0.1, 40
    rates = lr_curve(linear_decay(tau=tau), 100, lr=lr0)
    for k in (0, 10, 39):  # lr_k = (1 - a) lr0 + a lr_tau with a = k / tau
        a = k / tau
        assert rates[k] == pytest.approx((1 - a) * lr0 + a * 0.01 * lr0)
    assert rates[tau] == pytest.approx(0.01 * lr0)
    assert rates[tau:] == pytest.approx([0.01 * lr0] * (100 - tau))


def test_linear_decay_tau_as_a_fraction_of_training():
    rates = lr_curve(linear_decay(tau=0.5, final=0.1), 200, lr=1.0)
    assert rates[100] == pytest.approx(0.1) and rates[99] > 0.1


def test_step_and_onecycle_shapes():
    stepped = lr_curve(step(milestones=(30, 60), gamma=0.5), 90, lr=0.8)
    assert (stepped[29], stepped[30], stepped[60]) == pytest.approx((0.8, 0.4, 0.2))
    cycle = lr_curve(onecycle(pct_start=0.25), 100, lr=0.4)
    peak = max(range(100), key=cycle.__getitem__)
    assert 20 <= peak <= 30 and cycle[peak] == pytest.approx(0.4, rel=1e-3)
    assert cycle[0] == pytest.approx(0.4 / 25) and cycle[-1] < 0.4 / 25 / 100


def test_unknown_schedule_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="cosine"):
        lr_curve("exponential", 10)
