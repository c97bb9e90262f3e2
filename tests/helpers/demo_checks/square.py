"""Checks for the demo course's ``square`` exercise (``tests/helpers/democourse.py``): a course's own check module,
as an instructor writes one (``c.CourseGrader.check_folders``), used only with what ``course_lib.grading.api`` offers."""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_lib.grading.api import Report, close, generator


def integers(fn: Callable, points: float = 2) -> float:
    """``fn(3) == 9``: the square of an int is that int."""
    report = Report("square of an int", points)
    report.check("square(3) == 9", lambda: (fn(3) == 9, "expected 9"))
    return report.score()


def numbers_and_tensors(fn: Callable, points: float = 3) -> float:
    """Squares of ints, of a negative number, and of a tensor (element by element)."""
    report = Report("square of numbers and tensors", points)
    report.check("square(2) == 4", lambda: (fn(2) == 4, "expected 4"))
    report.check("square(-1) == 1", lambda: (fn(-1) == 1, "expected 1"))
    x = torch.randn(5, generator=generator(1))
    report.check("square of a tensor", lambda: close(fn(x), x * x))
    return report.score()
