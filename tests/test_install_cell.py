"""Every chapter opens with the install cell that Colab, Binder and JupyterHub readers need, and the
script that writes it (scripts/add_install_cell.py) is idempotent and keeps the rest of a notebook.

A chapter without the cell fails its own parametrised test: run
`.venv/bin/python scripts/add_install_cell.py` (every chapter in _toc.yml) and commit the notebooks.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "add_install_cell.py"
_spec = importlib.util.spec_from_file_location("add_install_cell", SCRIPT)
add_install_cell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(add_install_cell)

CHAPTERS = add_install_cell.chapter_notebooks()
UNCONFIGURED = add_install_cell.CourseLinks("", "main", "")
CONFIGURED = add_install_cell.CourseLinks("https://github.com/acme/cnn-course", "spring", "")
FIX = "run `.venv/bin/python scripts/add_install_cell.py` and commit the chapter"


def code_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_the_table_of_contents_lists_chapter_notebooks() -> None:
    assert len(CHAPTERS) >= 11 and all(path.suffix == ".ipynb" for path in CHAPTERS), CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_chapter_starts_with_the_install_cell(chapter: Path) -> None:
    notebook = nbformat.read(chapter, as_version=4)
    installs = [cell for cell in notebook.cells if add_install_cell.is_install_cell(cell)]
    assert installs, f"{chapter.name} has no install cell (tag course-install): {FIX}"
    assert len(installs) == 1, f"{chapter.name} has {len(installs)} install cells: {FIX}"
    first = code_cells(notebook)[0]
    assert add_install_cell.is_install_cell(first), f"{chapter.name}: the install cell is not the first code cell: {FIX}"
    assert "remove-cell" in first.metadata["tags"], f"{chapter.name}: the install cell would show in the book: {FIX}"
    expected = add_install_cell.cell_source(add_install_cell.resolve(REPO))
    assert first.source == expected, f"{chapter.name}: the install cell is out of date: {FIX}"
    assert not first.get("outputs"), f"{chapter.name}: commit chapters without outputs"


def test_script_is_idempotent_and_keeps_the_rest(tmp_path: Path) -> None:
    chapter = tmp_path / "chapter.ipynb"
    shutil.copy(REPO / "book" / "01_convolution.ipynb", chapter)
    original = nbformat.read(chapter, as_version=4)
    others = [cell.source for cell in original.cells if not add_install_cell.is_install_cell(cell)]

    assert add_install_cell.update(chapter, add_install_cell.cell_source(UNCONFIGURED)) in (True, False)
    once = chapter.read_text()
    assert add_install_cell.update(chapter, add_install_cell.cell_source(UNCONFIGURED)) is False
    assert chapter.read_text() == once, "a second run changed the notebook"

    notebook = nbformat.read(chapter, as_version=4)
    assert [cell.source for cell in notebook.cells if not add_install_cell.is_install_cell(cell)] == others
    assert add_install_cell.is_install_cell(code_cells(notebook)[0])
    assert notebook.cells[0].cell_type == "markdown", "the chapter's title stays its first cell"

    # A configured repository updates the one cell in place.
    assert add_install_cell.update(chapter, add_install_cell.cell_source(CONFIGURED)) is True
    notebook = nbformat.read(chapter, as_version=4)
    installs = [cell for cell in notebook.cells if add_install_cell.is_install_cell(cell)]
    assert len(installs) == 1 and "git+https://github.com/acme/cnn-course@spring" in installs[0].source
    nbformat.validate(notebook)


def test_check_mode_reports_without_writing(tmp_path: Path) -> None:
    chapter = tmp_path / "chapter.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("1")])
    nbformat.write(notebook, chapter)
    before = chapter.read_text()
    assert add_install_cell.main(["--check", str(chapter)]) == 1
    assert chapter.read_text() == before
    assert add_install_cell.main([str(chapter)]) == 0
    assert add_install_cell.main(["--check", str(chapter)]) == 0


def run_cell(python: str, source: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([python, "-c", source], capture_output=True, text=True, timeout=120,
                          cwd="/", env=environ)


def test_cell_does_nothing_where_course_lib_is_installed() -> None:
    done = run_cell(sys.executable, add_install_cell.cell_source(CONFIGURED))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "", "the cell printed (or installed) although course_lib imports"


def test_cell_says_how_to_configure_where_course_lib_is_missing() -> None:
    # An interpreter without the course, as a fresh Colab or Binder kernel is.
    bare = shutil.which("python3", path="/usr/bin:/bin")
    if bare is None or run_cell(bare, "import course_lib").returncode == 0:
        pytest.skip("no interpreter without course_lib on this machine (/usr/bin/python3)")
    done = run_cell(bare, add_install_cell.cell_source(UNCONFIGURED))
    assert done.returncode == 0, done.stderr
    assert "course_lib is not installed" in done.stdout and "COURSE_REPOSITORY_URL" in done.stdout
    assert "add_install_cell.py" in done.stdout
