"""Static evidence: what the student's cells say, read from the notebook file by the trusted side.

A hand-in is flagged for review when its code reaches the course's own package, builds code at run
time (``exec``, ``eval``, ``compile``, ``__import__``, ``importlib``, ``getattr``/``setattr`` on modules),
touches IPython's machinery (``get_ipython``, input transformers, traceback display, frames) or the
interpreter's (``sys.modules``, ``builtins``, ``gc``, ``ctypes``, monkeypatching a library's attributes),
or the operating system (processes, signals, sockets). ``import sys`` alone is fine (printing to
``sys.stderr``); its interpreter hooks are not. Each flag says why and where; the assignments say
what a flag costs (every test cell of the notebook scores 0 until an instructor has looked).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

COURSE = "course_lib"
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__", "breakpoint", "globals", "vars", "locals"}
MODULE_ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr", "hasattr"}
IPYTHON_NAMES = {"get_ipython", "In", "Out", "_ih", "_oh", "_i", "_ii", "_iii", "__IPYTHON__"}
IPYTHON_ATTRIBUTES = {"input_transformers_post", "input_transformers_cleanup", "input_transformer_manager",
                      "ast_transformers", "showtraceback", "_showtraceback", "set_custom_exc", "run_cell",
                      "run_line_magic", "run_cell_magic", "user_ns", "events", "displayhook", "display_pub",
                      "InteractiveTB", "SyntaxTB", "excepthook", "register_magic_function"}
INTERPRETER_ATTRIBUTES = {"_getframe", "f_back", "f_globals", "f_locals", "f_builtins", "__globals__", "__code__",
                          "__closure__", "__subclasses__", "__builtins__", "__dict__", "__loader__", "__spec__",
                          "meta_path", "path_hooks", "settrace", "setprofile", "addaudithook", "__bases__",
                          "__mro__", "__import__"}
SYS_ATTRIBUTES = {"modules", "displayhook", "excepthook", "_getframe", "settrace", "setprofile"}
FORBIDDEN_MODULES = {
    "importlib": "dynamic-code", "imp": "dynamic-code", "runpy": "dynamic-code", "pkgutil": "dynamic-code",
    "types": "dynamic-code", "IPython": "ipython-machinery", "ipykernel": "ipython-machinery",
    "builtins": "runtime-tampering", "gc": "runtime-tampering", "ctypes": "runtime-tampering",
    "inspect": "runtime-tampering", "traceback": "runtime-tampering", "unittest": "runtime-tampering",
    "atexit": "runtime-tampering", "marshal": "runtime-tampering",
    "pickle": "runtime-tampering", "dill": "runtime-tampering", "cloudpickle": "runtime-tampering",
    "os": "system-access", "subprocess": "system-access", "signal": "system-access", "socket": "system-access",
    "shutil": "system-access", "multiprocessing": "system-access", "threading": "system-access",
    "resource": "system-access", "pty": "system-access", "mmap": "system-access", "pathlib": "system-access",
    "nbgrader": "grader-access", "nbformat": "grader-access", "nbclient": "grader-access",
    "sqlite3": "grader-access", "sqlalchemy": "grader-access",
}
SAFE_MAGICS = {"matplotlib", "time", "timeit"}
_MAGIC = re.compile(r"^\s*(%%?|!)\s*(\w*)")


@dataclass(frozen=True)
class Flag:
    """Why a hand-in needs a human look: its kind, a one-line reason, the cell and line."""

    kind: str
    reason: str
    cell: str
    line: int | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "reason": self.reason, "cell": self.cell, "line": self.line}

    def __str__(self) -> str:
        where = f"{self.cell}" + (f", line {self.line}" if self.line else "")
        return f"{self.kind}: {self.reason} ({where})"


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _without_magics(source: str, cell: str, flags: list[Flag]) -> str:
    """The cell with IPython magics and shell escapes blanked (unsafe ones flagged), ready for ``ast``."""
    lines = source.split("\n")
    for number, line in enumerate(lines, 1):
        found = _MAGIC.match(line)
        if not found or not line.strip() or line.lstrip().startswith(("%=", "!=")):
            continue
        prefix, name = found.groups()
        if prefix == "%" and name in SAFE_MAGICS and not line.lstrip().startswith("%%"):
            lines[number - 1] = ""
            continue
        flags.append(Flag("ipython-machinery", f"IPython {'shell escape' if prefix == '!' else 'magic'} "
                                               f"`{line.strip()[:60]}`", cell, number))
        lines[number - 1] = ""
    return "\n".join(lines)


class _Reader(ast.NodeVisitor):
    def __init__(self, cell: str, flags: list[Flag], modules: set[str]) -> None:
        self.cell, self.flags, self.modules = cell, flags, modules

    def flag(self, kind: str, reason: str, node: ast.AST) -> None:
        self.flags.append(Flag(kind, reason, self.cell, getattr(node, "lineno", None)))

    def _import(self, name: str, node: ast.AST) -> None:
        top = name.split(".")[0]
        if top == COURSE:
            self.flag("course-code", f"imports {name}, the course's own code", node)
        elif top in FORBIDDEN_MODULES:
            self.flag(FORBIDDEN_MODULES[top], f"imports {name}", node)
        elif name.startswith("torchvision.models"):
            self.flag("course-code", f"imports {name}: reference models are not a hand-in", node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(alias.name, node)
            self.modules.add((alias.asname or alias.name).split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        self._import(module, node)
        for alias in node.names:
            if module.split(".")[0] not in FORBIDDEN_MODULES and module.split(".")[0] != COURSE:
                self._import(f"{module}.{alias.name}", node)
            if alias.name in INTERPRETER_ATTRIBUTES | IPYTHON_ATTRIBUTES | SYS_ATTRIBUTES:
                self.flag("runtime-tampering", f"imports {alias.name} from {module}", node)
            self.modules.add(alias.asname or alias.name)

    def visit_Name(self, node: ast.Name) -> None:
        if COURSE in node.id:
            self.flag("course-code", f"names {node.id}", node)
        elif node.id in IPYTHON_NAMES:
            self.flag("ipython-machinery", f"uses {node.id}", node)
        elif node.id in ("__builtins__", "__loader__", "__spec__"):
            self.flag("runtime-tampering", f"uses {node.id}", node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and (COURSE in node.value or "course_" in node.value):
            self.flag("course-code", f"the string {node.value[:40]!r} names the course's package", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in IPYTHON_ATTRIBUTES:
            self.flag("ipython-machinery", f"touches .{node.attr}", node)
        elif node.attr in INTERPRETER_ATTRIBUTES or (node.attr in SYS_ATTRIBUTES and _root_name(node) == "sys"):
            self.flag("runtime-tampering", f"touches .{node.attr}", node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            name = node.func.id
            if name in DYNAMIC_CALLS:
                self.flag("dynamic-code", f"calls {name}()", node)
            elif name in MODULE_ATTRIBUTE_CALLS and node.args:
                root = _root_name(node.args[0])
                if root in self.modules or root in FORBIDDEN_MODULES or root in ("torch", "nn", "F", "np"):
                    self.flag("dynamic-code", f"calls {name}() on the module {_dotted(node.args[0]) or root}", node)
        self.generic_visit(node)

    def _assigned(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            root = _root_name(target)
            if root in self.modules or root in ("torch", "nn", "F", "np", "sys", "builtins"):
                self.flag("runtime-tampering", f"assigns to {_dotted(target) or root}, a library's attribute", node)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:
                self._assigned(item, node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._assigned(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._assigned(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._assigned(target, node)
        self.generic_visit(node)


def flags_for(cells: list[tuple[str, str]]) -> list[Flag]:
    """Flags for the student's cells, given as (cell label, source), in notebook order."""
    flags: list[Flag] = []
    modules: set[str] = set()
    for label, source in cells:
        code = _without_magics(source, label, flags)
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue  # it fails in the sandbox too; nothing in it runs
        _Reader(label, flags, modules).visit(tree)
    unique: dict[tuple, Flag] = {}
    for flag in flags:
        unique.setdefault((flag.kind, flag.reason, flag.cell), flag)
    return list(unique.values())


def _definitions(cells: list[tuple[str, str]]) -> dict[str, list[ast.AST]]:
    found: dict[str, list[ast.AST]] = {}
    for _, source in cells:
        try:
            tree = ast.parse(_without_magics(source, "", []))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append(node)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(node.value)
    return found


def names_used(name: str, cells: list[tuple[str, str]]) -> frozenset[str]:
    """Every name and attribute the student's definition of ``name`` mentions, following the student's own
    helpers it uses (so a convolution hidden in a helper still counts)."""
    definitions = _definitions(cells)
    found: set[str] = set()
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in definitions.get(current, []):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name):
                    found.add(inner.id)
                    if inner.id in definitions:
                        pending.append(inner.id)
                elif isinstance(inner, ast.Attribute):
                    found.add(inner.attr)
    return frozenset(found)
