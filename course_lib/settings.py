"""Run-time settings shared by the book, the exercises and the tests, read from environment variables."""

from __future__ import annotations

import os
from pathlib import Path

FULL_MODE_ENV = "COURSE_FULL"
DATA_ROOT_ENV = "COURSE_DATA"


def full_mode() -> bool:
    """True when COURSE_FULL is 1/true/yes/on: chapters then run their full experiments (meant for a GPU).

    The one reader of COURSE_FULL: the chapters, the experiments' command line and the tests all ask here,
    so every entry point agrees on what counts as "on".
    """
    return os.environ.get(FULL_MODE_ENV, "0").strip().lower() in {"1", "true", "yes", "on"}


def chapter_scale() -> str:
    """The scale a chapter runs live: "full" under COURSE_FULL, else "fast" (about a minute on a CPU)."""
    return "full" if full_mode() else "fast"


def data_root() -> Path:
    """Folder where datasets are looked for and cached: $COURSE_DATA, else ~/.cache/cnn-course/data."""
    configured = os.environ.get(DATA_ROOT_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "cnn-course" / "data"


def checkpoint_root() -> Path:
    """Folder where chapters keep checkpoints: $COURSE_CHECKPOINTS, else ./checkpoints next to the repo root."""
    configured = os.environ.get("COURSE_CHECKPOINTS")
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parent.parent / "checkpoints"
