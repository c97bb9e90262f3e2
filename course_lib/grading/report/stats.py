"""Class statistics for the report: pass rates per test cell and per check, with failure messages grouped."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field

from .gather import ClassResults, StudentResult

NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


@dataclass
class Rate:
    """How often one test cell (or one check of it) passed among the graded submissions that ran it."""

    cell: str
    check: str
    passed: int
    total: int
    messages: list[tuple[str, int]] = field(default_factory=list)   # grouped failure messages, most common first
    failing: list[str] = field(default_factory=list)                 # students who failed it

    @property
    def failed(self) -> int:
        return self.total - self.passed

    @property
    def rate(self) -> float:
        return self.passed / self.total if self.total else 0.0


def message_group(message: str) -> str:
    """A failure message with its numbers masked, so "relative error 1.3" and "1.4" count as one message."""
    return NUMBER.sub("#", message.strip()) or "(no message)"


def cell_rates(results: ClassResults) -> list[Rate]:
    """Per test cell: full marks or not, most often failed first (the gradebook's scores decide)."""
    rates = []
    for test in results.test_cells:
        ran = [s for s in results.graded if test.grade_id in s.cells]
        passed = [s for s in ran if s.cells[test.grade_id].score >= test.points]
        failing = sorted(s.student for s in ran if s.cells[test.grade_id].score < test.points)
        rates.append(Rate(test.grade_id, "", len(passed), len(ran), failing=failing))
    return sorted(rates, key=lambda r: (-r.failed, r.cell))


def check_rates(results: ClassResults) -> list[Rate]:
    """Per (test cell, check): passed or not, with grouped failure messages, most often failed first."""
    order = {t.grade_id: i for i, t in enumerate(results.test_cells)}
    table: dict[tuple[str, str], Rate] = {}
    groups: dict[tuple[str, str], Counter[str]] = {}
    examples: dict[tuple[str, str, str], str] = {}   # (cell, check, masked message): the first message seen
    for student in results.graded:
        for grade_id, cell in student.cells.items():
            if grade_id not in order:
                continue
            for check in cell.checks:
                key = (grade_id, check.name)
                rate = table.setdefault(key, Rate(grade_id, check.name, 0, 0))
                rate.total += 1
                if check.passed:
                    rate.passed += 1
                else:
                    rate.failing.append(student.student)
                    group = message_group(check.message)
                    examples.setdefault((*key, group), check.message or "(no message)")
                    groups.setdefault(key, Counter())[group] += 1
    for key, rate in table.items():
        rate.messages = [(examples[(*key, g)], n) for g, n in groups.get(key, Counter()).most_common()]
        rate.failing.sort()
    return sorted(table.values(), key=lambda r: (-r.failed, order[r.cell], r.check))


def score_of(student: StudentResult) -> float | None:
    return student.score if student.status == "graded" else None


def median(scores: list[float]) -> float:
    """The median score (the mean of the middle two for an even count): the one the page and the summary show."""
    return statistics.median(scores)
