"""Never a silent zero: the class grader grades the instructor's solution first, and refuses when it does not get
full marks (an interpreter the sandbox cannot see, a broken source notebook); a hand-in the sandbox could not
start on the grader's side is a failure, not a 0. Real runs of the course grader on the demo course."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from course_lib.grading.autograde.execute import GraderSideError, GradingContext, SandboxedExecute, SubmissionGrading
from helpers import democourse
from helpers.democourse import ASSIGNMENT, CORRECT, WRONG, add_submission, make_course
from course_lib.grading.autograde.runner import Outcome, RunSummary
from course_lib.grading.autograde.sandbox import JobResult

REPO = Path(__file__).resolve().parents[1]
needs_sandbox = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("unshare") is None,
    reason="the sandbox hides folders only on Linux with unshare (elsewhere the grader refuses without --unsafe)")


def grade(root: Path, python: str = sys.executable, *args: str) -> subprocess.CompletedProcess:
    env = democourse.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    env["PATH"] = f"{Path(python).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run([python, "-m", "course_lib.grading", "autograde", ASSIGNMENT, "--no-progress", *args],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)


def scored(root: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "demo") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    root = make_course(tmp_path_factory.mktemp("canary") / "course")
    add_submission(root, "ann", CORRECT)
    add_submission(root, "ben", WRONG)
    return root


@needs_sandbox
def test_an_interpreter_behind_a_hidden_path_is_refused_with_the_childs_error(released: Path, tmp_path: Path) -> None:
    course = Path(shutil.copytree(released, tmp_path / "course"))
    (course / ".venv").symlink_to(sys.prefix)  # the course's environment linked into a clone under /tmp
    result = grade(course, str(course / ".venv" / "bin" / Path(sys.executable).name))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "refusing to grade: the instructor's own solution" in result.stderr
    assert "ModuleNotFoundError" in result.stderr  # the child's own error, not only its exit status
    assert f"`{os.path.realpath(sys.prefix)}/bin/python -m course_lib.grading autograde" in result.stderr
    assert "graded" not in result.stdout and scored(course) == {}  # nothing was scored, nobody has a 0
    assert not (course / "autograded").exists()


@needs_sandbox
def test_a_solution_that_fails_its_own_tests_stops_the_class_and_names_the_cell(released: Path, tmp_path: Path) -> None:
    course = Path(shutil.copytree(released, tmp_path / "course"))
    source = course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace("return x * x", "return x + x")
    nbformat.write(nb, source)
    result = grade(course)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "scored 1/5 in the sandbox" in result.stderr
    assert "test cell 'test_int' 0/2 (expected 9)" in result.stderr
    assert scored(course) == {}


@needs_sandbox
def test_a_course_cloned_in_a_home_directory_grades(released: Path) -> None:
    home = Path("/home") / f"canary-{secrets.token_hex(4)}"
    try:
        course = Path(shutil.copytree(released, home / "course"))
        # the instructor's own environment inside the clone; its packages come from the course's environment
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(course / ".venv")], check=True)
        site = Path(sysconfig.get_path("purelib", vars={"base": str(course / ".venv")}))
        (site / "course_env.pth").write_text(f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
        result = grade(course, str(course / ".venv" / "bin" / "python"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "canary  the instructor's solution square.ipynb scored 5/5 in the sandbox" in result.stdout
        assert scored(course) == {"ann": 5.0, "ben": 1.0}
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_a_sandbox_that_cannot_start_a_hand_in_records_no_score_and_fails_the_run() -> None:
    nb = democourse.source_notebook()
    broken = JobResult([None] * 2, "setup-failed", "the sandbox could not start the notebook (ModuleNotFoundError: x)")
    submission = SubmissionGrading()
    executor = SandboxedExecute(GradingContext(lambda cells, files, requests: broken), submission)
    with democourse.checks_registered(), submission.turn, pytest.raises(GraderSideError, match="ModuleNotFoundError: x"):
        executor.preprocess(nb, {"nbgrader": {"student": "ann"}})
    assert submission.results == [broken] and not submission.grades  # run, and nothing decided from it
    assert "the grader's environment needs fixing" in submission.grader_problem
    report = RunSummary([Outcome("ann", "failed", submission.grader_problem), Outcome("ben", "graded", score=5.0)],
                        1.0, 1, "")
    assert report.exit_code == 1
