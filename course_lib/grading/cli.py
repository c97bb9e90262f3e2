"""Command line: `python -m course_lib.grading autograde ASSIGNMENT [options]`, run from the course root."""

from __future__ import annotations

import argparse
import sys

from .report.cli import add_parser as add_report_parser
from .autograde.runner import GradingError, Options, autograde, format_summary
from .autograde.sandbox import SandboxError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading",
                                     description="Class-scale autograding on top of nbgrader.")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser(
        "autograde", help="grade every submitted/*/ASSIGNMENT/ into nbgrader's gradebook",
        description="Grade submissions in parallel, each in an isolated, limited sandbox, and store the "
                    "results in nbgrader's gradebook (then use `nbgrader export` / `generate_feedback`).")
    grade.add_argument("assignment", help="assignment name, as given to nbgrader generate_assignment")
    grade.add_argument("--student", action="append", metavar="ID",
                       help="grade only this student (repeatable; shell-style patterns allowed)")
    grade.add_argument("--jobs", "-j", type=int, default=None,
                       help="submissions graded at once (default: CPU cores; with Dask: its worker threads)")
    grade.add_argument("--timeout", type=float, default=300.0,
                       help="wall-clock seconds per submission; unfinished cells score 0 (default 300)")
    grade.add_argument("--memory-mb", type=int, default=3072,
                       help="data memory per submission in MB, the warm interpreter included (default 3072)")
    grade.add_argument("--db", dest="db_url", default=None,
                       help="gradebook URL, e.g. postgresql+psycopg2://user@host/db (default: nbgrader_config.py)")
    where = grade.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, metavar="tls://HOST:PORT",
                       help="hand the notebooks to the workers of this Dask scheduler (tls:// only: make its "
                            "certificates with `certs`)")
    where.add_argument("--local-cluster", action="store_true",
                       help="start a Dask cluster on this machine (two workers) and use it")
    grade.add_argument("--force", action="store_true", help="regrade submissions that are already autograded")
    grade.add_argument("--unsafe", action="store_true",
                       help="grade even where an isolation step cannot be set up (no namespaces, no own uid, no "
                            "hidden paths, no cgroups); without it the grader refuses and says which step failed "
                            "and how to fix it. The summary and every submission's notes say what was left out. "
                            "Per-submission cgroups cap memory (--memory-mb) and processes (256): cgroup v2 where "
                            "/sys/fs/cgroup offers the memory and pids controllers (most current distributions), "
                            "else cgroup v1's memory and pids hierarchies (hybrid machines, older kernels)")
    grade.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    add_report_parser(commands)
    certs = commands.add_parser(
        "certs", help="make TLS certificates for grading over Dask (--scheduler tls://...)",
        description="Write a private CA and certificates for the Dask scheduler, its workers and the grader into "
                    "FOLDER, and FOLDER/dask.yaml; the scheduler then admits only holders of a certificate.")
    certs.add_argument("folder", help="where to write them (created; keys readable by you alone)")
    certs.add_argument("--host", action="append", default=[], help="scheduler host name or address (repeatable)")
    certs.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    certs.add_argument("--force", action="store_true", help="replace certificates already in FOLDER")
    return parser


def _certs(args: argparse.Namespace) -> int:
    from .autograde.certs import instructions, make_certs

    try:
        paths = make_certs(args.folder, args.host, args.days, args.force)
    except (FileExistsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(instructions(paths))
    return 0


def main(argv: list[str] | None = None) -> int:
    parsed = build_parser().parse_args(argv)
    if parsed.command == "report":
        return parsed.handler(parsed)
    if parsed.command == "certs":
        return _certs(parsed)
    args = vars(parsed)
    args.pop("command")
    students = args.pop("student")
    options = Options(students=students, **args)
    if options.jobs is not None and options.jobs < 1:
        print("error: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        summary = autograde(options)
    except (GradingError, SandboxError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_summary(summary, options.assignment))
    return summary.exit_code
