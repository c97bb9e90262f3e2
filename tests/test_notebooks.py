"""Run every chapter (book/) and every nbgrader source notebook (solutions/) top to bottom: a notebook
passes when no cell raises. exercises/ is left out on purpose (its answer cells raise
NotImplementedError until a student fills them in).

The chapters are executed once per test run, into the book's jupyter-cache, by the shared fixture
`executed_chapters` (tests/conftest.py; the same step as `make book`, two chapters at a time), with
the book's per-cell timeout and `allow_errors: false`, which is what nbval's lax mode checks; the
book build in tests/test_book.py then reuses those outputs instead of executing every chapter again.
The nbgrader source notebooks, which are not pages of the book, run under nbval in lax mode, each
in its own pytest process and its own xdist group, so `pytest -n 2 --dist loadgroup` runs two at a
time. One test per notebook shows which one broke. SKIP_NOTEBOOKS=1 skips them all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BOOK_SOURCE

REPO = Path(__file__).resolve().parents[1]
CELL_TIMEOUT_S = 600  # the same per-cell limit as the book build (_config.yml, execute.timeout)

sys.path.insert(0, str(REPO / "book" / "_ext"))
import execute_chapters  # noqa: E402  (book/_ext/execute_chapters.py: the step make book runs too)


def source_notebooks() -> list[Path]:
    """Every nbgrader source notebook under solutions/, checkpoints excluded."""
    return [path for path in sorted((REPO / "solutions").rglob("*.ipynb"))
            if ".ipynb_checkpoints" not in path.parts and "_build" not in path.parts]


def chapters() -> list[Path]:
    """Every chapter notebook under book/; each must also be a page of the book (listed in _toc.yml)."""
    return sorted((BOOK_SOURCE / "book").glob("*.ipynb"))


def skip_if_asked() -> None:
    if os.environ.get("SKIP_NOTEBOOKS") == "1":
        pytest.skip("SKIP_NOTEBOOKS=1: notebooks were not executed")


def test_every_chapter_is_a_page_of_the_book() -> None:
    # A chapter left out of _toc.yml would be neither built nor executed by the tests below.
    listed = {path.resolve() for path in execute_chapters.toc_notebooks(BOOK_SOURCE)}
    assert [path.name for path in chapters() if path.resolve() not in listed] == []


@pytest.mark.xdist_group("book")
@pytest.mark.parametrize("chapter", chapters(), ids=lambda path: str(path.relative_to(BOOK_SOURCE)))
def test_chapter_runs_without_errors(chapter: Path, executed_chapters: dict) -> None:
    skip_if_asked()
    outcome = executed_chapters[chapter.resolve()]
    assert outcome.ok, (f"{chapter.relative_to(BOOK_SOURCE)} {outcome.status} when executed into the book's "
                        f"jupyter-cache:\n{(outcome.traceback or '(no traceback)')[-6000:]}")


@pytest.mark.parametrize("notebook", [pytest.param(path, marks=pytest.mark.xdist_group(f"nbval-{path.stem}"))
                                      for path in source_notebooks()],
                         ids=lambda path: str(path.relative_to(REPO)))
def test_source_notebook_runs_without_errors(notebook: Path) -> None:
    skip_if_asked()
    command = [sys.executable, "-m", "pytest", "--nbval-lax", f"--nbval-cell-timeout={CELL_TIMEOUT_S}",
               "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO), str(notebook)]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"{notebook.relative_to(REPO)} failed under nbval:\n{output[-6000:]}"
