"""Stored results that say they were run in their regime keep its promise: the regime's settings are the ones
stored, an accuracy lesson's baseline comes near its reference figure, a regulariser lesson's baseline
overfits (its train-validation gap is stored and large). `regimes.assess` decides; these tests hold the stored
files to it and check that it can say no."""

from __future__ import annotations

import copy
import importlib

import pytest

from course_lib.experiments import available, regimes, store


def _applied() -> list[str]:
    names = []
    for name in available():
        try:
            results = store.load(name, "medium")["results"]
        except FileNotFoundError:
            continue
        if (results.get("regime") or {}).get("applied"):
            names.append(name)
    return names


APPLIED = _applied()


def test_the_regulariser_lesson_of_dropout_is_stored_in_its_regime():
    assert "dropout" in APPLIED, APPLIED


@pytest.mark.parametrize("name", APPLIED)
def test_an_applied_regime_is_what_was_stored_and_what_the_table_says(name):
    results = store.load(name, "medium")["results"]
    regime = results["regime"]
    assert regimes.target(name, "medium")["settings"] == regime["settings"], "the table changed since the run"
    stored = {**results["settings"], "epochs": results.get("epochs"), "seeds": results["seeds"]}
    for key, value in regime["settings"].items():
        assert stored.get(key) == value, (key, stored.get(key), value)


@pytest.mark.parametrize("name", APPLIED)
def test_a_plain_medium_run_reproduces_the_stored_regime_run(name):
    # `python -m course_lib.experiments NAME --scale medium` must train what the stored file holds, so the
    # module's own medium settings are the regime's once its regime run is stored.
    module = importlib.import_module(f"course_lib.experiments.{name}")
    assert regimes.matches(regimes.target(name, "medium"), module.SETTINGS["medium"]), (
        f"{name}.SETTINGS['medium'] is not the regime its stored file was run in: make it the regime's")


@pytest.mark.parametrize("name", APPLIED)
def test_the_stored_baseline_keeps_the_regimes_promise(name):
    results = store.load(name, "medium")["results"]
    seen = regimes.assess(results)
    assert seen is not None, f"{name}: its regime names no baseline arm that the results have"
    assert seen["in_regime"], regimes.describe(results)
    if seen["lesson"] == regimes.REGULARISER:
        assert seen["overfitting_gap"] >= regimes.OVERFITTING_GAP_POINTS


def test_assess_says_no_to_a_baseline_that_does_not_overfit_or_falls_short():
    results = copy.deepcopy(store.load("dropout", "medium")["results"])
    for run in results["arms"][results["regime"]["baseline"]]:
        run["train_acc_eval"] = run["eval_acc"][-1] + 0.01        # a 1-point gap: not overfitting
    assert regimes.assess(results)["in_regime"] is False
    results["regime"]["lesson"] = regimes.ACCURACY                 # held to the reference instead
    for run in results["arms"][results["regime"]["baseline"]]:
        run["eval_acc"][-1] = 0.80                                 # 10 points below 90.3 %
    assert regimes.assess(results)["in_regime"] is False
    assert "80.0 %" in regimes.describe(results)


def test_a_regulariser_lesson_reads_the_gap_on_the_arm_without_the_regulariser():
    results = copy.deepcopy(store.load("dropout", "medium")["results"])
    results["arms"]["regularised"] = copy.deepcopy(results["arms"][results["regime"]["baseline"]])
    for run in results["arms"]["regularised"]:
        run["train_acc_eval"] = run["eval_acc"][-1]                # no gap with the regulariser
    results["regime"] = {**results["regime"], "baseline": "regularised"}
    assert regimes.assess(results)["in_regime"] is False           # its own gap is read: none
    results["regime"]["overfitting_arm"] = "dropout 0.0"           # the arm without it overfits
    seen = regimes.assess(results)
    assert seen["in_regime"] is True and seen["gap"] == 0.0
    assert "without the regulariser ('dropout 0.0')" in regimes.describe(results)
    results["regime"]["overfitting_arm"] = "no such arm"
    assert regimes.assess(results) is None
