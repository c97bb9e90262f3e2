"""Longer runs behind the book's comparisons, stored with provenance beside the chapters.

Each experiment is a module here with ``run(scale: str) -> dict`` (the numbers, per seed) and, where the
book draws a conclusion, a verdict function that turns those numbers into the sentence the chapter prints.
``python -m course_lib.experiments NAME --scale medium`` runs one and writes
``book/results/NAME-SCALE.json`` (see ``store``); chapters load that file and show it beside their live
fast-mode run. ``stats`` holds the seed-spread arithmetic every comparison uses (Welch's t interval).

Runs are resumable (``runs``): each finished (arm, seed) is stored at once under ``book/results/runs/`` and
skipped by the next call. Cost comparisons come from ``cost`` (CPU time per image, one configuration at a
time), never from the runs' wall seconds. ``regimes`` says which data size, width and epochs each experiment
should be run at and which reference accuracy its baseline should approach; ``all --scale full`` runs every
experiment on a GPU, ``all --scale tiny`` the same code at toy size on a CPU; ``--plan`` (``plan``) says what a
scale would train, and about how long it would take, without training anything.
"""

from __future__ import annotations

import importlib
import pkgutil

SCALES = ("tiny", "fast", "medium", "full")
_NOT_EXPERIMENTS = {"store", "stats", "runs", "cost", "plan", "show", "regimes"}


def available() -> list[str]:
    """Names of the experiment modules in this package (every module with a ``run`` function)."""
    names = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_EXPERIMENTS:
            continue
        if hasattr(importlib.import_module(f"{__name__}.{info.name}"), "run"):
            names.append(info.name)
    return sorted(names)
