"""Hooks the Trainer calls at fixed points of a run; behaviour is added by passing callbacks, not flags."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from course_lib.train.history import History
    from course_lib.train.trainer import Trainer


class Callback:
    """Base class: override the hooks you need. `trainer.stop_training = True` ends the run after this epoch."""

    def on_fit_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...

    def on_batch_end(self, trainer: Trainer, step: int, loss: torch.Tensor) -> None: ...

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict) -> None: ...

    def on_fit_end(self, trainer: Trainer, history: History) -> None: ...


class Checkpoint(Callback):
    """Save a checkpoint every `every` epochs (and after the last), so an interrupted run can resume."""

    def __init__(self, path: str | Path, every: int = 1):
        self.path, self.every = Path(path), every

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        if trainer.epoch % self.every == 0 or trainer.stop_training:
            trainer.save_checkpoint(self.path)

    def on_fit_end(self, trainer: Trainer, history: History) -> None:
        trainer.save_checkpoint(self.path)


class StopAfter(Callback):
    """End the run once `epochs` epochs are done (in total), as if it had been interrupted there."""

    def __init__(self, epochs: int):
        self.epochs = epochs

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        if trainer.epoch >= self.epochs:
            trainer.stop_training = True


class EarlyStopping(Callback):
    """Stop when `monitor` (e.g. "test_acc", "test_loss") has not improved for `patience` epochs."""

    def __init__(self, monitor: str = "test_loss", patience: int = 3, min_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.sign = -1.0 if monitor.endswith("loss") else 1.0
        self.best, self.waited = -math.inf, 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        score = self.sign * metrics[self.monitor]
        if score > self.best + self.min_delta:
            self.best, self.waited = score, 0
        else:
            self.waited += 1
            trainer.stop_training = self.waited >= self.patience


class PrintMetrics(Callback):
    """One line per epoch on standard output (the command-line runner uses it; notebooks have progress bars)."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, metrics: dict) -> None:
        if trainer.is_main_process:
            print(format_metrics(trainer.epoch, trainer.planned_epochs, metrics), flush=True)


def format_metrics(epoch: int, epochs: int, metrics: dict) -> str:
    """`epoch 2/5 train_loss 0.4123 train_acc 0.8512 test_loss ... lr ... 12.3 s 4,870 img/s` as one line."""
    parts = [f"epoch {epoch}/{epochs}"]
    for key in ("train_loss", "train_acc", "test_loss", "test_acc"):
        value = metrics.get(key)
        if value is not None and value == value:
            parts.append(f"{key} {value:.4f}")
    parts.append(f"lr {metrics['lr']:.3g}")
    parts.append(f"{metrics['seconds']:.1f} s")
    parts.append(f"{metrics['images_per_second']:,.0f} img/s")
    return " ".join(parts)
