"""`transforms.Normalize` measured (chapter 10): the same network trained on raw [0, 1] pixels, on
Normalize(0.5, 0.5) (which maps [0, 1] to [-1, 1]) and on Normalize(mean, std) of the training set
(zero mean, unit variance), several seeds each.

The network has no BatchNorm (chapter 7's small VGG with a He-initialised head), since a BN layer right
after the first convolution would undo most of the input's scale anyway. Data: Fashion-MNIST 28×28, a
training subset and a validation set held out of the training split.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from course_lib.data import DATASETS, BatchTransform, split_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import stats
from course_lib.experiments._training import column, run_arm
from course_lib.experiments.batchnorm import small_vgg

SETTINGS = Settings({
    "fast": dict(train=2_000, val=1_000, epochs=2, seeds=(0, 1, 2)),
    "medium": dict(train=20_000, val=5_000, epochs=8, seeds=(0, 1, 2, 3, 4)),  # the regime (regimes.py)
    "full": dict(train=None, val=5_000, epochs=15, seeds=(0, 1, 2, 3, 4)),
})
ARMS = ("none: pixels in [0, 1]", "Normalize(0.5, 0.5): [-1, 1]", "Normalize(mean, std)")
LR = 0.05


def transform_for(arm: str) -> BatchTransform:
    """The batch pipeline of one arm: no normalisation, (x - 0.5) / 0.5, or (x - mean) / std."""
    info = DATASETS["fashion_mnist"]
    if arm == ARMS[0]:
        return BatchTransform(info, normalize=False)
    if arm == ARMS[1]:
        return BatchTransform(dataclasses.replace(info, mean=(0.5,), std=(0.5,)))
    return BatchTransform(info)


def run(scale: str) -> dict[str, Any]:
    """All three input pipelines, every seed, the same images and network."""
    s = SETTINGS[scale]
    splits = split_loaders("fashion_mnist", batch_size=128, val_size=s["val"], train_subset=s["train"], seed=0,
                         device=device_for_scale(scale))
    arms = {}
    for arm in ARMS:
        splits.train.transform = splits.val.transform = transform_for(arm)
        arms[arm] = run_arm(lambda: small_vgg("no BN, He-init head"), splits.train, splits.val, seeds=s["seeds"],
                            epochs=s["epochs"], optimizer="sgd", lr=LR, momentum=0.9, arm=arm)
    return {
        "data": f"Fashion-MNIST 28x28, {splits.train.num_samples:,} training images, validation "
                f"{splits.val.num_samples:,} held out of the training split",
        "settings": {"train": s["train"], "val": s["val"], "model": "small VGG without BN, He-initialised head",
                     "optimizer": f"SGD, lr {LR}, momentum 0.9", "batch_size": 128},
        "seeds": list(s["seeds"]), "epochs": s["epochs"], "arms": arms,
    }


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """Mean/std normalisation against each of the other two, on validation accuracy after epoch 1 and at the end."""
    arms = results["arms"]

    def acc(arm, epoch):
        return [100 * v for v in column(arms[arm], "eval_acc", epoch)]

    out = {}
    for other in ARMS[:2]:
        for epoch, when in ((0, "after one epoch"), (-1, "at the end")):
            out[f"{ARMS[2]} vs {other}, {when}"] = stats.compare(ARMS[2], acc(ARMS[2], epoch), other, acc(other, epoch))
    return out


def verdict_sentences(results: dict[str, Any]) -> dict[str, str]:
    return {key: c.sentence(metric=f"validation accuracy {key.rsplit(', ', 1)[1]}")
            for key, c in verdicts(results).items()}
