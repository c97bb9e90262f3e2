"""Before a class is graded: grade the instructor's own solution notebook in the sandbox, and refuse unless it
gets full marks.

A sandbox that cannot import a library, or an interpreter the sandbox cannot see, would otherwise score every
hand-in 0 and look like a class that failed. The source notebook (``solutions/<a>/<a>.ipynb``) is the one
hand-in whose right score is known: its solutions in place, every test passing. It goes through exactly the
path a submission takes (``execute.SandboxedExecute``: its cells in a sandbox, its test cells decided here).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import nbformat

from .execute import GraderSideError, GradingContext, NotebookGrade, SandboxedExecute, SubmissionGrading
from .sandbox import JobResult
from ..sandboxed.isolation import DEFAULT_HIDDEN


class CanaryError(RuntimeError):
    """The instructor's solution does not get full marks in the sandbox: nothing is graded; says why and the fix."""


def environment_hint(course_root: Path) -> str:
    """How to fix an interpreter or environment the sandbox cannot see (it hides these folders)."""
    hidden = [*DEFAULT_HIDDEN, str(course_root)]
    prefix, real = sys.prefix, os.path.realpath(sys.prefix)
    lines = [f"the sandbox hides {', '.join(hidden)} (the course folder) and shows back only the grader's "
             f"environment at {prefix}"]
    if real != prefix:
        lines.append(f"that environment is reached through a link (its real path is {real}), and the link's "
                     f"folder is hidden: run the grader with the real path, `{real}/bin/python -m "
                     "course_lib.grading autograde ...`, or make the environment where it lives")
    elif any(os.path.realpath(sys.base_prefix).startswith(h.rstrip("/") + "/") for h in hidden):
        lines.append(f"its base interpreter lives in {sys.base_prefix}, a hidden folder: make the environment "
                     "from an interpreter outside them (e.g. /usr/bin/python3.11 -m venv .venv)")
    else:
        lines.append("packages outside that environment (PYTHONPATH, .pth files pointing into hidden folders, "
                     "a user site) are not visible: install what the notebook imports into the environment")
    return "; ".join(lines)


def _score(grade: NotebookGrade) -> tuple[float, float]:
    return sum(v.score for v in grade.verdicts), sum(v.call.points for v in grade.verdicts)


def _why(grade: NotebookGrade | None, result: JobResult | None) -> str:
    parts = []
    if result is not None and result.status != "ok":
        parts.append(result.detail or result.status)
    for index, cell in enumerate(result.cells if result is not None else []):
        for out in (cell or {}).get("outputs", []):
            if isinstance(out, dict) and out.get("output_type") == "error":
                parts.append(f"code cell {index + 1} raised {out.get('ename')}: {str(out.get('evalue'))[:200]}")
    if grade is not None:
        if grade.problem:
            parts.append(grade.problem)
        for flag in grade.flags:
            parts.append(f"flagged: {flag}")
        for verdict in grade.verdicts:
            if verdict.score < verdict.call.points:
                failed = [c["message"] or c["name"] for c in verdict.checks if not c["passed"]][:2]
                parts.append(f"test cell {verdict.call.grade_id!r} {verdict.score:g}/{verdict.call.points:g}"
                             + (f" ({'; '.join(failed)})" if failed else ""))
    return "; ".join(dict.fromkeys(parts)) or "no reason came back"


def check_solution(source: Path, run_job, secret: bytes, course_root: Path) -> str:
    """Grade the source notebook ``source`` through ``run_job``; its score line, or CanaryError with the cause."""
    started = time.monotonic()
    nb = nbformat.read(source, as_version=4)
    instructor = frozenset(c.source for c in nb.cells if c.cell_type == "code"
                           and not c.metadata.get("nbgrader", {}).get("solution"))  # all but the solutions are the release's
    student = "(instructor's solution)"
    submission = SubmissionGrading()  # a turn of its own: no gradebook is touched
    executor = SandboxedExecute(GradingContext(run_job, secret, instructor), submission)
    resources = {"nbgrader": {"student": student}, "unique_key": source.stem,
                 "metadata": {"path": str(source.parent), "name": source.stem}}
    with submission.turn, contextlib.suppress(GraderSideError):
        executor.preprocess(nb, resources)
    grades, results = submission.grades, submission.results
    grade, result = (grades[0] if grades else None), (results[0] if results else None)
    score, total = _score(grade) if grade is not None else (0.0, float("nan"))
    if grade is not None and not grade.verdicts and result is not None and result.status == "ok":
        return f"the instructor's solution {source.name} ran in the sandbox (it has no test cells)"
    if grade is not None and not grade.flags and total > 0 and score >= total - 1e-9:
        return (f"the instructor's solution {source.name} scored {score:g}/{total:g} in the sandbox "
                f"({time.monotonic() - started:.1f} s)")
    shown = f"{score:g}/{total:g}" if grade is not None else "nothing (the sandbox could not run it)"
    raise CanaryError(
        f"refusing to grade: the instructor's own solution {source} scored {shown} in the sandbox, so every "
        f"hand-in would be scored wrongly. Why: {_why(grade, result)}. To fix: if the solution's tests fail "
        "under plain nbgrader too, fix the source notebook (`nbgrader generate_assignment` again); if the "
        f"sandbox could not import or find something, {environment_hint(course_root)}.")
