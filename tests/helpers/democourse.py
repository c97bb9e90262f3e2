"""A tiny nbgrader course for testing and benchmarking the class autograder.

`make_course(root)` writes nbgrader_config.py and a one-notebook assignment `square` (one answer cell,
two graded test cells calling the checks of ``square.py``, a course's own check module as an instructor writes
one: ``demo_checks/square.py`` here, ``solutions/square/square.py`` in the course, named by
``c.CourseGrader.check_folders``), releases it with `nbgrader generate_assignment`, and `add_submission` hands
in an answer for a student, with the released check module beside it as a student's folder has it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ASSIGNMENT = "square"
MAX_SCORE = 5.0
CHECKS = Path(__file__).with_name("demo_checks") / "square.py"  # released with the notebook
CORRECT = "def square(x):\n    return x * x\n"
WRONG = "def square(x):\n    return x + x\n"  # right only for 2: loses points
CONFIG = '''c = get_config()
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.course_id = "demo"
c.Execute.timeout = {cell_timeout}
c.CourseGrader.check_folders = ["solutions/square"]
{db_line}'''


def _cell(kind: str, source: str, grade_id: str, *, points: float | None = None, solution: bool = False,
          grade: bool = False, locked: bool = False):
    meta = {"nbgrader": {"grade_id": grade_id, "grade": grade, "solution": solution, "locked": locked,
                         "schema_version": 3}}
    if points is not None:
        meta["nbgrader"]["points"] = points
    maker = new_code_cell if kind == "code" else new_markdown_cell
    return maker(source, metadata=meta)


def source_notebook() -> nbformat.NotebookNode:
    """The instructor's version: a solution cell and two test cells (2 points, then 3 with partial credit),
    which call the checks of the course's own module ``square.py``."""
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                "language_info": {"name": "python"}})
    nb.cells = [
        _cell("markdown", "Write `square(x)` returning `x * x` for numbers and tensors.", "intro", locked=True),
        _cell("code", "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION\n",
              "answer", solution=True),
        _cell("code", "import square as grade\n\ngrade.integers(square, points=2)",
              "test_int", points=2, grade=True, locked=True),
        _cell("code", "import square as grade\n\ngrade.numbers_and_tensors(square, points=3)",
              "test_partial", points=3, grade=True, locked=True),
    ]
    return nb


@contextlib.contextmanager
def checks_registered():
    """The demo course's check module registered in this process, as the class grader registers a course's."""
    from course_lib.grading.autograde import course_checks

    course_checks.register({"square": CHECKS})
    try:
        yield
    finally:
        course_checks.register({})


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader commands: the interpreter's bin first on PATH (nbgrader calls alembic)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in the course `root`."""
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=nbgrader_env(), check=check,
                          capture_output=True, text=True)


def write_config(root: Path, db_url: str | None = None, cell_timeout: int = 20) -> None:
    db_line = f"c.CourseDirectory.db_url = {db_url!r}\n" if db_url else ""
    (root / "nbgrader_config.py").write_text(CONFIG.format(cell_timeout=cell_timeout, db_line=db_line))


def make_course(root: Path, db_url: str | None = None, cell_timeout: int = 20) -> Path:
    """Create the course at `root` and release the `square` assignment into its gradebook."""
    root.mkdir(parents=True, exist_ok=True)
    write_config(root, db_url, cell_timeout)
    source = root / "solutions" / ASSIGNMENT
    source.mkdir(parents=True, exist_ok=True)
    nbformat.write(source_notebook(), source / f"{ASSIGNMENT}.ipynb")
    shutil.copy(CHECKS, source / CHECKS.name)
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force")
    return root


def add_submission(root: Path, student: str, answer: str | None = CORRECT, *, notebook: str | None = None,
                   raw: bytes | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """Hand in the released notebook with `answer` in the answer cell (or `raw` bytes as the notebook)."""
    folder = root / "submitted" / student / ASSIGNMENT
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    target = folder / (notebook or f"{ASSIGNMENT}.ipynb")
    if raw is not None:
        target.write_bytes(raw)
    else:
        nb = nbformat.read(root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer" and answer is not None:
                cell.source = answer
        nbformat.write(nb, target)
    released_checks = root / "exercises" / ASSIGNMENT / CHECKS.name
    if released_checks.is_file():
        shutil.copy(released_checks, folder / CHECKS.name)
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    (folder / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    return folder
