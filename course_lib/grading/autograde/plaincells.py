"""Ordinary nbgrader test cells (asserts, loops, helper functions) run in the trusted process over stand-ins.

Every name a test cell takes from the student's notebook becomes a :class:`Remote`: its calls, attribute reads,
item reads, iteration, ``len``, truth and ``str``/``repr`` are carried out in the sandbox, one operation at a
time over the job's channel (``sandboxed.evidence.Session``). Results come back by value when they are plain
data of exact types (tensors, numbers, str, bool, None, tuples, lists and dicts of those), rebuilt here from
the channel's JSON and arrays (never unpickled); anything else stays in the sandbox behind a new Remote.
Comparisons, arithmetic and hashing of a Remote would run the student's methods here, so they are refused with
a message. The test cell's own values (inputs, expected outputs, ``torch.allclose``) are this process's: a
hand-in that patches ``torch`` or builtins in its own process changes nothing here.
"""

from __future__ import annotations

import ast
import builtins
from typing import Any, Callable

import numpy as np

MAX_OPERATIONS = 10_000
PLAIN = (bool, int, float, str, type(None))


class Refused(Exception):
    """A test cell asked for something a stand-in cannot do safely; the message says how to write it instead."""


class StudentRaised(Exception):
    """The student's code raised this in the sandbox (type and message as the sandbox reported them)."""


class Link:
    """One submission's session: sends operations through ``ask`` and rebuilds the answers."""

    def __init__(self, ask: Callable[[Any], Any]) -> None:
        self.ask, self.count = ask, 0

    def op(self, op: dict) -> Any:
        self.count += 1
        if self.count > MAX_OPERATIONS:
            raise Refused(f"the test cells asked the student's code more than {MAX_OPERATIONS} times")
        answer = self.ask(op)
        if not isinstance(answer, dict):
            raise Refused("the sandbox's answer is malformed")
        if "error" in answer:
            raise StudentRaised(str(answer["error"]))
        return self.rebuild(answer.get("value"))

    def rebuild(self, value: Any) -> Any:
        import torch

        if type(value) in PLAIN:
            return value
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value.copy())
        if isinstance(value, dict):
            if "$h" in value and set(value) <= {"$h", "$type"}:
                return Remote(self, int(value["$h"]), str(value.get("$type", "object")))
            return {str(k): self.rebuild(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            items = [self.rebuild(v) for v in value]
            return items if isinstance(value, list) else tuple(items)
        raise Refused(f"the sandbox sent back a {type(value).__name__}")

    def send(self, value: Any) -> Any:
        """A value the test passes to the student's code: plain data, tensors, or the student's own objects."""
        import torch

        if isinstance(value, Remote):
            return {"$h": object.__getattribute__(value, "_id")}
        if type(value) in PLAIN or type(value) in (torch.Tensor, torch.nn.Parameter):
            return value
        if type(value) in (list, tuple, torch.Size):
            items = [self.send(v) for v in value]
            return items if type(value) is list else tuple(items)
        if type(value) is dict and all(type(k) is str for k in value):
            return {k: self.send(v) for k, v in value.items()}
        raise Refused(f"a {type(value).__name__} made by the test cannot be passed to the student's code: pass "
                      "tensors, numbers, strings, None or lists, tuples and dicts of those")


def _refuse(what: str) -> Callable:
    def refused(self, *args: Any) -> Any:
        kind = object.__getattribute__(self, "_type")
        raise Refused(f"{what} the student's {kind} object would run its own methods in the grader: compare plain "
                      "values instead (the tensors and numbers its calls return, e.g. `out = model(x)` then "
                      "`torch.allclose(out, expected)`)")
    return refused


class Remote:
    """A stand-in for one object in the sandbox: every use of it is a sandbox operation or refused."""

    __slots__ = ("_link", "_id", "_type")

    def __init__(self, link: Link, index: int, kind: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_id", index)
        object.__setattr__(self, "_type", kind)

    def _op(self, op: str, **fields: Any) -> Any:
        link = object.__getattribute__(self, "_link")
        return link.op({"op": op, "of": object.__getattribute__(self, "_id"), **fields})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):  # protocol probes (numpy's __array__ ...): not the student's
            raise AttributeError(name)
        return self._op("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._op("setattr", name=name, value=object.__getattribute__(self, "_link").send(value))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        link = object.__getattribute__(self, "_link")
        return self._op("call", args=link.send(list(args)), kwargs=link.send(dict(kwargs)))

    def __getitem__(self, key: Any) -> Any:
        return self._op("getitem", key=object.__getattribute__(self, "_link").send(key))

    def __iter__(self):
        items = self._op("list")
        if type(items) is not list:
            raise Refused("iterating the student's object did not give a list")
        return iter(items)

    def __len__(self) -> int:
        try:
            value = self._op("len")
        except StudentRaised as exc:  # list(generator) asks len() first and must see a TypeError to go on
            if str(exc).startswith("TypeError"):
                raise TypeError(str(exc)) from None
            raise
        if type(value) is not int:
            raise Refused("len() of the student's object is not an int")
        return value

    def __bool__(self) -> bool:
        value = self._op("bool")
        if type(value) is not bool:
            raise Refused("the student's object's truth value is not a bool")
        return value

    def __str__(self) -> str:
        value = self._op("str")
        return value if type(value) is str else f"<{object.__getattribute__(self, '_type')}>"

    def __repr__(self) -> str:
        value = self._op("repr")
        return value if type(value) is str else f"<{object.__getattribute__(self, '_type')}>"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    @classmethod
    def __torch_function__(cls, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None) -> Any:
        """A student's parameter given to a torch function here (``F.conv2d(x, block.conv.weight)``) is replaced by
        its current value, fetched by value; parameters stay handles so that in-place changes reach the module."""
        def value(v: Any) -> Any:
            if isinstance(v, Remote):
                kind = object.__getattribute__(v, "_type")
                if kind != "Parameter":
                    raise Refused(f"torch.{getattr(func, '__name__', 'function')} on the student's {kind} object "
                                  "would run its own methods in the grader: pass the tensors its calls return")
                tensor = v._op("getattr", name="detach")()
                if type(tensor).__name__ != "Tensor":
                    raise Refused("a parameter's value did not come back as a tensor")
                return tensor
            if isinstance(v, (list, tuple)):
                return type(v)(value(x) for x in v)
            if isinstance(v, dict):
                return {k: value(x) for k, x in v.items()}
            return v

        return func(*value(tuple(args)), **value(dict(kwargs or {})))

    __eq__ = _refuse("comparing")
    __ne__ = _refuse("comparing")
    __lt__ = __le__ = __gt__ = __ge__ = _refuse("ordering")
    __hash__ = _refuse("hashing")  # type: ignore[assignment]
    __contains__ = _refuse("`in` on")
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse("arithmetic on")
    __matmul__ = __rmatmul__ = __pow__ = __neg__ = __abs__ = _refuse("arithmetic on")
    __float__ = __int__ = __index__ = _refuse("converting")


def free_names(tree: ast.Module) -> list[str]:
    """Names a cell reads without defining, importing or taking from builtins: the notebook's, in order."""
    bound: set[str] = set(dir(builtins))
    read: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound.add if isinstance(node.ctx, (ast.Store, ast.Del)) else read.append)(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return list(dict.fromkeys(n for n in read if n not in bound))


def import_lines(sources: list[str]) -> str:
    """The top-level import statements of the instructor's cells: they run here, so ``torch`` is the grader's."""
    lines = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        lines += [ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return "\n".join(dict.fromkeys(lines))


def run_cell(source: str, points: float, link: Link, imports: str) -> tuple[float, str]:
    """Run one ordinary test cell here; its score (an error: 0, else full marks; a number as the last expression,
    nbgrader's partial credit, is refused) and what to show for it."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return 0.0, f"the test cell does not parse: {exc}"
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    try:  # the instructor's code only: nbgrader restores test and read-only cells from the gradebook
        exec(compile(imports or "pass", "<notebook imports>", "exec"), namespace)
        for name in free_names(ast.parse(source)):
            if name not in namespace:
                namespace[name] = link.op({"op": "ref", "name": name})
        exec(compile(tree, "<test cell>", "exec"), namespace)
        value = eval(compile(ast.Expression(last.value), "<test cell>", "eval"), namespace) if last else None
    except AssertionError as exc:
        return 0.0, f"AssertionError: {exc}" if str(exc) else "AssertionError"
    except StudentRaised as exc:
        return 0.0, f"the student's code raised {exc}"
    except Exception as exc:  # noqa: BLE001 - a failing test cell scores 0, as under nbgrader
        return 0.0, f"{type(exc).__name__}: {exc}"
    if type(value) in (int, float):  # nbgrader's partial credit; here the number may be the student's own
        return 0.0, ("the cell ends in a number, which nbgrader takes as partial credit; the course grader does "
                     "not, since the number could come from the student's code: split the cell into cells worth "
                     "their points, each passing or failing by its asserts")
    return points, "passed"
