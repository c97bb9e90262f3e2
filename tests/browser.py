"""The course's browser harness: Playwright for Python driving Debian's Chromium.

Playwright's own browser download is not available here, so it launches the system's Chromium
(`scripts/setup_system.sh` installs it). One browser serves a whole test session (the `browser`
fixture in conftest.py); each test module opens its own pages. Helpers record what a page asked
the network for, what failed and which JavaScript errors it threw, run axe-core's accessibility
rules in it and save screenshots for CI (under _build/screenshots/ unless SCREENSHOT_DIR says).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", REPO / "_build" / "screenshots")).resolve()
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.1 levels A and AA, the rules universities must meet for course material.
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SEVERE = ("serious", "critical")
VIEWPORT = {"width": 1280, "height": 900}


def find_chromium() -> str | None:
    """Path of a Chromium or Chrome executable (CHROMIUM, else on PATH), or None."""
    given = os.environ.get("CHROMIUM")
    if given and Path(given).is_file():
        return given
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here (a sentence saying how to fix it), or None when they can."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing: pip install -r requirements.txt (make setup does)"
    if find_chromium() is None:
        return ("no Chromium found: install Debian's `chromium` (scripts/setup_system.sh does, as root) "
                "or point CHROMIUM at a Chromium executable")
    return None


@contextmanager
def launch() -> Iterator[Any]:
    """A headless Chromium under Playwright, closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=find_chromium(), headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageLog:
    """What one page did while open: URLs requested, those that failed, uncaught JavaScript errors."""

    requested: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.requested.clear()
        self.failed.clear()
        self.errors.clear()


def record(page: Any) -> PageLog:
    """Start recording a page's requests, failed requests and uncaught errors into a PageLog."""
    log = PageLog()
    page.on("request", lambda request: log.requested.append(request.url))
    page.on("requestfailed", lambda request: log.failed.append(f"{request.url} ({request.failure})"))
    page.on("pageerror", lambda error: log.errors.append(str(error)))
    return log


def new_page(browser: Any, **options: Any) -> tuple[Any, PageLog]:
    """A fresh page (its own context) at the harness's viewport, with its log."""
    context = browser.new_context(viewport=VIEWPORT, **options)
    page = context.new_page()
    return page, record(page)


def screenshot(page: Any, name: str, selector: str | None = None, folder: Path = SCREENSHOTS) -> Path | None:
    """Save the viewport (scrolled to selector's first match, if given) as folder/name.png; None if no match."""
    if selector is not None:
        found = page.evaluate(
            "s => { const e = document.querySelector(s); if (!e) return false;"
            " e.scrollIntoView({block: 'center', inline: 'nearest'}); window.scrollTo(0, window.scrollY);"
            " return true; }", selector)
        if not found:
            return None
        page.wait_for_timeout(200)
    path = folder / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path


def why_no_axe() -> str | None:
    """Why axe-core cannot be run (how to get it), or None."""
    if not AXE_SCRIPT.is_file():
        return f"axe-core is missing ({AXE_SCRIPT}): run `npm ci` at the repository root (make setup does)"
    return None


def run_axe(page: Any, tags: list[str] = WCAG_21_AA) -> list[dict]:
    """axe-core's violations of the given rule tags on the page as it is now (axe's own JSON)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", tags)
    return result["violations"]


def severe(violations: list[dict]) -> list[dict]:
    """The violations axe rates serious or critical."""
    return [violation for violation in violations if violation.get("impact") in SEVERE]


def describe(violations: list[dict]) -> list[str]:
    """One line per violation: rule, impact, how many elements, and the first element's selector."""
    return [f"{v['id']} ({v['impact']}, {len(v['nodes'])}x, e.g. {v['nodes'][0]['target']}): {v['help']}"
            for v in violations]
