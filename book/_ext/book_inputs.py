"""Whether `_build/html` is up to date with everything the book is built from, so that a `make book`
with nothing changed skips `jupyter-book build` (whose start-up alone takes several seconds even
when Sphinx then finds nothing to do).

The inputs: `_config.yml`, `_toc.yml`, every file under `book/` (chapters, pages, extensions,
templates, vendored scripts, stored results), the pins, the chapters' executions
(`course-executions.json` beside the jupyter-cache, rewritten whenever a chapter runs, and tied to
the library's fingerprint there), the links the build resolves (course_links: environment or git)
and COURSE_FULL.

    python book/_ext/book_inputs.py check _build/html/.book-inputs   # exit 0: up to date
    python book/_ext/book_inputs.py write _build/html/.book-inputs   # after a successful build
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import course_links
from execute_chapters import STATE_FILE

REPO = Path(__file__).resolve().parents[2]
FILES = ("_config.yml", "_toc.yml", "requirements.txt")
FOLDERS = ("book",)
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def digest(root: Path = REPO, cache_dir: Path | None = None) -> str:
    """A hash of every input of the HTML build (see the module's docstring)."""
    cache_dir = cache_dir or root / "_build" / ".jupyter_cache"
    paths = [root / name for name in FILES] + [cache_dir / STATE_FILE]
    for folder in FOLDERS:
        paths += sorted(path for path in (root / folder).rglob("*")
                        if path.is_file() and not SKIPPED_PARTS.intersection(path.parts))
    sha = hashlib.sha256()
    for path in paths:
        sha.update(str(path.relative_to(root) if path.is_relative_to(root) else path).encode() + b"\0")
        sha.update((path.read_bytes() if path.is_file() else b"(missing)") + b"\0")
    sha.update(repr(course_links.resolve(root, os.environ)).encode())
    sha.update(os.environ.get("COURSE_FULL", "").encode())
    return sha.hexdigest()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"check", "write"}:
        print("usage: book_inputs.py check|write STAMP_FILE", file=sys.stderr)
        return 2
    stamp, current = Path(argv[1]), digest()
    if argv[0] == "write":
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current + "\n")
        return 0
    return 0 if stamp.is_file() and stamp.read_text().strip() == current else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
