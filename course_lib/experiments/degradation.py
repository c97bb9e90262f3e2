"""Degradation (ResNet paper, He et al. 2016, §4.2): plain and residual CIFAR-style networks at two depths,
trained the same way; does the deeper plain net fit its *training* images worse, and does the residual one not?

Data: Fashion-MNIST (28×28 grey, the machine has no CIFAR-10), a class-balanced training subset and a
validation set held out of the training split. Nets: `course_lib.models.variants.cifar_net`.
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from course_lib.data import split_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import stats
from course_lib.experiments._training import column, loss_sentence, parallel_map, run_arm
from course_lib.models.variants import cifar_net
from course_lib.train import cosine

# "schedule": the chapter's live run keeps a constant rate (3 short epochs); the stored scales anneal it with a
# cosine, a smooth form of the paper's two tenfold drops, so that their final numbers are not the noise of a
# rate still at 0.05 (the first stored run, 4,000 images for 6 epochs at a constant rate, ended at 70-82 %).
SETTINGS = Settings({
    "fast": dict(depths=(1, 5), width=8, train=600, val=300, epochs=3, batch=32, seeds=(0, 1, 2), schedule="constant"),
    "medium": dict(depths=(1, 5), width=8, train=10_000, val=5_000, epochs=12, batch=64, seeds=[0, 1, 2, 3, 4],
                   schedule="cosine"),
    "full": dict(depths=(3, 9), width=16, train=None, val=5_000, epochs=40, batch=128, seeds=(0, 1, 2),
                 schedule="cosine"),
})
OPTIMIZER = dict(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4)
SCHEDULES = {"constant": lambda: None, "cosine": cosine}


def arm_name(n: int, residual: bool) -> str:
    return f"{'residual' if residual else 'plain'}-{6 * n + 2}"


@lru_cache(maxsize=None)
def _splits(scale: str):
    s = SETTINGS[scale]
    return split_loaders("fashion_mnist", batch_size=s["batch"], val_size=s["val"], train_subset=s["train"], seed=0,
                         device=device_for_scale(scale))


def _run(scale: str, key: tuple[int, bool, int]) -> list[dict[str, Any]]:
    n, residual, seed = key
    s, splits = SETTINGS[scale], _splits(scale)
    return run_arm(lambda: cifar_net(n, residual=residual, width=s["width"]), splits.train, splits.val,
                   seeds=[seed], epochs=s["epochs"], train_eval_loader=splits.train, step_points=60, arm=arm_name(n, residual),
                   schedule=SCHEDULES[s.get("schedule", "constant")](), **OPTIMIZER)


def run(scale: str) -> dict[str, Any]:
    """Train plain and residual nets at both depths, every seed; per-epoch training loss and final numbers."""
    s, splits = SETTINGS[scale], _splits(scale)
    keys = [(n, residual, seed) for n in s["depths"] for residual in (False, True) for seed in s["seeds"]]
    arms: dict[str, list] = {}
    for (n, residual, _), runs in zip(keys, parallel_map(partial(_run, scale), keys)):
        arms.setdefault(arm_name(n, residual), []).extend(runs)
    return {
        "data": f"Fashion-MNIST 28x28, {splits.train.num_samples:,} training images, validation "
                f"{splits.val.num_samples:,} held out of the training split",
        "settings": {**{k: v for k, v in s.items() if k != "seeds"}, **OPTIMIZER},
        "seeds": list(s["seeds"]), "epochs": s["epochs"], "arms": arms,
    }


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """Comparisons on the training loss of the last epoch (the mean over its steps, as the paper's curves
    show training error during training; lower is better)."""
    names = list(results["arms"])
    shallow_plain, shallow_res, deep_plain, deep_res = names
    loss = {name: column(runs, "train_loss") for name, runs in results["arms"].items()}
    return {
        "plain: deep vs shallow": stats.compare(deep_plain, loss[deep_plain], shallow_plain, loss[shallow_plain]),
        "residual: deep vs shallow": stats.compare(deep_res, loss[deep_res], shallow_res, loss[shallow_res]),
        "deep: plain vs residual": stats.compare(deep_plain, loss[deep_plain], deep_res, loss[deep_res]),
    }


def verdict_sentences(results: dict[str, Any]) -> list[str]:
    """The chapter's sentences, one per comparison, written from the numbers."""
    return [loss_sentence(c, "final training loss") for c in verdicts(results).values()]


def degradation_shown(results: dict[str, Any]) -> bool:
    """True when the deep plain net fits worse than the shallow plain net *and* the deep residual net, beyond noise."""
    v = verdicts(results)
    deep = v["plain: deep vs shallow"]
    versus = v["deep: plain vs residual"]
    return deep.separated and deep.diff > 0 and versus.separated and versus.diff > 0
