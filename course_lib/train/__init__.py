"""Training engine of the course: a small Trainer (fit, evaluate, predict, checkpoints), learning-rate
schedules, callbacks, and data-parallel runs through torchrun (`python -m course_lib.train --help`).
"""

from course_lib.train.callbacks import Callback, Checkpoint, EarlyStopping, PrintMetrics, StopAfter
from course_lib.device import autocast, seed_everything, select_device
from course_lib.train.history import History
from course_lib.train.schedules import (
    SCHEDULES,
    Schedule,
    build_scheduler,
    constant,
    cosine,
    linear_decay,
    lr_curve,
    onecycle,
    step,
)
from course_lib.train.trainer import OPTIMIZERS, Trainer, fit_or_load, make_optimizer

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "PrintMetrics",
    "Schedule",
    "StopAfter",
    "Trainer",
    "autocast",
    "build_scheduler",
    "constant",
    "cosine",
    "fit_or_load",
    "linear_decay",
    "lr_curve",
    "make_optimizer",
    "onecycle",
    "seed_everything",
    "select_device",
    "step",
]
