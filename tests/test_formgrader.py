"""An instructor's path in a real JupyterLab, in headless Chromium: a temporary course with three
hand-ins of `resblk` graded by the course's grader (`python -m course_lib.grading autograde resblk`),
then nbgrader's formgrader in JupyterLab showing the assignment, the students with their scores,
a submission opened, feedback generated and released.

Nothing in the repository changes: the course lives in a temporary folder (its own gradebook and
exchange). Screenshots of each step go to _build/screenshots/formgrader/.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

import browser as harness
from submissions import bank

REPO = Path(__file__).resolve().parents[1]
SHOTS = harness.SCREENSHOTS / "formgrader"
ASSIGNMENT = "resblk"
# Student id -> hand-in from the bank (tests/submissions/resblk/): right, one fault, two faults.
HAND_INS = {"ada": "ok_sequential", "ben": "no_final_relu", "cai": "no_projection_equal_channels"}
GRADER_TIMEOUT_S = 600
HANDED_IN = "2026-03-02 10:00:00.000000 UTC"


def nbgrader_env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    return env


def run(course: Path, *command: str, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", *command], cwd=course, env=nbgrader_env(),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def gradebook_scores(course: Path) -> dict[str, tuple[float, float]]:
    """(score, max score) of each student's resblk submission, as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnn-course") as gradebook:
        return {s.student.id: (s.score, s.max_score) for s in gradebook.assignment_submissions(ASSIGNMENT)}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A course folder with resblk released, three hand-ins, all graded by the course's grader."""
    if harness.why_no_browser():
        pytest.skip(harness.why_no_browser())
    course = tmp_path_factory.mktemp("instructor") / "course"
    shutil.copytree(REPO / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    config = (REPO / "nbgrader_config.py").read_text()
    exchange = course.parent / "exchange"
    exchange.mkdir()
    (course / "nbgrader_config.py").write_text(
        f"{config}\n# This test's own exchange, for released feedback.\nc.Exchange.root = {str(exchange)!r}\n")
    run(course, "nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    release = course / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    solution = course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    for student, name in HAND_INS.items():
        notebook = bank.notebook_for(bank.load(ASSIGNMENT, name), release, solution)
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{ASSIGNMENT}.ipynb")
        # What `nbgrader submit` hands in beside the notebook, and `nbgrader collect` keeps.
        (folder / "timestamp.txt").write_text(HANDED_IN)
        (folder / "submission_secret.txt").write_text(os.urandom(16).hex())
    graded = run(course, "course_lib.grading", "autograde", ASSIGNMENT, "--no-progress", timeout=GRADER_TIMEOUT_S)
    (SHOTS.mkdir(parents=True, exist_ok=True), (SHOTS / "autograde.log").write_text(graded.stdout + graded.stderr))
    return course


@pytest.fixture(scope="module")
def formgrader(browser: Any, course: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """JupyterLab in the course folder with the formgrader open: (page, the formgrader's frame)."""
    with harness.JupyterLab(course, tmp_path_factory.mktemp("instructor-lab")) as lab:
        page, _ = harness.new_page(browser)
        page.goto(lab.url("lab"))
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click(timeout=90_000)
        page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Formgrader$")).first.click()
        frame = page.frame_locator("#formgrader iframe")
        frame.locator("table.dataTable tbody tr td").first.wait_for(timeout=60_000)
        yield page, frame
        page.context.close()


def table_rows(frame: Any) -> list[list[str]]:
    """The cells' texts of each row of the formgrader page's main table, once it has loaded."""
    frame.locator("table.dataTable tbody tr td").first.wait_for(timeout=30_000)
    rows = frame.locator("table.dataTable tbody tr")
    return [[cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def go_to(frame: Any, link: str, row: str | None = None, then: str = "table.dataTable tbody tr td") -> None:
    """Follow the link with this text (in the table row that mentions `row`, if given) and wait for
    the new page to show `then`."""
    frame.locator("body").evaluate("body => body.dataset.left = 'yes'")  # marks the page being left
    scope = frame.locator("table.dataTable tbody tr", has_text=row) if row else frame
    scope.locator("a", has_text=re.compile(rf"^\s*{re.escape(link)}\s*$")).first.click()
    frame.locator(f"body:not([data-left]) {then}").first.wait_for(timeout=60_000)


def open_formgrader_page(page: Any, frame: Any, path: str) -> None:
    """Point the formgrader panel at one of its pages (as its own navigation links do)."""
    frame.locator("body").evaluate("body => body.dataset.left = 'yes'")
    page.evaluate("path => { const f = document.querySelector('#formgrader iframe');"
                  " f.src = new URL(path, f.src).href; }", f"/formgrader/{path}")
    frame.locator("body:not([data-left]) table.dataTable tbody tr td").first.wait_for(timeout=60_000)


def test_graders_scores_are_in_the_gradebook(course: Path) -> None:
    scores = gradebook_scores(course)
    assert set(scores) == set(HAND_INS)
    best = scores["ada"]
    assert best[0] == best[1] > 0, f"the correct block did not get full marks: {scores}"
    assert scores["ben"][0] < best[0] and scores["cai"][0] < best[0], scores


def test_formgrader_shows_the_assignment(formgrader: tuple[Any, Any]) -> None:
    page, frame = formgrader
    go_to(frame, "Manage Assignments")
    rows = table_rows(frame)
    harness.screenshot(page, "01-manage-assignments", folder=SHOTS)
    row = next((row for row in rows if row and row[0] == ASSIGNMENT), None)
    assert row is not None, f"formgrader does not list {ASSIGNMENT}: {rows}"
    assert str(len(HAND_INS)) in row, f"the {ASSIGNMENT} row does not count {len(HAND_INS)} submissions: {row}"


def test_formgrader_shows_each_student_with_the_graders_score(formgrader: tuple[Any, Any], course: Path) -> None:
    page, frame = formgrader
    go_to(frame, "Manage Students")
    rows = table_rows(frame)
    harness.screenshot(page, "02-manage-students", folder=SHOTS)
    shown = {}
    for row in rows:
        student = next((cell for cell in row if cell in HAND_INS), None)
        score = next((cell for cell in row if re.fullmatch(r"[\d.]+ / [\d.]+", cell)), None)
        if student and score:
            shown[student] = tuple(float(part) for part in score.split(" / "))
    expected = {student: (round(score, 2), round(top, 2)) for student, (score, top) in gradebook_scores(course).items()}
    assert shown == expected, f"formgrader shows {shown}, the gradebook holds {expected}"


def cell_scores(course: Path, student: str) -> dict[str, float]:
    """The gradebook's score of each graded cell of the student's notebook, by grade id."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnn-course") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades}


def test_a_submission_opens_with_its_grades(formgrader: tuple[Any, Any], course: Path) -> None:
    page, frame = formgrader
    go_to(frame, "Manage Students")
    go_to(frame, "None, None", row="cai")  # the student's assignments (the name column; no names given)
    go_to(frame, ASSIGNMENT, row=ASSIGNMENT)  # the assignment's notebooks
    harness.screenshot(page, "03-student-notebooks", folder=SHOTS)
    go_to(frame, ASSIGNMENT, row=ASSIGNMENT, then=".cell")  # the submission, as formgrader shows it
    text = frame.locator("body").inner_text()
    harness.screenshot(page, "04-submission-opened", folder=SHOTS)
    assert "grade.shapes(ResBlk" in text, "the submission page does not show the notebook's test cells"
    assert "class ResBlk" in text, "the submission page does not show the student's answer"
    expected = cell_scores(course, "cai")
    # The page fills each score field from the gradebook once loaded: the grader's score as the
    # placeholder, an instructor's override as the value.
    frame.locator("input.score[placeholder]").first.wait_for(timeout=30_000)
    fields = {grade_id: frame.locator(f"input.score#{grade_id}") for grade_id in expected}
    shown = {grade_id: float(field.input_value() or field.get_attribute("placeholder") or "nan")
             for grade_id, field in fields.items()}
    assert shown == pytest.approx(expected), f"the submission page shows scores {shown}, the gradebook holds {expected}"


def test_feedback_is_generated_and_released(formgrader: tuple[Any, Any], course: Path) -> None:
    page, frame = formgrader
    open_formgrader_page(page, frame, "manage_assignments")
    frame.locator("table.dataTable tbody tr", has_text=ASSIGNMENT).locator(".generate-feedback a").click()
    modal = frame.locator(".modal.show, .modal.in").first
    modal.wait_for(timeout=GRADER_TIMEOUT_S * 1000)
    message = modal.inner_text()
    harness.screenshot(page, "05-feedback-generated", folder=SHOTS)
    assert "Successfully generated feedback" in message, message
    feedback = {student: course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html" for student in HAND_INS}
    assert all(path.is_file() for path in feedback.values()), feedback
    text = html.unescape(re.sub(r"<[^>]+>", "", feedback["cai"].read_text()))
    score, top = gradebook_scores(course)["cai"]
    assert f"{ASSIGNMENT} (Score: {round(score, 2):g} / {top:.1f})" in text, "the feedback does not give the score"
    assert "grade.shapes(ResBlk" in text, "the feedback does not show the visible tests"
    modal.locator("button", has_text=re.compile("close|ok", re.IGNORECASE)).first.click()
    modal.wait_for(state="hidden")

    frame.locator("table.dataTable tbody tr", has_text=ASSIGNMENT).locator(".release-feedback a").click()
    modal = frame.locator(".modal.show, .modal.in").first
    modal.wait_for(timeout=120_000)
    message = modal.inner_text()
    harness.screenshot(page, "06-feedback-released", folder=SHOTS)
    assert "Successfully released feedback" in message, message
    released = list((course.parent / "exchange").rglob("*.html"))
    assert len(released) == len(HAND_INS), f"released feedback files: {released}"
