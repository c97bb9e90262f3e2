#!/usr/bin/env python3
"""Put (or update) the install cell in chapter notebooks, so a chapter runs in Colab, Binder or a JupyterHub.

The cell is each notebook's first code cell, tagged `course-install` (and `remove-cell`, so the
HTML book does not show it). It installs the course's library with pip from the configured
repository only where `import course_lib` fails; where the library is installed it does nothing.
Where no repository is configured, it says in its output how to configure one.

The repository and branch come from the same place as the book's launch buttons
(book/_ext/course_links.py): COURSE_REPOSITORY_URL and COURSE_REPOSITORY_BRANCH, else the git
remote `origin` and its branch. Running the script again changes nothing unless they changed.

    python scripts/add_install_cell.py                    # every chapter notebook in _toc.yml
    python scripts/add_install_cell.py book/11_*.ipynb    # the notebooks named
    python scripts/add_install_cell.py --check            # exit 1 if a chapter lacks the current cell
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "book" / "_ext"))
from course_links import BRANCH_VARIABLE, HOW_TO_CONFIGURE, REPOSITORY_VARIABLE, CourseLinks, resolve  # noqa: E402

TAG = "course-install"
TAGS = [TAG, "remove-cell"]
CELL_ID = "course-install"

TEMPLATE = '''# Set-up for Colab, Binder or a JupyterHub: installs the course's library where it is missing,
# and does nothing where it is installed. Written by scripts/add_install_cell.py: edit that, not this.
def _install_course_lib(pip_target: str = {pip_target!r}) -> None:
    import importlib
    import subprocess
    import sys

    try:
        import course_lib  # noqa: F401
    except ImportError:
        if not pip_target:
            print("course_lib is not installed, and no repository of the course was configured when this "
                  "notebook was prepared. Install it with `pip install git+https://…/REPO` (your instructor "
                  "has the address). Instructors: set {repository} (e.g. https://github.com/OWNER/REPO) "
                  "and optionally {branch}, or add a git remote `origin`, then run "
                  "`python scripts/add_install_cell.py` and commit the chapters.")
            return
        print(f"Installing the course's library: pip install {{pip_target}}")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--ignore-requires-python", pip_target],
                       check=True)
        importlib.invalidate_caches()


_install_course_lib()
'''


def cell_source(links: CourseLinks) -> str:
    """The install cell's code for these links."""
    return TEMPLATE.format(pip_target=links.pip_target, repository=REPOSITORY_VARIABLE, branch=BRANCH_VARIABLE)


def chapter_notebooks(toc: Path = REPO / "_toc.yml") -> list[Path]:
    """Every notebook the table of contents lists, in its order."""
    found: list[Path] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    path = toc.parent / f"{value}.ipynb"
                    if path.is_file():
                        found.append(path)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(yaml.safe_load(toc.read_text()))
    return found


def is_install_cell(cell: nbformat.NotebookNode) -> bool:
    return cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def with_install_cell(notebook: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The notebook with exactly one install cell, placed just before its first other code cell."""
    cells = [cell for cell in notebook.cells if not is_install_cell(cell)]
    first_code = next((index for index, cell in enumerate(cells) if cell.cell_type == "code"), len(cells))
    install = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
    install.id = CELL_ID
    notebook = nbformat.from_dict(notebook)
    notebook.cells = cells[:first_code] + [install] + cells[first_code:]
    return notebook


def update(path: Path, source: str, write: bool = True) -> bool:
    """Give the notebook at path the install cell; True if it changed (or, with write=False, would)."""
    text = path.read_text()
    notebook = nbformat.reads(text, as_version=4)
    new_text = nbformat.writes(with_install_cell(notebook, source)) + "\n"
    if new_text == text:
        return False
    if write:
        path.write_text(new_text)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to update (default: every chapter)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs the cell")
    args = parser.parse_args(argv)
    links = resolve(REPO)
    source = cell_source(links)
    notebooks = args.notebooks or chapter_notebooks()
    missing = [path for path in notebooks if not path.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(map(str, missing))}")
    changed = [path for path in notebooks if update(path, source, write=not args.check)]
    where = links.pip_target or f"no repository configured ({HOW_TO_CONFIGURE})"
    verb = "need" if args.check else "updated"
    print(f"install cell ({where}): {len(changed)} of {len(notebooks)} notebooks {verb}"
          + "".join(f"\n  {path}" for path in changed))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
