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
    """Save the viewport (scrolled to the first match of a Playwright selector, if given) as folder/name.png;
    None if nothing matches."""
    if selector is not None:
        matches = page.locator(selector)
        if matches.count() == 0:
            return None
        matches.first.evaluate("e => { e.scrollIntoView({block: 'center', inline: 'nearest'});"
                               " window.scrollTo(0, window.scrollY); }")
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


def run_axe(page: Any, tags: list[str] = WCAG_21_AA, context: str | None = None) -> list[dict]:
    """axe-core's violations of the given rule tags (axe's own JSON), in the whole page as it is now
    or only inside the elements matching the CSS selector `context`."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate(
        "([tags, context]) => axe.run(context ? {include: [context]} : document,"
        " {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", [tags, context])
    return result["violations"]


def within(page: Any, violations: list[dict], selector: str) -> list[dict]:
    """The violations (axe's JSON) narrowed to the elements inside the first match of a CSS selector."""
    inside = page.evaluate(
        """([violations, selector]) => { const region = document.querySelector(selector);
             return violations.map(v => v.nodes.map(n => { const e = document.querySelector(n.target[0]);
               return !!(region && e && region.contains(e)); })); }""", [violations, selector])
    narrowed = []
    for violation, flags in zip(violations, inside):
        nodes = [node for node, flag in zip(violation["nodes"], flags) if flag]
        if nodes:
            narrowed.append({**violation, "nodes": nodes})
    return narrowed


def severe(violations: list[dict]) -> list[dict]:
    """The violations axe rates serious or critical."""
    return [violation for violation in violations if violation.get("impact") in SEVERE]


def describe(violations: list[dict]) -> list[str]:
    """One line per violation: rule, impact, how many elements, and the first element's selector."""
    return [f"{v['id']} ({v['impact']}, {len(v['nodes'])}x, e.g. {v['nodes'][0]['target']}): {v['help']}"
            for v in violations]


# --------------------------------------------------------------------------------------------------
# A real JupyterLab server on loopback, for the student's and the instructor's workflows
# --------------------------------------------------------------------------------------------------

# User settings the lab starts with: no news or update pop-ups over the page, and every cell in the
# page (not only those scrolled into view), so a test finds cells as a reader sees them.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterLab:
    """`jupyter lab` serving `root` on loopback with a random port and token; use as a context manager.

    Its settings, workspaces and runtime files live in a folder of their own under `state`, so
    nothing of the user's or the repository's changes. `url(path)` opens a file or page in the lab.
    """

    def __init__(self, root: Path, state: Path, timeout: float = 90.0) -> None:
        self.root, self.state, self.timeout = root, state, timeout
        self.port, self.token = free_port(), os.urandom(16).hex()
        self.log_path = state / "jupyterlab.log"

    def __enter__(self) -> JupyterLab:
        import json
        import subprocess
        import sys
        import time
        import urllib.request

        settings = self.state / "settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               "JUPYTER_CONFIG_DIR": str(self.state / "config"), "JUPYTER_RUNTIME_DIR": str(self.state / "runtime"),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        command = [str(bin_dir / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
                   "--LabApp.expose_app_in_browser=True"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI runs as root
        self._log = open(self.log_path, "w")
        self._process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url("api/status"), timeout=2).read()
                return self
            except OSError:
                time.sleep(0.5)
        self.__exit__()
        raise RuntimeError(f"jupyter lab did not start in {self.timeout:.0f} s; its log:\n{self.log_path.read_text()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        import subprocess

        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()

    def url(self, path: str = "lab") -> str:
        """The address of a path on this server, with the token."""
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}{separator}token={self.token}"


# JavaScript helpers for a page showing JupyterLab (started with expose_app_in_browser).
LAB_NOTEBOOK_READY_JS = """
() => { const app = window.jupyterapp; if (!app) return false;
  const panel = app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content || !panel.content.widgets) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && panel.context.isReady; }
"""
LAB_RUN_FINISHED_JS = """
() => { const panel = window.jupyterapp.shell.currentWidget;
  const kernel = panel.sessionContext.session.kernel;
  const prompts = Array.from(panel.node.querySelectorAll('.jp-InputPrompt')).map(e => e.textContent);
  return kernel.status === 'idle' && !prompts.some(text => text.includes('*')); }
"""
LAB_CELL_SOURCES_JS = "() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => c.model.sharedModel.getSource())"
