"""Test cells the course grader accepts and the ones it refuses, saying what to do: real runs on the demo course."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.grading.autograde.verdicts import GraderSetupError, parse_test_cell
from helpers import democourse
from helpers.democourse import ASSIGNMENT, CORRECT, add_submission, make_course, nbgrader

REPO = Path(__file__).resolve().parents[1]


def grade(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = democourse.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", ASSIGNMENT, "--no-progress",
                           *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def square_checks():
    """The demo course's own check module registered in this process, as the class grader registers it."""
    with democourse.checks_registered():
        yield


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("cells") / "course")


def _set_test_source(course: Path, grade_id: str, source: str) -> None:
    path = course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    nbformat.write(nb, path)


def test_an_assert_beside_the_check_is_refused_never_ignored(released: Path, tmp_path: Path) -> None:
    course = Path(shutil.copytree(released, tmp_path / "course"))
    _set_test_source(course, "test_int", "import square as grade\n"
                                         "assert square(2) == 5, 'never true'\n"
                                         "grade.integers(square, points=2)")
    assert nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", check=False).returncode == 0
    add_submission(course, "ann", CORRECT)
    result = grade(course)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 2 (`assert square(2) == 5, 'never true'`) runs beside the check" in result.stderr
    assert "c.CourseGrader.check_folders" in result.stderr and "plain `nbgrader autograde`" in result.stderr
    assert not (course / "autograded").exists()


@pytest.mark.parametrize("source", [
    "import square as grade\nx = 3\ngrade.integers(square, points=2)",
    "import square as grade\ngrade.integers(square, points=1)\ngrade.integers(square, points=1)",
    "import square as grade\nfor i in range(2):\n    pass\ngrade.integers(square, points=2)",
])
def test_any_statement_but_imports_beside_the_check_is_refused(source: str, square_checks: None) -> None:
    with pytest.raises(GraderSetupError, match="runs beside the check"):
        parse_test_cell(source, "t", 2)


def test_imports_comments_and_hidden_markers_beside_the_check_are_fine(square_checks: None) -> None:
    source = ("import torch\nimport square as grade\n\"\"\"What it checks.\"\"\"\n"
              "### BEGIN HIDDEN TESTS\n# a comment\ngrade.integers(square, points=2)\n### END HIDDEN TESTS\n")
    call = parse_test_cell(source, "t", 2)
    assert (call.module, call.function, call.target, call.hidden) == ("course:square", "integers", "square", True)


def test_the_assignments_checks_are_read_in_the_released_form_and_from_their_own_path() -> None:
    released = parse_test_cell("from course_lib.grading import resblk as grade\ngrade.shapes(ResBlk, points=2)", "t", 2)
    own = parse_test_cell("import course_lib.grading.assignments.resblk as grade\ngrade.shapes(ResBlk, points=2)",
                          "t", 2)
    assert (released.module, released.function) == (own.module, own.function) == ("resblk", "shapes")
    with pytest.raises(GraderSetupError, match="from course_lib.grading import resblk as grade"):
        parse_test_cell("import course_lib.grading.resblk as grade\ngrade.shapes(ResBlk, points=2)", "t", 2)


def test_a_courses_own_check_module_is_found_from_its_folder_and_nothing_else_is(tmp_path: Path) -> None:
    from course_lib.grading.autograde import course_checks

    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "mine_checks.py").write_text("def works(fn, points=1):\n    return float(points)\n")
    (folder / "_helper.py").write_text("")
    try:
        course_checks.register(course_checks.discover(["checks"], tmp_path))
        call = parse_test_cell("import mine_checks as grade\ngrade.works(f, points=1)", "t", 1)
        assert call.module == "course:mine_checks" and call.function == "works"
        with pytest.raises(GraderSetupError, match="has no check missing"):
            parse_test_cell("import mine_checks as grade\ngrade.missing(f, points=1)", "t", 1)
        with pytest.raises(GraderSetupError, match=r"imports other_checks.*found in the check folders: mine_checks\)"):
            parse_test_cell("import other_checks as grade\ngrade.works(f, points=1)", "t", 1)
        assert parse_test_cell("import torch\nassert f(torch.ones(1)) == 1", "t", 1).plain  # an ordinary cell
    finally:
        course_checks.register({})
    with pytest.raises(GraderSetupError, match="c.CourseGrader.check_folders in nbgrader_config.py names none"):
        parse_test_cell("import mine_checks as grade\ngrade.works(f, points=1)", "t", 1)


@pytest.mark.parametrize("name, message", [("json", "name of an installed module"),
                                           ("torch", "name of an installed module")])
def test_a_check_module_may_not_shadow_an_installed_one(tmp_path: Path, name: str, message: str) -> None:
    from course_lib.grading.autograde import course_checks

    (tmp_path / f"{name}.py").write_text("")
    with pytest.raises(course_checks.CheckFolderError, match=message):
        course_checks.discover(["."], tmp_path)
    with pytest.raises(course_checks.CheckFolderError, match="is not a folder"):
        course_checks.discover(["nowhere"], tmp_path)
