"""BatchNorm with and without (chapter 7): the small VGG of the chapter with and without BN, each with VGG's
own N(0, 0.01²) classifier initialisation and with a He-initialised classifier, at three learning rates,
several seeds each. The two head initialisations separate "BN" from "a badly initialised head": BN is
compared with no BN at the same head (like with like), and each head with the other at the same BN.

Data: Fashion-MNIST 28×28, a class-balanced training subset and a validation set held out of the training
split (the test set is not used: nothing here is a final report).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from course_lib.data import split_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import stats
from course_lib.experiments._training import column, parallel_map, run_arm
from course_lib.models import VGG
from course_lib.models.variants import kaiming_linear_

SETTINGS = Settings({
    "tiny": dict(train=200, val=100, epochs=1, seeds=(0, 1)),
    "fast": dict(train=1_000, val=500, epochs=2, seeds=(0, 1, 2)),
    "medium": dict(train=20_000, val=5_000, epochs=10, seeds=(0, 1, 2, 3, 4)),  # the regime (regimes.py)
    "full": dict(train=None, val=5_000, epochs=15, seeds=(0, 1, 2, 3, 4)),
})
LEARNING_RATES = (0.01, 0.05, 0.25)
VARIANTS = ("no BN", "no BN, He-init head", "BN", "BN, He-init head")
HE_HEAD = ("no BN, He-init head", "BN, He-init head")
CHANCE = 0.1
# The comparisons of final accuracy at the largest rate, with the (A, B) variants each compares: where every
# seed of both failed, the sentence says so instead of comparing two runs at chance (`both_failed`).
LARGE_RATE_PAIRS: dict[str, tuple[str, str]] = {
    f"larger rates: final at lr {LEARNING_RATES[-1]}, both with VGG's N(0, 0.01²) head": ("BN", "no BN"),
    f"larger rates: final at lr {LEARNING_RATES[-1]}, both with a He-initialized head": HE_HEAD[::-1],
}


def small_vgg(variant: str):
    """Two VGG blocks (16, 32 channels), a 128-wide classifier, no dropout; BN and head init per variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    model = VGG([16, "M", 32, "M"], batch_norm=variant.startswith("BN"), in_channels=1, num_classes=10, hidden=128,
                dropout=0.0)
    return kaiming_linear_(model) if variant in HE_HEAD else model


def arm_name(variant: str, lr: float) -> str:
    return f"{variant}, lr {lr}"


@lru_cache(maxsize=None)
def _splits(scale: str):
    s = SETTINGS[scale]
    return split_loaders("fashion_mnist", batch_size=128, val_size=s["val"], train_subset=s["train"], seed=0,
                         device=device_for_scale(scale))


def _arm(scale: str, key: tuple[str, float]) -> list[dict[str, Any]]:
    variant, lr = key
    s, splits = SETTINGS[scale], _splits(scale)
    return run_arm(lambda: small_vgg(variant), splits.train, splits.val, seeds=s["seeds"], epochs=s["epochs"],
                   train_eval_loader=splits.train, optimizer="sgd", lr=lr, momentum=0.9, arm=arm_name(variant, lr))


def run(scale: str) -> dict[str, Any]:
    """Every variant at every learning rate, every seed: validation accuracy per epoch, train accuracy at the end."""
    s, splits = SETTINGS[scale], _splits(scale)
    keys = [(variant, lr) for lr in LEARNING_RATES for variant in VARIANTS]
    arms = {arm_name(*key): runs for key, runs in zip(keys, parallel_map(partial(_arm, scale), keys))}
    return {
        "data": f"Fashion-MNIST 28x28, {splits.train.num_samples:,} training images, validation "
                f"{splits.val.num_samples:,} held out of the training split",
        "settings": {"train": s["train"], "val": s["val"], "optimizer": "SGD, momentum 0.9, constant lr",
                     "learning_rates": list(LEARNING_RATES), "batch_size": 128},
        "seeds": list(s["seeds"]), "epochs": s["epochs"], "arms": arms,
    }


def failed(run: dict[str, Any]) -> bool:
    """A run that diverged (NaN or a training loss above ln 10) or ended at chance level."""
    loss = run["train_loss"][-1]
    return loss is None or loss > 2.35 or run["eval_acc"][-1] < CHANCE + 0.05


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """The chapter's four questions as comparisons of per-seed numbers (accuracies in percentage points)."""
    arms = results["arms"]

    def acc(variant, lr, epoch=-1):
        return [100 * v for v in column(arms[arm_name(variant, lr)], "eval_acc", epoch)]

    def gap(variant, lr):
        runs = arms[arm_name(variant, lr)]
        return [100 * (r["train_acc_eval"] - r["eval_acc"][-1]) for r in runs]

    top = LEARNING_RATES[-1]
    fair, bn_he = HE_HEAD
    large_rates = {key: stats.compare(a, acc(a, top), b, acc(b, top)) for key, (a, b) in LARGE_RATE_PAIRS.items()}
    return {
        "BN vs no BN, both with VGG's N(0, 0.01²) head, after one epoch at lr 0.05": stats.compare(
            "BN", acc("BN", 0.05, 0), "no BN", acc("no BN", 0.05, 0)),
        "BN vs no BN, both with a He-initialized head, after one epoch at lr 0.05": stats.compare(
            bn_he, acc(bn_he, 0.05, 0), fair, acc(fair, 0.05, 0)),
        "head initialization without BN, after one epoch at lr 0.05": stats.compare(
            fair, acc(fair, 0.05, 0), "no BN", acc("no BN", 0.05, 0)),
        "head initialization with BN, after one epoch at lr 0.05": stats.compare(
            bn_he, acc(bn_he, 0.05, 0), "BN", acc("BN", 0.05, 0)),
        **large_rates,
        "overfitting: train-validation gap at lr 0.05, both with a He-initialized head": stats.compare(
            bn_he, gap(bn_he, 0.05), fair, gap(fair, 0.05)),
    }


def both_failed(results: dict[str, Any], key: str) -> tuple[str, str] | None:
    """The two arms of a final-accuracy comparison when every seed of both failed (None otherwise): a
    difference between two runs at chance is no evidence, so its sentence says that instead."""
    pair = LARGE_RATE_PAIRS.get(key)
    if pair is None:
        return None
    arms = [results["arms"][arm_name(variant, LEARNING_RATES[-1])] for variant in pair]
    return pair if all(failed(r) for runs in arms for r in runs) else None


def verdict_sentences(results: dict[str, Any]) -> dict[str, str]:
    """One sentence per question, computed from the numbers."""
    out = {}
    for key, comparison in verdicts(results).items():
        if (pair := both_failed(results, key)) is not None:
            out[key] = (f"{pair[0]} and {pair[1]} both failed on every seed (diverged or ended at chance): neither "
                        f"trains at this rate, so this comparison says nothing either way.")
        elif key.startswith("overfitting"):
            out[key] = comparison.sentence(metric="train-minus-validation gap (smaller is less overfitting)",
                                           higher_is_better=False)
        else:
            out[key] = comparison.sentence(metric="validation accuracy")
    return out


def failures(results: dict[str, Any]) -> dict[str, int]:
    """How many seeds of each arm diverged or stayed at chance."""
    return {name: sum(failed(r) for r in runs) for name, runs in results["arms"].items()}
