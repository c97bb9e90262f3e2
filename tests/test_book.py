"""Build the HTML book exactly as `make book` does, then open every page in headless Chromium
(Playwright, tests/browser.py): pages load with no network, figures show and have alt text, widgets
render offline and work from the keyboard, formulas typeset, no raw Markdown or traceback shows,
axe-core finds no serious or critical WCAG 2.1 AA violation, and launch buttons appear only when
the course's repository is configured.

The build goes into the repository's _build/ (as `make book`) and reuses its jupyter-cache, so a
second run executes no notebook; screenshots land in _build/screenshots/book/ for CI to keep.
Set BOOK_BUILD_DIR to build somewhere else (the HTML then lands in $BOOK_BUILD_DIR/_build/html),
BOOK_SOURCE_DIR to check another copy of the book (a folder with _config.yml, _toc.yml, book/),
SKIP_BOOK_BUILD=1 to skip these tests (the first build executes every chapter: minutes). The chapters
are executed before the build by the shared fixture `executed_chapters` (tests/conftest.py), the step
`make book` runs too, so tests/test_notebooks.py and this build execute each chapter once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from filelock import FileLock

import browser as harness

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "book" / "_ext"))
import course_links  # noqa: E402  (book/_ext/course_links.py: the links a build resolves)
import figure_alt_text  # noqa: E402  (book/_ext/figure_alt_text.py: alt text where a cell gives none)

SOURCE = Path(os.environ.get("BOOK_SOURCE_DIR", REPO)).resolve()
BUILD_ROOT = Path(os.environ.get("BOOK_BUILD_DIR", SOURCE)).resolve()
BUILD_DIR = BUILD_ROOT / "_build"
SCREENSHOTS = BUILD_DIR / "screenshots" / "book"
# The same flags as `make book`: warnings (a failing notebook is one) fail the build, all reported.
BUILD_FLAGS = ["-W", "-n", "--keep-going", "--builder", "html"]
BUILD_TIMEOUT_S = 3600
# The chapter that must show a figure (edge detection on a real photo), and the chapters whose
# explorers (course_lib.widgets.conv_explorer / pool_explorer) must render without a kernel.
FIGURE_PAGE = "book/01_convolution"
WIDGET_PAGES = ("book/02_padding_stride_channels", "book/03_pooling")
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Addresses that only a placeholder or a default configuration would put in a page.
PLACEHOLDER_URLS = re.compile(r"example\.(?:org|com|edu)|cnn-course/cnn-course|executablebooks/jupyter-book")


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


def build_book(source: Path, output_root: Path, log: Path,
               environ: dict[str, str] | None = None) -> tuple[int, float, str]:
    """Run `jupyter-book build` with the `make book` flags; return exit status, seconds, log text."""
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", "build", str(source),
               "--path-output", str(output_root), *BUILD_FLAGS]
    env = {**os.environ, **(environ or {}),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
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


# With the chapter tests of tests/test_notebooks.py on one pytest-xdist worker: they share the executed chapters.
pytestmark = pytest.mark.xdist_group("book")


@pytest.fixture(scope="module")
def book_html(executed_chapters: dict) -> Path:
    """Build the book and return the folder of its HTML.

    `executed_chapters` (tests/conftest.py) has run every chapter into the build's jupyter-cache first,
    two at a time, as `make book` does; the build then executes nothing. A chapter that failed there
    runs again in the build, which reports it as `make book` would.
    """
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




def chapter_pages() -> list[str]:
    """The pages made from notebooks (the chapters), in table-of-contents order."""
    return [page for page in toc_pages() if (SOURCE / f"{page}.ipynb").is_file()]


def test_title_and_copyright(book_html: Path) -> None:
    config = book_config()
    html = (book_html / f"{FIGURE_PAGE}.html").read_text()
    assert config["title"] in html
    assert f"Copyright {config['copyright']}" in html


# --------------------------------------------------------------------------------------------------
# Launch and repository buttons: shown only where their target is configured
# --------------------------------------------------------------------------------------------------

# How the theme marks each button in a page.
BUTTON_MARKERS = {
    "repository": "btn-source-repository-button", "edit": "btn-source-edit-button",
    "issues": "btn-source-issues-button", "binder": 'title="Launch on Binder"',
    "colab": 'title="Launch on Colab"', "jupyterhub": 'title="Launch on JupyterHub"',
}


def buttons_in(html: str) -> set[str]:
    """The launch and repository buttons a built page shows."""
    return {name for name, marker in BUTTON_MARKERS.items() if marker in html}


def expected_links(links: course_links.CourseLinks, notebook: str) -> dict[str, str]:
    """Each button the theme must show for these links, with the address it must lead to."""
    if not links.repository_url:
        return {}
    repo = links.repository_url.removeprefix("https://github.com/")
    config = book_config()["launch_buttons"]
    expected = {
        "repository": f'href="{links.repository_url}"',
        "edit": f"{links.repository_url}/edit/{links.branch}/{notebook}",
        "issues": f"{links.repository_url}/issues/new",
    }
    if links.repository_url.startswith("https://github.com/"):
        expected["colab"] = f"{config['colab_url']}/github/{repo}/blob/{links.branch}/{notebook}"
        expected["binder"] = f"{config['binderhub_url']}/v2/gh/{repo}/{links.branch}?urlpath=lab/tree/{notebook}"
    if links.jupyterhub_url:
        expected["jupyterhub"] = (f"{links.jupyterhub_url}/hub/user-redirect/git-pull?repo="
                                  f"{links.repository_url.replace('://', '%3A//')}&urlpath=lab/tree/")
    return expected


def assert_buttons_follow_links(html: str, links: course_links.CourseLinks, notebook: str) -> None:
    expected = expected_links(links, notebook)
    shown = buttons_in(html)
    assert shown == set(expected), f"buttons shown {sorted(shown)}, expected {sorted(expected)} for {links}"
    wrong = {name: url for name, url in expected.items() if url not in html and url.replace("&", "&amp;") not in html}
    assert not wrong, f"buttons without their expected address: {wrong}"


def test_buttons_follow_the_configured_links(book_html: Path) -> None:
    # This build's links: the environment's or the git remote's; none configured here, so no button.
    links = course_links.resolve(SOURCE)
    for page in chapter_pages():
        assert_buttons_follow_links((book_html / f"{page}.html").read_text(), links, f"{page}.ipynb")


def test_no_page_carries_a_placeholder_address(book_html: Path) -> None:
    found = {}
    for page in book_html.rglob("*.html"):
        hits = sorted(set(PLACEHOLDER_URLS.findall(page.read_text(errors="replace"))))
        if hits:
            found[str(page.relative_to(book_html))] = hits
    assert not found, f"pages with placeholder or default addresses: {found}"


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def test_links_come_from_the_environment_else_from_git(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "spring-term")
    assert course_links.resolve(tmp_path, {}) == course_links.CourseLinks("", "main", "")
    git(tmp_path, "remote", "add", "origin", "git@github.com:acme/cnn-course.git")
    assert course_links.resolve(tmp_path, {}) == course_links.CourseLinks(
        "https://github.com/acme/cnn-course", "spring-term", "")
    configured = course_links.resolve(tmp_path, {"COURSE_REPOSITORY_URL": "https://gitlab.com/uni/cnn",
                                                 "COURSE_JUPYTERHUB_URL": "https://hub.uni.edu/"})
    assert configured == course_links.CourseLinks("https://gitlab.com/uni/cnn", "main", "https://hub.uni.edu")
    with pytest.raises(ValueError, match="OWNER/REPO"):
        course_links.resolve(tmp_path, {"COURSE_REPOSITORY_URL": "not a url"})


def write_small_book(root: Path, name: str, cells: list[Any]) -> None:
    """A one-page book at root with the course's own configuration, extensions and vendored scripts."""
    import nbformat
    from nbformat.v4 import new_notebook

    (root / "book").mkdir(parents=True)
    shutil.copy(REPO / "_config.yml", root)
    shutil.copy(REPO / "book" / "references.bib", root / "book")
    for folder in ("vendor", "_ext", "_templates"):
        (root / "book" / folder).symlink_to(REPO / "book" / folder, target_is_directory=True)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: book/{name}\n")
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "book" / f"{name}.ipynb")


@pytest.mark.xdist_group("small-books")  # builds of its own: free to run beside the book
def test_configured_links_show_their_buttons(tmp_path: Path) -> None:
    skip_if_asked()
    from nbformat.v4 import new_code_cell, new_markdown_cell

    write_small_book(tmp_path, "chapter", [new_markdown_cell("# A chapter"), new_code_cell("1 + 1")])
    environ = {"COURSE_REPOSITORY_URL": "https://github.com/acme/cnn-course", "COURSE_REPOSITORY_BRANCH": "spring",
               "COURSE_JUPYTERHUB_URL": "https://hub.university.edu"}
    status, _, text = build_book(tmp_path, tmp_path, tmp_path / "build.log", environ)
    assert status == 0, problems_in(text)
    links = course_links.resolve(tmp_path, environ)
    html = (tmp_path / "_build" / "html" / "book" / "chapter.html").read_text()
    assert_buttons_follow_links(html, links, "book/chapter.ipynb")
    assert {"jupyterhub", "colab", "binder", "edit"} <= buttons_in(html)


# --------------------------------------------------------------------------------------------------
# Every page in the browser
# --------------------------------------------------------------------------------------------------


@dataclass
class PageReport:
    """What the browser saw on one built page."""

    requested: list[str]
    failed: list[str]
    errors: list[str]
    images: list[dict]
    raw_markup: list[str]
    widget_views: int = 0
    widgets_rendered: int = 0
    math_nodes: int = 0
    typeset: int = 0
    content_violations: list[dict] | None = None  # axe-core, inside the article (the course's content)
    page_violations: list[dict] | None = None  # axe-core, the whole page (theme included)
    screenshots: list[Path] = field(default_factory=list)


# JavaScript run in each page once it has loaded.
IMAGES_JS = """
() => Promise.all(Array.from(document.images).map(img => {
  img.loading = 'eager';
  const done = img.decode().catch(() => null);
  const timeout = new Promise(resolve => setTimeout(resolve, 5000));
  return Promise.race([done, timeout]).then(() => ({
    src: img.getAttribute('src'), alt: img.getAttribute('alt'), width: img.naturalWidth,
    height: img.naturalHeight, inArticle: img.closest('article') !== null,
    inOutput: img.closest('.cell_output') !== null}));
}))
"""
WIDGET_VIEWS_JS = "() => document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
WIDGETS_RENDERED_JS = "() => document.querySelectorAll('.widget-subarea .jupyter-widgets').length"
MATH_JS = "() => document.querySelectorAll('article .math').length"
TYPESET_JS = """
() => (window.MathJax && MathJax.startup && MathJax.startup.promise
  ? MathJax.startup.promise : Promise.resolve()).then(
  () => document.querySelectorAll('article mjx-container').length)
"""
# The text a reader sees in the article, less code (where pipes and dollars are legitimate).
READER_TEXT_JS = """
() => {
  const article = document.querySelector('article') || document.body;
  const copy = article.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .cell_input').forEach(e => e.remove());
  return {text: copy.innerText || copy.textContent,
          tracebacks: article.querySelectorAll('.output.traceback, .output.error').length,
          pre: Array.from(article.querySelectorAll('.cell_output pre')).map(e => e.textContent).join('\\n')};
}
"""
RAW_MARKUP = {
    "a Markdown table row": re.compile(r"^\s*\|(?:[^|\n]*\|){2,}\s*$", re.MULTILINE),
    "a Markdown table rule": re.compile(r"\|\s*:?-{3,}:?\s*\|"),
    "a display formula ($$)": re.compile(r"\$\$"),
    "an inline formula (\\( or \\[)": re.compile(r"\\\(|\\\["),
    "an inline formula ($...$)": re.compile(r"(?<![\w$])\$[^\s$](?:[^$\n]{0,200}?[^\s$\\])?\$(?![\w$])"),
}
TRACEBACK = "Traceback (most recent call last)"


def raw_markup_in(page: Any) -> list[str]:
    """What a page shows that should have been rendered: Markdown tables, formulas, tracebacks."""
    seen = page.evaluate(READER_TEXT_JS)
    found = [f"{what}: {match.group(0)[:80]!r}" for what, pattern in RAW_MARKUP.items()
             for match in [pattern.search(seen["text"])] if match]
    if seen["tracebacks"] or TRACEBACK in seen["pre"]:
        found.append(f"a traceback in a cell's output ({seen['tracebacks']} error outputs)")
    return found


def wait_for_widgets(page: Any) -> int:
    """Wait until every widget view on the page is rendered; return how many views it has."""
    views = page.evaluate(WIDGET_VIEWS_JS)
    if views:
        page.wait_for_function(f"() => document.querySelectorAll('.widget-subarea').length >= {views}",
                               timeout=20_000)
    return views


def visit(page: Any, log: harness.PageLog, html: Path, page_name: str, run_axe: bool) -> PageReport:
    """Open one page, wait for widgets, images and formulas, check it, take screenshots, report."""
    log.clear()
    page.goto(html.joinpath(f"{page_name}.html").as_uri(), wait_until="load")
    page.wait_for_timeout(500)  # deferred scripts (MathJax, the widget manager) start their work
    report = PageReport(requested=list(log.requested), failed=list(log.failed), errors=[],
                        images=page.evaluate(IMAGES_JS), raw_markup=[])
    report.widget_views = wait_for_widgets(page)
    report.widgets_rendered = page.evaluate(WIDGETS_RENDERED_JS)
    report.math_nodes = page.evaluate(MATH_JS)
    report.typeset = page.evaluate(TYPESET_JS)
    report.raw_markup = raw_markup_in(page)
    # What the page itself loaded (axe-core's own fetches of the style sheets come after).
    report.requested, report.failed = list(log.requested), list(log.failed)
    if run_axe:
        report.page_violations = harness.run_axe(page)
        report.content_violations = harness.within(page, report.page_violations, "article")
    name = page_name.replace("/", "__")
    for suffix, selector in (("", None), ("-figure", "article .cell_output img"), ("-widget", ".widget-subarea")):
        shot = harness.screenshot(page, f"{name}{suffix}", selector, folder=SCREENSHOTS)
        if shot:
            report.screenshots.append(shot)
    report.errors = list(log.errors)
    return report


@pytest.fixture(scope="module")
def pages(book_html: Path, browser: Any) -> dict[str, PageReport]:
    """Every built page, opened once in headless Chromium."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    page, log = harness.new_page(browser)
    run_axe = harness.why_no_axe() is None
    try:
        return {name: visit(page, log, book_html, name, run_axe) for name in toc_pages()}
    finally:
        page.context.close()


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


def test_no_raw_markdown_formula_or_traceback_shows(pages: dict[str, PageReport]) -> None:
    raw = {page: report.raw_markup for page, report in pages.items() if report.raw_markup}
    assert not raw, f"pages that show unrendered markup or an error: {raw}"


def test_raw_markup_check_sees_what_it_must(browser: Any) -> None:
    # The check itself, on pages made to fail it, and on the same content rendered.
    page, _ = harness.new_page(browser)
    try:
        page.set_content("<article><p>| model | top-1 |\n|---|---:|\n| vgg16 | 71.6 |</p>"
                         "<p>The rule $$o = (n - k) / s + 1$$ and \\(k\\) and $n$ too.</p>"
                         "<div class='cell_output'><pre>Traceback (most recent call last):</pre></div></article>")
        found = " ".join(raw_markup_in(page))
        for what in [*RAW_MARKUP, "a traceback"]:
            assert what in found, (what, found)
        page.set_content("<article><table><tr><td>vgg16</td><td>71.6</td></tr></table>"
                         "<p>costs $5 and $10</p><pre>| a | b |\\n$$x$$</pre></article>")
        assert raw_markup_in(page) == []
    finally:
        page.context.close()


def test_no_broken_images(pages: dict[str, PageReport]) -> None:
    broken = {page: [image["src"] for image in report.images if image["width"] == 0]
              for page, report in pages.items()}
    assert not any(broken.values()), f"images with no pixels (missing or unreadable): {broken}"


FILE_NAME_ALT = re.compile(r"(?:^|/)[0-9a-f]{16,}|\.(?:png|jpe?g|svg|gif)$|_images/", re.IGNORECASE)


def meaningless_alt(alt: str | None) -> bool:
    """True for missing, empty, very short or file-name-like alt text."""
    return alt is None or len(alt.strip()) < 8 or bool(FILE_NAME_ALT.search(alt.strip()))


def test_every_figure_has_meaningful_alt_text(pages: dict[str, PageReport]) -> None:
    bad = {page: [(image["src"], image["alt"]) for image in pages[page].images
                  if image["inArticle"] and meaningless_alt(image["alt"])] for page in chapter_pages()}
    assert not any(bad.values()), (
        f"figures whose alt text is missing or a file name: {bad}; give the cell metadata "
        '{"mystnb": {"image": {"alt": "<what the figure shows>"}}}')
    assert meaningless_alt("../_images/9b48c0ffee0123456789abcdef.png") and meaningless_alt("")
    assert not meaningless_alt("Figure: Accuracy vs compute")


def test_alt_text_fallback_reads_the_figures_titles() -> None:
    source = ('fig, axes = plt.subplots(1, 2)\naxes[0].set_title("Loss per epoch")\n'
              'axes[1].set_title(f"Accuracy, {n} runs")\nfig.suptitle(title)\n'
              'plot_bars(values, title="Parameters per model")\nplt.title(f"{name}")\n')
    assert figure_alt_text.titles_in(source) == ["Loss per epoch", "Accuracy, … runs", "Parameters per model"]
    assert figure_alt_text.fallback_alt(source, "Training") == (
        "Figure: Loss per epoch; Accuracy, … runs; Parameters per model")
    assert figure_alt_text.fallback_alt("plt.imshow(image)", "Edges") == "Figure of the section “Edges”"
    assert not meaningless_alt(figure_alt_text.fallback_alt("%matplotlib inline\nplt.plot(x)", ""))


def test_chapter_page_shows_its_figure(pages: dict[str, PageReport]) -> None:
    figures = [image for image in pages[FIGURE_PAGE].images if image["inArticle"]]
    assert figures, f"{FIGURE_PAGE} shows no figure"
    assert all(image["width"] > 0 and image["height"] > 0 for image in figures), figures
    assert (SCREENSHOTS / f"{FIGURE_PAGE.replace('/', '__')}-figure.png").is_file()


def test_no_serious_accessibility_violations_in_the_course_content(pages: dict[str, PageReport]) -> None:
    reason = harness.why_no_axe()
    if reason:
        pytest.skip(reason)
    severe = {page: harness.describe(harness.severe(report.content_violations))
              for page, report in pages.items() if harness.severe(report.content_violations)}
    assert not severe, f"axe-core, WCAG 2.1 A/AA, serious or critical, in the course's content: {severe}"


def test_axe_check_sees_violations_in_the_content_only(browser: Any) -> None:
    # The check itself: an unnamed drop-down and an image without alt text in the article are
    # found and placed in the content; the same drop-down outside the article is not.
    reason = harness.why_no_axe()
    if reason:
        pytest.skip(reason)
    page, _ = harness.new_page(browser)
    try:
        page.set_content("<html lang='en'><head><title>t</title></head><body><nav><select><option>1</option>"
                         "</select></nav><main><article><select><option>1</option></select>"
                         "<img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='></article></main></body></html>")
        content = harness.within(page, harness.run_axe(page), "article")
        found = {violation["id"]: len(violation["nodes"]) for violation in harness.severe(content)}
        assert found == {"select-name": 1, "image-alt": 1}, found
    finally:
        page.context.close()


OUTSTANDING = re.compile(r"^Outstanding theme violations:(.*)$", re.MULTILINE)


def outstanding_theme_violations() -> set[str]:
    """The axe rules the instructors' page lists as theme violations only the theme can fix."""
    match = OUTSTANDING.search((SOURCE / "book" / "instructors.md").read_text())
    assert match, "book/instructors.md has no line 'Outstanding theme violations: …' (the accessibility section)"
    return set(re.findall(r"`([a-z0-9-]+)`", match[1]))


def test_theme_violations_are_fixed_or_listed_for_instructors(pages: dict[str, PageReport]) -> None:
    # What axe finds outside the article comes from the theme: fixed by our overrides
    # (book/_templates, book/_ext/accessibility_fixes.py), or listed with its upstream issue on the
    # instructors' page, so nobody is surprised by it.
    reason = harness.why_no_axe()
    if reason:
        pytest.skip(reason)
    listed = outstanding_theme_violations()
    unlisted = {}
    for page, report in pages.items():
        theme = [v for v in harness.severe(report.page_violations) if v["id"] not in listed]
        if theme:
            unlisted[page] = harness.describe(theme)
    assert not unlisted, ("serious or critical theme violations neither fixed (book/_templates) nor listed "
                          f"in book/instructors.md: {unlisted}")


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


# What an explorer shows apart from its controls (whose own state changes when they are used).
PANEL_JS = """
() => {
  const area = document.querySelector('.widget-subarea');
  if (!area) return null;
  const copy = area.cloneNode(true);
  copy.querySelectorAll('.widget-dropdown, .widget-toggle-buttons, .widget-slider').forEach(e => e.remove());
  return copy.innerHTML;
}
"""
FOCUSED_CONTROL_JS = """
() => {
  const e = document.activeElement;
  const area = document.querySelector('.widget-subarea');
  if (!e || !area || !area.contains(e)) return null;
  const control = e.closest('.widget-dropdown, .widget-toggle-buttons, .widget-slider');
  const label = control && control.querySelector('.widget-label');
  return {tag: e.tagName.toLowerCase(), label: label ? label.textContent : '',
          active: e.classList.contains('mod-active')};
}
"""
MAX_TABS_TO_EXPLORER = 300
CONTROLS_JS = """
() => Array.from(document.querySelectorAll(
  '.widget-subarea .widget-dropdown .widget-label, .widget-subarea .widget-toggle-buttons .widget-label'))
  .map(e => e.textContent)
"""


@pytest.mark.parametrize("page_name", WIDGET_PAGES)
def test_every_explorer_control_works_from_the_keyboard(book_html: Path, browser: Any, page_name: str) -> None:
    # A reader who cannot use a mouse tabs into the explorer and changes each setting with keys:
    # arrow keys in a drop-down list, Space on a toggle button. Each must change what it shows.
    page, _ = harness.new_page(browser)
    try:
        page.goto(book_html.joinpath(f"{page_name}.html").as_uri(), wait_until="load")
        wait_for_widgets(page)
        controls = page.evaluate(CONTROLS_JS)
        assert controls, f"{page_name}: no labelled controls in its explorer"
        for _ in range(MAX_TABS_TO_EXPLORER):  # from the top of the page, as a keyboard user arrives
            page.keyboard.press("Tab")
            if page.evaluate(FOCUSED_CONTROL_JS) is not None:
                break
        else:
            pytest.fail(f"{page_name}: {MAX_TABS_TO_EXPLORER} presses of Tab never reached the explorer")
        operated: set[str] = set()
        for _ in range(4 * len(controls) + 4):
            focused = page.evaluate(FOCUSED_CONTROL_JS)
            if focused is None:
                break  # Tab has left the explorer
            before = page.evaluate(PANEL_JS)
            if focused["tag"] == "select":
                page.keyboard.press("ArrowDown")
            elif focused["tag"] == "button" and not focused["active"]:
                page.keyboard.press("Space")
            page.wait_for_timeout(150)
            if page.evaluate(PANEL_JS) != before:
                operated.add(focused["label"])
            page.keyboard.press("Tab")
        harness.screenshot(page, f"{page_name.replace('/', '__')}-keyboard", ".widget-subarea", folder=SCREENSHOTS)
        assert operated == set(controls), (
            f"{page_name}: controls the keyboard could not operate: {sorted(set(controls) - operated)}")
    finally:
        page.context.close()


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


@pytest.mark.xdist_group("small-books")  # builds of its own: free to run beside the book
def test_failing_notebook_fails_the_build(tmp_path: Path) -> None:
    # The book's own configuration and flags on a one-page book whose notebook raises.
    skip_if_asked()
    from nbformat.v4 import new_code_cell, new_markdown_cell

    write_small_book(tmp_path, "broken", [new_markdown_cell("# Broken"),
                                          new_code_cell("raise ValueError('this chapter is broken')")])
    status, _, text = build_book(tmp_path, tmp_path, tmp_path / "build.log")
    assert status != 0, "a notebook that raises did not fail the build"
    assert "this chapter is broken" in text, "the build log does not show the failing cell's error"
