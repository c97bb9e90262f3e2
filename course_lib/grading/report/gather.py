"""Everything the report shows about one assignment, read from the gradebook, the grader's records and the notebooks.

Scores always come from nbgrader's gradebook (SQLite or PostgreSQL). Per-check results, flags, time and
memory come from the grader's records (``grading_records/<assignment>/<student>.json``) where they exist,
else from what the test cells printed in ``autograded/<student>/<assignment>/*.ipynb``; answers come from
the records or from the solution cells of ``submitted/<student>/<assignment>/*.ipynb``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..autograde import course
from ..autograde import records as grading_records
from ..markers import has_hidden_tests
from ..autograde.static import Flag

CHECK_LINE = re.compile(r"^\s+\[(pass|FAIL)\] (.*?)(?: -- (.*))?$")
BLOCKED_LINE = re.compile(r"^\s+0 points: (.*?)\.? Write the code yourself\.\s*$")


class ReportError(RuntimeError):
    """The report cannot be made (no gradebook, unknown assignment): the message says what to do."""


@dataclass
class Check:
    name: str
    passed: bool
    message: str = ""


@dataclass
class CellResult:
    grade_id: str
    notebook: str
    points: float
    score: float
    checks: list[Check] = field(default_factory=list)


@dataclass
class TestCell:
    grade_id: str
    notebook: str
    points: float
    hidden: bool


@dataclass
class StudentResult:
    """One student of the gradebook or of submitted/: status, scores, checks, flags, answers."""

    student: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_user_id: str = ""
    status: str = "no submission"      # graded, failed, skipped, not graded, no submission
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float | None = None
    peak_memory_mb: float | None = None
    flags: list[Flag] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cells: dict[str, CellResult] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    feedback: dict[str, Path] = field(default_factory=dict)   # notebook name -> feedback HTML that exists
    record: bool = False


@dataclass
class ClassResults:
    assignment: str
    root: Path
    db_url: str
    notebooks: list[str]
    test_cells: list[TestCell]
    answer_cells: list[str]
    stubs: dict[str, str]
    students: list[StudentResult]
    max_score: float
    records: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def graded(self) -> list[StudentResult]:
        return [s for s in self.students if s.status == "graded"]


def course_directory(db_url: str | None = None):
    """nbgrader's CourseDirectory as configured by nbgrader_config.py in the current folder (and `--db`)."""
    from nbgrader.apps.baseapp import NbGrader
    from nbgrader.coursedir import CourseDirectory

    return CourseDirectory(parent=course.load_app(NbGrader, db_url))


def parse_test_output(outputs: list[dict], score: float, points: float) -> tuple[list[Check], Flag | None]:
    """The checks a test cell printed (one line each), or one check for the whole cell; a reuse block as a flag."""
    text = "".join(_text(o) for o in outputs if o.get("output_type") == "stream" and o.get("name") == "stdout")
    checks, flag = [], None
    for line in text.splitlines():
        found = CHECK_LINE.match(line)
        if found:
            checks.append(Check(found.group(2).strip(), found.group(1) == "pass", (found.group(3) or "").strip()))
            continue
        blocked = BLOCKED_LINE.match(line)
        if blocked:
            flag = Flag("course-code", blocked.group(1).strip())
            checks.append(Check("writes its own code (reuse guard)", False, blocked.group(1).strip()))
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if errors:
        error = errors[0]
        value = str(error.get("evalue") or "").splitlines()
        message = f"{error.get('ename', 'Error')}: {value[0] if value else ''}"
        checks.append(Check("the test cell runs without an error", False, message.strip()[:300]))
    elif not checks:
        checks.append(Check("the test cell passes", score >= points, "" if score >= points else "lost points"))
    return checks, flag


def _text(output: dict) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _nbgrader_cells(notebook: dict) -> list[tuple[dict, dict]]:
    return [(c, c["metadata"]["nbgrader"]) for c in notebook.get("cells", [])
            if isinstance(c.get("metadata", {}).get("nbgrader"), dict) and "grade_id" in c["metadata"]["nbgrader"]]


def _release_layout(coursedir, assignment: str,
                    notebooks: list[str]) -> tuple[list[TestCell], list[str], dict[str, str], list[str]]:
    """Test cells, answer cells and the stubs of the release; what is missing goes to warnings."""
    tests, answers, stubs, warnings = [], [], {}, []
    for name in notebooks:
        release = course.release_folder(coursedir, assignment) / f"{name}.ipynb"
        source = course.source_folder(coursedir, assignment) / f"{name}.ipynb"
        released = _read_json(release)
        if released is None:
            warnings.append(f"no release notebook {release}: answer stubs not excluded from similarity")
            released = _read_json(source) or {"cells": []}
        hidden = {meta["grade_id"] for cell, meta in _nbgrader_cells(_read_json(source) or {"cells": []})
                  if has_hidden_tests(_source(cell))}
        for cell, meta in _nbgrader_cells(released):
            if meta.get("solution"):
                answers.append(meta["grade_id"])
                stubs[meta["grade_id"]] = _source(cell)
            elif meta.get("grade") and cell.get("cell_type") == "code":
                tests.append(TestCell(meta["grade_id"], name, float(meta.get("points", 0)), meta["grade_id"] in hidden))
    return tests, answers, stubs, warnings


def _apply_record(student: StudentResult, record: dict, tests: dict[str, TestCell]) -> None:
    """Take what the grader's record knows (per-check results, flags, time, memory, answers)."""
    student.record = True
    status, reason = record.get("status") or "", record.get("reason") or ""
    if student.status == "graded" and status and status != "graded":  # the gradebook's scores stay authoritative
        student.notes.append(f"the grader's record says {status}: {reason}; the gradebook still holds a score")
    elif student.status != "graded" and status:
        student.status, student.reason = status, reason or student.reason
    student.seconds = record.get("seconds", student.seconds)
    student.peak_memory_mb = record.get("peak_memory_mb", student.peak_memory_mb)
    student.notes += [str(n) for n in record.get("notes") or [] if str(n) not in student.notes]
    flags = [Flag(str(f.get("kind", "flag")), str(f.get("reason", "")), str(f.get("cell", "")), f.get("line"))
             for f in record.get("flags") or [] if isinstance(f, dict)]
    if flags or "flags" in record:
        student.flags = flags
    for cell in record.get("cells") or []:
        grade_id = cell.get("grade_id")
        if grade_id not in tests or not cell.get("checks"):
            continue
        result = student.cells.get(grade_id) or CellResult(grade_id, tests[grade_id].notebook, tests[grade_id].points,
                                                           float(cell.get("score", 0.0)))
        result.checks = [Check(str(c.get("name", "")), bool(c.get("passed")), str(c.get("message", "")))
                         for c in cell["checks"]]
        student.cells[grade_id] = result
    answers = record.get("answers")
    if isinstance(answers, dict) and answers:
        student.answers = {str(k): str(v) for k, v in answers.items()}


def collect(assignment: str, db_url: str | None = None) -> ClassResults:
    """Read the gradebook, records and notebooks of `assignment` in the course of the current folder."""
    from nbgrader.api import Gradebook, MissingEntry

    coursedir = course_directory(db_url)
    root = Path(coursedir.root).resolve()
    url = coursedir.db_url
    if missing := course.missing_gradebook(url):
        raise ReportError(f"no gradebook at {missing}: run this in the course folder (where "
                          f"nbgrader_config.py is) after `python -m course_lib.grading autograde {assignment}`, "
                          "or give --db URL")
    students: dict[str, StudentResult] = {}
    try:
        with Gradebook(url, coursedir.course_id) as gb:
            try:
                found = gb.find_assignment(assignment)
            except MissingEntry:
                known = ", ".join(a.name for a in gb.assignments) or "none"
                raise ReportError(f"unknown assignment {assignment!r} (the gradebook has: {known})") from None
            notebooks = [nb.name for nb in found.notebooks]
            max_score = float(found.max_score or 0.0)
            for person in gb.students:
                students[person.id] = StudentResult(person.id, person.first_name or "", person.last_name or "",
                                                    person.email or "", person.lms_user_id or "")
            for student_id, score, most in _submission_rows(gb, assignment):
                student = students.setdefault(student_id, StudentResult(student_id))
                student.status, student.score, student.max_score = "graded", float(score or 0.0), float(most or 0.0)
            for student_id, notebook, cell, score, points in _grade_rows(gb, assignment):
                students[student_id].cells[cell] = CellResult(cell, notebook, float(points or 0.0), float(score or 0.0))
    except ReportError:
        raise
    except Exception as exc:  # noqa: BLE001 - a wrong --db URL, a server that is down
        raise ReportError(f"cannot read the gradebook {url!r}: {str(exc).splitlines()[0]}") from None
    tests, answer_cells, stubs, warnings = _release_layout(coursedir, assignment, notebooks)
    by_id = {t.grade_id: t for t in tests}
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, "*", assignment))
    for folder in sorted(submitted.parent.parent.glob(f"*/{assignment}")):
        student = students.setdefault(folder.parent.name, StudentResult(folder.parent.name))
        if student.status == "no submission":
            student.status = "not graded"
            student.reason = "handed in but not in the gradebook: autograde could not grade it (see its summary)"
    results = ClassResults(assignment, root, url, notebooks, tests, answer_cells, stubs, [], max_score, 0, warnings)
    for student in students.values():
        _read_notebooks(coursedir, assignment, student, by_id)
        record_path = grading_records.path(root, assignment, student.student)
        if record_path.exists():
            record = _read_json(record_path)
            if not isinstance(record, dict) or record.get("schema", 1) != 1:
                warnings.append(f"{record_path} is not a schema-1 grading record: ignored")
            else:
                _apply_record(student, record, by_id)
                results.records += 1
        for name in notebooks:
            page = _folder(coursedir, coursedir.feedback_directory, student.student, assignment) / f"{name}.html"
            if page.exists():
                student.feedback[name] = page.resolve()
    results.students = sorted(students.values(), key=lambda s: s.student)
    return results


def _folder(coursedir, kind: str, student: str, assignment: str) -> Path:
    """nbgrader's folder of one kind (submitted, autograded, feedback) for a student and assignment."""
    return Path(coursedir.format_path(kind, student, assignment))


def _submission_rows(gb, assignment: str) -> list[tuple]:
    """(student, score, max score) of every submission: one query, not one per student."""
    from nbgrader.api import Assignment, SubmittedAssignment

    return (gb.db.query(SubmittedAssignment.student_id, SubmittedAssignment.score, SubmittedAssignment.max_score)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .filter(Assignment.name == assignment).all())


def _grade_rows(gb, assignment: str) -> list[tuple]:
    """(student, notebook, cell, score, points) of every graded cell of every submission, in one query."""
    from nbgrader.api import Assignment, BaseCell, Grade, Notebook, SubmittedAssignment, SubmittedNotebook

    return (gb.db.query(SubmittedAssignment.student_id, Notebook.name, BaseCell.name, Grade.score, Grade.max_score)
            .select_from(Grade)
            .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
            .join(BaseCell, Grade.cell_id == BaseCell.id)
            .filter(Assignment.name == assignment).all())


def _read_notebooks(coursedir, assignment: str, student: StudentResult, tests: dict[str, TestCell]) -> None:
    """Checks and reuse flags from the autograded notebooks; answers from the submitted ones."""
    for name in sorted({t.notebook for t in tests.values()}):
        path = _folder(coursedir, coursedir.autograded_directory, student.student, assignment) / f"{name}.ipynb"
        notebook = _read_json(path) if student.status == "graded" else None
        for cell, meta in _nbgrader_cells(notebook or {}):
            result = student.cells.get(meta["grade_id"])
            if meta["grade_id"] not in tests or result is None:
                continue
            result.checks, flag = parse_test_output(cell.get("outputs", []), result.score, result.points)
            if flag:
                flag.cell = meta["grade_id"]
                if not any(f.kind == flag.kind and f.reason == flag.reason for f in student.flags):
                    student.flags.append(flag)
    for path in sorted(_folder(coursedir, coursedir.submitted_directory, student.student, assignment).glob("*.ipynb")):
        for cell, meta in _nbgrader_cells(_read_json(path) or {}):
            if meta.get("solution"):
                student.answers[meta["grade_id"]] = _source(cell)
