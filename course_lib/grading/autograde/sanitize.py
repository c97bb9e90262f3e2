"""Outputs made safe to view: no script, event handler, `javascript:` URL or JavaScript mime type survives.

A submission's outputs are shown to the instructor (formgrader, on the Jupyter origin with its XSRF cookie)
and to the student (feedback HTML). One policy serves both places: ``sanitize_data`` where the sandbox's
outputs enter the autograded notebook (``execute.clean_output``), and the ``SanitizeOutputs`` preprocessor
(nbconvert's ``SanitizeHTML`` with this policy) when nbgrader generates feedback. HTML is cleaned by bleach;
mime types outside the allowed set (JavaScript, widgets, SVG, anything unknown) are dropped, the plain-text
fallback stays.
"""

from __future__ import annotations

import html
import re

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.preprocessors.sanitize import SanitizeHTML
from traitlets import Any as AnyTrait
from traitlets import Bool, List, Set, Unicode

SAFE_MIME_TYPES = frozenset({"text/plain", "text/latex", "application/json", "image/png", "image/jpeg", "image/gif"})
SANITIZED_MIME_TYPES = frozenset({"text/html", "text/markdown"})
# What pandas tables, IPython displays and the course's reports use; no forms, frames, objects or styles blocks.
TAGS = sorted({*bleach.sanitizer.ALLOWED_TAGS, "p", "div", "span", "br", "hr", "pre", "h1", "h2", "h3", "h4", "h5",
               "h6", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "img", "sub",
               "sup", "dl", "dt", "dd", "details", "summary", "small", "mark", "del", "ins", "kbd", "samp", "var"})
COMMON_ATTRIBUTES = ("class", "title", "style", "align", "colspan", "rowspan", "id")
PROTOCOLS = ("http", "https", "mailto", "data")  # data: only for images, see _allowed_attribute
_IMAGE_DATA_URL = re.compile(r"^data:image/(png|jpeg|gif);base64,[a-z0-9+/=]*$")
_CSS = CSSSanitizer()


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name in COMMON_ATTRIBUTES:
        return True
    plain = re.sub(r"[\x00-\x20]", "", html.unescape(value)).lower()
    if tag == "a" and name == "href":
        return not plain.startswith("data:")  # bleach then keeps it only for PROTOCOLS (and relative links)
    if tag == "img" and name in ("alt", "width", "height"):
        return True
    if tag == "img" and name == "src":
        return bool(_IMAGE_DATA_URL.match(plain)) or plain.startswith(("http://", "https://"))
    return False


_CLEANER = bleach.Cleaner(tags=TAGS, attributes=_allowed_attribute, protocols=PROTOCOLS, strip=False,
                          strip_comments=True, css_sanitizer=_CSS)


def sanitize_html(text: str | list) -> str:
    """HTML with everything active escaped or removed (bleach; unknown tags are shown as text)."""
    return _CLEANER.clean("".join(text) if isinstance(text, list) else str(text))


def sanitize_data(data: dict) -> dict:
    """A display's mime bundle with active content gone: unsafe types dropped, HTML and Markdown cleaned."""
    safe = {}
    for mime, value in data.items():
        if mime in SAFE_MIME_TYPES:
            safe[mime] = value
        elif mime in SANITIZED_MIME_TYPES:
            safe[mime] = sanitize_html(value)
    return safe


class SanitizeOutputs(SanitizeHTML):
    """nbconvert's SanitizeHTML with the course's policy: for ``nbgrader generate_feedback`` (nbgrader_config.py).

    It cleans every code cell's outputs and every markdown and raw cell's source, the instructor's included
    (they hold no active content by design; a student may add cells of their own).
    """

    enabled = Bool(True, help="On by default: nbconvert skips preprocessors that are not enabled").tag(config=True)
    tags = List(Unicode(), default_value=TAGS).tag(config=True)
    attributes = AnyTrait(default_value=_allowed_attribute).tag(config=True)
    safe_output_keys = Set(default_value={"metadata", *SAFE_MIME_TYPES}).tag(config=True)
    sanitized_output_types = Set(default_value=set(SANITIZED_MIME_TYPES)).tag(config=True)

    def sanitize_html_tags(self, html_str) -> str:  # the same cleaner as the autograded notebook's outputs
        return sanitize_html(html_str)
