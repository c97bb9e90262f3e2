"""The checks of the course's assignments, one module per assignment, each a set of
``check(target, points=N) -> float`` functions (``checks.check_function``) that a test cell calls:
``from course_lib.grading import resblk as grade`` (the released notebooks' form, which
``course_lib.grading`` maps here) then ``grade.shapes(ResBlk, points=2)``.

The class grader allows exactly the modules found in this folder (:func:`names`): adding an assignment's
checks is adding a module here. A course's own checks live beside its notebooks instead
(``c.CourseGrader.check_folders``, ``course_checks``).
"""

from __future__ import annotations

import pkgutil
from functools import cache


@cache
def names() -> tuple[str, ...]:
    """The assignments' check modules, found in this folder (private modules, ``_*``, left out)."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))
