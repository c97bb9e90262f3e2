"""Chapter 4's replication of the notes' MNIST ConvNet: the stored run, the verdict logic and the chapter's text agree."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from course_lib.experiments import notes_mnist_convnet as exp
from course_lib.experiments import regimes, stats, store

CHAPTER = Path(__file__).resolve().parents[1] / "book" / "04_lenet.ipynb"


@pytest.fixture(scope="module")
def stored() -> dict:
    return store.load("notes_mnist_convnet", "medium")


def _chapter_text() -> str:
    cells = json.loads(CHAPTER.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def test_stored_run_has_provenance_and_the_settings_the_chapter_describes(stored: dict) -> None:
    for key in ("command", "commit", "device", "torch", "started", "wall_seconds"):
        assert stored["provenance"][key] not in (None, "")
    results = stored["results"]
    # the chapter says: notes' setting and default init for the notes' 4,690 steps, three seeds each;
    # the normalised arm shorter
    assert results["steps"]["notes"] == results["steps"]["default_init"] == 10 * exp.NOTES_STEPS_PER_EPOCH
    assert results["steps"]["normalized"] < results["steps"]["notes"]
    assert len(results["seeds"]) == 3
    assert all(len(runs) == len(results["seeds"]) for runs in results["arms"].values())
    assert results["batch_size"] == 128 and results["lr"] == 0.05
    assert results["data"].startswith("MNIST") == (results["dataset"] == "mnist")


def test_stored_numbers_are_consistent_with_each_other(stored: dict) -> None:
    results = stored["results"]
    for arm, runs in results["arms"].items():
        for run in runs:
            assert run["final_test_acc"] == run["test_acc_checks"][-1][1]
            assert run["test_acc_checks"][-1][0] == run["steps"]
            assert len(run["loss_curve"]) == math.ceil(run["steps"] / results["log_every"])
            assert all(abs(v - math.log(10)) < 0.02 for v in run["first_losses"][:1]) or arm == "default_init"
            if run["plateau_exit"] is not None:
                # the 10-step block that holds the exit step (or the one before it) has a mean near the threshold
                block = (run["plateau_exit"] - 1) // results["log_every"]
                assert min(run["loss_curve"][max(block - 1, 0):block + 1]) < results["plateau_loss"] + 0.3


def test_plateau_sentence_reports_the_stored_numbers_and_the_right_verdicts(stored: dict) -> None:
    results = stored["results"]
    sentence = exp.plateau_sentence(results).lower()
    for arm in exp.ARMS:
        mean, sd = stats.mean_sd(exp.exits(results, arm))
        label = exp.ARM_LABELS[arm].lower()
        assert f"{label} stays on it for {mean:.0f} ± {sd:.0f} steps" in sentence or f"{label} never leaves it" in sentence
    for arm in ("normalized", "default_init"):
        comparison = stats.compare(exp.ARM_LABELS[arm], exp.exits(results, arm),
                                   exp.ARM_LABELS["notes"], exp.exits(results, "notes"))
        faster = comparison.separated and comparison.diff < 0
        claim = f"{exp.ARM_LABELS[arm]} beats {exp.ARM_LABELS['notes']}"
        assert (claim.lower() in sentence) == faster


def test_replication_sentence_matches_the_stored_accuracy(stored: dict) -> None:
    results = stored["results"]
    sentence = exp.replication_sentence(results)
    finals = [r["final_test_acc"] for r in results["arms"]["notes"]]
    assert stats.spread(finals, unit=" %", digits=2) in sentence
    gap = stats.mean_sd(finals)[0] - exp.NOTES_TEST_ACCURACY
    if "below" in sentence:
        assert gap < 0 and f"{-gap:.1f} points below" in sentence
    elif "above" in sentence:
        assert gap > 0
    else:
        assert abs(gap) <= 0.5 or "matches" in sentence
    assert ("The data are not the notes'" in sentence) == (results["n_train"] != 60_000)


def test_chapter_prints_the_verdicts_instead_of_typing_them() -> None:
    text = _chapter_text()
    for call in ("notes_run.plateau_sentence(live)",
                 "notes_run.plateau_sentence(medium)", "notes_run.replication_sentence(medium)",
                 'store.load("notes_mnist_convnet", "medium")', "store.provenance_line(stored)",
                 "regimes.describe(medium)"):
        assert call in text
    assert not re.search(r"\b9[0-9]\.[0-9]+ ?%", text.replace("97.97%", "")), "an accuracy typed into the chapter"


def test_stored_run_is_in_its_regime_and_each_run_has_its_own_provenance(stored: dict) -> None:
    results = stored["results"]
    seen = regimes.assess(results)
    assert seen is not None and seen["baseline"] == "notes" and seen["metric"] == "test"
    finals = [r["final_test_acc"] for r in results["arms"]["notes"]]
    assert abs(seen["val_acc"] - sum(finals) / len(finals)) < 1e-9
    assert seen["in_regime"] == (seen["val_acc"] >= exp.NOTES_TEST_ACCURACY - regimes.NEAR_REFERENCE_POINTS)
    for runs in results["arms"].values():
        for run in runs:   # the resumable runner's per-run record (commit, CPU seconds, load at start)
            assert run["provenance"]["cpu_seconds"] > 0 and run["provenance"]["commit"]
            assert run["cpu_seconds"] == run["provenance"]["cpu_seconds"]


def test_plateau_exit_finds_the_first_window_below_the_threshold() -> None:
    losses = [2.30] * 30 + [1.5] * 20
    assert exp.plateau_exit(losses, threshold=2.0, window=10) == 34   # steps 25..34: (6·2.3 + 4·1.5)/10 = 1.98
    assert exp.plateau_exit([2.3] * 50) is None


def test_the_notes_initialisation_starts_at_ln_10_and_default_init_does_not_sit_there() -> None:
    train, test, _ = exp.data_loaders(normalize=False)
    notes = exp.train_arm("notes", exp.NOTES_SEED, 20, (train, test), check_every=20)
    assert all(abs(v - math.log(10)) < 0.01 for v in notes["first_losses"])   # uniform guessing, as in the log
    torch.manual_seed(exp.NOTES_SEED)
    weights = exp.ConvNet(init_std=0.01).conv1.weight
    assert abs(weights.std().item() - 0.01) < 0.004 and weights.abs().max().item() < 0.05
    default = exp.train_arm("default_init", exp.NOTES_SEED, 20, (train, test), check_every=20)
    assert default["loss_curve"][-1] < notes["loss_curve"][-1]
