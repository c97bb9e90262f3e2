"""A student's path in a real JupyterLab, in headless Chromium: open the `resblk` release, write the
block in the answer cell, run every cell, press nbgrader's Validate button and read the verdict;
then hand in a wrong block and read which test failed.

JupyterLab serves a temporary copy of the release (nothing in the repository changes), on
loopback with a random port and token; one server and one browser page serve the whole module.
Screenshots of each step go to _build/screenshots/student/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import browser as harness
from submissions import bank

REPO = Path(__file__).resolve().parents[1]
SHOTS = harness.SCREENSHOTS / "student"
NOTEBOOK = "resblk/resblk.ipynb"
ANSWER_MARK = "YOUR CODE HERE"
# Correct and wrong answers from the bank of test submissions (tests/submissions/resblk/).
CORRECT = bank.load("resblk", "ok_sequential")
WRONG = bank.load("resblk", "no_projection_equal_channels")  # the notes' second fault: fails the shape test
VALIDATE_TIMEOUT_MS = 180_000
# Index of the answer cell: the one nbgrader's metadata marks as a solution.
ANSWER_CELL_JS = """
() => window.jupyterapp.shell.currentWidget.content.widgets.findIndex(
  cell => ((cell.model.getMetadata('nbgrader') || {}).solution === true))
"""


def answer_code(submission: bank.Submission) -> str:
    (code,) = submission.answers.values()
    return "\n".join(line for line in code.splitlines() if not line.startswith("# expect-lost"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.JupyterLab]:
    """JupyterLab serving a copy of the student's release of resblk."""
    if harness.why_no_browser():
        pytest.skip(harness.why_no_browser())
    home = tmp_path_factory.mktemp("student")
    shutil.copytree(REPO / "exercises" / "resblk", home / "course" / "resblk")
    with harness.JupyterLab(home / "course", home / "lab-state") as server:
        yield server


@pytest.fixture(scope="module")
def notebook_page(browser: Any, lab: harness.JupyterLab) -> Iterator[Any]:
    """A browser page with the release open in JupyterLab and its kernel ready."""
    page, log = harness.new_page(browser)
    page.goto(lab.url(f"lab/tree/{NOTEBOOK}"))
    page.wait_for_function(harness.LAB_NOTEBOOK_READY_JS, timeout=90_000)
    page.locator(".jp-Cell", has_text=ANSWER_MARK).first.wait_for()
    harness.screenshot(page, "01-release-opened", folder=SHOTS)
    yield page
    page.context.close()


def fill_answer(page: Any, code: str) -> None:
    """Click into the answer cell, select its text and type the block in, as a student pastes code."""
    index = page.evaluate(ANSWER_CELL_JS)
    assert index >= 0, "the release has no answer cell (nbgrader solution cell)"
    editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(code)
    written = page.evaluate(harness.LAB_CELL_SOURCES_JS)[index]
    assert written == code, f"the answer cell holds {written!r}"
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=20_000)


def run_all(page: Any) -> None:
    """Run > Run All Cells, from the menu bar, and wait until the kernel is idle again."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_timeout(500)
    page.wait_for_function(harness.LAB_RUN_FINISHED_JS, timeout=VALIDATE_TIMEOUT_MS)


def validate(page: Any) -> tuple[str, str]:
    """Press the Validate button; return the result dialog's outcome class and its text, then close it."""
    page.locator(".validate-button button, button.validate-button, .validate-button").first.click()
    dialog = page.locator(".jp-Dialog .validation-success, .jp-Dialog .validation-failed").first
    dialog.wait_for(timeout=VALIDATE_TIMEOUT_MS)
    outcome = "success" if "validation-success" in (dialog.get_attribute("class") or "") else "failed"
    text = dialog.inner_text()
    return outcome, text


def close_dialog(page: Any) -> None:
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").first.click()
    page.locator(".jp-Dialog").first.wait_for(state="detached")


def visible_test_outputs(page: Any) -> str:
    return page.locator(".jp-Cell", has_text="grade.shapes(ResBlk").first.locator(".jp-OutputArea").inner_text()


def test_a_correct_block_passes_validation(notebook_page: Any) -> None:
    page = notebook_page
    fill_answer(page, answer_code(CORRECT))
    harness.screenshot(page, "02-correct-answer-written", ".jp-Cell.jp-mod-active", folder=SHOTS)
    run_all(page)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
    shapes = visible_test_outputs(page)
    harness.screenshot(page, "03-visible-tests-run", ".jp-Cell:has-text('grade.shapes(ResBlk')", folder=SHOTS)
    assert "Error" not in shapes and "Traceback" not in shapes, f"the visible shape test failed:\n{shapes}"
    outcome, text = validate(page)
    harness.screenshot(page, "04-validate-success", folder=SHOTS)
    close_dialog(page)
    assert outcome == "success", f"Validate did not pass a correct block ({errors} error outputs):\n{text}"
    assert "Success! Your notebook passes all the tests." in text


def test_a_wrong_block_is_told_which_test_failed(notebook_page: Any) -> None:
    page = notebook_page
    fill_answer(page, answer_code(WRONG))
    run_all(page)
    harness.screenshot(page, "05-wrong-answer-run", ".jp-Cell:has-text('grade.shapes(ResBlk')", folder=SHOTS)
    outcome, text = validate(page)
    harness.screenshot(page, "06-validate-failed", folder=SHOTS)
    close_dialog(page)
    assert outcome == "failed", f"Validate passed a block without the projection shortcut:\n{text}"
    assert "The following cell failed:" in text
    assert "grade.shapes(ResBlk" in text, f"the failed shape test is not named:\n{text}"
    assert "Success!" not in text
