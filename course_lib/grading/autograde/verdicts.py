"""The trusted side's scoring of one notebook: test cells read, checks run against stand-ins, scores decided.

Every graded test cell of the course ends with ``grade.<check>(<name>, points=N)``, where ``grade`` is one
of the package's check modules or of the course's own (``course_checks``, from ``c.CourseGrader.check_folders``). The class grader never runs such a cell in the sandbox. It runs the check
here twice around the sandbox: once recording the requests it makes of ``<name>`` (``replay.Target``),
once replaying the sandbox's answers; the check's score becomes the cell's output, as nbgrader scores it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable

from nbformat import NotebookNode
from nbformat.v4 import new_output

from .. import assignments, checks
from . import course_checks
from ..markers import has_hidden_tests
from ..replay import Target, salted

CHECK_MODULES = tuple(assignments.names())  # what `from PACKAGE import NAME as grade` may name
PACKAGE = "course_lib.grading"
ASSIGNMENTS = f"{PACKAGE}.assignments"
COURSE = "course:"  # TestCall.module prefix of a course's own check module (``course_checks``)


class GraderSetupError(RuntimeError):
    """A test cell the trusted side cannot score from evidence (the instructor's notebook needs a fix)."""


@dataclass(frozen=True)
class TestCall:
    """What a test cell asks: check ``module.function`` on the student's ``target``, worth ``points``."""

    grade_id: str
    module: str
    function: str
    target: str
    points: float
    hidden: bool
    source: str = ""                   # an ordinary test cell (module ""): its code, run by ``plaincells``

    @property
    def plain(self) -> bool:
        return not self.module


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def parse_test_cell(source: str, grade_id: str, points: float) -> TestCall:
    """The check a test cell calls; GraderSetupError if it is not of the course's one form."""
    where = f"test cell {grade_id!r}"
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise GraderSetupError(f"{where} does not parse: {exc}") from None
    aliases: dict[str, str] = {}   # local name -> package module name, or COURSE + course check module name
    ours = course_checks.names()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module in (PACKAGE, ASSIGNMENTS):
            aliases.update({a.asname or a.name: a.name for a in node.names})
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith(ASSIGNMENTS + ".") and a.asname:
                    aliases[a.asname] = a.name[len(ASSIGNMENTS) + 1:]
                elif a.name.startswith(PACKAGE + ".") and a.asname:
                    name = a.name[len(PACKAGE) + 1:]
                    if name in assignments.names():  # only an attribute of the package: this import would fail
                        raise GraderSetupError(f"{where}: `import {a.name}` fails in a notebook (the checks live in "
                                               f"{ASSIGNMENTS}): write `from {PACKAGE} import {name} as grade`")
                    aliases[a.asname] = name
                elif a.name in ours:
                    aliases[a.asname or a.name] = COURSE + a.name
    last = tree.body[-1] if tree.body else None
    if not aliases:  # no check module: an ordinary test cell, run here over stand-ins (``plaincells``)
        if not tree.body:
            raise GraderSetupError(f"{where} is empty")
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            for name in names:
                if importlib.util.find_spec(name.split(".")[0]) is None:
                    known = ", ".join(sorted(ours)) or "none: c.CourseGrader.check_folders in nbgrader_config.py names none"
                    raise GraderSetupError(
                        f"{where} imports {name}, which the grader cannot import: it is neither installed nor one "
                        f"of the course's check modules (found in the check folders: {known}); a check module "
                        "beside the notebook must be named in c.CourseGrader.check_folders")
        return TestCall(grade_id, "", "", "", float(points), has_hidden_tests(source), source)
    for node in tree.body[:-1]:
        if not isinstance(node, (ast.Import, ast.ImportFrom)) and not _is_docstring(node):
            line = ast.get_source_segment(source, node) or ast.dump(node)
            raise GraderSetupError(
                f"{where}: line {node.lineno} (`{line.splitlines()[0][:80]}`) runs beside the check, but the course "
                "grader runs only the cell's last line, `grade.<check>(<name>, points=N)`, so this statement would "
                "be ignored and score nothing. Put every test of the cell into the check (a check module of "
                "your own: c.CourseGrader.check_folders in nbgrader_config.py, see 'Adding your own exercise' in "
                "book/instructors.md), move the statement to an ungraded cell, or give it a test cell of its own")
    call = last.value if isinstance(last, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id in aliases
            and len(call.args) == 1 and isinstance(call.args[0], ast.Name)):
        known = ", ".join(sorted(ours)) or "none: c.CourseGrader.check_folders in nbgrader_config.py names none"
        raise GraderSetupError(f"{where} must end with `grade.<check>(<name>, points=N)` where `grade` is one of "
                               f"{PACKAGE}'s check modules or one of the course's own (`import NAME as grade`; "
                               f"found in the check folders: {known})")
    module = aliases[call.func.value.id]
    if not module.startswith(COURSE) and module not in CHECK_MODULES:
        raise GraderSetupError(f"{where} uses {PACKAGE}.{module}, which is not a check module")
    function = call.func.attr
    try:
        found = getattr(check_module(module), function, None)
    except course_checks.CheckFolderError as exc:
        raise GraderSetupError(f"{where}: {exc}") from None
    if function.startswith("_") or not callable(found):
        raise GraderSetupError(f"{where}: {_shown(module)} has no check {function}")
    for keyword in call.keywords:
        if keyword.arg == "points" and isinstance(keyword.value, ast.Constant):
            if float(keyword.value.value) != float(points):
                raise GraderSetupError(f"{where} passes points={keyword.value.value} but is worth {points:g}")
    return TestCall(grade_id, module, function, call.args[0].id, float(points), has_hidden_tests(source))


def check_module(module: str):
    """The module a TestCall's ``module`` names: one of the package's, or the course's own (``COURSE`` + name)."""
    if module.startswith(COURSE):
        return course_checks.load(module[len(COURSE):])
    return importlib.import_module(f"{ASSIGNMENTS if module in assignments.names() else PACKAGE}.{module}")


def _shown(module: str) -> str:
    return f"the course's check module {module[len(COURSE):]}" if module.startswith(COURSE) else f"{PACKAGE}.{module}"


@dataclass
class CellVerdict:
    """The trusted side's decision on one test cell, with every case's outcome."""

    call: TestCall
    score: float
    text: str
    checks: list[dict] = field(default_factory=list)
    title: str = ""

    def outputs(self, flagged: str | None) -> list[NotebookNode]:
        """The test cell's outputs: the report (visible tests only) and the score as the last expression."""
        score = 0.0 if flagged else self.score
        if flagged:
            text = f"{self.title}\n  0 points: flagged for review: {flagged}\n"
        elif self.call.hidden:
            text = f"{self.title}: {score:g} / {self.call.points:g} points (hidden test: its cases are not shown)\n"
        else:
            text = self.text
        return [new_output("stream", name="stdout", text=text),
                new_output("execute_result", data={"text/plain": repr(round(score, 2))}, metadata={},
                           execution_count=None)]

    def to_dict(self, flagged: str | None) -> dict:
        return {"grade_id": self.call.grade_id, "points": self.call.points, "hidden": self.call.hidden,
                "score": 0.0 if flagged else self.score, "title": self.title, "checks": self.checks}


def _run_check(call: TestCall, target: Target) -> CellVerdict:
    check = getattr(check_module(call.module), call.function)
    broken = ""
    with checks.collect_reports() as reports:
        try:
            score = float(check(target, points=call.points))
        except Exception as exc:  # noqa: BLE001 - a check that breaks on odd evidence scores 0, and says so
            score = 0.0
            broken = f"  0 points: the check could not use this hand-in's evidence ({type(exc).__name__}: {exc})\n"
    cases = [{"name": name, "passed": passed, "message": "" if passed else detail}
             for report in reports for name, passed, detail in report.cases]
    if any(report.blocked for report in reports):
        cases = [{"name": report.title, "passed": False, "message": report.blocked} for report in reports]
    title = reports[0].title if reports else call.function
    text = "".join(report.text() for report in reports) + broken
    return CellVerdict(call, max(0.0, min(score, call.points)), text, cases, title)


@dataclass
class Plan:
    """The recorded requests of every test cell, and where each cell's requests sit in the flat list."""

    calls: list[TestCall]
    targets: list[Target]
    salt: int

    @property
    def requests(self) -> list[dict]:
        return [request for target in self.targets for request in target.requests]


def plan(calls: list[TestCall], code_names: Callable[[str], frozenset[str]], salt: int) -> Plan:
    """Run each check once against a recording stand-in: the requests to send to the sandbox."""
    targets = []
    with salted(salt):
        for call in calls:
            target = Target(call.target, code_names(call.target) if call.target else frozenset())
            if not call.plain:
                _run_check(call, target)
            targets.append(target)
    return Plan(calls, targets, salt)


def plain_verdict(call: TestCall, score: float, message: str) -> CellVerdict:
    """The verdict on an ordinary test cell (``plaincells.run_cell``'s score and message)."""
    title = f"test cell {call.grade_id}"
    passed = score >= call.points
    text = f"{title}\n  [{'pass' if passed else 'FAIL'}] {call.grade_id}" + ("" if passed else f" -- {message}") + \
        f"\n  {score:g} / {call.points:g} points\n"
    return CellVerdict(call, score, text, [{"name": call.grade_id, "passed": passed,
                                            "message": "" if passed else message}], title)


def decide(plan: Plan, results: list[Any], plain: dict[str, tuple[float, str]] | None = None) -> list[CellVerdict]:
    """Replay the sandbox's answers (decoded, in request order) to each check; its score is the verdict.
    Ordinary test cells take their (score, message) from ``plain`` (by grade id; missing: 0)."""
    verdicts, start = [], 0
    with salted(plan.salt):
        for call, target in zip(plan.calls, plan.targets):
            if call.plain:
                verdicts.append(plain_verdict(call, *(plain or {}).get(
                    call.grade_id, (0.0, "the test could not run: the student's notebook did not get that far"))))
                continue
            count = len(target.requests)
            answers = list(results[start:start + count])
            answers += [{"error": "no evidence came back"}] * (count - len(answers))
            start += count
            target.answer_with(answers)
            verdicts.append(_run_check(call, target))
    return verdicts
