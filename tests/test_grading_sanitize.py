"""Active content a submission emits never reaches the autograded notebook or the feedback page.

The real `conv_basics` assignment is graded by the course grader with extra student cells whose outputs carry
a <script>, an onerror= image, application/javascript, a javascript: link, an SVG with onload, a widget view
and Markdown with a script; then real `nbgrader generate_feedback` writes the page, which a real Chromium
opens to check that nothing ran.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from helpers import democourse
from course_lib.grading.autograde.execute import clean_output
from course_lib.grading.autograde.sanitize import SanitizeOutputs, sanitize_html
from test_grading_isolation import ASSIGNMENT, grade, hand_in, linux_root, make_real_course, scores

MARK = "PWNED"
SHOW = ("class Show:\n    def __init__(self, bundle):\n        self.bundle = bundle\n"
        "    def _repr_mimebundle_(self, include=None, exclude=None):\n        return self.bundle\n")
BUNDLES = {
    "script": {"text/plain": "s", "text/html": f"<b>kept bold</b><script>window.{MARK}_script = 1</script>"},
    "onerror": {"text/plain": "i", "text/html": f'<img src="x" onerror="window.{MARK}_onerror = 1">'},
    "javascript": {"text/plain": "j", "application/javascript": f"window.{MARK}_js = 1"},
    "link": {"text/plain": "l", "text/html": f'<a id="l" href="javascript:window.{MARK}_link = 1">click</a>'},
    "svg": {"text/plain": "v", "image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="window.{MARK}_svg'
                                               f' = 1"><circle r="4"/></svg>',
            "text/html": f'<svg onload="window.{MARK}_svghtml = 1"></svg>'},
    "widget": {"text/plain": "w", "application/vnd.jupyter.widget-view+json": {"model_id": MARK, "version_major": 2,
                                                                               "version_minor": 0}},
    "markdown": {"text/plain": "m", "text/markdown": f"<script>window.{MARK}_md = 1</script> *md*"},
}
STUDENT_CELLS = [SHOW, *[f"Show({json.dumps(bundle)})" for bundle in BUNDLES.values()]]
ACTIVE_MIME = ("application/javascript", "text/javascript", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


class _ActiveContent(HTMLParser):
    """Collects what a browser would run: scripts mentioning MARK, on* handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            value = (value or "").strip().lower()
            if name.startswith("on") or value.startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and MARK in data:
            self.found.append(f"<script>{data.strip()[:80]}")


def active_content(html: str) -> list[str]:
    parser = _ActiveContent()
    parser.feed(html)
    return parser.found


def test_clean_output_drops_active_mime_types_and_cleans_html() -> None:
    for name, bundle in BUNDLES.items():
        out = clean_output({"output_type": "display_data", "data": bundle, "metadata": {}}, None)
        assert not set(out.data) & set(ACTIVE_MIME), name
        assert out.data["text/plain"] == bundle["text/plain"]
        assert not active_content(out.data.get("text/html", "")), (name, out.data)
        assert "<script" not in json.dumps(out.data), name
    kept = clean_output({"output_type": "execute_result", "data": BUNDLES["script"]}, 3)
    assert "<b>kept bold</b>" in kept.data["text/html"] and kept.execution_count == 3


def test_sanitizer_keeps_tables_and_images_but_no_data_or_script_urls() -> None:
    table = '<table class="dataframe"><tr><th>a</th><td style="color: red">1</td></tr></table>'
    assert sanitize_html(table) == ('<table class="dataframe"><tbody><tr><th>a</th><td style="color: red;">1</td>'
                                    '</tr></tbody></table>')
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in sanitize_html('<img src="data:image/png;base64,iVBORw0KGgo=">')
    for hostile in ('<img src="data:text/html;base64,PHNjcmlwdD4=">', '<a href="d&#97;ta:text/html,x">x</a>',
                    '<a href="JaVa&#x09;ScRiPt&#58;alert(1)">x</a>', '<iframe src="javascript:alert(1)"></iframe>',
                    '<div onmouseover="alert(1)">x</div>'):
        cleaned = sanitize_html(hostile)
        assert not active_content(cleaned) and "data:text" not in cleaned and "<iframe" not in cleaned, cleaned


def test_feedback_preprocessor_cleans_outputs_and_student_markdown() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [new_markdown_cell(f'<img src=x onerror="window.{MARK}=1"> **notes**'),
                nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
                    "display_data", data={"text/html": f"<script>{MARK}</script>", "application/javascript": MARK})])]
    cleaned, _ = SanitizeOutputs()(nb, {})
    assert "onerror" not in cleaned.cells[0].source and "**notes**" in cleaned.cells[0].source
    assert set(cleaned.cells[1].outputs[0].data) == {"text/html"}
    assert "<script" not in cleaned.cells[1].outputs[0].data["text/html"]


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory) -> Path:
    """The course after the course grader and `nbgrader generate_feedback` ran on mallory's hand-in."""
    course = make_real_course(tmp_path_factory.mktemp("sanitize") / "course")
    folder = hand_in(course, "mallory", STUDENT_CELLS)
    submitted = nbformat.read(folder / f"{ASSIGNMENT}.ipynb", as_version=4)
    submitted.cells.append(new_markdown_cell(f"<script>window.{MARK}_cell = 1</script> my notes"))
    nbformat.write(submitted, folder / f"{ASSIGNMENT}.ipynb")
    result = grade(course)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mallory" in scores(course)
    feedback = democourse.nbgrader(course, "generate_feedback", ASSIGNMENT, check=False)
    assert feedback.returncode == 0, feedback.stderr
    return course


def _feedback_page(course: Path) -> Path:
    return course / "feedback" / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.html"


@linux_root
def test_active_outputs_do_not_survive_autograde_or_feedback(graded_course: Path) -> None:
    graded = nbformat.read(graded_course / "autograded" / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                           as_version=4)
    outputs = [o for c in graded.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert len(outputs) >= len(BUNDLES), "the student's displays did not come back"
    for output in outputs:
        assert not set(output.data) & set(ACTIVE_MIME), output
        for mime, value in output.data.items():  # escaped markup (&lt;svg onload=...&gt;) is text, not a tag
            text = "".join(value) if isinstance(value, list) else json.dumps(value)
            assert not active_content(text) and "<script" not in text.lower(), (mime, text)
    assert any("kept bold" in json.dumps(o.data) for o in outputs)  # harmless HTML stays

    html = _feedback_page(graded_course).read_text()
    assert not active_content(html), active_content(html)
    assert "kept bold" in html and "my notes" in html


@linux_root
def test_nothing_a_student_wrote_runs_when_the_feedback_page_opens(graded_course: Path, browser) -> None:
    tab = browser.new_page()
    try:
        tab.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        tab.goto(_feedback_page(graded_course).as_uri())
        tab.wait_for_timeout(500)
        if tab.locator("#l").count():
            tab.locator("#l").click()
        ran = tab.evaluate(f"Object.keys(window).filter(k => k.startsWith('{MARK}'))")
    finally:
        tab.close()
    assert ran == [], f"student code ran in the feedback page: {ran}"
