"""Load test: 200 generated submissions graded into a real PostgreSQL gradebook.

    python bench/grading_load.py [--n 200] [--jobs 2] [--local-cluster]

Starts a throwaway PostgreSQL on loopback (scripts/postgres.sh), releases the tiny `square` assignment
into it, hands in N submissions, grades them with `python -m course_lib.grading autograde`, then checks
the gradebook: N submission rows, none lost, none duplicated, every score as expected. Prints the time.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the demo course is a test helper

from helpers import democourse as demo  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check(url: str, expected: dict[str, float]) -> tuple[int, int, int, int]:
    """(rows, distinct students, duplicated students, wrong scores) for the assignment in the gradebook."""
    import sqlalchemy as sa
    from nbgrader.api import Gradebook

    engine = sa.create_engine(url)
    with engine.connect() as con:
        rows = con.execute(sa.text(
            "SELECT s.student_id FROM submitted_assignment s JOIN assignment a ON a.id = s.assignment_id "
            "WHERE a.name = :name"), {"name": demo.ASSIGNMENT}).scalars().all()
    engine.dispose()
    with Gradebook(url, "demo") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(demo.ASSIGNMENT)}
    wrong = sum(scores.get(student) != score for student, score in expected.items())
    return len(rows), len(set(rows)), len(rows) - len(set(rows)), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--local-cluster", action="store_true", help="grade through a local Dask cluster")
    args = parser.parse_args()
    port = str(free_port())
    script = REPO / "scripts" / "postgres.sh"
    url = subprocess.run([str(script), "start", port], check=True, capture_output=True, text=True).stdout.strip()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            root = demo.make_course(Path(tmp) / "course", db_url=url)
            expected = {}
            for i in range(args.n):
                right = i % 3 != 0
                demo.add_submission(root, f"s{i:04d}", demo.CORRECT if right else demo.WRONG)
                expected[f"s{i:04d}"] = 5.0 if right else 1.0
            env = demo.nbgrader_env()
            env["PYTHONPATH"] = str(REPO)
            command = [sys.executable, "-m", "course_lib.grading", "autograde", demo.ASSIGNMENT, "--no-progress",
                       "--jobs", str(args.jobs), "--db", url] + (["--local-cluster"] if args.local_cluster else [])
            started = time.perf_counter()
            done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            print(done.stdout.splitlines()[0] if done.stdout else done.stderr[-2000:])
            rows, distinct, duplicated, wrong = check(url, expected)
    finally:
        subprocess.run([str(script), "stop", port], capture_output=True)
    print(f"submissions: {args.n}  rows: {rows}  distinct: {distinct}  lost: {args.n - distinct}  "
          f"duplicated: {duplicated}  wrong scores: {wrong}")
    print(f"time: {seconds:.1f} s  ({seconds / args.n:.2f} s/submission, {args.jobs} jobs, PostgreSQL gradebook)")
    if done.returncode != 0 or rows != args.n or distinct != args.n or wrong:
        sys.exit(1)


if __name__ == "__main__":
    main()
