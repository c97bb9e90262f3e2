"""Dropout against overfitting (chapter 8): chapter 7's small VGG with a 512-wide classifier, trained on a
small subset long enough to overfit, with dropout 0 and 0.5 in the two hidden layers, several seeds each.

Both arms start from a He-initialised classifier (VGG's own N(0, 0.01²) head makes the dropout net start
slowly, which would mix "dropout" with "still learning"). Data: Fashion-MNIST 28×28, a class-balanced
training subset and a validation set held out of the training split.
"""

from __future__ import annotations

from typing import Any

from course_lib.data import split_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import stats
from course_lib.experiments._training import column, loss_sentence, run_arm
from course_lib.models import VGG
from course_lib.models.variants import kaiming_linear_

SETTINGS = Settings({
    "fast": dict(train=1_000, val=500, epochs=12, seeds=(0, 1, 2)),
    "medium": dict(train=2_000, val=5_000, epochs=60, seeds=(0, 1, 2, 3, 4)),  # the overfitting regime (regimes.py)
    "full": dict(train=10_000, val=5_000, epochs=60, seeds=(0, 1, 2, 3, 4)),
})
RATES = (0.0, 0.5)


def dropout_vgg(p: float):
    """Chapter 7's small VGG with a 512-wide, He-initialised classifier and dropout p in its hidden layers."""
    return kaiming_linear_(VGG([16, "M", 32, "M"], in_channels=1, num_classes=10, hidden=512, dropout=p))


def arm_name(p: float) -> str:
    return f"dropout {p}"


def run(scale: str) -> dict[str, Any]:
    """Both arms, every seed: losses and accuracies per epoch, training accuracy in eval mode at the end."""
    s = SETTINGS[scale]
    splits = split_loaders("fashion_mnist", batch_size=64, val_size=s["val"], train_subset=s["train"], seed=0,
                         device=device_for_scale(scale))
    arms = {arm_name(p): run_arm(lambda: dropout_vgg(p), splits.train, splits.val, seeds=s["seeds"],
                                 epochs=s["epochs"], train_eval_loader=splits.train, optimizer="sgd", lr=0.05,
                                 momentum=0.9, arm=arm_name(p))
            for p in RATES}
    return {
        "data": f"Fashion-MNIST 28x28, {splits.train.num_samples:,} training images, validation "
                f"{splits.val.num_samples:,} held out of the training split",
        "settings": {"train": s["train"], "val": s["val"], "optimizer": "SGD, lr 0.05, momentum 0.9",
                     "batch_size": 64, "hidden": 512},
        "seeds": list(s["seeds"]), "epochs": s["epochs"], "arms": arms,
    }


def _gap(runs):
    return [100 * (r["train_acc_eval"] - r["eval_acc"][-1]) for r in runs]


def _min_loss_epoch(run: dict[str, Any]) -> int:
    losses = [v if v is not None else float("inf") for v in run["eval_loss"]]
    return 1 + min(range(len(losses)), key=losses.__getitem__)


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """Gap, final validation accuracy and final validation loss, dropout 0.5 against none."""
    on, off = (results["arms"][arm_name(p)] for p in (0.5, 0.0))
    return {
        "gap": stats.compare("dropout 0.5", _gap(on), "no dropout", _gap(off)),
        "accuracy": stats.compare("dropout 0.5", [100 * v for v in column(on, "eval_acc")],
                                  "no dropout", [100 * v for v in column(off, "eval_acc")]),
        "loss": stats.compare("dropout 0.5", column(on, "eval_loss"), "no dropout", column(off, "eval_loss")),
    }


def verdict_sentences(results: dict[str, Any]) -> dict[str, str]:
    v = verdicts(results)
    return {
        "gap": v["gap"].sentence(metric="train-minus-validation gap (smaller is less overfitting)",
                                 higher_is_better=False),
        "accuracy": v["accuracy"].sentence(metric="final validation accuracy"),
        "loss": loss_sentence(v["loss"], "final validation loss"),
    }


def best_accuracies(results: dict[str, Any]) -> dict[str, list[float]]:
    """Per arm and seed, the highest validation accuracy of any epoch (percent): the final epoch is one noisy sample."""
    return {name: [100 * max(r["eval_acc"]) for r in runs] for name, runs in results["arms"].items()}


def best_epochs(results: dict[str, Any]) -> dict[str, list[int]]:
    """Per arm and seed, the epoch of the lowest validation loss (an early-stopping point)."""
    return {name: [_min_loss_epoch(r) for r in runs] for name, runs in results["arms"].items()}
