"""A reduced VGG-11 against a small GoogLeNet on the same data, with the same training budget, over seeds.

Both nets read Fashion-MNIST resized to 32×32 (one grey channel), train with Adam (lr 1e-3) on the same
class-balanced subset for the same number of epochs and batches, and are tested on the same images.
``run(scale)`` returns per-seed test accuracies, per-epoch curves, wall times, and each net's parameters
and multiply-adds; ``verdict`` writes the chapter's sentence from them, ``cost_sentence`` the size and
compute comparison. Chapter 5 trains the VGG arm live, chapter 6 both arms.

Scales: ``fast`` is the chapters' live run (2,048 images, 2 epochs, 3 seeds); ``medium`` (stored in book/results)
is the comparison's regime on a CPU: 30,000 training images for 10 epochs, tested on all 10,000 test images, from
five seeds; ``full`` (``COURSE_FULL=1`` or ``--scale full``, meant for a GPU) uses all 60,000 + 10,000 images for
15 epochs from five seeds. Each (net, seed) run is stored as it finishes (`runs.RunStore`), so the command line
resumes where it stopped, and the runs train in $COURSE_EXPERIMENT_JOBS worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import Any

import torch
from torch import nn

from course_lib.data import dataset_source, get_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import plan
from course_lib.experiments import runs as runs_store
from course_lib.experiments import stats
from course_lib.experiments._training import TRAINER_DEFAULTS, parallel_map
from course_lib.models.small import reduced_vgg11, small_googlenet
from course_lib.settings import chapter_scale
from course_lib.summary import summarize
from course_lib.train import Trainer

ARCHS: dict[str, Callable[[], nn.Module]] = {"VGG": reduced_vgg11, "GoogLeNet": small_googlenet}
ARCH_LABELS = {"VGG": "the reduced VGG-11", "GoogLeNet": "the small GoogLeNet"}
SETTINGS = Settings({
    # images per split, epochs, batch size, seeds
    "fast": {"train": 2048, "test": 1000, "epochs": 2, "batch_size": 64, "seeds": [0, 1, 2]},
    "medium": {"train": 30_000, "test": 10_000, "epochs": 10, "batch_size": 64, "seeds": [0, 1, 2, 3, 4]},
    "full": {"train": None, "test": None, "epochs": 15, "batch_size": 128, "seeds": [0, 1, 2, 3, 4]},
})
IMAGE_SIZE = 32


def scale_for_chapter() -> str:
    """The scale a chapter runs live: full under COURSE_FULL=1, else fast (`settings.chapter_scale`)."""
    return chapter_scale()


def loaders(scale: str) -> tuple[Any, Any]:
    """The shared train and test loaders of ``scale``: Fashion-MNIST at 32×32, one channel, subsets fixed by seed 0."""
    s = SETTINGS[scale]
    return _cached_loaders(scale, s["batch_size"], s["train"], s["test"])


@lru_cache(maxsize=None)
def _cached_loaders(scale: str, batch_size: int, train: int | None, test: int | None) -> tuple[Any, Any]:
    return get_loaders("fashion_mnist", batch_size=batch_size, resize=IMAGE_SIZE, train_subset=train,
                       test_subset=test, seed=0, device=device_for_scale(scale))


def describe(scale: str, train: Any, test: Any) -> str:
    """'2 epochs on 2,048 Fashion-MNIST training images at 32×32 (...), tested on 1,000' for the page."""
    s = SETTINGS[scale]
    return (f"{s['epochs']} epochs (batches of {s['batch_size']}, Adam lr 1e-3) on {train.num_samples:,} "
            f"Fashion-MNIST training images resized to {IMAGE_SIZE}×{IMAGE_SIZE}, tested on {test.num_samples:,} "
            f"({dataset_source('fashion_mnist')})")


def cost(arch: str) -> dict[str, int]:
    """Parameters and multiply-adds of one 1×32×32 image."""
    model = ARCHS[arch]()
    info = summarize(model, (1, 1, IMAGE_SIZE, IMAGE_SIZE))
    return {"params": sum(p.numel() for p in model.parameters()), "macs": int(info.total_mult_adds)}


def train_one(arch: str, seed: int, scale: str, data: tuple[Any, Any]) -> dict[str, Any]:
    """Train ``arch`` from ``seed`` at ``scale`` on ``data``; test accuracy per epoch (percent) and seconds.

    While a `runs.RunStore` is active (the command line opens one), a run already stored is loaded instead of
    trained, and a run trained is written the moment it ends, with its provenance (CPU seconds included)."""
    run_store = runs_store.active()
    if run_store is not None and (stored := run_store.get(arch, seed)) is not None:
        return stored
    epochs = SETTINGS[scale]["epochs"]
    if plan.active():   # `--plan`: note what this run would cost, train nothing
        x, _ = next(iter(data[0]))
        plan.record(arch, seed, ARCHS[arch](), tuple(x.shape[1:]), len(data[0]) * epochs,
                    plan.images(data[0]) * epochs, plan.images(data[1]) * epochs)
        return plan.placeholder(seed, epochs)
    meter = runs_store.Meter(run_store.commit if run_store else None)
    torch.manual_seed(seed)
    model = ARCHS[arch]()
    trainer = Trainer(model, optimizer="adam", lr=1e-3, seed=seed, progress=False,
                      device=device_for_scale(scale), **TRAINER_DEFAULTS)
    started = time.perf_counter()
    history = trainer.fit(data[0], data[1], epochs=epochs)
    record = {
        "seed": seed,
        "test_acc": [round(100 * a, 2) for a in history.test_acc],
        "train_loss": [round(v, 4) for v in history.train_loss],
        "final_test_acc": round(100 * history.test_acc[-1], 2),
        "seconds": round(time.perf_counter() - started, 1),
    }
    record["provenance"] = meter.provenance()
    record["cpu_seconds"] = record["provenance"]["cpu_seconds"]
    if run_store is not None:
        run_store.put(arch, seed, record)
    return record


def _train_key(scale: str, key: tuple[str, int]) -> dict[str, Any]:
    """One (arch, seed) run on the scale's shared loaders (module level, so worker processes can run it)."""
    arch, seed = key
    return train_one(arch, seed, scale, loaders(scale))


def run(scale: str, archs: Sequence[str] = tuple(ARCHS)) -> dict[str, Any]:
    """Every arch over every seed at ``scale``, on one shared pair of loaders."""
    if scale not in SETTINGS:
        raise ValueError(f"scale must be one of {sorted(SETTINGS)}, got {scale!r}")
    unknown = [a for a in archs if a not in ARCHS]
    if unknown:
        raise ValueError(f"unknown architectures {unknown}; choose from {list(ARCHS)}")
    data = loaders(scale)  # built before the workers fork, which then share it
    setting = SETTINGS[scale]
    keys = [(arch, seed) for arch in archs for seed in setting["seeds"]]
    records = dict(zip(keys, parallel_map(partial(_train_key, scale), keys)))
    return {
        "data": describe(scale, *data),
        "settings": {key: value for key, value in setting.items() if key != "seeds"},
        "epochs": setting["epochs"],
        "batch_size": setting["batch_size"],
        "seeds": setting["seeds"],
        "cost": {arch: cost(arch) for arch in archs},
        "arms": {arch: [records[(arch, seed)] for seed in setting["seeds"]] for arch in archs},
    }


# --------------------------------------------------------------------------------------------------
# Verdicts: the chapters' sentences, computed from the numbers
# --------------------------------------------------------------------------------------------------


def finals(results: dict[str, Any], arch: str) -> list[float]:
    """Final test accuracy (percent) of ``arch`` per seed."""
    return [r["final_test_acc"] for r in results["arms"][arch]]


def verdict(results: dict[str, Any]) -> str:
    """Which net ends with the higher test accuracy, or that the gap is within seed noise."""
    comparison = stats.compare(ARCH_LABELS["GoogLeNet"], finals(results, "GoogLeNet"),
                               ARCH_LABELS["VGG"], finals(results, "VGG"))
    text = comparison.sentence(metric="test accuracy", unit=" points")
    return text[0].upper() + text[1:]


COST_NOTES: dict[str, str] = {
    "GoogLeNet": "multiply-adds count only convolutions and linear layers; the small GoogLeNet spends more of its "
                 "time outside them (concatenations, pooling branches, activations over many narrow branches), and "
                 "its many narrow 1x1 and 3x3 convolutions do fewer multiply-adds per second than the VGG's wider ones.",
}


def cost_configs(scale: str) -> tuple[str, dict]:
    """Both nets on one real training batch of `scale`, for `cost.section`."""
    x, y = next(iter(loaders(scale)[0]))
    return "VGG", {arch: (make, x, y) for arch, make in ARCHS.items()}


def cost_sentence(results: dict[str, Any]) -> str:
    """Parameters and multiply-adds of the two nets as ratios, and their time: the CPU time per training image
    measured one net at a time where the results have it (`measured_cost`), else this run's wall seconds."""
    vgg, inc = results["cost"]["VGG"], results["cost"]["GoogLeNet"]
    measured = results.get("measured_cost")
    if measured:
        t_vgg, t_inc = (measured["arms"][a]["cpu_ms_per_image"] for a in ("VGG", "GoogLeNet"))
        unit, per = "ms of CPU per training image", "per training image (measured one net at a time)"
    else:
        t_vgg, _ = stats.mean_sd([r["seconds"] for r in results["arms"]["VGG"]])
        t_inc, _ = stats.mean_sd([r["seconds"] for r in results["arms"]["GoogLeNet"]])
        unit, per = "s", "per run here (wall time, on a machine that may be shared)"
    params = vgg["params"] / inc["params"]
    macs = inc["macs"] / vgg["macs"]
    macs_words = (f"{1 - macs:.0%} fewer multiply-adds per image" if macs < 1
                  else f"{macs:.1f} times the multiply-adds per image")
    slower = t_inc / t_vgg
    time_words = (f"takes {slower:.1f} times as long {per}" if slower >= 1
                  else f"takes {1 / slower:.1f} times less time {per}")
    digits = 2 if measured else 0
    note = (measured or {}).get("notes", {}).get("GoogLeNet")
    why = f" Why time and multiply-adds differ: {note}" if note else ""
    return (f"The small GoogLeNet has {params:.0f} times fewer parameters ({inc['params']:,} against "
            f"{vgg['params']:,}), does {macs_words} ({inc['macs'] / 1e6:.1f} M against "
            f"{vgg['macs'] / 1e6:.1f} M), and {time_words} ({t_inc:.{digits}f} {unit} against "
            f"{t_vgg:.{digits}f} {unit}).{why}")
