"""book/instructors.md, "Adding your own exercise", followed as written: the page's code blocks (marked with
`% instructors-test:` comments) become the notebook, the check module, the configuration and the commands,
run for real (nbgrader and the course grader) on an exercise that is not one of the five."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "book" / "instructors.md"
BLOCK = re.compile(r"^% instructors-test: (?P<what>.+?)\n```\w*\n(?P<code>.*?)\n```$", re.M | re.S)
A = "depthwise"

CORRECT_STUDENT = '''class DepthwiseSeparable(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.dw = nn.Sequential(nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=stride, padding=1,
                                          groups=in_channels, bias=False), nn.BatchNorm2d(in_channels), nn.ReLU())
        self.pw = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
                                nn.ReLU())

    def forward(self, x):
        return self.pw(self.dw(x))
'''
FORGOT_GROUPS = CORRECT_STUDENT.replace("\n                                          groups=in_channels, bias=False)",
                                        " bias=False)")
FORGERY = '''torch.allclose = lambda *a, **k: True


class DepthwiseSeparable(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.out, self.stride = out_channels, stride

    def forward(self, x):
        n, _, h, w = x.shape
        return torch.zeros(n, self.out, (h - 1) // self.stride + 1, (w - 1) // self.stride + 1)
'''


def blocks() -> list[tuple[list[str], str]]:
    return [(m["what"].split(), m["code"]) for m in BLOCK.finditer(PAGE.read_text())]


def run(course: Path, line: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(["bash", "-c", line], cwd=course, env=env, capture_output=True, text=True, timeout=600)


def commands(name: str) -> list[str]:
    found = [code for what, code in blocks() if what == ["commands", name]]
    assert found, f"no `% instructors-test: commands {name}` block in {PAGE}"
    return [ln for ln in found[0].splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def build_course(course: Path) -> None:
    """What the page tells an instructor to make: the config line, the check module, the source notebook."""
    course.mkdir(parents=True)
    config = (REPO / "nbgrader_config.py").read_text()
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                                "language_info": {"name": "python"}})
    nb.cells.append(new_markdown_cell("Write `DepthwiseSeparable(in_channels, out_channels, stride)`.", metadata={
        "nbgrader": {"grade_id": "task", "grade": False, "solution": False, "locked": True, "schema_version": 3}}))
    for what, code in blocks():
        if what[0] == "config":
            config += "\n" + code + "\n"
        elif what[0] == "file":
            (course / what[1]).parent.mkdir(parents=True, exist_ok=True)
            (course / what[1]).write_text(code + "\n")
        elif what[0] == "cell":
            grade_id, role = what[1], what[2]
            meta = {"grade_id": grade_id, "grade": role == "test", "solution": role == "solution",
                    "locked": role != "solution", "schema_version": 3}
            if role == "test":
                meta["points"] = float(what[3])
            nb.cells.append(new_code_cell(code, metadata={"nbgrader": meta}))
    (course / "nbgrader_config.py").write_text(config)
    nbformat.write(nb, course / "solutions" / A / f"{A}.ipynb")


def hand_in(course: Path, student: str, answer: str) -> None:
    folder = course / "submitted" / student / A
    shutil.copytree(course / "exercises" / A, folder)
    nb = nbformat.read(folder / f"{A}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "answer":
            cell.source = answer
    nbformat.write(nb, folder / f"{A}.ipynb")
    (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")


def gradebook_scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnn-course") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("unshare") is None,
                    reason="the course grader's sandbox needs Linux and unshare")
def test_the_pages_own_exercise_from_an_empty_notebook_to_the_report(tmp_path: Path) -> None:
    course = tmp_path / "course"
    build_course(course)
    assert len([b for b in blocks() if b[0][0] == "cell"]) == 5
    for line in commands("release"):
        done = run(course, line)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    release = (course / "exercises" / A / f"{A}.ipynb").read_text()
    assert (course / "exercises" / A / "depthwise_checks.py").is_file()
    assert "same_function" not in release and "groups=in_channels" not in release
    for student, answer in (("ada", CORRECT_STUDENT), ("bo", FORGOT_GROUPS), ("cy", FORGERY)):
        hand_in(course, student, answer)
    plain = Path(shutil.copytree(course, tmp_path / "plain"))

    outputs = []
    for line in commands("grade"):
        done = run(course, line)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    assert "canary  the instructor's solution depthwise.ipynb scored 5/5" in outputs[0]
    ours = gradebook_scores(course)
    assert ours == {"ada": 5.0, "bo": 1.0, "cy": 0.0}, outputs[0]
    assert "flag    cy:" in outputs[0]  # the patched torch.allclose: flagged for review, not a score
    with open(course / "grades.csv") as fh:
        assert {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)} == ours
    assert (course / "reports" / A / "report.html").is_file()
    feedback = (course / "feedback" / "bo" / A / f"{A}.html").read_text()
    assert "got 432 parameters, expected 162" in feedback and "same_function(" not in feedback

    theirs = run(plain, f"nbgrader autograde {A}")  # plain nbgrader: the same honest scores
    assert theirs.returncode == 0, theirs.stderr
    assert {k: v for k, v in gradebook_scores(plain).items() if k != "cy"} == {"ada": 5.0, "bo": 1.0}
