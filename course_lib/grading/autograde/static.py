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
# IPython's globals: flagged where code reads them as globals, not where the student binds the name first
IPYTHON_NAMES = {"get_ipython", "In", "Out", "_ih", "_oh", "_dh", "_i", "_ii", "_iii", "_", "__", "___",
                 "__IPYTHON__", "__main__"}
_IPYTHON_NUMBERED = re.compile(r"^_i?\d+$")  # _i3 (a past input), _3 (a past output)
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
    """Why a hand-in needs a human look: its kind, a one-line reason, the cell and line (the grader raises
    it, the records hold it, the class report reads it back)."""

    kind: str
    reason: str
    cell: str = ""
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
        elif top == "__main__":
            self.flag("ipython-machinery", f"imports {name}, the notebook's own namespace", node)
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


def _is_ipython_name(name: str) -> bool:
    return name in IPYTHON_NAMES or bool(_IPYTHON_NUMBERED.match(name))


def _stored(target: ast.AST) -> set[str]:
    """The plain names an assignment target binds (``a, (b, *c) = ...``)."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(*(_stored(item) for item in target.elts)) if target.elts else set()
    if isinstance(target, ast.Starred):
        return _stored(target.value)
    return set()


def _parameters(args: ast.arguments) -> set[str]:
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)


class _GlobalReads:
    """Where a cell reads one of IPython's globals (``In``, ``Out``, ``_i``, ``_`` ...) as a global.

    A name the student binds is the student's own where Python's scoping makes it so: a function's
    parameter or local (bound anywhere in the function and not declared ``global``), a comprehension's
    variable, a closure's variable, and at the top level of a cell (or a class body) a name bound
    earlier on every path (an assignment, ``import``, ``def``, the target of the ``for`` or ``with``
    whose body reads it). Anything else may read IPython's value: a loop variable after a loop that
    may not have run, a class attribute read from a method, a ``global`` declaration.
    """

    def __init__(self) -> None:
        self.reads: list[ast.Name] = []

    def module(self, tree: ast.Module) -> list[ast.Name]:
        self.block(tree.body, set(), [])
        return self.reads

    # -- expressions: loads checked against what is bound, nested scopes analysed on their own --
    def expr(self, node: ast.AST | None, bound: set[str], enclosing: list[set[str]]) -> None:
        if node is None:
            return
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and _is_ipython_name(node.id) and node.id not in bound \
                    and not any(node.id in scope for scope in enclosing):
                self.reads.append(node)
            return
        if isinstance(node, ast.Lambda):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                self.expr(default, bound, enclosing)
            self.function(node.args, [node.body], enclosing)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            self.comprehension(node, bound, enclosing)
            return
        for child in ast.iter_child_nodes(node):
            self.expr(child, bound, enclosing)

    def comprehension(self, node: ast.AST, bound: set[str], enclosing: list[set[str]]) -> None:
        generators = node.generators
        self.expr(generators[0].iter, bound, enclosing)  # evaluated where the comprehension stands
        own = set().union(*(_stored(g.target) for g in generators))
        inner = [*enclosing, own | bound]  # it runs at once: what is bound around it still holds
        for number, generator in enumerate(generators):
            if number:
                self.expr(generator.iter, set(), inner)
            for condition in generator.ifs:
                self.expr(condition, set(), inner)
        for part in ("elt", "key", "value"):
            self.expr(getattr(node, part, None), set(), inner)

    # -- a function's scope: every name it binds anywhere is local, unless declared global --
    def function(self, args: ast.arguments, body: list, enclosing: list[set[str]]) -> None:
        local, declared_global, nonlocal_ = _parameters(args), set(), set()
        pending = list(body)
        while pending:
            node = pending.pop()
            if isinstance(node, ast.Global):
                declared_global.update(node.names)
            elif isinstance(node, ast.Nonlocal):
                nonlocal_.update(node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                local.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                local.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                local.add(node.name)
            elif isinstance(node, ast.NamedExpr):
                local.update(_stored(node.target))
            if isinstance(node, _SCOPES):
                continue  # a scope of its own: its names are not this function's
            pending.extend(ast.iter_child_nodes(node))
        scope = (local - declared_global) | nonlocal_
        if body and isinstance(body[0], ast.expr):  # a lambda's body
            self.expr(body[0], set(), [*enclosing, scope])
        else:
            self.block(body, set(), [*enclosing, scope], in_function=True)

    # -- statements at the top level of a cell or a class body: bound only once bound on every path --
    def block(self, body: list, bound: set[str], enclosing: list[set[str]], in_function: bool = False) -> set[str]:
        bound = set(bound)
        for statement in body:
            bound = self.statement(statement, bound, enclosing, in_function)
        return bound

    def statement(self, node: ast.stmt, bound: set[str], enclosing: list[set[str]], in_function: bool) -> set[str]:
        e = lambda child, b=bound: self.expr(child, b, enclosing)  # noqa: E731
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
                e(child)
            self.function(node.args, node.body, enclosing)
            return bound | {node.name}
        if isinstance(node, ast.ClassDef):
            for child in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                e(child)
            self.block(node.body, bound, enclosing)  # run at once; its methods do not see its names
            return bound | {node.name}
        if isinstance(node, ast.Assign):
            e(node.value)
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    e(target)
            return bound | set().union(*(_stored(t) for t in node.targets))
        if isinstance(node, ast.AugAssign):  # reads its target before it binds it
            e(ast.Name(node.target.id, ast.Load(), lineno=node.lineno) if isinstance(node.target, ast.Name)
              else node.target)
            e(node.value)
            return bound | _stored(node.target)
        if isinstance(node, ast.AnnAssign):
            e(node.value)
            return bound | (_stored(node.target) if node.value is not None else set())
        if isinstance(node, (ast.For, ast.AsyncFor)):
            e(node.iter)
            self.block(node.body, bound | _stored(node.target), enclosing, in_function)
            self.block(node.orelse, bound, enclosing, in_function)
            return bound
        if isinstance(node, ast.While):
            e(node.test)
            self.block(node.body, bound, enclosing, in_function)
            self.block(node.orelse, bound, enclosing, in_function)
            return bound
        if isinstance(node, ast.If):
            e(node.test)
            return self.block(node.body, bound, enclosing, in_function) & \
                self.block(node.orelse, bound, enclosing, in_function)
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                e(item.context_expr, bound)
                bound = bound | (_stored(item.optional_vars) if item.optional_vars is not None else set())
            return self.block(node.body, bound, enclosing, in_function)
        if isinstance(node, (ast.Try, ast.TryStar)):
            self.block(node.body, bound, enclosing, in_function)
            for handler in node.handlers:
                e(handler.type)
                self.block(handler.body, bound | ({handler.name} if handler.name else set()), enclosing,
                           in_function)
            self.block(node.orelse, bound, enclosing, in_function)
            self.block(node.finalbody, bound, enclosing, in_function)
            return bound
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return bound | {(a.asname or a.name).split(".")[0] for a in node.names}
        if isinstance(node, ast.Delete):
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    e(target)
            return bound - set().union(*(_stored(t) for t in node.targets))
        if isinstance(node, ast.Match):
            e(node.subject)
            for case in node.cases:
                names = {n.name for n in ast.walk(case.pattern)
                         if isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name}
                names |= {n.rest for n in ast.walk(case.pattern) if isinstance(n, ast.MatchMapping) and n.rest}
                e(case.guard, bound | names)
                self.block(case.body, bound | names, enclosing, in_function)
            return bound
        for child in ast.iter_child_nodes(node):
            e(child)
        return bound


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
        reader = _Reader(label, flags, modules)
        reader.visit(tree)
        for node in _GlobalReads().module(tree):
            reader.flag("ipython-machinery", f"reads IPython's {node.id}", node)
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
