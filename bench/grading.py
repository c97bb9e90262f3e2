"""Plain `nbgrader autograde` against `python -m course_lib.grading autograde` on the same submissions.

    python bench/grading.py [--n 24] [--jobs 2] [--resblk [--plain-cells]]

Builds the tiny `square` course (its test cells import torch, like the course's exercises) or, with
--resblk, a copy of the course's real `resblk` assignment with the answers of tests/submissions/resblk/
(right and wrong blocks); hands in N submissions, mixed; grades one copy with plain nbgrader (one kernel
per notebook, one at a time) and another with ours (warm sandboxes, isolation and limits on), checks
that both exports agree, and prints seconds per submission and the ratio. With --plain-cells it grades the
same hand-ins a second time, with resblk's six test cells rewritten the ordinary nbgrader way (plain asserts
over the student's ResBlk, graded by the course grader over stand-ins), and prints what that costs against
the `grade.<check>` cells. Hand-ins the course grader flags (they import or wrap the course's reference) score
0 there and full marks under plain nbgrader's asserts, so that comparison leaves them out.
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
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the demo course is a test helper

from helpers import democourse as demo  # noqa: E402

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


# resblk's test cells as an instructor would write them in plain nbgrader: same ids and points, asserts only.
PLAIN_TESTS = {
    "shapes": """import torch
for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 1), (8, 16, 2), (8, 8, 2), (8, 16, 4), (16, 8, 2)]:
    out = ResBlk(ch_in, ch_out, stride)(torch.randn(2, ch_in, 16, 16))
    side = -(-16 // stride)
    assert tuple(out.shape) == (2, ch_out, side, side), f"ResBlk({ch_in}, {ch_out}, {stride}): {tuple(out.shape)}"
""",
    "parameter_count": """from course_lib.models import ResBlk as Reference
for case in [(8, 8, 1), (8, 16, 2)]:
    got = sum(p.numel() for p in ResBlk(*case).parameters())
    want = sum(p.numel() for p in Reference(*case).parameters())
    assert got == want, f"ResBlk{case}: {got} parameters, expected {want}"
""",
    "same_function": """### BEGIN HIDDEN TESTS
import torch
torch.manual_seed(0)
block = ResBlk(8, 8, 1).eval()
x = torch.randn(2, 8, 8, 8)
assert (block(x) >= 0).all(), "the block ends with a ReLU"
for p in block.parameters():
    if p.dim() == 4:
        p.requires_grad_(False).zero_()
assert torch.allclose(block(x), torch.relu(x), atol=1e-6), "with its convolutions zeroed it returns relu(x)"
### END HIDDEN TESTS
""",
    "residual": """### BEGIN HIDDEN TESTS
import torch
block = ResBlk(8, 16, 2).eval()
for p in block.parameters():
    if p.dim() == 4 and p.shape[-1] == 3:
        p.requires_grad_(False).zero_()
out = block(torch.randn(2, 8, 8, 8))
assert tuple(out.shape) == (2, 16, 4, 4)
assert out.abs().sum() > 0, "with the 3x3 convolutions zeroed, the projection shortcut still carries the input"
### END HIDDEN TESTS
""",
    "batchnorm_modes": """### BEGIN HIDDEN TESTS
import torch
block = ResBlk(8, 8, 1)
x = torch.randn(4, 8, 8, 8) * 3 + 1
assert not torch.allclose(block.train()(x), block.eval()(x)), "train and eval mode differ (batch norm)"
### END HIDDEN TESTS
""",
    "gradients": """### BEGIN HIDDEN TESTS
assert all(p.requires_grad for p in ResBlk(8, 16, 2).parameters()), "every parameter is trained"
### END HIDDEN TESTS
""",
}
# Hand-ins the course grader flags as reusing the course's reference (0 there, full marks for plain asserts).
FLAGGED = {"reference_imported", "reference_subclassed", "reference_wrapped"}


def build_resblk(root: Path, n: int, plain_cells: bool = False) -> str:
    """The real assignment, released from solutions/, with the submission bank's answers cycled; with
    ``plain_cells``, its test cells rewritten as plain asserts and the flagged hand-ins left out."""
    import nbformat

    shutil.copytree(REPO / "solutions" / "resblk", root / "solutions" / "resblk")
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    if plain_cells:
        source = root / "solutions" / "resblk" / "resblk.ipynb"
        nb = nbformat.read(source, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("grade") and grade_id in PLAIN_TESTS:
                cell.source = PLAIN_TESTS[grade_id]
        nbformat.write(nb, source)
    demo.nbgrader(root, "generate_assignment", "resblk", "--force")
    release = nbformat.read(root / "exercises" / "resblk" / "resblk.ipynb", as_version=4)
    bank = sorted((REPO / "tests" / "submissions" / "resblk").glob("*.py"))
    answers = itertools.cycle([p for p in bank if not (plain_cells and p.stem in FLAGGED)])
    for i in range(n):
        nb = nbformat.from_dict(release)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("solution"):
                cell.source = next(answers).read_text()
        folder = root / "submitted" / f"student{i:03d}" / "resblk"
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / "resblk.ipynb")
    return "resblk"


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    env = demo.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def export(root: Path) -> list[dict[str, str]]:
    demo.nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv") as fh:
        return sorted(csv.DictReader(fh), key=lambda row: row["student_id"])


def stages(summary: str) -> str:
    """The course grader's own line saying where its time went (set-up, sandboxes, canary, class)."""
    return next((line.strip()[len("time"):].strip() for line in summary.splitlines()
                 if line.strip().startswith("time ")), "")


def compare(tmp: Path, name: str, make, n: int, jobs: int) -> tuple[float, float, bool, str]:
    """Seconds for plain nbgrader and for ours on two copies of one course, whether the exports agree, and
    where our time went."""
    ours_root = tmp / f"{name}-ours"
    ours_root.mkdir()
    assignment = make(ours_root, n)
    plain_root = Path(shutil.copytree(ours_root, tmp / f"{name}-plain"))
    plain, _ = timed([sys.executable, "-m", "nbgrader", "autograde", assignment], plain_root)
    ours, summary = timed([sys.executable, "-m", "course_lib.grading", "autograde", assignment, "--no-progress",
                           "--jobs", str(jobs)], ours_root)
    return plain, ours, export(ours_root) == export(plain_root), stages(summary)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=24, help="number of submissions (default 24)")
    parser.add_argument("--jobs", type=int, default=2, help="job slots for our command (default 2)")
    parser.add_argument("--resblk", action="store_true", help="the course's real resblk assignment")
    parser.add_argument("--plain-cells", action="store_true",
                        help="with --resblk: also grade resblk with its test cells written as plain asserts")
    args = parser.parse_args()
    if args.plain_cells and not args.resblk:
        parser.error("--plain-cells needs --resblk")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        plain, ours, same, where = compare(Path(tmp), "checks", build_resblk if args.resblk else build, args.n, args.jobs)
        if args.plain_cells:
            plain_pc, ours_pc, same_pc, where_pc = compare(Path(tmp), "plaincells",
                                                 lambda root, n: build_resblk(root, n, plain_cells=True),
                                                 args.n, args.jobs)
    kinds = "submission bank of tests/submissions/resblk" if args.resblk else "right, wrong, partly right, broken"
    print(f"assignment: {'resblk' if args.resblk else 'square'}, submissions: {args.n} ({kinds}, mixed)")
    print(f"plain nbgrader autograde : {plain:7.1f} s  {plain / args.n:6.2f} s/submission")
    print(f"course_lib.grading (-j{args.jobs}) : {ours:7.1f} s  {ours / args.n:6.2f} s/submission")
    print(f"speed-up: {plain / ours:.1f}x   exports identical: {same}")
    print(f"  where the course grader's time went: {where}")
    if args.plain_cells:
        print(f"resblk with plain assert test cells ({len(PLAIN_TESTS)} cells, the flagged hand-ins left out):")
        print(f"plain nbgrader autograde : {plain_pc:7.1f} s  {plain_pc / args.n:6.2f} s/submission")
        print(f"course_lib.grading (-j{args.jobs}) : {ours_pc:7.1f} s  {ours_pc / args.n:6.2f} s/submission")
        print(f"speed-up: {plain_pc / ours_pc:.1f}x   exports identical: {same_pc}")
        print(f"  where the course grader's time went: {where_pc}")
        print(f"plain cells cost {ours_pc / ours:.2f}x the grade.<check> cells in the course grader")
    if not same or (args.plain_cells and not same_pc):
        sys.exit(1)


if __name__ == "__main__":
    main()
