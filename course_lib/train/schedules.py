"""Learning-rate schedules, stepped once per optimizer step, so the same object trains a model and plots a curve.

Each schedule is a small description (`Schedule`) that becomes a torch scheduler once the number of
training steps is known: `schedule.build(optimizer, total_steps)`. `lr_curve` draws what training will see.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR


def _steps(value: int | float | None, total_steps: int, default: int) -> int:
    """A step count given as an int, as a fraction of training (float ≤ 1), or None for `default`."""
    if value is None:
        return max(1, default)
    if isinstance(value, float) and 0 < value <= 1:
        return max(1, round(value * total_steps))
    return max(1, int(value))


class ConstantFactor:
    """lr_k = lr_0."""

    def __call__(self, step: int) -> float:
        return 1.0


@dataclass
class CosineFactor:
    """lr_k = lr_min + (lr_0 - lr_min)(1 + cos(pi k / T)) / 2, then lr_min after T steps (lr_min = final · lr_0)."""

    period: int
    final: float = 0.0

    def __call__(self, step: int) -> float:
        progress = min(step, self.period) / self.period
        return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass
class LinearDecayFactor:
    """lr_k = (1 - a) lr_0 + a lr_tau with a = k / tau, then lr_tau for k ≥ tau (lr_tau = final · lr_0)."""

    tau: int
    final: float = 0.01

    def __call__(self, step: int) -> float:
        a = min(step / self.tau, 1.0)
        return (1.0 - a) + a * self.final


@dataclass
class StepFactor:
    """lr_k = lr_0 · gamma^(number of milestones passed)."""

    milestones: list[int]
    gamma: float = 0.1

    def __call__(self, step: int) -> float:
        return self.gamma ** sum(step >= m for m in self.milestones)


@dataclass(frozen=True)
class Schedule:
    """A named schedule with its settings; `build` turns it into a per-step torch scheduler."""

    kind: str
    options: dict = field(default_factory=dict)

    def build(self, optimizer: torch.optim.Optimizer, total_steps: int) -> LRScheduler:
        """The torch scheduler for `total_steps` optimizer steps."""
        total = max(1, total_steps)
        o = self.options
        if self.kind == "constant":
            return LambdaLR(optimizer, ConstantFactor())
        if self.kind == "cosine":
            return LambdaLR(optimizer, CosineFactor(_steps(o.get("period"), total, total), o.get("final", 0.0)))
        if self.kind == "linear":
            return LambdaLR(optimizer, LinearDecayFactor(_steps(o.get("tau"), total, total), o.get("final", 0.01)))
        if self.kind == "step":
            marks = o.get("milestones") or (0.5, 0.75)
            return LambdaLR(optimizer, StepFactor([_steps(m, total, total) for m in marks], o.get("gamma", 0.1)))
        if self.kind == "onecycle":
            peak = [group["lr"] for group in optimizer.param_groups]
            cycle = OneCycleLR(
                optimizer, max_lr=peak, total_steps=total, pct_start=o.get("pct_start", 0.3),
                div_factor=o.get("div_factor", 25.0), final_div_factor=o.get("final_div_factor", 1e4),
                cycle_momentum=o.get("cycle_momentum", True),
            )
            return cycle
        raise ValueError(f"unknown schedule {self.kind!r}; choose one of {', '.join(SCHEDULES)}")


def constant() -> Schedule:
    """Keep the initial learning rate."""
    return Schedule("constant")


def cosine(period: int | float | None = None, final: float = 0.0) -> Schedule:
    """Cosine annealing from lr_0 to final·lr_0 over `period` steps (default: the whole run), like CosineAnnealingLR."""
    return Schedule("cosine", {"period": period, "final": final})


def linear_decay(tau: int | float | None = None, final: float = 0.01) -> Schedule:
    """Linear decay to final·lr_0 (about 1% by default) over `tau` steps, then constant: lr_k = (1-a) lr_0 + a lr_tau, a = k/tau."""
    if not 0 <= final <= 1:
        raise ValueError(f"final is a fraction of the initial rate, between 0 and 1; got {final}")
    return Schedule("linear", {"tau": tau, "final": final})


def step(milestones: tuple[int | float, ...] | None = None, gamma: float = 0.1) -> Schedule:
    """Multiply the rate by `gamma` at each milestone (steps, or fractions of the run; default 50% and 75%)."""
    return Schedule("step", {"milestones": milestones, "gamma": gamma})


def onecycle(pct_start: float = 0.3, div_factor: float = 25.0, final_div_factor: float = 1e4) -> Schedule:
    """One-cycle policy (torch's OneCycleLR): warm up to the optimizer's lr, then anneal far below it."""
    return Schedule("onecycle", {"pct_start": pct_start, "div_factor": div_factor, "final_div_factor": final_div_factor})


SCHEDULES: dict[str, Callable[[], Schedule]] = {
    "constant": constant,
    "cosine": cosine,
    "linear": linear_decay,
    "linear_decay": linear_decay,
    "step": step,
    "onecycle": onecycle,
}

ScheduleSpec = Schedule | str | Callable[[torch.optim.Optimizer, int], LRScheduler] | None


def build_scheduler(spec: ScheduleSpec, optimizer: torch.optim.Optimizer, total_steps: int) -> LRScheduler:
    """A torch scheduler from a name ("cosine"), a `Schedule`, a factory f(optimizer, total_steps) or None (constant)."""
    if spec is None:
        spec = constant()
    if isinstance(spec, str):
        if spec not in SCHEDULES:
            raise ValueError(f"unknown schedule {spec!r}; choose one of {', '.join(SCHEDULES)}")
        spec = SCHEDULES[spec]()
    if isinstance(spec, Schedule):
        return spec.build(optimizer, total_steps)
    if callable(spec):
        return spec(optimizer, total_steps)
    raise TypeError(f"schedule must be a name, a Schedule or a callable, got {type(spec).__name__}")


def last_step(scheduler: LRScheduler, total_steps: int) -> int:
    """The last step index a scheduler may reach; past it the rate stays where the schedule ended."""
    return total_steps - 1 if isinstance(scheduler, OneCycleLR) else total_steps


def lr_curve(schedule: ScheduleSpec, steps: int, lr: float = 0.1, *, total_steps: int | None = None) -> list[float]:
    """The learning rate used at each of `steps` optimizer steps (the schedule sized for `total_steps`, default `steps`)."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([weight], lr=lr, momentum=0.9)
    horizon = total_steps or steps
    scheduler = build_scheduler(schedule, optimizer, horizon)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if scheduler.last_epoch < last_step(scheduler, horizon):
            scheduler.step()
    return rates
