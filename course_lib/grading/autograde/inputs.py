"""Find submissions and check each one before grading, with a one-line reason for anything wrong.

Problems found here never reach the gradebook: a broken resubmission leaves earlier grades as they were.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_EXTRA_BYTES = 64 << 20  # files beside the notebooks travel to the sandbox with them


@dataclass
class Submission:
    """One student's submitted assignment folder and what the checks found in it."""

    student: str
    path: Path
    problem: str | None = None          # set: it cannot be graded, and why
    notes: list[str] = field(default_factory=list)  # graded, but worth telling the instructor


def find_submissions(submitted_dir: Path, assignment: str, students: list[str] | None) -> tuple[list[Submission], list[Submission]]:
    """Submissions of `assignment` (all, or only `students`), and an entry per requested student without one."""
    found = sorted(p for p in submitted_dir.glob(f"*/{assignment}") if p.is_dir())
    by_student = {p.parent.name: p for p in found}
    if not students:
        return [Submission(s, p) for s, p in by_student.items()], []
    chosen, unknown = [], []
    for pattern in students:
        matches = [s for s in by_student if fnmatch.fnmatchcase(s, pattern)]
        if not matches:
            unknown.append(Submission(pattern, submitted_dir / pattern / assignment,
                                      problem=f"unknown student: no folder submitted/{pattern}/{assignment}/"))
        chosen += [Submission(s, by_student[s]) for s in matches if s not in {c.student for c in chosen}]
    return chosen, unknown


def _json_problem(path: Path) -> str | None:
    try:
        json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        return f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); resubmit it"
    except UnicodeDecodeError:
        return f"{path.name} is not UTF-8 text; resubmit the notebook as saved by Jupyter"
    try:
        nbformat.read(str(path), as_version=4)
    except UnicodeDecodeError:
        return f"{path.name} is not UTF-8 text; resubmit the notebook as saved by Jupyter"
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds for a damaged notebook
        return f"{path.name} is not a readable notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
    return None


def check_submission(sub: Submission, expected_notebooks: list[str], ignore: list[str],
                     released: frozenset[str] = frozenset()) -> Submission:
    """Fill in `sub.problem` / `sub.notes`: links, unreadable notebooks, missing or renamed notebooks, extras
    (files beyond `released`, the paths of the files the release itself gives students)."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(sub.path):
        dirnames[:] = [d for d in dirnames if not any(fnmatch.fnmatch(d, pat) for pat in ignore)]
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                sub.problem = f"contains a symbolic link '{full.relative_to(sub.path)}': links are not accepted"
                return sub
            if name in filenames:
                if not full.is_file():
                    sub.problem = f"'{full.relative_to(sub.path)}' is not a regular file"
                    return sub
                if not any(fnmatch.fnmatch(name, pat) for pat in ignore):
                    entries.append(full.relative_to(sub.path))
    notebooks = {p.stem: p for p in entries if p.suffix == ".ipynb" and p.parent == Path(".")}
    present = [n for n in expected_notebooks if n in notebooks]
    if not present:
        others = sorted(str(p) for p in entries if p.suffix == ".ipynb")
        wanted = ", ".join(f"{n}.ipynb" for n in expected_notebooks)
        hint = f" (found {', '.join(others)}: rename it to {wanted})" if others else ""
        sub.problem = f"missing notebook {wanted}{hint}"
        return sub
    for name in present:
        problem = _json_problem(sub.path / f"{name}.ipynb")
        if problem:
            sub.problem = problem
            return sub
    missing = [n for n in expected_notebooks if n not in notebooks]
    if missing:
        sub.notes.append("missing " + ", ".join(f"{n}.ipynb" for n in missing) + " (scored 0)")
    unknown = sorted(f"{p}" for p in entries if p.suffix == ".ipynb" and p.stem not in expected_notebooks)
    if unknown:
        sub.notes.append("ignored unknown notebook(s): " + ", ".join(unknown))
    extras = sorted(str(p) for p in entries if p.suffix != ".ipynb" and str(p) not in released)
    if extras:
        size = sum((sub.path / p).stat().st_size for p in extras)
        if size > MAX_EXTRA_BYTES:
            sub.problem = f"extra files total {size >> 20} MB (limit {MAX_EXTRA_BYTES >> 20} MB): {', '.join(extras[:5])}"
            return sub
        shown = ", ".join(extras[:5]) + (f" and {len(extras) - 5} more" if len(extras) > 5 else "")
        sub.notes.append(f"extra files copied beside the notebook: {shown}")
    return sub
