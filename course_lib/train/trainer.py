"""The Trainer: `fit`, `evaluate`, `predict`, checkpoints; fast defaults on a GPU, exact and simple on a CPU.

Under torchrun the same Trainer runs data-parallel (DDP): metrics are summed over ranks, and only rank 0
shows progress and writes checkpoints.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from course_lib.train import distributed as dist_utils
from course_lib.train.callbacks import Callback, Checkpoint
from course_lib.device import autocast, rng_state, seed_everything, select_device, set_rng_state
from course_lib.train.history import History
from course_lib.train.schedules import ScheduleSpec, build_scheduler, last_step

OPTIMIZERS = ("sgd", "adam", "adamw")
CHECKPOINT_FORMAT = 1


def make_optimizer(
    name: str, parameters: Iterable[nn.Parameter], *, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, nesterov: bool = False
) -> torch.optim.Optimizer:
    """SGD (with momentum, weight decay, optional Nesterov), Adam or AdamW, by name."""
    key = name.lower()
    if key == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov and momentum > 0)
    if key == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def _set_epoch(loader: object, epoch: int) -> None:
    """Tell a loader (or its sampler) which epoch starts, so shuffling depends only on (seed, epoch)."""
    for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        if owner is not None and hasattr(owner, "set_epoch"):
            owner.set_epoch(epoch)
            return


def _split_batch(batch: object) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, (list, tuple)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


class Trainer:
    """Train and evaluate a classifier: `fit(train_loader, test_loader, epochs)` returns a `History`.

    amp: bf16 autocast on CUDA (ignored elsewhere: the CPU trains in fp32). channels_last and compile are
    opt-in speed-ups. `epochs` in `fit` counts the whole run, so after `load_checkpoint` the same call resumes.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        optimizer: str | torch.optim.Optimizer = "sgd",
        lr: float = 0.05,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        schedule: ScheduleSpec = None,
        device: str | torch.device | None = None,
        amp: bool = True,
        channels_last: bool = False,
        compile: bool | str = False,
        seed: int = 0,
        progress: bool = True,
        callbacks: Sequence[Callback] = (),
        loss_fn: nn.Module | None = None,
    ):
        seed_everything(seed)
        self.device = select_device(device)
        self.amp, self.channels_last, self.progress = amp, channels_last, progress
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=self.memory_format)
        if isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
        else:
            self.optimizer = make_optimizer(
                optimizer, self.model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov
            )
        self.schedule = schedule
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.total_steps: int | None = None
        self._pending_scheduler_state: dict | None = None
        self.loss_fn = loss_fn or nn.CrossEntropyLoss()
        self.callbacks = list(callbacks)
        self.history = History()
        self.epoch = 0
        self.planned_epochs = 0
        self.stop_training = False

        train_model: nn.Module = self.model
        if dist_utils.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            train_model = DistributedDataParallel(self.model, device_ids=ids)
        if compile:
            mode = compile if isinstance(compile, str) else None
            self._train_forward = torch.compile(train_model, mode=mode)
            self._eval_forward = torch.compile(self.model, mode=mode)
        else:
            self._train_forward, self._eval_forward = train_model, self.model

    @property
    def is_main_process(self) -> bool:
        return dist_utils.is_main_process()

    @property
    def lr(self) -> float:
        """The learning rate the next step will use."""
        return self.optimizer.param_groups[0]["lr"]

    # --- training -------------------------------------------------------------------------------
    def _to_device(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, (y.to(self.device, non_blocking=True) if y is not None else None)

    def _ensure_scheduler(self, steps_per_epoch: int, epochs: int) -> None:
        if self.scheduler is not None:
            return
        if self.total_steps is not None and self.total_steps != steps_per_epoch * epochs and self.schedule is not None:
            warnings.warn(
                f"the learning-rate schedule was planned for {self.total_steps} steps; this run asks for "
                f"{steps_per_epoch * epochs}, so the schedule ends where it was planned to (its last rate is kept)",
                stacklevel=3,
            )
        self.total_steps = self.total_steps or steps_per_epoch * epochs
        # A new scheduler resets lr (and one-cycle's momentum) to step 0; after a resume, put back what was saved.
        saved_groups = [{k: v for k, v in group.items() if k != "params"} for group in self.optimizer.param_groups]
        self.scheduler = build_scheduler(self.schedule, self.optimizer, self.total_steps)
        if self._pending_scheduler_state is not None:
            self.scheduler.load_state_dict(self._pending_scheduler_state)
            self._pending_scheduler_state = None
            for group, saved in zip(self.optimizer.param_groups, saved_groups):
                group.update(saved)

    @property
    def _sum_dtype(self) -> torch.dtype:
        return torch.float32 if self.device.type == "mps" else torch.float64  # MPS has no float64

    def _totals(self, loss_sum: torch.Tensor, correct: torch.Tensor, seen: int) -> torch.Tensor:
        """(loss sum, correct, images) summed over all ranks."""
        seen_t = torch.tensor(float(seen), device=self.device, dtype=self._sum_dtype)
        return dist_utils.all_reduce_sum(torch.stack([loss_sum, correct.to(self._sum_dtype), seen_t]))

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _train_epoch(self, loader: Iterable, epoch: int, hooks: Sequence[Callback] = ()) -> dict:
        """One pass over `loader`; every hook (the Trainer's callbacks and those given to `fit`) sees each batch."""
        self.model.train()
        loss_sum = torch.zeros((), device=self.device, dtype=self._sum_dtype)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen = 0
        show = self.progress and self.is_main_process
        bar = tqdm(total=len(loader), desc=f"epoch {epoch + 1}/{self.planned_epochs}", leave=False, disable=not show, unit="batch")
        limit = last_step(self.scheduler, self.total_steps)
        self._sync()
        start = time.perf_counter()
        for step, batch in enumerate(loader):
            x, y = self._to_device(*_split_batch(batch))
            with autocast(self.device, self.amp):
                logits = self._train_forward(x)
                loss = self.loss_fn(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler.last_epoch < limit:
                self.scheduler.step()
            loss_sum += loss.detach().to(self._sum_dtype) * len(y)
            correct += (logits.detach().argmax(dim=1) == y).sum()
            seen += len(y)
            for hook in hooks:
                hook.on_batch_end(self, step, loss.detach())
            if show:
                bar.update(1)
                if step % 25 == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        self._sync()
        seconds = time.perf_counter() - start
        bar.close()
        totals = self._totals(loss_sum, correct, seen)
        count = max(totals[2].item(), 1.0)
        return {
            "train_loss": totals[0].item() / count,
            "train_acc": totals[1].item() / count,
            "seconds": seconds,
            "images_per_second": count / seconds if seconds > 0 else float("nan"),
        }

    def fit(self, train_loader: Iterable, test_loader: Iterable | None = None, epochs: int = 1, *, callbacks: Sequence[Callback] = ()) -> History:
        """Train until `epochs` epochs are done in total (resuming after `load_checkpoint`); evaluate after each epoch."""
        if epochs <= self.epoch:
            if self.is_main_process and self.progress:
                print(f"already trained for {self.epoch} epochs (asked for {epochs}); nothing to do")
            return self.history
        hooks = self.callbacks + list(callbacks)
        self.planned_epochs = epochs
        self.stop_training = False
        self._ensure_scheduler(len(train_loader), epochs)
        for hook in hooks:
            hook.on_fit_start(self)
        show = self.progress and self.is_main_process
        run_bar = tqdm(total=epochs, initial=self.epoch, desc="training", unit="epoch", disable=not show)
        for epoch in range(self.epoch, epochs):
            for hook in hooks:
                hook.on_epoch_start(self, epoch)
            _set_epoch(train_loader, epoch)
            metrics = self._train_epoch(train_loader, epoch, hooks)
            if test_loader is not None:
                result = self.evaluate(test_loader)
                metrics["test_loss"], metrics["test_acc"] = result["loss"], result["acc"]
            else:
                metrics["test_loss"] = metrics["test_acc"] = float("nan")
            metrics["lr"] = self.lr
            self.epoch = epoch + 1
            self.history.append(epoch=self.epoch, **metrics)
            run_bar.update(1)
            run_bar.set_postfix({k: f"{metrics[k]:.4f}" for k in ("train_loss", "train_acc", "test_acc") if metrics[k] == metrics[k]})
            for hook in hooks:
                hook.on_epoch_end(self, epoch, metrics)
            if self.stop_training:
                break
        run_bar.close()
        for hook in hooks:
            hook.on_fit_end(self, self.history)
        return self.history

    # --- evaluation and prediction ------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, loader: Iterable) -> dict:
        """Mean loss and accuracy over `loader` (summed over ranks under torchrun): {"loss", "acc", "images", "seconds"}."""
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device, dtype=self._sum_dtype)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen = 0
        start = time.perf_counter()
        for batch in loader:
            x, y = self._to_device(*_split_batch(batch))
            with autocast(self.device, self.amp):
                logits = self._eval_forward(x)
                loss = self.loss_fn(logits.float(), y)
            loss_sum += loss.to(self._sum_dtype) * len(y)
            correct += (logits.argmax(dim=1) == y).sum()
            seen += len(y)
        self._sync()
        totals = self._totals(loss_sum, correct, seen)
        count = max(totals[2].item(), 1.0)
        return {"loss": totals[0].item() / count, "acc": totals[1].item() / count, "images": int(count), "seconds": time.perf_counter() - start}

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor | Iterable, *, probabilities: bool = False, batch_size: int = 512) -> torch.Tensor:
        """Predicted classes (or softmax probabilities) on the CPU for a tensor (N×C×H×W or one C×H×W image) or a loader."""
        self.model.eval()
        if isinstance(inputs, torch.Tensor):
            single = inputs.ndim == 3
            batches: Iterable = (inputs.unsqueeze(0) if single else inputs).split(batch_size)
        else:
            single, batches = False, (_split_batch(batch)[0] for batch in inputs)
        outputs = []
        for x in batches:
            x, _ = self._to_device(x, None)
            with autocast(self.device, self.amp):
                logits = self._eval_forward(x).float()
            outputs.append((logits.softmax(dim=1) if probabilities else logits.argmax(dim=1)).cpu())
        result = torch.cat(outputs)
        return result[0] if single else result

    # --- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything a resumed run needs: model, optimizer, scheduler, epoch, history and random states."""
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else self._pending_scheduler_state,
            "total_steps": self.total_steps,
            "epoch": self.epoch,
            "history": self.history.to_dict(),
            "rng": rng_state(),
        }

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the checkpoint atomically (rank 0 only; other ranks wait for it)."""
        path = Path(path)
        if self.is_main_process:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
            torch.save(self.state_dict(), partial)
            os.replace(partial, path)
        dist_utils.barrier()
        return path

    def load_checkpoint(self, path: str | Path) -> int:
        """Restore a checkpoint written by `save_checkpoint`; returns the number of epochs already done."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}; train first, or use fit_or_load(trainer, path, ...)")
        state = torch.load(path, map_location=self.device, weights_only=True)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a course_lib checkpoint (format {state.get('format')!r})")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.total_steps = state["total_steps"]
        self.scheduler = None  # rebuilt at the next fit, with the saved horizon and state
        self._pending_scheduler_state = state["scheduler"]
        self.epoch = state["epoch"]
        self.history = History.from_dict(state["history"])
        set_rng_state(state["rng"])
        return self.epoch


def fit_or_load(trainer: Trainer, path: str | Path, train_loader: Iterable, test_loader: Iterable | None = None, epochs: int = 1) -> History:
    """Load the checkpoint at `path` if it exists; train whatever epochs are still missing, saving after each one."""
    path = Path(path)
    if path.is_file():
        trainer.load_checkpoint(path)
    if trainer.epoch < epochs:
        trainer.fit(train_loader, test_loader, epochs, callbacks=[Checkpoint(path)])
    return trainer.history
