"""Sphinx extension: drop exact repeats of a <script> from each HTML page.

sphinx-thebe 0.3.1 and sphinx-togglebutton register inline scripts after Sphinx 7.4's HTML builder
has started; the page then carries each twice (once with file name None, once with ""), so every
page's console showed "SyntaxError: Identifier 'THEBE_JS_URL' has already been declared".
Jupyter Book always loads both extensions, so the repeats are removed here instead.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def _script_key(script: Any) -> tuple:
    """What makes two scripts the same: file, priority and every attribute (an inline body too).
    An inline script's file name is None on one path through Sphinx and "" on the other."""
    attributes = getattr(script, "attributes", {}) or {}
    return (getattr(script, "filename", str(script)) or "", getattr(script, "priority", 500),
            tuple(sorted((str(key), str(value)) for key, value in attributes.items())))


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str,
                          context: dict[str, Any], doctree: Any) -> None:
    """Keep the first of each identical script in the page's script list."""
    seen: set[tuple] = set()
    unique = []
    for script in context.get("script_files", []):
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    # Late priority: after myst-nb and the themes have added their per-page scripts.
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
