"""Building blocks shared by the graded test cells: a scored report, quiet execution, and the guard
that gives 0 to a hand-in that reuses the course's own reference code instead of writing it.

nbgrader rules these helpers are shaped by: a test cell that writes to stderr scores 0, and partial
credit comes only from the cell's last expression being a number between 0 and the cell's points.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import io
import math
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Every object defined under this package counts as the course's own code.
REFERENCE_PACKAGE = "course_lib"


@contextlib.contextmanager
def _calm() -> Iterator[None]:
    with quiet(), single_thread():
        yield


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence warnings and stderr: a test cell that writes anything to stderr scores 0 in nbgrader."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stderr(io.StringIO()):
            yield


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread: the checks use tiny tensors, and on a busy machine thread hand-offs cost far more."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_function(title: str, points: float) -> Callable[[Callable[[Any, "Report"], None]], Callable[..., float]]:
    """Make a check of a test cell from its cases: ``@check_function("title", points=2)`` over
    ``body(target, report)`` gives ``check(target, points=2) -> float``.

    The check opens a :class:`Report` of that title and points, gives 0 for the whole cell when the target
    reuses the course's reference code (``Report.block_if_reused``), else lets the body add its cases, and
    prints and returns the score: the preamble every check shares, written once.
    """
    def decorate(body: Callable[[Any, Report], None]) -> Callable[..., float]:
        def check(target: Any, points: float = points) -> float:
            report = Report(title, points)
            if not report.block_if_reused(target):
                body(target, report)
            return report.score()

        first = next(iter(inspect.signature(body).parameters.values()))
        check.__signature__ = inspect.Signature(  # type: ignore[attr-defined] - what help() and readers see
            [first.replace(kind=inspect.Parameter.POSITIONAL_ONLY),
             inspect.Parameter("points", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=points, annotation=float)],
            return_annotation=float)
        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(check, name, getattr(body, name))
        return check

    return decorate


def _describe_error(error: BaseException) -> str:
    from .replay import StudentError

    if isinstance(error, StudentError):  # raised by the student's code in the sandbox: its own words
        return error.text[:200]
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0] if message else ''}"[:200]


_collector: contextvars.ContextVar[list | None] = contextvars.ContextVar("report_collector", default=None)


@contextlib.contextmanager
def collect_reports() -> Iterator[list["Report"]]:
    """The reports scored while the block runs in this thread (the class grader records every case)."""
    found: list[Report] = []
    token = _collector.set(found)
    try:
        yield found
    finally:
        _collector.reset(token)


@dataclass
class Report:
    """Pass/fail cases of one test cell; ``score()`` prints them and returns the points earned."""

    title: str
    points: float
    cases: list[tuple[str, bool, str]] = field(default_factory=list)
    blocked: str | None = None

    def add(self, name: str, passed: bool, detail: str = "") -> bool:
        self.cases.append((name, bool(passed), detail))
        return bool(passed)

    def check(self, name: str, test: Callable[[], Any]) -> bool:
        """Run ``test`` quietly; it returns True/False or (passed, detail). An exception fails the case.

        In the student's notebook, warnings and stderr are silenced (nbgrader scores a cell that writes to
        stderr 0). The class grader collects reports in several threads at once and needs neither.
        """
        calm = contextlib.nullcontext() if _collector.get() is not None else _calm()
        try:
            with calm:
                outcome = test()
        except Exception as error:  # noqa: BLE001 - the student's code may raise anything
            return self.add(name, False, f"raised {_describe_error(error)}")
        passed, detail = outcome if isinstance(outcome, tuple) else (outcome, "")
        return self.add(name, bool(passed), str(detail))

    def block_if_reused(self, *objects: Any) -> bool:
        """Give 0 for the whole cell when any object reuses the course's reference code; True if blocked.

        In the student's own notebook this inspects the objects; when the class grader scores a hand-in the
        objects are stand-ins and the notebook's source is read instead (``static``).
        """
        from .replay import Target

        for obj in objects:
            if isinstance(obj, Target):
                continue
            reason = reference_reuse(obj)
            if reason:
                self.blocked = reason
                return True
        return False

    def earned(self) -> float:
        """The share of ``points`` for the cases passed (0 when blocked or without cases)."""
        if self.blocked or not self.cases:
            return 0.0
        earned = self.points * sum(passed for _, passed, _ in self.cases) / len(self.cases)
        return min(self.points, max(0.0, round(earned, 2)))

    def text(self) -> str:
        """One line per case (failures with their reason) and the points: what the test cell shows."""
        lines = [self.title]
        if self.blocked:
            return "\n".join([*lines, f"  0 points: {self.blocked}. Write the code yourself."]) + "\n"
        for name, passed, detail in self.cases:
            line = f"  [{'pass' if passed else 'FAIL'}] {name}"
            lines.append(line + (f" -- {detail}" if detail and not passed else ""))
        if self.cases:
            lines.append(f"  {self.earned():g} / {self.points:g} points")
        return "\n".join(lines) + "\n"

    def score(self) -> float:
        """Print the report (in the student's notebook) and return the points earned."""
        collector = _collector.get()
        if collector is not None:  # the class grader renders the text itself, thread by thread
            collector.append(self)
        else:
            print(self.text(), end="")
        return self.earned()


def reference_model(name: str) -> Any:
    """The course's reference class or function ``name`` from ``course_lib.models`` (or its submodules)."""
    import importlib

    models = importlib.import_module("course_lib.models")
    found = getattr(models, name, None)
    for submodule in ("resnet", "lenet", "vgg", "googlenet", "nin", "alexnet"):
        if found is not None:
            break
        try:
            found = getattr(importlib.import_module(f"course_lib.models.{submodule}"), name, None)
        except ImportError:
            continue
    if found is None:
        raise ImportError(f"course_lib.models has no {name}: update course_lib (pip install -e .)")
    return found


# --------------------------------------------------------------------------------------------------
# Detecting a hand-in that reuses the course's own code
# --------------------------------------------------------------------------------------------------


def _is_reference_name(name: str) -> bool:
    return name == REFERENCE_PACKAGE or name.startswith(REFERENCE_PACKAGE + ".")


def is_reference_object(obj: Any) -> bool:
    """True for a module, class or function that belongs to the course's package, or an instance of one."""
    if isinstance(obj, types.ModuleType):
        return _is_reference_name(obj.__name__)
    if isinstance(obj, type):
        return any(_is_reference_name(getattr(k, "__module__", "") or "") for k in obj.__mro__)
    if callable(obj) and _is_reference_name(getattr(obj, "__module__", "") or ""):
        return True
    return any(_is_reference_name(getattr(k, "__module__", "") or "") for k in type(obj).__mro__)


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _functions_of(obj: Any) -> list[types.FunctionType]:
    """The plain functions behind a function, a class's own methods, or an instance's class."""
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        return [obj]
    klass = obj if isinstance(obj, type) else type(obj)
    found: list[types.FunctionType] = []
    for k in klass.__mro__:
        if k.__module__.startswith(("torch", "builtins")):
            continue
        for member in vars(k).values():
            if is_reference_object(member) and not isinstance(member, (str, int, float, tuple, type(None))):
                found.append(_ReferenceMember(member))
                continue
            if isinstance(member, (staticmethod, classmethod)):
                member = member.__func__
            if isinstance(member, property):
                member = member.fget
            if isinstance(member, types.FunctionType):
                found.append(member)
    return found


class _ReferenceMember:
    """A class attribute that is itself course code (e.g. ``forward = ResBlk.forward``)."""

    def __init__(self, member: Any) -> None:
        self.member = member
        self.__qualname__ = getattr(member, "__qualname__", type(member).__name__)


def _reuse_in_function(fn: types.FunctionType, seen: set[int]) -> str | None:
    """Look through the names and strings a function's code uses for course code; follow the student's own helpers."""
    if id(fn) in seen:
        return None
    seen.add(id(fn))
    if isinstance(fn, _ReferenceMember) or is_reference_object(fn):
        return f"`{fn.__qualname__}` is the course's own code"
    try:
        if REFERENCE_PACKAGE in inspect.getsource(fn):
            return f"`{fn.__qualname__}` mentions {REFERENCE_PACKAGE}"
    except (OSError, TypeError):
        pass
    closure = {name: cell.cell_contents for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ())
               if _has_contents(cell)}
    for code in _code_objects(fn.__code__):
        for const in code.co_consts:
            if isinstance(const, str) and REFERENCE_PACKAGE in const:
                return f"`{fn.__qualname__}` refers to {const!r}"
        for name in (*code.co_names, *code.co_freevars):
            if _is_reference_name(name):
                return f"`{fn.__qualname__}` imports {name}"
            if name in closure:
                value = closure[name]
            elif name in fn.__globals__:
                value = fn.__globals__[name]
            else:
                continue
            if is_reference_object(value):
                return f"`{fn.__qualname__}` uses `{name}`, which is the course's own code"
            if _defined_by_student(value):
                for inner in _functions_of(value):
                    reason = _reuse_in_function(inner, seen)
                    if reason:
                        return reason
    return None


def _has_contents(cell: types.CellType) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def _defined_by_student(value: Any) -> bool:
    if isinstance(value, (types.FunctionType, type)):
        return getattr(value, "__module__", None) == "__main__"
    return False


def reference_reuse(obj: Any) -> str | None:
    """Why ``obj`` (a class, function or module instance handed in) reuses course code, or None if it does not.

    Checks the class hierarchy, every submodule of an instance, and the names, imports and strings the
    hand-in's code uses (following the student's own helper functions and classes).
    """
    if obj is None:
        return None
    if is_reference_object(obj):
        what = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        return f"`{getattr(obj, '__name__', what)}` comes from the course's own package {REFERENCE_PACKAGE}"
    modules = getattr(obj, "modules", None)
    if not isinstance(obj, type) and callable(modules):
        try:
            for sub in obj.modules():
                if is_reference_object(sub):
                    return f"it contains a `{type(sub).__name__}` from {REFERENCE_PACKAGE}"
        except Exception:  # noqa: BLE001 - not a torch module after all
            pass
    seen: set[int] = set()
    for fn in _functions_of(obj):
        reason = _reuse_in_function(fn, seen)
        if reason:
            return reason
    return None


# --------------------------------------------------------------------------------------------------
# Comparing a student's function with an expected tensor
# --------------------------------------------------------------------------------------------------


def relative_error(actual: Any, expected: Any) -> float:
    """The one closeness rule of every check: the largest absolute difference over ``1 + max |expected|``
    (relative for large values, absolute near zero); inf when ``actual`` is not a tensor of ``expected``'s
    shape or the difference is not finite (NaN, inf)."""
    import torch

    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(expected.shape):
        return math.inf
    if not expected.numel():
        return 0.0
    reference = expected.detach().double()
    error = (actual.detach().double() - reference).abs().max().item() / (1.0 + reference.abs().max().item())
    return error if math.isfinite(error) else math.inf


def close(actual: Any, expected: Any, tolerance: float = 1e-4) -> tuple[bool, str]:
    """(True, "") when ``actual`` is a tensor of ``expected``'s shape and values (``relative_error`` within
    ``tolerance``), else (False, why)."""
    import torch

    if not isinstance(actual, torch.Tensor):
        return False, f"expected a tensor, got {type(actual).__name__}"
    if tuple(actual.shape) != tuple(expected.shape):
        return False, f"expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}"
    if not relative_error(actual, expected) <= tolerance:
        error = (actual.detach().double() - expected.detach().double()).abs().max().item()
        return False, f"values differ by up to {error:.3g}"
    return True, ""


def salted_seed(seed: int) -> int:
    """``seed`` itself in the student's notebook; mixed with the grading run's secret salt when graded."""
    from .replay import salt

    value = salt()
    return seed if not value else (seed * 1_000_003 + value) % (1 << 62)


def generator(seed: int = 0) -> Any:
    """A seeded torch random generator, so checks are reproducible and leave the global seed alone.

    When the class grader scores a hand-in the seed is salted, so the inputs are new for every grading run.
    """
    import torch

    return torch.Generator().manual_seed(salted_seed(seed))


def code_names(fn: Any) -> set[str]:
    """The global names a function's code uses (for a graded hand-in: read from the notebook's source)."""
    from .replay import Target

    if isinstance(fn, Target):
        return set(fn.code_names)
    code = getattr(fn, "__code__", None)
    names: set[str] = set()
    for inner in _code_objects(code) if code is not None else ():
        names |= set(inner.co_names)
    return names
