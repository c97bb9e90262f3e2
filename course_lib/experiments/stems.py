"""ImageNet stem vs CIFAR stem on 32×32 inputs, and the max-pool moved later or removed (chapter 9):
ResNet-18 with four stems, everything else equal, several seeds each.

Data: Fashion-MNIST as 3×32×32 (resized from 28, grey copied to three channels; the machine has no
CIFAR-10), a training subset and a validation set held out of the training split.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from course_lib.data import split_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import cost, stats
from course_lib.experiments._training import column, parallel_map, run_arm
from course_lib.models.variants import STEMS, resnet18_stem

SETTINGS = Settings({
    "fast": dict(width=8, train=1_500, val=1_000, epochs=2, seeds=(0, 1, 2)),
    # the regime of regimes.TARGETS["stems"]["medium"] (stored: book/results/stems-medium.json, 20 runs)
    "medium": dict(width=8, train=20_000, val=5_000, epochs=10, seeds=[0, 1, 2, 3, 4]),
    "full": dict(width=64, train=None, val=5_000, epochs=30, seeds=(0, 1, 2)),
})
LABELS = {
    "imagenet": "ImageNet stem (7x7/2 + max-pool)",
    "imagenet_late_pool": "7x7/2, max-pool after stage 1",
    "imagenet_no_pool": "7x7/2, no max-pool",
    "cifar": "CIFAR stem (3x3/1)",
}
OPTIMIZER = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4)


@lru_cache(maxsize=None)
def _splits(scale: str, train: int | None, val: int):
    return split_loaders("fashion_mnist", batch_size=128, val_size=val, train_subset=train, resize=32,
                         channels=3, seed=0, device=device_for_scale(scale))


def _run_one(scale: str, s: dict[str, Any], task: tuple[str, int]) -> list[dict[str, Any]]:
    """One stem, one seed, at settings `s` (a module-level function, so that worker processes can run it)."""
    stem, seed = task
    splits = _splits(scale, s["train"], s["val"])
    return run_arm(partial(resnet18_stem, stem, width=s["width"]), splits.train, splits.val, seeds=[seed],
                   epochs=s["epochs"], train_eval_loader=splits.train, arm=LABELS[stem], **OPTIMIZER)


def run(scale: str) -> dict[str, Any]:
    """Each stem, every seed: validation accuracy per epoch, seconds, parameters.
    COURSE_EXPERIMENT_JOBS=N trains N runs at a time in separate processes (the same numbers, less wall time)."""
    s = SETTINGS[scale]
    splits = _splits(scale, s["train"], s["val"])
    tasks = [(stem, seed) for stem in STEMS for seed in s["seeds"]]
    arms: dict[str, list] = {LABELS[stem]: [] for stem in STEMS}
    for (stem, _), runs in zip(tasks, parallel_map(partial(_run_one, scale, s), tasks)):
        arms[LABELS[stem]].extend(runs)
    return {
        "data": f"Fashion-MNIST as 3x32x32, {splits.train.num_samples:,} training images, validation "
                f"{splits.val.num_samples:,} held out of the training split",
        "settings": {**{k: v for k, v in s.items() if k != "seeds"}, **OPTIMIZER, "schedule": "constant",
                     "batch_size": 128},
        "seeds": list(s["seeds"]), "epochs": s["epochs"], "arms": arms,
    }


COST_NOTES: dict[str, str] = {
    "CIFAR stem (3x3/1)": "the CIFAR stem keeps 32x32 maps into stage 1, 16 times the positions of the ImageNet "
                          "stem's 8x8; convolutions over larger maps do more multiply-adds per second, so the time "
                          "grows less than the multiply-adds.",
}


def cost_configs(scale: str) -> tuple[str, dict]:
    """Every stem's ResNet-18 on one real 3×32×32 training batch of `scale`, for `cost.section`."""
    s = SETTINGS[scale]
    splits = split_loaders("fashion_mnist", batch_size=128, val_size=s["val"], train_subset=s["train"], resize=32,
                           channels=3, seed=0)
    x, y = next(iter(splits.train))
    return LABELS["imagenet"], {LABELS[stem]: (partial(resnet18_stem, stem, width=s["width"]), x, y) for stem in STEMS}


def cost_lines(results: dict[str, Any]) -> list[str]:
    """Each stem's measured cost against the ImageNet stem's, beside the multiply-adds."""
    return cost.lines(results["measured_cost"])


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """Every other stem against the ImageNet stem, on final validation accuracy (points)."""
    arms = results["arms"]
    base = LABELS["imagenet"]
    acc = {name: [100 * v for v in column(runs, "eval_acc")] for name, runs in arms.items()}
    return {name: stats.compare(name, acc[name], base, acc[base]) for name in arms if name != base}


def verdict_sentences(results: dict[str, Any]) -> dict[str, str]:
    return {name: c.sentence(metric="validation accuracy") for name, c in verdicts(results).items()}
