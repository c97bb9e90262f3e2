"""Sphinx extension: small fixes to the HTML that Sphinx and docutils write, for WCAG 2.1 AA.

docutils marks a list of citations (the bibliography of a chapter) as `role="list"` whose entries
have `role="doc-biblioentry"`, a DPUB-ARIA role that is deprecated and is not a list item, so
axe-core reports `aria-required-children` (critical) on every page with references. The entries
become `role="listitem"`. The theme's own fixes are templates in book/_templates/.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

BIBLIOGRAPHY_ENTRY = 'role="doc-biblioentry"'


def fix_citation_roles(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Give bibliography entries the list-item role their list needs."""
    body = context.get("body")
    if isinstance(body, str) and BIBLIOGRAPHY_ENTRY in body:
        context["body"] = body.replace(BIBLIOGRAPHY_ENTRY, 'role="listitem"')


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", fix_citation_roles)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
