"""The bank of test submissions: small answer files turned into notebooks a student could hand in.

Each ``<assignment>/<name>.py`` holds answer-cell code. A file without ``# %% <grade_id>`` markers
answers the assignment's single answer cell; with markers, each section answers the named cell and
the other answer cells keep the solution. The first line says what the submission must lose:
``# expect-lost: nothing``, ``# expect-lost: everything`` or the grade ids of the test cells that
must score less than full marks (every other test cell must score full marks).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

BANK = Path(__file__).resolve().parent
ROOT = BANK.parent.parent
SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.MULTILINE)


@dataclass
class Submission:
    assignment: str
    name: str
    answers: dict[str, str]  # grade_id of an answer cell -> its code
    expect_lost: set[str] | str  # grade ids, or "nothing"/"everything"


def answer_ids(notebook: nbformat.NotebookNode) -> list[str]:
    return [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution")]


def test_points(notebook: nbformat.NotebookNode) -> dict[str, float]:
    """grade_id -> points of every autograded test cell."""
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"]) for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")}


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def load(assignment: str, name: str) -> Submission:
    text = (BANK / assignment / f"{name}.py").read_text()
    first = text.splitlines()[0]
    if not first.startswith("# expect-lost:"):
        raise ValueError(f"{assignment}/{name}.py must start with '# expect-lost: ...'")
    words = first.split(":", 1)[1].split()
    expect: set[str] | str = words[0] if words in (["nothing"], ["everything"]) else set(words)
    sections = re.split(r"^# %% (\w+)\s*$", text, flags=re.MULTILINE)
    if len(sections) == 1:
        ids = answer_ids(read(ROOT / "solutions" / assignment / f"{assignment}.ipynb"))
        if len(ids) != 1:
            raise ValueError(f"{assignment}/{name}.py needs '# %% <grade_id>' sections: {ids}")
        answers = {ids[0]: text}
    else:
        answers = {grade_id: body.strip("\n") for grade_id, body in zip(sections[1::2], sections[2::2])}
    return Submission(assignment, name, answers, expect)


def names(assignment: str) -> list[str]:
    return sorted(p.stem for p in (BANK / assignment).glob("*.py"))


def notebook_for(submission: Submission, release: Path, solution: Path) -> nbformat.NotebookNode:
    """The release notebook with every answer cell filled: from the submission, else from the solution."""
    notebook = copy.deepcopy(read(release))
    solved = {c.metadata["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", c.source)
              for c in read(solution).cells if c.metadata.get("nbgrader", {}).get("solution")}
    unknown = set(submission.answers) - set(solved)
    if unknown:
        raise ValueError(f"{submission.assignment}/{submission.name}: no answer cells {sorted(unknown)}")
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = submission.answers.get(grade_id, solved[grade_id])
    return notebook


def namespace_for(submission: Submission) -> dict:
    """Run the solution's setup and answer cells with the submission's answers, as a notebook kernel would."""
    solution = read(ROOT / "solutions" / submission.assignment / f"{submission.assignment}.ipynb")
    namespace: dict = {"__name__": "__main__"}
    for cell in solution.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        if meta.get("solution"):
            source = submission.answers.get(meta["grade_id"], SOLUTION_MARKERS.sub("", cell.source))
        elif meta.get("locked"):
            source = cell.source
        else:
            continue  # demonstration cells
        exec(compile(source, f"<{submission.assignment}:{meta['grade_id']}>", "exec"), namespace)
    return namespace


def expected_loss(submission: Submission, points: dict[str, float]) -> set[str]:
    """The grade ids of the test cells this submission must score less than full marks on."""
    if submission.expect_lost == "nothing":
        return set()
    if submission.expect_lost == "everything":
        return set(points)
    unknown = submission.expect_lost - set(points)
    if unknown:
        raise ValueError(f"{submission.assignment}/{submission.name}: no test cells {sorted(unknown)}")
    return set(submission.expect_lost)
