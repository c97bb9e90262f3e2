"""Chapter 7's BN verdicts: recomputed from the stored per-seed numbers, and printed by the chapter, not typed."""

from __future__ import annotations

import copy

from helpers import experiment_checks as check
from course_lib.experiments import batchnorm

NOTEBOOK = "07_batch_norm.ipynb"


def _acc(results, variant, lr, epoch=-1):
    return [100 * r["eval_acc"][epoch] for r in results["arms"][f"{variant}, lr {lr}"]]


def _gap(results, variant, lr):
    return [100 * (r["train_acc_eval"] - r["eval_acc"][-1]) for r in results["arms"][f"{variant}, lr {lr}"]]


def test_stored_batchnorm_results_agree_with_the_sentences():
    results = check.complete("batchnorm")
    assert set(results["arms"]) == {f"{v}, lr {lr}" for v in batchnorm.VARIANTS for lr in batchnorm.LEARNING_RATES}
    comparisons, sentences = batchnorm.verdicts(results), batchnorm.verdict_sentences(results)
    fair, bn_he = "no BN, He-init head", "BN, He-init head"
    expected = {
        "BN vs no BN, both with VGG's N(0, 0.01²) head, after one epoch at lr 0.05": (
            _acc(results, "BN", 0.05, 0), _acc(results, "no BN", 0.05, 0)),
        "BN vs no BN, both with a He-initialized head, after one epoch at lr 0.05": (
            _acc(results, bn_he, 0.05, 0), _acc(results, fair, 0.05, 0)),
        "head initialization without BN, after one epoch at lr 0.05": (_acc(results, fair, 0.05, 0),
                                                                        _acc(results, "no BN", 0.05, 0)),
        "head initialization with BN, after one epoch at lr 0.05": (_acc(results, bn_he, 0.05, 0),
                                                                     _acc(results, "BN", 0.05, 0)),
        "larger rates: final at lr 0.25, both with VGG's N(0, 0.01²) head": (_acc(results, "BN", 0.25),
                                                                              _acc(results, "no BN", 0.25)),
        "larger rates: final at lr 0.25, both with a He-initialized head": (_acc(results, bn_he, 0.25),
                                                                             _acc(results, fair, 0.25)),
        "overfitting: train-validation gap at lr 0.05, both with a He-initialized head": (
            _gap(results, bn_he, 0.05), _gap(results, fair, 0.05)),
    }
    assert expected.keys() == comparisons.keys()
    for key, (a, b) in expected.items():
        variants = ("BN", "no BN") if "VGG's" in key else (bn_he, fair)
        if key.startswith("larger rates") and all(batchnorm.failed(r) for v in variants
                                                  for r in results["arms"][f"{v}, lr 0.25"]):
            assert "failed on every seed" in sentences[key], sentences[key]   # two runs at chance: no evidence
        else:
            check.agrees(comparisons[key], a, b, sentences[key])
    for name, count in batchnorm.failures(results).items():
        assert count == sum(batchnorm.failed(r) for r in results["arms"][name])


def test_the_verdict_follows_the_numbers_when_they_change():
    results = copy.deepcopy(check.complete("batchnorm"))
    key = "BN vs no BN, both with a He-initialized head, after one epoch at lr 0.05"
    before = batchnorm.verdicts(results)[key]
    arms = results["arms"]
    a, b = "BN, He-init head, lr 0.05", "no BN, He-init head, lr 0.05"
    arms[a], arms[b] = arms[b], arms[a]
    after = batchnorm.verdicts(results)[key]
    assert after.diff == -before.diff and after.separated == before.separated
    if before.separated:
        assert after.winner != before.winner


def test_two_arms_that_failed_on_every_seed_are_not_called_within_noise():
    results = copy.deepcopy(check.complete("batchnorm"))
    for variant in ("BN", "no BN"):
        for run in results["arms"][f"{variant}, lr 0.25"]:
            run["eval_acc"][-1], run["train_loss"][-1] = 0.1, None
    sentence = batchnorm.verdict_sentences(results)["larger rates: final at lr 0.25, both with VGG's N(0, 0.01²) head"]
    assert "failed on every seed" in sentence and "within seed noise" not in sentence
    results["arms"]["BN, lr 0.25"][0]["eval_acc"][-1] = 0.86              # one seed trains: a real comparison again
    results["arms"]["BN, lr 0.25"][0]["train_loss"][-1] = 0.4
    sentence = batchnorm.verdict_sentences(results)["larger rates: final at lr 0.25, both with VGG's N(0, 0.01²) head"]
    assert "Welch" in sentence


def test_chapter_7_prints_the_computed_verdicts_and_types_none():
    check.prints_verdicts(NOTEBOOK, "bn_experiment", "batchnorm")
    check.markdown_free_of(NOTEBOOK, ["**Supported**", "Supported.", "typically diverges", "four orders of magnitude",
                                      "a single image cannot be normalized", "a little too small"])
    check.outputs_stripped(NOTEBOOK)
    check.figures_have_alt_text(NOTEBOOK)


def test_every_comparison_of_bn_holds_the_head_initialization_fixed():
    """Like with like: a BN-vs-no-BN comparison has the same head on both sides, a head comparison the same BN."""
    import torch

    heads = {}
    for variant in batchnorm.VARIANTS:
        torch.manual_seed(0)
        model = batchnorm.small_vgg(variant)
        has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        assert has_bn == variant.startswith("BN"), variant
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        heads[variant] = last.weight.std().item()
    assert heads["BN, He-init head"] > 3 * heads["BN"] and heads["no BN, He-init head"] > 3 * heads["no BN"]
    for key, comparison in batchnorm.verdicts(check.complete("batchnorm")).items():
        names = {comparison.name_a, comparison.name_b}
        if key.startswith("BN vs no BN"):
            assert len({n.endswith("He-init head") for n in names}) == 1, key
        if key.startswith("head initialization"):
            assert len({n.startswith("BN") for n in names}) == 1, key
