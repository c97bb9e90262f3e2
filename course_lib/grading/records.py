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


def write(folder: Path, assignment: str, outcome: Any, grades: list[Any]) -> Path:
    """Write one submission's record (atomically: a reader never sees half a file); return its path."""
    path = folder / assignment / f"{outcome.student}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
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
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=1))
    os.replace(temporary, path)
    return path
