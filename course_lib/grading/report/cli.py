"""`python -m course_lib.grading report ASSIGNMENT`: write the class report page (and CSV exports), print a summary."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import exports, page
from .gather import ClassResults, ReportError, collect
from .similarity import THRESHOLD, Comparison, compare
from .stats import cell_rates, check_rates, median

EXPORT_NAMES = {"csv": "{a}-grades.csv", "canvas": "{a}-canvas.csv", "moodle": "{a}-moodle.csv"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register the `report` subcommand on the grading command line."""
    report = commands.add_parser(
        "report", help="after autograde: one offline HTML page about the class, and CSV exports",
        description="Summarise an autograded assignment: score histogram, pass rates per test cell and per check "
                    "with the common failure messages, submissions that could not be graded, the grader's flags, "
                    "time and memory, similar answers side by side, and a row per student linking to feedback.")
    report.add_argument("assignment", help="assignment name, as in the gradebook")
    report.add_argument("--db", dest="db_url", default=None,
                        help="gradebook URL, e.g. postgresql+psycopg2://user@host/db (default: nbgrader_config.py)")
    report.add_argument("--output", type=Path, default=None,
                        help="folder for report.html and the exports (default: reports/ASSIGNMENT in the course)")
    report.add_argument("--format", dest="formats", action="append", choices=exports.FORMATS, default=[],
                        help="also write a CSV: csv (every cell), canvas (Canvas gradebook import), moodle "
                             "(Moodle grade import); repeatable")
    report.add_argument("--threshold", type=float, default=THRESHOLD,
                        help=f"list answer pairs whose similarity reaches this (0-1, default {THRESHOLD})")
    report.set_defaults(handler=run)


def similarity(results: ClassResults, threshold: float) -> list[Comparison]:
    """One comparison per answer cell, over the answers of every student who handed one in."""
    return [compare(cell, {s.student: s.answers[cell] for s in results.students if cell in s.answers},
                    results.stubs.get(cell, ""), threshold) for cell in results.answer_cells]


def summary(results: ClassResults, comparisons: list[Comparison], written: list[Path]) -> str:
    """The short text printed after the page is written."""
    graded = results.graded
    lines = [f"report {results.assignment}: {len(results.students)} students, {len(graded)} graded"]
    if graded:
        scores = sorted(s.score for s in graded)
        lines[0] += (f", mean {sum(scores) / len(scores):.2f}/{results.max_score:g}, median "
                     f"{median(scores):g}")
    for rate in cell_rates(results)[:3]:
        if rate.failed:
            lines.append(f"  cell {rate.cell}: {rate.passed}/{rate.total} full marks")
    for rate in [r for r in check_rates(results) if r.failed][:3]:
        message = f" ({rate.messages[0][0][:70]} x{rate.messages[0][1]})" if rate.messages else ""
        lines.append(f"  check {rate.cell} / {rate.check[:60]}: failed {rate.failed}/{rate.total}{message}")
    problems = [s for s in results.students if s.status in ("failed", "skipped", "not graded")]
    for s in problems[:10]:
        lines.append(f"  {s.status} {s.student}: {s.reason}")
    if len(problems) > 10:
        lines.append(f"  ... and {len(problems) - 10} more not graded (see the page)")
    flagged = [s for s in results.students if s.flags]
    if flagged:
        lines.append(f"  flags: {len(flagged)} student(s): " + ", ".join(s.student for s in flagged[:10]))
    for comparison in comparisons:
        pairs = ", ".join(f"{p.first}~{p.second} {p.score:.2f}" for p in comparison.pairs[:8])
        lines.append(f"  similar answers in {comparison.cell}: {len(comparison.pairs)} pair(s) at or above the "
                     f"threshold" + (f": {pairs}" if pairs else ""))
    lines += [f"  wrote {path}" for path in written]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not 0.0 < args.threshold <= 1.0:
        print("error: --threshold must be in (0, 1], e.g. 0.8", file=sys.stderr)
        return 2
    try:
        results = collect(args.assignment, args.db_url)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out_dir = (args.output or results.root / "reports" / args.assignment).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    comparisons = similarity(results, args.threshold)
    report = out_dir / "report.html"
    report.write_text(page.render(results, comparisons, args.threshold, out_dir), encoding="utf-8")
    written = [report]
    for kind in dict.fromkeys(args.formats):
        path = out_dir / EXPORT_NAMES[kind].format(a=args.assignment)
        path.write_text(exports.export(results, kind), encoding="utf-8", newline="")
        written.append(path)
    print(summary(results, comparisons, [Path(os.path.relpath(p)) for p in written]))
    print(f"  ({time.monotonic() - started:.1f} s)")
    return 0
