"""Shared by the experiment modules: train one configuration ("arm") over several seeds and record, per
seed, the per-epoch curves and the final numbers that the chapters and their verdicts read."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
from torch import nn

from course_lib.experiments import plan
from course_lib.experiments import runs as runs_store
from course_lib.train import Callback, Trainer


# Trainer options every experiment uses unless it says otherwise (an experiment's own options win).
# channels_last: 25-45 % less time per fast-scale run on one CPU thread, and the GPU's preferred layout
# (bench/README.md, "channels_last in the chapters' live runs").
TRAINER_DEFAULTS: dict[str, Any] = {"channels_last": True}


class LossPerStep(Callback):
    """Records the training loss of every optimiser step."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, trainer, step, loss) -> None:
        self.losses.append(loss.item())


def thin(values: Sequence[float], points: int = 100) -> list[float]:
    """At most `points` means of consecutive chunks: a step-loss curve small enough to store."""
    if len(values) <= points:
        return [float(v) for v in values]
    edges = [round(i * len(values) / points) for i in range(points + 1)]
    return [float(sum(values[a:b]) / (b - a)) for a, b in zip(edges, edges[1:])]


def _finite(x: float) -> float | None:
    return float(x) if x == x and abs(x) != float("inf") else None  # JSON has no NaN


def run_arm(
    make_model: Callable[[], nn.Module],
    train_loader: Any,
    eval_loader: Iterable,
    *,
    seeds: Sequence[int],
    epochs: int,
    test_loader: Iterable | None = None,
    train_eval_loader: Iterable | None = None,
    step_points: int = 0,
    arm: str | None = None,
    **trainer_options: Any,
) -> list[dict[str, Any]]:
    """Train a fresh `make_model()` once per seed; per seed: curves per epoch and final numbers.

    The seed sets the initial weights and the batch order (the images are the same for every seed).
    `eval_loader` is evaluated after every epoch (validation); `test_loader`, when given, once at the end;
    `train_eval_loader`, when given, measures training accuracy in eval mode at the end.

    `arm` names the configuration for the resumable runner: while a `runs.RunStore` is active (the command
    line opens one), a seed already stored under that name is loaded instead of trained, and each seed
    trained is written the moment it ends, with its provenance (commit, device, threads, wall and CPU
    seconds, load average at start).
    """
    trainer_options = {**TRAINER_DEFAULTS, **trainer_options}
    trainer_options.setdefault("device", getattr(train_loader, "device", None))  # train where the data lives
    run_store = runs_store.active() if arm is not None else None
    runs = []
    for seed in seeds:
        if run_store is not None and (stored := run_store.get(arm, seed)) is not None:
            runs.append(stored)
            continue
        if plan.active():   # `--plan`: note what this run would cost, train nothing
            x, _ = next(iter(train_loader))
            evaluated = plan.images(eval_loader) * epochs + plan.images(test_loader) + plan.images(train_eval_loader)
            plan.record(arm or "", seed, make_model(), tuple(x.shape[1:]), len(train_loader) * epochs,
                        plan.images(train_loader) * epochs, evaluated)
            runs.append(plan.placeholder(seed, epochs))
            continue
        meter = runs_store.Meter(run_store.commit if run_store else None)
        if hasattr(train_loader, "seed"):
            train_loader.seed = seed
        torch.manual_seed(seed)
        model = make_model()
        steps = LossPerStep()
        trainer = Trainer(model, seed=seed, progress=False, callbacks=[steps], **trainer_options)
        start = time.perf_counter()
        history = trainer.fit(train_loader, eval_loader, epochs)
        record: dict[str, Any] = {
            "seed": seed,
            "train_loss": [_finite(v) for v in history.train_loss],
            "eval_loss": [_finite(v) for v in history.test_loss],
            "eval_acc": [float(v) for v in history.test_acc],
        }
        if train_eval_loader is not None:
            train = trainer.evaluate(train_eval_loader)
            record["train_acc_eval"], record["train_loss_eval"] = float(train["acc"]), _finite(train["loss"])
        if test_loader is not None:
            test = trainer.evaluate(test_loader)
            record["test_acc"], record["test_loss"] = float(test["acc"]), _finite(test["loss"])
        if step_points:
            record["step_loss"] = [_finite(v) for v in thin(steps.losses, step_points)]
        record["seconds"] = round(time.perf_counter() - start, 2)
        record["parameters"] = sum(p.numel() for p in model.parameters())
        record["provenance"] = meter.provenance()
        record["cpu_seconds"] = record["provenance"]["cpu_seconds"]
        if run_store is not None:
            run_store.put(arm, seed, record)
        runs.append(record)
    return runs


def loss_sentence(comparison, metric: str) -> str:
    """`Comparison.sentence` for losses (lower is better), with three decimals instead of one."""
    return comparison.sentence(metric, unit="", higher_is_better=False, digits=3)


JOBS_ENV = "COURSE_EXPERIMENT_JOBS"


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """`[fn(item) for item in items]`, in $COURSE_EXPERIMENT_JOBS worker processes when it is above 1.

    Every run seeds itself (weights, batch order, augmentation), so the numbers are the same whatever the
    number of workers; only the wall time changes. `fn` must be picklable (a module-level function or a
    functools.partial of one).
    """
    jobs = int(os.environ.get(JOBS_ENV, "1") or 1)
    if jobs <= 1 or len(items) <= 1 or plan.active():   # a plan is counted in this process, not in workers
        return [fn(item) for item in items]
    with ProcessPoolExecutor(min(jobs, len(items)), mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(fn, items))


def column(runs: Sequence[dict[str, Any]], key: str, epoch: int = -1) -> list[float]:
    """One number per seed: `key` itself, or its value at `epoch` when it is a per-epoch list (NaN for None)."""
    values = []
    for run in runs:
        value = run[key]
        if isinstance(value, list):
            value = value[epoch]
        values.append(float("nan") if value is None else float(value))
    return values
