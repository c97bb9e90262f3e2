"""Grades as CSV: a spreadsheet of every cell, and the layouts Canvas and Moodle import.

Canvas (Gradebook → Import, "Import grades in the Gradebook"): columns Student, ID, SIS User ID,
SIS Login ID, Section, then one column per assignment; the second row may give "Points Possible".
Canvas matches students by ID (its user id: nbgrader's lms_user_id), else by SIS User ID or SIS Login ID.
Moodle ("Import grades from CSV"): one row per student, a column that identifies the user (we give
ID number, Email address and Username, to be mapped in the import form) and one column per grade item.
Students without a graded submission get an empty grade, which both systems leave unchanged.
"""

from __future__ import annotations

import csv
import io

from .gather import ClassResults

CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_FIXED = ["First name", "Last name", "ID number", "Username", "Email address"]
FORMATS = ("csv", "canvas", "moodle")


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def spreadsheet(results: ClassResults) -> str:
    """One row per student: status, total, every test cell's score, time, memory, flags."""
    tests = [t.grade_id for t in results.test_cells]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["student_id", "first_name", "last_name", "email", "lms_user_id", "status", "reason", "score",
                     "max_score", *tests, "seconds", "peak_memory_mb", "flags"])
    for s in results.students:
        graded = s.status == "graded"
        writer.writerow([s.student, s.first_name, s.last_name, s.email, s.lms_user_id, s.status, s.reason,
                         _score(s.score if graded else None), _score(results.max_score),
                         *[_score(s.cells[t].score) if graded and t in s.cells else "" for t in tests],
                         _score(s.seconds), _score(s.peak_memory_mb),
                         "; ".join(f"{f.kind}: {f.reason}" for f in s.flags)])
    return out.getvalue()


def canvas(results: ClassResults) -> str:
    """Canvas's gradebook CSV: the five identifying columns, the assignment, and a Points Possible row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CANVAS_FIXED, results.assignment])
    writer.writerow(["Points Possible", "", "", "", "", _score(results.max_score)])
    for s in results.students:
        name = ", ".join(p for p in (s.last_name, s.first_name) if p) or s.student
        writer.writerow([name, s.lms_user_id, s.student, s.email, "",
                         _score(s.score if s.status == "graded" else None)])
    return out.getvalue()


def moodle(results: ClassResults) -> str:
    """Moodle's grade import CSV: identifying columns, then the assignment as one grade item."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*MOODLE_FIXED, results.assignment])
    for s in results.students:
        writer.writerow([s.first_name, s.last_name, s.student, s.student, s.email,
                         _score(s.score if s.status == "graded" else None)])
    return out.getvalue()


def export(results: ClassResults, kind: str) -> str:
    """The CSV text of `kind` (one of FORMATS)."""
    return {"csv": spreadsheet, "canvas": canvas, "moodle": moodle}[kind](results)
