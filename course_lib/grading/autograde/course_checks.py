"""A course's own check modules, found in folders named in ``nbgrader_config.py``, without editing this package.

::

    c.CourseGrader.check_folders = ["solutions/depthwise"]

Every ``NAME.py`` in those folders (not starting with ``_``) is a check module a test cell may use as
``import NAME as grade`` ... ``grade.<check>(<name>, points=N)``, exactly as the course's own
``from course_lib.grading import resblk as grade``. The class grader loads it here, in the trusted process,
from the course's folder (never the copy a student hands in), under a private module name; the allow-list
of test-cell modules is the course's package modules plus these. A folder inside ``solutions/<assignment>/``
is released with the assignment, so the visible tests also run in the student's own notebook.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

from traitlets import List, Unicode
from traitlets.config import Configurable

PRIVATE_PREFIX = "course_lib_course_checks."


class CourseGrader(Configurable):
    """The class grader's settings in ``nbgrader_config.py`` (``c.CourseGrader.<setting>``)."""

    check_folders = List(Unicode(), default_value=[],
                         help="Folders (relative to the course root, or absolute) holding the course's own check "
                              "modules; each NAME.py is usable in test cells as `import NAME as grade`.").tag(config=True)


class CheckFolderError(ValueError):
    """A check folder or module that cannot be used: the message says which and what to do."""


_registered: dict[str, Path] = {}
_loaded: dict[str, ModuleType] = {}
_lock = threading.Lock()


def discover(folders: list[str], root: Path) -> dict[str, Path]:
    """``{module name: file}`` for every check module in ``folders``; CheckFolderError for a missing folder, a
    name given twice, or a name that would shadow an installed module (the student's notebook imports it too)."""
    found: dict[str, Path] = {}
    for folder in folders:
        path = (root / folder).resolve()
        if not path.is_dir():
            raise CheckFolderError(f"check folder {folder!r} (c.CourseGrader.check_folders in nbgrader_config.py) "
                                   f"is not a folder: {path}")
        for file in sorted(path.glob("*.py")):
            name = file.stem
            if name.startswith("_"):
                continue
            if not name.isidentifier():
                raise CheckFolderError(f"check module {file} is not importable by that name: rename it")
            if name in found and found[name] != file:
                raise CheckFolderError(f"check module {name!r} is in two check folders ({found[name]}, {file}): "
                                       "rename one")
            if name in sys.stdlib_module_names or _installed(name):
                raise CheckFolderError(f"check module {file} has the name of an installed module ({name!r}); "
                                       f"rename it (e.g. {name}_checks.py) and its test cells' imports")
            found[name] = file
    return found


def _installed(name: str) -> bool:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "") and Path(spec.origin).parent != Path.cwd()


def register(modules: dict[str, Path]) -> None:
    """Make ``modules`` (from :func:`discover`) the course's check modules for this process."""
    with _lock:
        _registered.clear()
        _registered.update(modules)
        _loaded.clear()


def configure(app: Configurable, root: Path) -> dict[str, Path]:
    """Read ``c.CourseGrader.check_folders`` from nbgrader's configuration, discover and register the modules."""
    modules = discover(list(CourseGrader(parent=app).check_folders), root)
    register(modules)
    return modules


def names() -> frozenset[str]:
    """The registered course check modules' names."""
    return frozenset(_registered)


def load(name: str) -> ModuleType:
    """The course's check module ``name``, executed once in this (trusted) process from the course's file."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        file = _registered.get(name)
        if file is None:
            raise KeyError(name)
        spec = importlib.util.spec_from_file_location(PRIVATE_PREFIX + name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses and pickling look their module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - any error in the instructor's module: say which file
            sys.modules.pop(spec.name, None)
            raise CheckFolderError(f"check module {file} fails to import: {type(exc).__name__}: {exc}") from None
        _loaded[name] = module
        return module
