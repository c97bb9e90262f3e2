"""A temporary course with the real resblk assignment and the report bank handed in, for the report's tests.

`tests/report_bank/resblk/*.py` holds answer-cell code: five independent correct implementations
(`indep_*`), four copies of them made by renaming, reordering, reformatting or all three (`copy_*`,
whose second line names the source: `# copy-of: indep_x`), wrong blocks (`wrong_*`), one that hands in
the course's own class (`flag_*`) and one that does not parse (`broken_*`). Students get opaque ids so
nothing in an id says who copied whom.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from submissions import bank  # noqa: E402

ASSIGNMENT = "resblk"
COPY_OF = re.compile(r"^# copy-of: (\w+)", re.MULTILINE)
# lms columns for some students: (first, last, email, lms_user_id); the others have none
PEOPLE = [("Ada", "Lovelace", "ada@example.edu", "1001"), ("Alan", "Turing", "alan@example.edu", "1002"),
          ("Grace", "Hopper", "grace@example.edu", None)]


def entries() -> dict[str, str]:
    """bank name -> answer code, sorted by name."""
    return {p.stem: p.read_text() for p in sorted((HERE / ASSIGNMENT).glob("*.py"))}


def handed_in(code: str) -> str:
    """The answer as a student hands it in: without the bank's leading comment lines (what it is, whose copy)."""
    lines = code.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def copied_pairs(names: list[str]) -> set[frozenset[str]]:
    """The bank's known copied pairs, as sets of two bank names."""
    pairs = set()
    for name, code in entries().items():
        found = COPY_OF.search(code)
        if found and name in names:
            pairs.add(frozenset((name, found.group(1))))
    return pairs


def student_ids(names: list[str]) -> dict[str, str]:
    """bank name -> an opaque student id (stable, not alphabetical in the bank's order)."""
    return {name: f"st{(7 * i + 3) % 97:02d}" for i, name in enumerate(names)}


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    from helpers.democourse import nbgrader as run

    return run(root, *args, check=False)


def make_course(root: Path, names: list[str] | None = None, broken_notebook: str | None = "st99") -> dict[str, str]:
    """Release resblk at `root`, hand in the bank's answers, add people's LMS data; returns name -> student id."""
    names = names or list(entries())
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, root / "solutions" / ASSIGNMENT)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    done = nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    if done.returncode:
        raise RuntimeError(done.stderr)
    release = root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    solution = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    ids = student_ids(names)
    answer_id = bank.answer_ids(bank.read(solution))[0]
    for position, name in enumerate(names):
        sub = bank.Submission(ASSIGNMENT, name, {answer_id: handed_in(entries()[name])}, "nothing")
        folder = root / "submitted" / ids[name] / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(bank.notebook_for(sub, release, solution), folder / f"{ASSIGNMENT}.ipynb")
        (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
        if position < len(PEOPLE):
            first, last, email, lms = PEOPLE[position]
            extra = ["--lms-user-id", lms] if lms else []
            added = nbgrader(root, "db", "student", "add", ids[name], "--first-name", first, "--last-name", last,
                             "--email", email, *extra)
            if added.returncode:
                raise RuntimeError(added.stderr)
    if broken_notebook:
        folder = root / "submitted" / broken_notebook / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_text('{"cells": [')
    return ids
