"""Plain `nbgrader autograde` against `python -m course_lib.grading autograde` on the same submissions.

    python bench/grading.py [--n 24] [--jobs 2] [--resblk]

Builds the tiny `square` course (its test cells import torch, like the course's exercises) or, with
--resblk, a copy of the course's real `resblk` assignment with the answers of tests/submissions/resblk/
(right and wrong blocks); hands in N submissions, mixed; grades one copy with plain nbgrader (one kernel
per notebook, one at a time) and another with ours (warm sandboxes, isolation and limits on), checks
that both exports agree, and prints seconds per submission and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import itertools
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


def build(root: Path, n: int) -> str:
    demo.make_course(root)
    for i in range(n):
        demo.add_submission(root, f"student{i:03d}", VARIANTS[i % len(VARIANTS)])
    return demo.ASSIGNMENT


def build_resblk(root: Path, n: int) -> str:
    """The real assignment, released from solutions/, with the submission bank's answers cycled."""
    import nbformat

    shutil.copytree(REPO / "solutions" / "resblk", root / "solutions" / "resblk")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    demo.nbgrader(root, "generate_assignment", "resblk", "--force")
    release = nbformat.read(root / "exercises" / "resblk" / "resblk.ipynb", as_version=4)
    answers = itertools.cycle(sorted((REPO / "tests" / "submissions" / "resblk").glob("*.py")))
    for i in range(n):
        nb = nbformat.from_dict(release)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = next(answers).read_text()
        folder = root / "submitted" / f"student{i:03d}" / "resblk"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "resblk.ipynb")
    return "resblk"


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
    parser.add_argument("--resblk", action="store_true", help="the course's real resblk assignment")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        ours_root = Path(tmp) / "ours"
        ours_root.mkdir()
        assignment = (build_resblk if args.resblk else build)(ours_root, args.n)
        plain_root = Path(shutil.copytree(ours_root, Path(tmp) / "plain"))
        plain = timed([sys.executable, "-m", "nbgrader", "autograde", assignment], plain_root)
        ours = timed([sys.executable, "-m", "course_lib.grading", "autograde", assignment, "--no-progress",
                      "--jobs", str(args.jobs)], ours_root)
        same = export(ours_root) == export(plain_root)
    kinds = "submission bank of tests/submissions/resblk" if args.resblk else "right, wrong, partly right, broken"
    print(f"assignment: {assignment}, submissions: {args.n} ({kinds}, mixed)")
    print(f"plain nbgrader autograde : {plain:7.1f} s  {plain / args.n:6.2f} s/submission")
    print(f"course_lib.grading (-j{args.jobs}) : {ours:7.1f} s  {ours / args.n:6.2f} s/submission")
    print(f"speed-up: {plain / ours:.1f}x   exports identical: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
