"""Scale of the class report: `python -m course_lib.grading report` on 200 and 600 generated submissions.

    python bench/report_scale.py [--sizes 200 600]

Seeds a class with the real grader: the report bank (tests/report_bank) is released as the real
`resblk` assignment and graded with `python -m course_lib.grading autograde`. Then it grows the class to
N students: each new student gets a generated ResBlk answer (a random mix of layer containers, shortcut
styles, ReLU forms, argument styles and names; one student in twenty hands in a renamed copy of another's),
and the gradebook rows and autograded notebook of a graded bank student with the same outcome (nbgrader's
Gradebook API, the test cells' real printed checks). Times the report command (a fresh process, like an
instructor's) at each size and prints the similarity part on its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from sqlalchemy.exc import SAWarning

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from helpers import democourse  # noqa: E402
from course_lib.grading.report import gather, similarity  # noqa: E402
from report_bank import course as report_bank  # noqa: E402

NAMES = [("conv1", "bn1", "conv2", "bn2"), ("c_a", "n_a", "c_b", "n_b"), ("first", "norm1", "second", "norm2"),
         ("layer1", "bnorm1", "layer2", "bnorm2"), ("k1", "b1", "k2", "b2")]
SHORT = ["shortcut", "skip", "proj", "extra", "downsample"]
ARGS = [("ch_in", "ch_out", "stride"), ("cin", "cout", "stride"), ("in_c", "out_c", "stride")]


def _conv(rng: random.Random, a: str, b: str, k: int, s: str, p: int | None) -> str:
    bias = rng.choice(["", ", bias=False", ", bias=True"])
    if rng.random() < 0.5:
        return f"nn.Conv2d({a}, {b}, kernel_size={k}, stride={s}" + (f", padding={p}" if p else "") + f"{bias})"
    return f"nn.Conv2d({a}, {b}, {k}, {s}" + (f", {p}" if p else "") + f"{bias})"


def generated_answer(rng: random.Random) -> str:
    """A correct ResBlk built from independent random choices (structure and names)."""
    c1, n1, c2, n2 = rng.choice(NAMES)
    sc = rng.choice(SHORT)
    i, o, s = rng.choice(ARGS)
    relu = rng.choice(["F.relu({})", "torch.relu({})", "({}).relu()", "self.act({})"])
    condition = rng.choice([f"{s} != 1 or {i} != {o}", f"not ({s} == 1 and {i} == {o})", f"({s}, {i}) != (1, {o})"])
    lines = ["import torch", "from torch import nn", "from torch.nn import functional as F", "", "",
             "class ResBlk(nn.Module):", f"    def __init__(self, {i}, {o}, {s}=1):", "        super().__init__()"]
    body = [f"self.{c1} = {_conv(rng, i, o, 3, s, 1)}", f"self.{n1} = nn.BatchNorm2d({o})",
            f"self.{c2} = {_conv(rng, o, o, 3, '1', 1)}", f"self.{n2} = nn.BatchNorm2d({o})"]
    if rng.random() < 0.4:
        body = [f"self.{c1} = {_conv(rng, i, o, 3, s, 1)}", f"self.{c2} = {_conv(rng, o, o, 3, '1', 1)}",
                f"self.{n1} = nn.BatchNorm2d({o})", f"self.{n2} = nn.BatchNorm2d({o})"]
    lines += [f"        {line}" for line in body]
    projection = f"nn.Sequential({_conv(rng, i, o, 1, s, None)}, nn.BatchNorm2d({o}))"
    style = rng.randrange(3)
    if style == 0:
        lines += [f"        if {condition}:", f"            self.{sc} = {projection}", "        else:",
                  f"            self.{sc} = nn.Identity()"]
        shortcut = f"self.{sc}(x)"
    elif style == 1:
        lines += [f"        self.{sc} = {projection} if {condition} else None"]
        shortcut = f"(x if self.{sc} is None else self.{sc}(x))"
    else:
        lines += [f"        self.{sc} = nn.Sequential()", f"        if {condition}:",
                  f"            self.{sc} = {projection}"]
        shortcut = f"self.{sc}(x)"
    if relu.startswith("self.act"):
        lines.append("        self.act = nn.ReLU()")
    lines += ["", "    def forward(self, x):"]
    inner = relu.format(f"self.{n1}(self.{c1}(x))")
    if rng.random() < 0.5:
        lines += [f"        out = {inner}", f"        out = self.{n2}(self.{c2}(out))",
                  "        return " + relu.format(rng.choice([f"out + {shortcut}", f"{shortcut} + out"]))]
    else:
        lines += ["        return " + relu.format(f"self.{n2}(self.{c2}({inner})) + {shortcut}")]
    return "\n".join(lines) + "\n"


def renamed_copy(answer: str, rng: random.Random) -> str:
    """A copy with its layer and argument names changed and a comment added."""
    for old in {w for group in NAMES for w in group} | set(SHORT):
        answer = answer.replace(f"self.{old}", f"self.{old}_{rng.randrange(10)}")
    return "# my block\n" + answer.replace("(x", "(inp").replace(" x)", " inp)").replace("(self, x)", "(self, inp)")


def seed_class(root: Path) -> dict[str, str]:
    """The bank graded by the real class grader; returns outcome ('full'/'partial') -> a graded bank student."""
    ids = report_bank.make_course(root, broken_notebook=None)
    env = democourse.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", "resblk", "--no-progress",
                           "--jobs", "1"], cwd=root, env=env, capture_output=True, text=True)
    graded = {s: f for s, f in ((ids["indep_attributes"], "full"), (ids["wrong_no_final_relu"], "partial"))}
    if done.returncode not in (0, 1) or not all((root / "autograded" / s / "resblk" / "resblk.ipynb").is_file()
                                                for s in graded):
        sys.exit(f"the class grader could not seed the class:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return {outcome: student for student, outcome in graded.items()}


def grow(root: Path, templates: dict[str, str], n: int, rng: random.Random) -> None:
    """Add students until the class has n generated students (gradebook rows copied from a template)."""
    from nbgrader.api import Gradebook

    url = f"sqlite:///{root / 'gradebook.db'}"
    answers: list[str] = []
    with Gradebook(url, "cnn-course") as gb:
        scores = {t: {g.name: g.auto_score for nb in gb.find_submission("resblk", t).notebooks for g in nb.grades}
                  for t in templates.values()}
        have = len([p for p in (root / "submitted").iterdir() if p.name.startswith("gen")])
        for k in range(have, n):
            student = f"gen{k:04d}"
            outcome = "partial" if rng.random() < 0.2 else "full"
            template = templates[outcome]
            copy = answers and rng.random() < 0.05
            answer = renamed_copy(rng.choice(answers), rng) if copy else generated_answer(rng)
            answers.append(answer)
            for kind in ("submitted", "autograded"):
                source = root / kind / template / "resblk"
                target = root / kind / student / "resblk"
                shutil.copytree(source, target)
                notebook = json.loads((target / "resblk.ipynb").read_text())
                for cell in notebook["cells"]:
                    if cell["metadata"].get("nbgrader", {}).get("solution"):
                        cell["source"] = answer
                (target / "resblk.ipynb").write_text(json.dumps(notebook))
            gb.add_student(student)
            sub = gb.add_submission("resblk", student)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    grade.auto_score = scores[template].get(grade.name)
            gb.db.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 600])
    parser.add_argument("--keep", type=Path, default=None, help="build the class in this new folder and keep it")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's add_submission, harmless
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp) / "course"
        templates = seed_class(root)
        for n in sorted(args.sizes):
            grow(root, templates, n, rng)
            env = democourse.nbgrader_env()
            env["PYTHONPATH"] = str(REPO)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "course_lib.grading.report", "resblk", "--format", "csv",
                                   "--format", "canvas", "--format", "moodle"], cwd=root, env=env,
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode:
                sys.exit(done.stdout + done.stderr)
            os.chdir(root)
            results = gather.collect("resblk")
            answers = {s.student: s.answers["answer_resblk"] for s in results.students if "answer_resblk" in s.answers}
            started = time.perf_counter()
            found = similarity.compare("answer_resblk", answers, results.stubs["answer_resblk"])
            sim = time.perf_counter() - started
            size = (root / "reports" / "resblk" / "report.html").stat().st_size / 1e6
            print(f"{len(results.students)} students ({len(results.graded)} graded): report {seconds:.1f} s "
                  f"(whole command, page {size:.1f} MB); similarity alone {sim:.2f} s for "
                  f"{len(answers) * (len(answers) - 1) // 2} pairs, {len(found.pairs)} at or above "
                  f"{similarity.THRESHOLD:g}")


if __name__ == "__main__":
    main()
