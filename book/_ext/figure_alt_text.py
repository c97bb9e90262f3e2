"""Sphinx extension: every figure a notebook cell draws gets alt text a screen reader can use.

The book's convention: a cell that draws a figure says what it shows in its metadata,
``{"mystnb": {"image": {"alt": "<what the figure shows>"}}}``, which myst-nb puts on the image.
Where a cell has none, the image would get its file name (a hash) as alt text; this fallback
gives it the figure's titles as written in the cell's code instead (``set_title``, ``suptitle``,
``title=``), or else says which section's figure it is.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
TITLE_CALLS = {"set_title", "suptitle", "title"}
TITLE_KEYWORDS = {"title", "suptitle"}
PLACEHOLDER = "…"  # stands for the part of an f-string that is only known when the cell runs


def _text_of(node: ast.expr) -> str | None:
    """The text of a string literal or an f-string (its computed parts as '…'), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else PLACEHOLDER for part in node.values)
    return None


def titles_in(source: str) -> list[str]:
    """The figure titles a cell's code writes, in order and without repeats."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics and the like: no titles to read
        return []
    found: list[str] = []
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        candidates = list(call.args[:1]) if name in TITLE_CALLS else []
        candidates += [keyword.value for keyword in call.keywords if keyword.arg in TITLE_KEYWORDS]
        for text in filter(None, map(_text_of, candidates)):
            text = " ".join(text.split())
            if text.strip(PLACEHOLDER + " ") and text not in found:
                found.append(text)
    return found


def _section_title(node: nodes.Node) -> str:
    while node is not None:
        if isinstance(node, nodes.section) and node.children and isinstance(node[0], nodes.title):
            return node[0].astext()
        node = node.parent
    return ""


def fallback_alt(source: str, section: str) -> str:
    """Alt text for a figure whose cell gave none: its titles, else the section it belongs to."""
    titles = titles_in(source)
    if titles:
        return "Figure: " + "; ".join(titles)
    return f"Figure of the section “{section}”" if section else "Figure drawn by the code above"


def _cell_sources(path: Path) -> list[str]:
    try:
        notebook = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return ["".join(cell.get("source", "")) for cell in notebook.get("cells", [])]


def add_missing_alt_text(app: Sphinx, doctree: nodes.document) -> None:
    """Give each cell-output image without alt text one derived from its cell."""
    images = [image for image in doctree.findall(nodes.image) if not image.get("alt", "").strip()]
    if not images:
        return
    path = Path(app.env.doc2path(app.env.docname))
    sources = _cell_sources(path) if path.suffix == ".ipynb" else []
    for image in images:
        cell = image.parent
        while cell is not None and cell.get("nb_element") != "cell_code":
            cell = cell.parent
        if cell is None:
            continue  # a Markdown image: its author writes the alt text
        index = cell.get("cell_index")
        source = sources[index] if isinstance(index, int) and index < len(sources) else ""
        image["alt"] = fallback_alt(source, _section_title(cell))
        LOGGER.verbose(f"{path.name}: cell {index} has no mystnb.image.alt metadata; alt text derived: {image['alt']!r}")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", add_missing_alt_text)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
