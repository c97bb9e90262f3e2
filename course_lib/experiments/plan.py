"""What a scale would cost before it runs: ``python -m course_lib.experiments all --scale full --plan``.

Inside `planning()`, the experiments' training paths (`_training.run_arm`, `vgg_vs_inception.train_one`,
`notes_mnist_convnet._run`) record each (arm, seed) they would train instead of training it: the training
images it would see, the images it would evaluate, and the multiply-adds of one image (torchinfo). Nothing is
trained or stored. `estimate` turns that into minutes from two stated rates (the lab's baseline network's
training images per second, and the time of one step, which bounds small networks), so that a GPU session can
tell beforehand whether a scale fits its time; the figure is an estimate from the rates it is given, never a
measurement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from torch import nn

TRAINING_FACTOR = 3  # a training image costs about three forward passes (forward, and backward twice the work)
# The unit of `minutes`: one training image of the lab's baseline (resnet18_cifar, width 64, 3x32x32).
BASELINE_MACS = 555_432_330
# bench/train_gpu.py's target for that network on one H100 (the course's issue), not a measurement.
TARGET_IMAGES_PER_SECOND = 50_000
# Small networks are bound by steps, not arithmetic: an eager training step (forward, backward, optimiser: some
# hundred kernel launches from Python) takes about this long on a GPU whatever the network's size. An assumption.
STEP_MS = 2.0


@dataclass(frozen=True)
class Planned:
    """One (arm, seed) a run would train."""

    experiment: str
    arm: str
    seed: int
    steps: int          # optimiser steps
    train_images: int   # images seen in training: training set size times epochs (or steps times batch)
    eval_images: int    # images evaluated: validation each epoch, test and training-set passes at the end
    macs: int           # multiply-adds of one image

    @property
    def work(self) -> float:
        """Multiply-adds of the whole run, training counted three times a forward pass."""
        return self.macs * (TRAINING_FACTOR * self.train_images + self.eval_images)


_ACTIVE: list[Planned] | None = None
_EXPERIMENT = ""
_MACS: dict[tuple[str, tuple[int, ...]], int] = {}  # per planning block (one experiment at one scale): by arm, shape


def active() -> bool:
    """Whether the training paths should record instead of train."""
    return _ACTIVE is not None


@contextmanager
def planning(experiment: str) -> Iterator[list[Planned]]:
    """Record, into the list it yields, every run `experiment`'s `run` would train while the block runs."""
    global _ACTIVE, _EXPERIMENT, _MACS
    previous = _ACTIVE, _EXPERIMENT, _MACS
    _ACTIVE, _EXPERIMENT, _MACS = [], experiment, {}
    try:
        yield _ACTIVE
    finally:
        _ACTIVE, _EXPERIMENT, _MACS = previous


def images(loader: Any) -> int:
    """How many images one pass over `loader` reads (0 for None)."""
    return 0 if loader is None else int(loader.num_samples)


def record(arm: str, seed: int, model: nn.Module, image_shape: tuple[int, ...], steps: int, train_images: int,
           eval_images: int) -> None:
    """Note one run that `planning` stands in for; its multiply-adds are counted once per arm and input shape."""
    from course_lib.experiments.cost import multiply_adds

    key = (arm, tuple(image_shape))
    if key not in _MACS:
        _MACS[key] = multiply_adds(model, tuple(image_shape))
    _ACTIVE.append(Planned(_EXPERIMENT, arm, seed, steps, train_images, eval_images, _MACS[key]))


def placeholder(seed: int, epochs: int) -> dict[str, Any]:
    """A record in the shape the experiments' `run` functions collect, marked as planned, with no numbers."""
    return {"seed": seed, "planned": True, "train_loss": [None] * epochs, "eval_loss": [None] * epochs,
            "eval_acc": [None] * epochs, "test_acc": [None] * epochs, "final_test_acc": None, "seconds": None,
            "parameters": None, "provenance": {}, "cpu_seconds": None}


def minutes(work: float, images_per_second: float = TARGET_IMAGES_PER_SECOND) -> float:
    """Minutes for `work` multiply-adds at `images_per_second` training images of the lab's baseline."""
    return work / (TRAINING_FACTOR * BASELINE_MACS * images_per_second) / 60


def estimate(runs: list[Planned], images_per_second: float = TARGET_IMAGES_PER_SECOND,
             step_ms: float = STEP_MS) -> float:
    """Estimated minutes of `runs`: each run takes the longer of its arithmetic at `images_per_second` and its
    steps at `step_ms` each."""
    return sum(max(minutes(r.work, images_per_second), r.steps * step_ms / 60_000) for r in runs)


def table(planned: list[Planned], images_per_second: float = TARGET_IMAGES_PER_SECOND,
          step_ms: float = STEP_MS) -> list[str]:
    """One line per experiment (runs, steps, training images, multiply-adds, estimated minutes) and a total."""
    by_experiment: dict[str, list[Planned]] = {}
    for run in planned:
        by_experiment.setdefault(run.experiment, []).append(run)
    header = f"{'experiment':<20} {'runs':>5} {'steps':>10} {'training images':>16} {'multiply-adds':>14} {'minutes':>8}"
    lines = [header]
    for name, runs in [*by_experiment.items(), ("all", planned)]:
        lines.append(f"{name:<20} {len(runs):>5} {sum(r.steps for r in runs):>10,} "
                     f"{sum(r.train_images for r in runs):>16,} {sum(r.work for r in runs):>14.3g} "
                     f"{estimate(runs, images_per_second, step_ms):>8.1f}")
    lines.append(f"minutes: an estimate, not a measurement. Each run takes the longer of its multiply-adds at "
                 f"{images_per_second:,.0f} training images per second of the lab's baseline (resnet18_cifar width 64, "
                 f"32x32, {BASELINE_MACS / 1e6:.0f} M multiply-adds per image) and its steps at {step_ms:g} ms each.")
    return lines
