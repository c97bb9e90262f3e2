"""book/_ext/execute_chapters.py, the step `make book` and the tests run before the book build: real
notebooks executed by real kernels into a real jupyter-cache, run again only when their code or the
library's fingerprint changes, failures reported with their error, and found by jupyter-cache's own
matching (the lookup myst-nb makes during `jupyter-book build`)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "book" / "_ext"))
import book_inputs  # noqa: E402  (book/_ext/book_inputs.py)
import execute_chapters  # noqa: E402  (book/_ext/execute_chapters.py)


def write_notebook(path: Path, *sources: str) -> Path:
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A two-page book with the course's execution settings."""
    (tmp_path / "book").mkdir()
    (tmp_path / "_config.yml").write_text((REPO / "_config.yml").read_text())
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/one\nchapters:\n  - file: book/two\n")
    write_notebook(tmp_path / "book" / "one.ipynb", "x = 6 * 7", "print(x)")
    write_notebook(tmp_path / "book" / "two.ipynb", "import os", "print(os.getcwd())")
    return tmp_path


@pytest.mark.slow
def test_chapters_run_once_then_again_only_when_their_code_or_the_library_changes(book: Path, monkeypatch) -> None:
    cache, lines = book / "_build" / ".jupyter_cache", []
    chapters = execute_chapters.toc_notebooks(book)
    assert [path.name for path in chapters] == ["one.ipynb", "two.ipynb"]

    first = execute_chapters.execute_into_cache(chapters, cache, workers=2, source=book, log=lines.append)
    assert [outcome.status for outcome in first] == ["executed", "executed"]
    from jupyter_cache import get_cache

    executed = get_cache(str(cache)).merge_match_into_notebook(nbformat.read(chapters[0], as_version=4))[1]
    assert executed.cells[1].outputs[0]["text"] == "42\n"  # what myst-nb finds for the page
    two = get_cache(str(cache)).merge_match_into_notebook(nbformat.read(chapters[1], as_version=4))[1]
    assert two.cells[1].outputs[0]["text"].strip() == str(book / "book")  # run in the chapter's folder

    again = execute_chapters.execute_into_cache(chapters, cache, workers=2, source=book, log=lines.append)
    assert [outcome.status for outcome in again] == ["cached", "cached"]

    write_notebook(chapters[1], "import os", "print(os.getcwd(), 'edited')")
    edited = execute_chapters.execute_into_cache(chapters, cache, workers=2, source=book, log=lines.append)
    assert [outcome.status for outcome in edited] == ["cached", "executed"]

    monkeypatch.setattr(execute_chapters, "fingerprint", lambda source: "another library")
    relinked = execute_chapters.execute_into_cache(chapters, cache, workers=2, source=book, log=lines.append)
    assert [outcome.status for outcome in relinked] == ["executed", "executed"]


@pytest.mark.slow
def test_a_failing_chapter_is_reported_with_its_error_and_never_left_cached(book: Path) -> None:
    cache = book / "_build" / ".jupyter_cache"
    chapters = execute_chapters.toc_notebooks(book)
    execute_chapters.execute_into_cache(chapters, cache, source=book, log=lambda line: None)
    write_notebook(chapters[0], "x = 6 * 7", "raise ValueError('chapter one is broken')")
    outcomes = execute_chapters.execute_into_cache(chapters, cache, source=book, log=lambda line: None)
    assert [outcome.status for outcome in outcomes] == ["failed", "cached"]
    assert "chapter one is broken" in outcomes[0].traceback
    retried = execute_chapters.execute_into_cache(chapters, cache, source=book, log=lambda line: None)
    assert retried[0].status == "failed"  # a failure is not cached: the next call runs it again


def test_the_book_stamp_changes_with_a_page_the_links_or_the_executions(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "book").mkdir()
    for name in ("_config.yml", "_toc.yml", "requirements.txt"):
        (tmp_path / name).write_text(name)
    page = tmp_path / "book" / "intro.md"
    page.write_text("# Intro\n")
    monkeypatch.delenv("COURSE_REPOSITORY_URL", raising=False)
    before = book_inputs.digest(tmp_path)
    assert book_inputs.digest(tmp_path) == before
    page.write_text("# Intro, edited\n")
    after_edit = book_inputs.digest(tmp_path)
    assert after_edit != before
    monkeypatch.setenv("COURSE_REPOSITORY_URL", "https://github.com/acme/cnn-course")
    assert book_inputs.digest(tmp_path) != after_edit
    monkeypatch.delenv("COURSE_REPOSITORY_URL")
    notes = tmp_path / "_build" / ".jupyter_cache" / execute_chapters.STATE_FILE
    notes.parent.mkdir(parents=True)
    notes.write_text("{}")
    assert book_inputs.digest(tmp_path) != after_edit


def test_a_fresh_cache_starts_the_typically_longest_chapters_first() -> None:
    toc = ["/b/one", "/b/two", "/b/three", "/b/four"]
    typical = {"/b/two": 80.0, "/b/three": 10.0}
    # nothing ran yet: the typical times decide, chapters without one go last, the table read backwards
    assert execute_chapters.execution_order(toc, toc, {}, typical) == ["/b/two", "/b/three", "/b/four", "/b/one"]
    # after a build, this machine's own times win over the typical ones
    assert execute_chapters.execution_order(toc, toc, {"/b/three": 95.0, "/b/one": 1.0}, typical)[:2] == ["/b/three", "/b/two"]


def test_the_typical_times_name_chapters_of_the_table_of_contents() -> None:
    typical = execute_chapters.typical_seconds(REPO)
    toc = {str(path.resolve()) for path in execute_chapters.toc_notebooks(REPO)}
    assert typical and set(typical) <= toc, sorted(set(typical) - toc)
