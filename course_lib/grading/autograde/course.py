"""The nbgrader course's facts, read in one place by the class grader and the class report: its configuration
(``nbgrader_config.py`` in the current folder, and ``--db``), its gradebook, and its assignments' source and
release folders and what their notebooks hold."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar

App = TypeVar("App")


class CourseError(RuntimeError):
    """The course cannot be read as asked: the message says what is missing and what to run."""


def load_app(app_class: type[App], db_url: str | None = None) -> App:
    """nbgrader's application `app_class`, configured by nbgrader_config.py in the current folder (and `db_url`)."""
    from traitlets.config import Config

    app = app_class()
    app.initialize([])
    app.log.setLevel(logging.WARNING)
    if db_url:
        app.update_config(Config({"CourseDirectory": {"db_url": db_url}}))
    return app


def missing_gradebook(url: str) -> Path | None:
    """The file of a SQLite gradebook `url` that does not exist yet (None for one that does, or a server's)."""
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return Path(url[len("sqlite:///"):])
    return None


def assignment_notebooks(coursedir: Any, assignment: str) -> list[str]:
    """The names of `assignment`'s notebooks, as the gradebook has them; CourseError saying what to run if none."""
    from nbgrader.api import Gradebook, MissingEntry

    url = coursedir.db_url
    if missing := missing_gradebook(url):
        raise CourseError(f"no gradebook at {missing}: run `nbgrader generate_assignment "
                          f"{assignment}` first")
    try:
        with Gradebook(url, coursedir.course_id) as gb:
            return [nb.name for nb in gb.find_assignment(assignment).notebooks]
    except MissingEntry:
        raise CourseError(f"unknown assignment '{assignment}': it is not in the gradebook; run "
                          f"`nbgrader generate_assignment {assignment}` first") from None
    except Exception as exc:  # noqa: BLE001 - a wrong --db URL, a server that is down
        raise CourseError(f"cannot open the gradebook {url!r}: {str(exc).splitlines()[0]}") from None


def source_folder(coursedir: Any, assignment: str) -> Path:
    """Where the instructor's notebooks of `assignment` are (``solutions/<assignment>/`` here)."""
    return Path(coursedir.format_path(coursedir.source_directory, ".", assignment))


def release_folder(coursedir: Any, assignment: str) -> Path:
    """Where the release students get is (``exercises/<assignment>/`` here)."""
    return Path(coursedir.format_path(coursedir.release_directory, ".", assignment))


def code_cells(folder: Path) -> list[str]:
    """The source of every code cell of the notebooks in `folder`; an unreadable notebook is passed over (it
    only means fewer release cells are recognised, or a slower first import in the sandbox)."""
    import nbformat

    cells: list[str] = []
    for path in sorted(folder.glob("*.ipynb")):
        try:
            cells += [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        except Exception:  # noqa: BLE001 - see the docstring
            continue
    return cells


def release_sources(coursedir: Any, assignment: str) -> set[str]:
    """The source of every code cell the release gives students (unchanged, it is not the student's code)."""
    return set(code_cells(release_folder(coursedir, assignment)))


def released_files(coursedir: Any, assignment: str) -> frozenset[str]:
    """The paths, relative to the assignment's folder, of the files the release gives beside its notebooks (a
    hand-in that carries them back has no extra files)."""
    folder = release_folder(coursedir, assignment)
    return frozenset(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.suffix != ".ipynb")


def source_code(coursedir: Any, assignment: str) -> list[str]:
    """The code cells of the instructor's source notebooks (what the templates preload is read from them)."""
    return code_cells(source_folder(coursedir, assignment))
