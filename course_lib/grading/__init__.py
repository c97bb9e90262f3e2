"""Grading for the course's nbgrader exercises, in two halves with one narrow channel between them.

Untrusted: ``sandboxed/`` runs inside the sandbox, next to the student's code, and only produces
evidence (the cells' outputs, what the student's functions return and modules compute for inputs chosen
here). It imports nothing else of ``course_lib``; the sandbox gets a copy of that folder alone.

The channel: ``sandboxed/channel.py``, length-prefixed JSON frames with arrays as checked raw bytes read without
pickle, bounded in size, depth and dtype.

Trusted (everything else here) decides scores, in four zones:
- ``assignments/``: the checks, one module per assignment (``resblk``, ``conv_basics``, ``pooling``,
  ``batchnorm_dropout``, ``architectures``), found in that folder rather than listed; test cells import
  them as ``from course_lib.grading import resblk as grade``, which ``__getattr__`` below maps there;
- the check kit, which also runs in the student's notebook: ``checks`` (``Report``, ``check_function``,
  the one closeness rule), ``modules`` (layers paired with the reference by role, seed-derived weights),
  ``replay`` (stand-ins that record a check's requests and replay the sandbox's answers), ``api`` (what
  a course's own check modules may use), ``markers`` (nbgrader's hidden-test markers);
- ``autograde/``, the class grader around nbgrader (instructor only, started by ``cli``): ``runner`` (the
  run), ``course`` (the nbgrader course's facts, which ``report/`` reads too), ``inputs`` (hand-ins checked),
  ``canary`` (the solution graded first), ``execute`` (the nbgrader step, one ``SubmissionGrading`` per
  hand-in), ``sandbox`` (the handle on a sandbox), ``cluster`` and ``certs`` (Dask over TLS), ``verdicts``
  (test cells read and scored), ``plaincells`` (ordinary test cells over stand-ins), ``static`` (flags from
  the source), ``course_checks`` (a course's own check modules), ``records`` (what was decided, per
  submission), ``sanitize`` and ``feedback`` (outputs made safe, hidden tests kept out of feedback);
- ``report/``: the class report, read from the gradebook, the records and the notebooks.
The demo course the tests and benchmarks grade (``square``, with a check module of its own as an instructor
writes one) is a test helper: ``tests/helpers/democourse.py``.

Trusted modules that read untrusted bytes (the hand-in's files, or what its process sent back), where a
change needs the most care. In ``autograde/``: ``inputs`` (the submitted folder: names, sizes, notebook
JSON), ``static`` (the answer cells' source, parsed with ``ast``), ``sandbox`` (frames from the sandboxed
process, decoded by ``sandboxed/channel``), ``plaincells`` (the answers those frames carry), ``execute`` and
``sanitize`` (the cells' outputs, before they enter the autograded notebook), ``cluster`` (results from
Dask workers). Elsewhere: ``replay`` (the evidence), ``report/similarity`` (the answers' source) and
``report/gather`` (the autograded and submitted notebooks).

In a student's own notebook the checks get the real function or class and produce the same evidence
in-process, so a visible test gives the score the class grader will. ``import course_lib.grading``
imports nothing heavy; import the module you need.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def __getattr__(name: str) -> ModuleType:
    """``from course_lib.grading import resblk`` (the form released test cells use): the assignment's checks
    in ``assignments/``, imported on first use."""
    from .assignments import names

    if name in names():
        return importlib.import_module(f"{__name__}.assignments.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
