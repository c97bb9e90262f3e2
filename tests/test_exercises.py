"""The graded exercises through real nbgrader runs, in a temporary copy of the course.

One module fixture copies nbgrader_config.py, solutions/ and exercises/ into a temporary folder,
runs the plain ``nbgrader`` CLI there (generate_assignment, autograde of every assignment for many
students at once, generate_feedback, export) and the tests read the results: the committed release
is what generation makes, solutions score full marks, unanswered releases 0, every submission of
the bank loses exactly the points it should, feedback shows no hidden test, and the CSV adds up.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from submissions import bank

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
# Submissions autograded here through nbgrader: every kind of ResBlk mistake the course names, two
# correct variants and one hand-in of the reference; one wrong submission per other assignment.
# test_grading_checks.py scores the whole bank (tests/submissions) through the same checks, faster.
NBGRADER_BANK = {
    "resblk": ["no_final_relu", "no_projection_equal_channels", "missing_batchnorm", "shortcut_ignored",
               "stride_on_second_conv", "reference_imported", "ok_sequential", "ok_moduledict"],
    "conv_basics": ["flipped_kernel"],
    "pooling": ["zero_padding_for_max"],
    "batchnorm_dropout": ["biased_variance_unscaled_dropout"],
    "architectures": ["three_mistakes"],
}
BANK = [(a, n) for a in ASSIGNMENTS for n in NBGRADER_BANK.get(a, [])]
HIDDEN_REGION = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)\n### END HIDDEN TESTS", re.DOTALL)

NBGRADER = Path(sys.executable).parent / "nbgrader"
pytestmark = [
    pytest.mark.skipif(not NBGRADER.exists(), reason=f"nbgrader is not installed next to {sys.executable}"),
    # one worker runs the whole pipeline once (with pytest-xdist, use --dist loadgroup)
    pytest.mark.xdist_group("nbgrader"),
]


def _student(assignment: str, name: str) -> str:
    return f"{assignment}-{name}".replace("_", "-")


def _nbgrader(course: Path, *args: str) -> None:
    env = dict(os.environ, PATH=f"{NBGRADER.parent}{os.pathsep}{os.environ.get('PATH', '')}", OMP_NUM_THREADS="1")
    result = subprocess.run([str(NBGRADER), *args, "--log-level=WARN"], cwd=course, env=env,
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def _submit(course: Path, student: str, assignment: str, notebook: nbformat.NotebookNode) -> None:
    target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the whole nbgrader pipeline once; return the course folder and every cell's score."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "exercises", course / "exercises")
    # One nbgrader process per step for every assignment ("*" is a glob over the folders): each process
    # start costs about 2 s of CPU, and the steps are the same as one command per assignment.
    _nbgrader(course, "generate_assignment", "*", "--force")
    for assignment in ASSIGNMENTS:
        solution = course / "solutions" / assignment / f"{assignment}.ipynb"
        release = course / "exercises" / assignment / f"{assignment}.ipynb"
        _submit(course, "solution", assignment, bank.read(solution))
        _submit(course, "blank", assignment, bank.read(release))
        for a, name in BANK:
            if a == assignment:
                _submit(course, _student(a, name), a, bank.notebook_for(bank.load(a, name), release, solution))
    _nbgrader(course, "autograde", "*")
    _nbgrader(course, "generate_feedback", "*")
    _nbgrader(course, "export")

    from nbgrader.api import Gradebook

    scores: dict[tuple[str, str], dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for assignment in ASSIGNMENTS:
            for submission in gradebook.assignment_submissions(assignment):
                notebook = gradebook.find_submission_notebook(assignment, assignment, submission.student_id)
                scores[(assignment, submission.student_id)] = {g.name: g.score for g in notebook.grades}
    return {"root": course, "scores": scores}


def _cells(notebook: nbformat.NotebookNode) -> list[tuple]:
    """What a release is made of, without volatile metadata: type, source and nbgrader metadata."""
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in notebook.cells]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_what_nbgrader_generates(course, assignment):
    generated = bank.read(course["root"] / "exercises" / assignment / f"{assignment}.ipynb")
    committed = bank.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb")
    assert _cells(committed) == _cells(generated), (
        f"exercises/{assignment} is stale: run scripts/generate_release.sh {assignment} and commit it"
    )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_or_hidden_tests(assignment):
    release = (ROOT / "exercises" / assignment / f"{assignment}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in release and "HIDDEN TESTS" not in release


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_autogrades_to_full_marks(course, assignment):
    points = bank.test_points(bank.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb"))
    assert course["scores"][(assignment, "solution")] == points


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unanswered_release_autogrades_to_zero(course, assignment):
    scores = course["scores"][(assignment, "blank")]
    assert scores and sum(scores.values()) == 0


@pytest.mark.parametrize("assignment,name", BANK, ids=lambda v: v)
def test_bank_submission_loses_the_expected_points(course, assignment, name):
    submission = bank.load(assignment, name)
    points = bank.test_points(bank.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb"))
    scores = course["scores"][(assignment, _student(assignment, name))]
    lost = {grade_id for grade_id, score in scores.items() if score < points[grade_id]}
    assert lost == bank.expected_loss(submission, points), scores
    if submission.expect_lost == "everything":
        assert sum(scores.values()) == 0


def _visible_text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_shows_scores_but_no_hidden_test_code(course, assignment):
    solution = bank.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    release = (ROOT / "exercises" / assignment / f"{assignment}.ipynb").read_text()
    # lines only the hidden tests have (an import the visible tests share is no secret)
    hidden_lines = [line.strip() for cell in solution.cells for region in HIDDEN_REGION.findall(cell.source)
                    for line in region.splitlines() if line.strip() and line.strip() not in release]
    assert hidden_lines, f"{assignment} has no hidden tests"
    for student in ("solution", "blank"):
        page = course["root"] / "feedback" / student / assignment / f"{assignment}.html"
        text = _visible_text(page.read_text())
        leaked = [line for line in hidden_lines if line in text]
        assert not leaked, f"feedback for {student} shows hidden test code: {leaked}"
        assert "Hidden tests ran here" in text


def test_export_csv_totals(course):
    with open(course["root"] / "grades.csv", newline="") as handle:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(handle)}
    for assignment in ASSIGNMENTS:
        total = sum(bank.test_points(bank.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb")).values())
        assert float(rows[(assignment, "solution")]["max_score"]) == total
        assert float(rows[(assignment, "solution")]["score"]) == total
        assert float(rows[(assignment, "blank")]["score"]) == 0
        for a, name in BANK:
            if a == assignment:
                row = rows[(assignment, _student(a, name))]
                cells = course["scores"][(assignment, _student(a, name))]
                assert float(row["score"]) == pytest.approx(sum(cells.values()))
