"""The training lab (chapter 10): the standard CIFAR recipe for ResNet-18, then one change at a time.

Recipe (He et al. 2016 §4.2, as commonly run for the CIFAR ResNet-18): SGD with momentum 0.9, weight decay
5·10⁻⁴, a cosine schedule, random 32×32 crops of the image padded by 4 and random horizontal flips.
Choices are read on a validation set held out of the training split; the test set is evaluated once per
run at the end, for the final report only. Data: Fashion-MNIST as 3×32×32 (the machine has no CIFAR-10).
`python -m course_lib.experiments resolution` runs the 80×80 comparison with the same recipe.
COURSE_EXPERIMENT_JOBS=N trains N runs at a time in separate processes (the same numbers, less wall time).
"""

from __future__ import annotations

from functools import lru_cache, partial
from typing import Any

from course_lib.data import BatchCropFlip, TensorBatchLoader, split_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import cost, stats
from course_lib.experiments._training import column, parallel_map, run_arm
from course_lib.models import resnet18_cifar
from course_lib.train import constant, cosine, linear_decay

SETTINGS = Settings({
    "tiny": dict(width=8, train=200, val=100, test=100, epochs=1, batch=64, lr=0.05, seeds=(0, 1),
                 arms=("baseline", "width x2")),
    "fast": dict(width=8, train=600, val=500, test=500, epochs=2, batch=64, lr=0.05, seeds=(0, 1, 2),
                 arms=("baseline", "no augmentation", "Adam", "no BatchNorm")),
    # the regime of regimes.TARGETS["lab"]["medium"]: 5,000 training images for 20 epochs, where the network
    # without augmentation fits its training set (stored: book/results/lab-medium.json, 45 runs)
    "medium": dict(width=8, train=5_000, val=5_000, test=10_000, epochs=20, batch=64, lr=0.05,
                   seeds=[0, 1, 2, 3, 4], arms=None),
    "full": dict(width=64, train=None, val=5_000, test=None, epochs=30, batch=128, lr=0.1, seeds=(0, 1, 2),
                 arms=None),
})
SCHEDULES = {"cosine": cosine, "constant": constant, "linear decay to 1%": lambda: linear_decay(final=0.01)}
RECIPE = dict(optimizer="sgd", momentum=0.9, weight_decay=5e-4, schedule="cosine", augment=True, batch_norm=True,
              width_factor=1.0, resolution=32)
CHANGES: dict[str, dict[str, Any]] = {
    "baseline": {},
    "no augmentation": {"augment": False},
    "no weight decay": {"weight_decay": 0.0},
    "Adam": {"optimizer": "adam", "lr": 1e-3},
    "constant lr": {"schedule": "constant"},
    "linear decay": {"schedule": "linear decay to 1%"},
    "width x0.5": {"width_factor": 0.5},
    "width x2": {"width_factor": 2.0},
    "no BatchNorm": {"batch_norm": False},
}


def configuration(scale: str, arm: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The recipe with one arm's change applied (learning rate from the scale unless the arm sets its own).

    `settings` are the scale's settings of the experiment that runs the recipe (default: the lab's own)."""
    s = settings or SETTINGS[scale]
    return {**RECIPE, "lr": s["lr"], **CHANGES.get(arm, {})}


def _splits(scale: str, s: dict[str, Any], side: int, augment: bool):
    """The fixed train/validation/test split of settings `s` at `side` pixels (built once per process)."""
    return _cached_splits(scale, s["batch"], s["val"], s["train"], s["test"], side, augment)


@lru_cache(maxsize=None)
def _cached_splits(scale: str, batch: int, val: int, train: int | None, test: int | None, side: int, augment: bool):
    return split_loaders("fashion_mnist", batch_size=batch, val_size=val, train_subset=train,
                         test_subset=test, resize=side, channels=3,
                         augment=BatchCropFlip(side, padding=side // 8) if augment else None, seed=0,
                         device=device_for_scale(scale))


def _width(s: dict[str, Any], config: dict[str, Any]) -> int:
    return max(1, round(s["width"] * config["width_factor"]))


# oneDNN's AVX-512 kernel for the weight gradient of a 1×1 stride-2 convolution with 8 input channels on a
# channels_last input of 48×48 pixels or more corrupts the heap and kills the process (torch 2.14.1 on an
# AVX-512 CPU, reproduced with one nn.Conv2d(8, 16, 1, stride=2); bench/README.md, "A oneDNN crash"). The lab's
# ResNet-18 has that layer at width 8 on the 80×80 inputs of `resolution`, so inputs larger than 32×32 train in
# the default layout. Their cost is unaffected: cost.py times every configuration in the default layout.
CHANNELS_LAST_UP_TO_SIDE = 32


def _layout(side: int) -> dict[str, Any]:
    """The trainer's layout option for inputs of `side` pixels (see CHANNELS_LAST_UP_TO_SIDE)."""
    return {} if side <= CHANNELS_LAST_UP_TO_SIDE else {"channels_last": False}


def _run_one(scale: str, s: dict[str, Any], task: tuple[str, dict[str, Any], int]) -> list[dict[str, Any]]:
    """One named configuration, one seed, at settings `s`."""
    name, config, seed = task
    splits = _splits(scale, s, config["resolution"], config["augment"])
    train_eval = TensorBatchLoader(splits.train.images, splits.train.targets, 2 * s["batch"],
                                   transform=splits.val.transform, device=splits.train.device)  # not augmented
    width = _width(s, config)
    return run_arm(
        lambda: resnet18_cifar(num_classes=10, in_channels=3, width=width, batch_norm=config["batch_norm"]),
        splits.train, splits.val, seeds=[seed], epochs=s["epochs"], test_loader=splits.test,
        train_eval_loader=train_eval, step_points=40, arm=name, optimizer=config["optimizer"], lr=config["lr"],
        momentum=config["momentum"], weight_decay=config["weight_decay"], schedule=SCHEDULES[config["schedule"]](),
        **_layout(config["resolution"]))


def run_configurations(scale: str, arms: dict[str, dict[str, Any]],
                       settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train each named configuration over the seeds of `settings` (default: the lab's at `scale`) on one fixed
    train/validation/test split."""
    s = settings or SETTINGS[scale]
    tasks = [(name, config, seed) for name, config in arms.items() for seed in s["seeds"]]
    done = parallel_map(partial(_run_one, scale, s), tasks)
    results: dict[str, list] = {}
    for (name, _, _), runs in zip(tasks, done):
        results.setdefault(name, []).extend(runs)
    configurations = {name: {**config, "width": _width(s, config)} for name, config in arms.items()}
    any_split = _splits(scale, s, 32, True)
    return {
        "data": f"Fashion-MNIST as 3x32x32 (no CIFAR-10 offline): {any_split.train.num_samples:,} training images, "
                f"validation {any_split.val.num_samples:,} held out of the training split, test "
                f"{any_split.test.num_samples:,} from the test split",
        "settings": {**{k: v for k, v in s.items() if k not in ("seeds", "arms")},
                     "augmentation": "crop_flip's distribution drawn for the whole batch at once (BatchCropFlip)"},
        "seeds": list(s["seeds"]), "epochs": s["epochs"], "configurations": configurations, "arms": results,
    }


def run(scale: str) -> dict[str, Any]:
    """The recipe and its one-change variants (at fast scale only the chapter's live subset)."""
    names = SETTINGS[scale]["arms"] or tuple(CHANGES)
    return run_configurations(scale, {name: configuration(scale, name) for name in names})


COST_ARMS = ("baseline", "width x0.5", "width x2")
COST_NOTES: dict[str, str] = {
    "width x0.5": "halving the width quarters the multiply-adds, but with 4 to 32 channels per layer the "
                  "convolution kernels do fewer multiply-adds per second than with 8 to 64, so the time falls by less; "
                  "the time is not going elsewhere (the kernels' share of it stays about the same).",
}


def cost_configs(scale: str, arms=COST_ARMS, reference: str = "baseline", side: int = 32,
                 settings: dict[str, Any] | None = None) -> tuple[str, dict]:
    """(reference, {arm: (make_model, a real training batch, its labels)}) for `cost.section`."""
    s = settings or SETTINGS[scale]
    x, y = next(iter(_splits(scale, s, side, True).train))
    configs = {}
    for name in arms:
        config = configuration(scale, name, s)
        configs[name] = (partial(resnet18_cifar, num_classes=10, in_channels=3, width=_width(s, config),
                                 batch_norm=config["batch_norm"]), x, y)
    return reference, configs


def cost_lines(results: dict[str, Any]) -> list[str]:
    """The measured cost of the width arms against the baseline, beside their multiply-adds."""
    return cost.lines(results["measured_cost"])


def val_points(runs) -> list[float]:
    return [100 * v for v in column(runs, "eval_acc")]


def verdicts(results: dict[str, Any], baseline: str = "baseline") -> dict[str, stats.Comparison]:
    """Every arm against the baseline, on final validation accuracy (points)."""
    arms = results["arms"]
    return {name: stats.compare(name, val_points(runs), baseline, val_points(arms[baseline]))
            for name, runs in arms.items() if name != baseline}


def verdict_sentences(results: dict[str, Any], baseline: str = "baseline") -> dict[str, str]:
    return {name: c.sentence(metric="validation accuracy") for name, c in verdicts(results, baseline).items()}


def chosen(results: dict[str, Any]) -> str:
    """The configuration with the best mean validation accuracy: the one whose test accuracy is reported."""
    arms = results["arms"]
    return max(arms, key=lambda name: stats.mean_sd(val_points(arms[name]))[0])


def final_report(results: dict[str, Any]) -> str:
    """'Chosen on validation: X; its test accuracy: m ± sd % (n seeds).' The test set is read only here."""
    name = chosen(results)
    test = [100 * v for v in column(results["arms"][name], "test_acc")]
    return (f"Chosen on validation accuracy: {name}. Its test accuracy, measured once per seed at the end: "
            f"{stats.spread(test, unit=' %')}.")
