"""Plain `nbgrader autograde` against `python -m course_lib.grading autograde` on the same submissions.

    python bench/grading.py [--n 24] [--jobs 2]

Builds the tiny `square` course (its test cells import torch, like the course's exercises), hands in N
submissions (right, wrong, broken and partly right, mixed), grades one copy with plain nbgrader (one
kernel per notebook, one at a time) and another with ours (warm sandboxes, isolation and limits on),
checks that both exports agree, and prints seconds per submission and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from course_lib.grading import democourse as demo  # noqa: E402

VARIANTS = [
    demo.CORRECT,
    demo.WRONG,
    "def square(x):\n    return x ** 2 if isinstance(x, int) else x\n",   # partly right
    "def square(x) return x\n",                                           # syntax error
]


def build(root: Path, n: int) -> None:
    demo.make_course(root)
    for i in range(n):
        demo.add_submission(root, f"student{i:03d}", VARIANTS[i % len(VARIANTS)])


def timed(command: list[str], cwd: Path) -> float:
    env = demo.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def export(root: Path) -> list[dict[str, str]]:
    demo.nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv") as fh:
        return sorted(csv.DictReader(fh), key=lambda row: row["student_id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24, help="number of submissions (default 24)")
    parser.add_argument("--jobs", type=int, default=2, help="job slots for our command (default 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        ours_root = Path(tmp) / "ours"
        build(ours_root, args.n)
        plain_root = Path(shutil.copytree(ours_root, Path(tmp) / "plain"))
        plain = timed([sys.executable, "-m", "nbgrader", "autograde", demo.ASSIGNMENT], plain_root)
        ours = timed([sys.executable, "-m", "course_lib.grading", "autograde", demo.ASSIGNMENT, "--no-progress",
                      "--jobs", str(args.jobs)], ours_root)
        same = export(ours_root) == export(plain_root)
    print(f"submissions: {args.n} (right, wrong, partly right, syntax error mixed)")
    print(f"plain nbgrader autograde : {plain:7.1f} s  {plain / args.n:6.2f} s/submission")
    print(f"course_lib.grading (-j{args.jobs}) : {ours:7.1f} s  {ours / args.n:6.2f} s/submission")
    print(f"speed-up: {plain / ours:.1f}x   exports identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
