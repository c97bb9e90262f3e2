"""Where the course lives: repository URL, branch and JupyterHub, set in one place by the instructor.

Read at build time from environment variables, with the repository (and its branch) otherwise
taken from `git remote get-url origin`. As a Sphinx extension it edits the theme's options when
the configuration is read, so a button whose target is not configured (repository, edit, issues,
Binder, Colab, JupyterHub) is not shown at all. `scripts/add_install_cell.py` reads the same
settings for the chapters' install cell.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY_VARIABLE = "COURSE_REPOSITORY_URL"
BRANCH_VARIABLE = "COURSE_REPOSITORY_BRANCH"
JUPYTERHUB_VARIABLE = "COURSE_JUPYTERHUB_URL"
DEFAULT_BRANCH = "main"
HOW_TO_CONFIGURE = (
    f"set {REPOSITORY_VARIABLE} (e.g. https://github.com/OWNER/REPO), optionally {BRANCH_VARIABLE} "
    f"and {JUPYTERHUB_VARIABLE}, or add a git remote `origin`, before building the book"
)
# git@host:owner/repo(.git) and ssh://git@host/owner/repo(.git)
_SCP_REMOTE = re.compile(r"^(?:ssh://)?[\w.-]+@([\w.-]+)[:/](.+?)(?:\.git)?/?$")
_WEB_REMOTE = re.compile(r"^(https?://[^/\s]+/[^\s]+?)(?:\.git)?/?$")
# Launch services that build a page's link from a GitHub (or GitLab) repository, by theme option.
LAUNCH_SERVICES = ("binderhub_url", "colab_url", "deepnote_url")
REPOSITORY_BUTTONS = ("use_repository_button", "use_edit_page_button", "use_issues_button")


@dataclass(frozen=True)
class CourseLinks:
    """The configured targets; an empty string means not configured."""

    repository_url: str
    branch: str
    jupyterhub_url: str

    @property
    def pip_target(self) -> str:
        """What `pip install` needs to install the course from its repository ("" when unknown)."""
        return f"git+{self.repository_url}@{self.branch}" if self.repository_url else ""


def web_url(remote: str) -> str:
    """The https address of a git remote (ssh or https form), or "" for a local path or unknown form."""
    remote = remote.strip()
    scp = _SCP_REMOTE.match(remote)
    if scp:
        return f"https://{scp[1]}/{scp[2]}"
    web = _WEB_REMOTE.match(remote)
    return web[1] if web else ""


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def resolve(root: Path, environ: Mapping[str, str] = os.environ) -> CourseLinks:
    """The course's links: environment variables first, else the git remote `origin` and its branch."""
    given = environ.get(REPOSITORY_VARIABLE, "").strip()
    repository = web_url(given or _git(root, "remote", "get-url", "origin"))
    if given and not repository:
        raise ValueError(f"{REPOSITORY_VARIABLE}={given!r} is not a web address of a repository: "
                         "give one like https://github.com/OWNER/REPO")
    branch = environ.get(BRANCH_VARIABLE, "").strip()
    if not branch and repository and not given:
        branch = _git(root, "symbolic-ref", "--short", "-q", "HEAD")  # "" for a detached checkout
    hub = environ.get(JUPYTERHUB_VARIABLE, "").strip().rstrip("/")
    if hub and not hub.startswith(("https://", "http://")):
        raise ValueError(f"{JUPYTERHUB_VARIABLE}={hub!r} must be an address such as https://hub.your-university.edu")
    return CourseLinks(repository, branch or DEFAULT_BRANCH, hub)


def apply_links(theme_options: dict[str, Any], links: CourseLinks) -> None:
    """Point the theme's buttons at the configured targets and switch off those without one."""
    launch = dict(theme_options.get("launch_buttons") or {})
    theme_options["repository_url"] = links.repository_url
    theme_options["repository_branch"] = links.branch
    for button in REPOSITORY_BUTTONS:
        theme_options[button] = bool(links.repository_url)
    if not links.repository_url:
        for service in LAUNCH_SERVICES:
            launch[service] = ""
    launch["jupyterhub_url"] = links.jupyterhub_url if links.repository_url else ""
    theme_options["launch_buttons"] = launch


def _on_config_inited(app: Any, config: Any) -> None:
    links = resolve(Path(app.srcdir))
    options = dict(config.html_theme_options or {})
    apply_links(options, links)
    config.html_theme_options = options
    if not links.repository_url:
        from sphinx.util import logging

        logging.getLogger(__name__).info(f"course_links: no repository configured, so no repository or "
                                         f"launch buttons; to show them, {HOW_TO_CONFIGURE}")


def setup(app: Any) -> dict[str, Any]:
    app.connect("config-inited", _on_config_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
