"""Build the HTML book exactly as `make book` does, then open every page in headless Chromium:
pages load with no network, chapter figures show, widgets render offline, formulas typeset.

The build goes into the repository's _build/ (as `make book`) and reuses its jupyter-cache, so a
second run executes no notebook; screenshots land in _build/screenshots/ for CI to keep.
Set BOOK_BUILD_DIR to build somewhere else (the HTML then lands in $BOOK_BUILD_DIR/_build/html),
BOOK_SOURCE_DIR to check another copy of the book (a folder with _config.yml, _toc.yml, book/),
SKIP_BOOK_BUILD=1 to skip these tests (the first build executes every chapter: minutes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from chromium_cdp import Chromium, find_chromium

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path(os.environ.get("BOOK_SOURCE_DIR", REPO)).resolve()
BUILD_ROOT = Path(os.environ.get("BOOK_BUILD_DIR", SOURCE)).resolve()
BUILD_DIR = BUILD_ROOT / "_build"
SCREENSHOTS = BUILD_DIR / "screenshots"
# The same flags as `make book`: warnings (a failing notebook is one) fail the build, all reported.
BUILD_FLAGS = ["-W", "-n", "--keep-going", "--builder", "html"]
BUILD_TIMEOUT_S = 3600
# The chapter that must show a figure (edge detection on a real photo), and the chapters whose
# explorers (course_lib.widgets.conv_explorer / pool_explorer) must render without a kernel.
FIGURE_PAGE = "book/01_convolution"
WIDGET_PAGES = ("book/02_padding_stride_channels", "book/03_pooling")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def toc_pages(toc: Path = SOURCE / "_toc.yml") -> list[str]:
    """Every page the table of contents lists, root first, as paths without suffix."""
    data = yaml.safe_load(toc.read_text())
    pages = [data["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in data.items() if key != "root"})
    return pages


def book_config() -> dict:
    """The book's _config.yml as a dict."""
    return yaml.safe_load((SOURCE / "_config.yml").read_text())


def build_book(source: Path, output_root: Path, log: Path) -> tuple[int, float, str]:
    """Run `jupyter-book build` with the `make book` flags; return exit status, seconds, log text."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", str(source),
               "--path-output", str(output_root), *BUILD_FLAGS]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.monotonic()
    done = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    seconds = time.monotonic() - start
    text = done.stdout + done.stderr
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(command)}\n{text}\nexit {done.returncode} after {seconds:.1f} s\n")
    return done.returncode, seconds, text


def problems_in(log_text: str, limit: int = 40) -> str:
    """The warning and error lines of a build log (what made it fail), else its tail."""
    lines = [line for line in log_text.splitlines() if "WARNING" in line or "ERROR" in line or "Error" in line]
    return "\n".join((lines or log_text.splitlines())[-limit:])


def skip_if_asked() -> None:
    """Skip the calling test when SKIP_BOOK_BUILD=1."""
    if os.environ.get("SKIP_BOOK_BUILD") == "1":
        pytest.skip("SKIP_BOOK_BUILD=1: the book builds and their browser checks were not run")


@pytest.fixture(scope="module")
def book_html() -> Path:
    """Build the book (cached after the first time) and return the folder of its HTML."""
    skip_if_asked()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    log = BUILD_DIR / "book-build.log"
    with FileLock(str(BUILD_DIR / ".book-build.lock")):  # pytest-xdist workers build one at a time
        status, seconds, text = build_book(SOURCE, BUILD_ROOT, log)
    if status != 0:
        pytest.fail(f"the book build failed (exit {status}, {seconds:.0f} s; full log in {log}):\n"
                    f"{problems_in(text)}", pytrace=False)
    print(f"book built in {seconds:.1f} s (log: {log})")
    return BUILD_DIR / "html"


def test_every_toc_page_is_built(book_html: Path) -> None:
    missing = [page for page in toc_pages() if not (book_html / f"{page}.html").is_file()]
    assert not missing, f"pages listed in _toc.yml but not built: {missing}"


def test_title_copyright_and_launch_buttons(book_html: Path) -> None:
    config = book_config()
    html = (book_html / f"{FIGURE_PAGE}.html").read_text()
    assert config["title"] in html
    assert f"Copyright {config['copyright']}" in html
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    branch = config["repository"]["branch"]
    notebook = f"{FIGURE_PAGE}.ipynb"
    expected = {
        "Colab": f"{config['launch_buttons']['colab_url']}/github/{repo}/blob/{branch}/{notebook}",
        "Binder": f"{config['launch_buttons']['binderhub_url']}/v2/gh/{repo}/{branch}?urlpath=lab/tree/{notebook}",
        "JupyterHub": f"{config['launch_buttons']['jupyterhub_url']}/hub/user-redirect/git-pull?repo=",
    }
    absent = [name for name, link in expected.items() if link not in html]
    assert not absent, f"launch buttons missing on {FIGURE_PAGE}: {absent}"


@dataclass
class PageReport:
    """What the browser saw on one built page."""

    requested: list[str]
    failed: list[str]
    errors: list[str]
    images: list[dict]
    widget_views: int = 0
    widgets_rendered: int = 0
    math_nodes: int = 0
    typeset: int = 0
    widget_text_before_after: tuple[str, str] | None = None
    screenshots: list[Path] = field(default_factory=list)


# JavaScript run in each page once it has loaded.
IMAGES_JS = """
Promise.all(Array.from(document.images).map(img => {
  img.loading = 'eager';
  const done = img.decode().catch(() => null);
  const timeout = new Promise(resolve => setTimeout(resolve, 5000));
  return Promise.race([done, timeout]).then(() => ({
    src: img.getAttribute('src'), width: img.naturalWidth, height: img.naturalHeight,
    inArticle: img.closest('article') !== null}));
}))
"""
WIDGET_VIEWS_JS = "document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
WIDGETS_RENDERED_JS = "document.querySelectorAll('.widget-subarea .jupyter-widgets').length"
MATH_JS = "document.querySelectorAll('article .math').length"
# What a widget area shows apart from its sliders (whose own readouts change when they move).
WIDGET_TEXT_JS = """
(() => {
  const area = document.querySelector('.widget-subarea');
  if (!area) return null;
  const copy = area.cloneNode(true);
  copy.querySelectorAll('.widget-slider').forEach(slider => slider.remove());
  return copy.innerHTML;
})()
"""
FOCUS_SLIDER_JS = """
(() => {
  const handle = document.querySelector('.widget-subarea .widget-slider .noUi-handle');
  if (!handle) return false;
  handle.focus();
  return true;
})()
"""
TYPESET_JS = """
(window.MathJax && MathJax.startup && MathJax.startup.promise
  ? MathJax.startup.promise : Promise.resolve()).then(
  () => document.querySelectorAll('article mjx-container').length)
"""


def scroll_to(browser: Chromium, selector: str) -> bool:
    """Scroll the first element matching selector into the middle of the view; False if none."""
    found = browser.evaluate(
        f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return false;"
        " e.scrollIntoView({block: 'center', inline: 'nearest'}); window.scrollTo(0, window.scrollY);"
        " return true; })()")
    time.sleep(0.2)
    return bool(found)


def visit(browser: Chromium, html: Path, page: str) -> PageReport:
    """Open one page, wait for widgets, images and formulas, take screenshots, report."""
    loaded = browser.open(html.joinpath(f"{page}.html").as_uri())
    report = PageReport(requested=loaded.requested, failed=loaded.failed, errors=loaded.errors,
                        images=browser.evaluate(IMAGES_JS))
    report.widget_views = browser.evaluate(WIDGET_VIEWS_JS)
    if report.widget_views:
        browser.wait_for(f"document.querySelectorAll('.widget-subarea').length >= {report.widget_views}")
    report.widgets_rendered = browser.evaluate(WIDGETS_RENDERED_JS)
    report.math_nodes = browser.evaluate(MATH_JS)
    report.typeset = browser.evaluate(TYPESET_JS)
    name = page.replace("/", "__")
    shots = [(SCREENSHOTS / f"{name}.png", None),
             (SCREENSHOTS / f"{name}-figure.png", "article .cell_output img"),
             (SCREENSHOTS / f"{name}-widget.png", ".widget-subarea")]
    for path, selector in shots:
        if selector is None or scroll_to(browser, selector):
            browser.screenshot(path)
            report.screenshots.append(path)
    if report.widgets_rendered and browser.evaluate(FOCUS_SLIDER_JS):
        before = browser.evaluate(WIDGET_TEXT_JS)
        browser.press("ArrowRight", 39)  # one step of the first slider, as a reader would
        time.sleep(0.5)
        report.widget_text_before_after = (before, browser.evaluate(WIDGET_TEXT_JS))
    return report


@pytest.fixture(scope="module")
def pages(book_html: Path) -> dict[str, PageReport]:
    """Every built page, opened once in headless Chromium."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium on PATH: install Debian's `chromium` (scripts/setup_system.sh does, "
                    "as root) to check the built pages in a browser")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    with Chromium(executable) as browser:
        return {page: visit(browser, book_html, page) for page in toc_pages()}


def test_pages_load_offline_without_failed_requests(pages: dict[str, PageReport]) -> None:
    local = ("file:", "data:", "blob:", "about:")
    external = {page: [url for url in report.requested if not url.startswith(local)]
                for page, report in pages.items()}
    failed = {page: report.failed for page, report in pages.items()}
    assert not any(external.values()), f"pages reach the network: {external}"
    assert not any(failed.values()), f"resources that did not load: {failed}"


def test_pages_run_without_javascript_errors(pages: dict[str, PageReport]) -> None:
    errors = {page: report.errors for page, report in pages.items() if report.errors}
    assert not errors, f"uncaught JavaScript errors: {errors}"


def test_no_broken_images(pages: dict[str, PageReport]) -> None:
    broken = {page: [image["src"] for image in report.images if image["width"] == 0]
              for page, report in pages.items()}
    assert not any(broken.values()), f"images with no pixels (missing or unreadable): {broken}"


def test_chapter_page_shows_its_figure(pages: dict[str, PageReport]) -> None:
    figures = [image for image in pages[FIGURE_PAGE].images if image["inArticle"]]
    assert figures, f"{FIGURE_PAGE} shows no figure"
    assert all(image["width"] > 0 and image["height"] > 0 for image in figures), figures
    assert (SCREENSHOTS / f"{FIGURE_PAGE.replace('/', '__')}-figure.png").is_file()


@pytest.mark.parametrize("page", WIDGET_PAGES)
def test_widgets_render_without_a_kernel(pages: dict[str, PageReport], book_html: Path, page: str) -> None:
    embeds_state = WIDGET_STATE in (book_html / f"{page}.html").read_text()
    assert embeds_state, (
        f"{page} embeds no widget state: its explorer cell did not display a widget when it ran")
    report = pages[page]
    assert report.widget_views > 0, f"{page} has widget state but no widget view"
    assert report.widgets_rendered >= report.widget_views, (
        f"{page}: {report.widget_views} widget views, {report.widgets_rendered} rendered widgets; "
        "the vendored html-manager did not run (see book/vendor/README.md)")
    assert (SCREENSHOTS / f"{page.replace('/', '__')}-widget.png").is_file()


@pytest.mark.parametrize("page", WIDGET_PAGES)
def test_widget_output_follows_its_slider_without_a_kernel(pages: dict[str, PageReport], page: str) -> None:
    # The explorers promise that their sliders work on the web page: each setting is drawn in
    # advance, so moving a slider must change what the widget shows, with no Python running.
    report = pages[page]
    assert report.widget_text_before_after is not None, f"{page}: no slider found in its widget"
    before, after = report.widget_text_before_after
    assert before != after, f"{page}: moving the first slider changed nothing but the slider"


def test_widget_scripts_load_only_where_widgets_are(book_html: Path) -> None:
    # A _static/ folder at the book root would make Jupyter Book add every vendored .js (4 MB of
    # widget manager, MathJax extensions) to every page; only pages with widgets should load it.
    for page in toc_pages():
        html = (book_html / f"{page}.html").read_text()
        assert ("embed-amd.js" in html) == (WIDGET_STATE in html), page


def test_formulas_are_typeset_offline(pages: dict[str, PageReport]) -> None:
    with_math = {page: report for page, report in pages.items() if report.math_nodes}
    assert with_math, "no page has a formula; expected some in the chapters"
    untypeset = {page: (report.math_nodes, report.typeset) for page, report in with_math.items()
                 if report.typeset == 0}
    assert not untypeset, f"pages whose formulas MathJax did not typeset (formulas, typeset): {untypeset}"


def test_failing_notebook_fails_the_build(tmp_path: Path) -> None:
    # The book's own configuration and flags on a one-page book whose notebook raises.
    skip_if_asked()
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    (tmp_path / "book").mkdir()
    shutil.copy(REPO / "_config.yml", tmp_path)
    shutil.copy(REPO / "book" / "references.bib", tmp_path / "book")
    for folder in ("vendor", "_ext"):
        (tmp_path / "book" / folder).symlink_to(REPO / "book" / folder, target_is_directory=True)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/broken\n")
    notebook = new_notebook(cells=[new_markdown_cell("# Broken"),
                                   new_code_cell("raise ValueError('this chapter is broken')")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "book" / "broken.ipynb")

    status, _, text = build_book(tmp_path, tmp_path, tmp_path / "build.log")
    assert status != 0, "a notebook that raises did not fail the build"
    assert "this chapter is broken" in text, "the build log does not show the failing cell's error"
