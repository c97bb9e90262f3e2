"""Per-submission records of what the trusted side decided: every check's outcome, flags, time and memory.

Written to ``grading_records/<assignment>/<student>.json`` under the course root after each submission
(the class report reads them); the gradebook stays nbgrader's and holds the scores.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

RECORDS_DIR = "grading_records"
SCHEMA = 1


def folder(course_root: Path, assignment: str) -> Path:
    """Where one assignment's records lie: ``grading_records/<assignment>/`` under the course root."""
    return Path(course_root) / RECORDS_DIR / assignment


def path(course_root: Path, assignment: str, student: str) -> Path:
    """One student's record of one assignment (the grader writes it, the class report reads it)."""
    return folder(course_root, assignment) / f"{student}.json"


def write(course_root: Path, assignment: str, outcome: Any, grades: list[Any]) -> Path:
    """Write one submission's record (atomically: a reader never sees half a file); return its path."""
    target = path(course_root, assignment, outcome.student)
    target.parent.mkdir(parents=True, exist_ok=True)
    flagged = "; ".join(outcome.flags) or None
    cells = [dict(verdict.to_dict(flagged), notebook=grade.notebook) for grade in grades for verdict in grade.verdicts]
    record = {
        "schema": SCHEMA, "assignment": assignment, "student": outcome.student, "status": outcome.status,
        "reason": outcome.reason, "score": outcome.score, "max_score": outcome.max_score,
        "seconds": round(outcome.seconds, 3), "peak_memory_mb": outcome.peak_memory_mb,
        "flags": [flag.to_dict() for grade in grades for flag in grade.flags],
        "notes": list(outcome.notes), "cells": cells,
        "answers": {label: source for grade in grades for label, source in grade.answers.items()},
        "graded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=1))
    os.replace(temporary, target)
    return target
