"""Ordinary nbgrader test cells (plain asserts, a hidden test) graded by the course grader over stand-ins: the same
honest scores as plain nbgrader, and a hand-in that patches torch.allclose in its own process gains nothing.
Real runs of nbgrader and the course grader on an exercise written the ordinary nbgrader way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course_lib.grading.autograde import plaincells

REPO = Path(__file__).resolve().parents[1]
A = "dwplain"
SOLUTION = '''class DepthwiseSeparable(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        ### BEGIN SOLUTION
        self.depthwise = nn.Conv2d(in_channels, in_channels, 3, stride, 1, groups=in_channels, bias=False)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return torch.relu(self.bn2(self.pointwise(torch.relu(self.bn1(self.depthwise(x))))))
        ### END SOLUTION
'''
CORRECT = SOLUTION.replace("        ### BEGIN SOLUTION\n", "").replace("        ### END SOLUTION\n", "")
FORGOT_GROUPS = CORRECT.replace(", groups=in_channels", "")
FORGERY = "torch.allclose = lambda *a, **k: True\n\n" + CORRECT.replace(
    "return torch.relu(self.bn2(self.pointwise(torch.relu(self.bn1(self.depthwise(x))))))",
    "return torch.zeros(x.shape[0], self.pointwise.out_channels, *self.depthwise(x).shape[2:])")
TESTS = {
    "test_shape": (1, "m = DepthwiseSeparable(8, 16, 2)\nout = m(torch.randn(2, 8, 10, 10))\n"
                      "assert out.shape == (2, 16, 5, 5), f'got {tuple(out.shape)}'"),
    "test_parameters": (1, "m = DepthwiseSeparable(8, 16, 1)\nn = sum(p.numel() for p in m.parameters())\n"
                           "assert n == 8 * 9 + 8 * 16 + 2 * (8 + 16), f'got {n} parameters'"),
    "test_function": (3, '''### BEGIN HIDDEN TESTS
import torch.nn.functional as F

def one(shape, params):
    found = [p for p in params if tuple(p.shape) == shape]
    assert len(found) == 1, f"expected one weight of shape {shape}"
    return found[0]

torch.manual_seed(1)
m = DepthwiseSeparable(4, 6, 1)
m.eval()
x = torch.randn(2, 4, 7, 7)
out = m(x)
params = list(m.parameters())
dw, pw = one((4, 1, 3, 3), params), one((6, 4, 1, 1), params)
s = (1 + 1e-5) ** 0.5
expected = F.relu(F.conv2d(F.relu(F.conv2d(x, dw, padding=1, groups=4) / s), pw) / s)
assert torch.allclose(out, expected, atol=1e-5), "outputs differ"
### END HIDDEN TESTS'''),
}


def _cell(source: str, grade_id: str, **meta) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"nbgrader": {"grade_id": grade_id, "grade": False, "solution": False,
                                                        "locked": False, "schema_version": 3, **meta}})


def run(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run([sys.executable, "-m", *args], cwd=course, env=env, capture_output=True, text=True,
                          timeout=600)


def scores(course: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "cnn-course") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(A)}


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("unshare") is None,
                    reason="the course grader's sandbox needs Linux and unshare")
def test_plain_assert_cells_score_as_under_nbgrader_and_a_patched_allclose_gains_nothing(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "solutions" / A).mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [_cell("import torch\nfrom torch import nn", "setup", locked=True),
                _cell(SOLUTION, "answer", solution=True)]
    nb.cells += [_cell(src, gid, grade=True, locked=True, points=pts) for gid, (pts, src) in TESTS.items()]
    nbformat.write(nb, course / "solutions" / A / f"{A}.ipynb")
    assert run(course, "nbgrader", "generate_assignment", A, "--force").returncode == 0
    for student, answer in (("ada", CORRECT), ("bo", FORGOT_GROUPS), ("cy", FORGERY)):
        folder = course / "submitted" / student / A
        folder.mkdir(parents=True)
        release = nbformat.read(course / "exercises" / A / f"{A}.ipynb", as_version=4)
        next(c for c in release.cells if c.metadata["nbgrader"]["grade_id"] == "answer").source = answer
        nbformat.write(release, folder / f"{A}.ipynb")
        (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")
    plain = Path(shutil.copytree(course, tmp_path / "plain"))

    ours = run(course, "course_lib.grading", "autograde", A, "--no-progress", "--jobs", "2")
    assert ours.returncode == 0, ours.stdout + ours.stderr
    assert f"canary  the instructor's solution {A}.ipynb scored 5/5" in ours.stdout
    theirs = run(plain, "nbgrader", "autograde", A)
    assert theirs.returncode == 0, theirs.stderr

    assert scores(plain) == {"ada": 5.0, "bo": 1.0, "cy": 5.0}  # plain nbgrader believes the patched allclose
    assert scores(course) == {"ada": 5.0, "bo": 1.0, "cy": 0.0}, ours.stdout
    bo = (course / "autograded" / "bo" / A / f"{A}.ipynb").read_text()
    assert "got 752 parameters" in bo


def test_a_stand_in_refuses_what_would_run_the_students_methods_here() -> None:
    answers = iter([{"value": {"$h": 0, "$type": "Weird"}}, {"value": True}, {"value": {"$h": 1, "$type": "Weird"}}])
    link = plaincells.Link(lambda op: next(answers))
    weird = link.op({"op": "ref", "name": "weird"})
    assert bool(weird) is True  # truth: a sandbox operation whose answer must be a bool
    for use in (lambda: weird == 1, lambda: weird + 1, lambda: {weird}, lambda: 3 in weird, lambda: float(weird)):
        with pytest.raises(plaincells.Refused, match="would run its own methods in the grader"):
            use()
    with pytest.raises(plaincells.Refused, match="cannot be passed to the student's code"):
        weird(object())
    assert plaincells.free_names(__import__("ast").parse("import torch\nx = f(torch.ones(2))\ndef g(y): return y\n"
                                                         "assert g(x) == h")) == ["f", "h"]


def test_a_modules_parameters_are_the_students_own_not_copies() -> None:
    """Through the real channel and a real Session: reading requires_grad and zeroing a parameter in place reach
    the student's module, as in plain nbgrader; a plain tensor result still comes back by value."""
    import torch

    from course_lib.grading.sandboxed import channel, evidence

    torch.manual_seed(0)
    session = evidence.Session({"block": torch.nn.Conv2d(2, 2, 3)})

    def ask(op):
        answer = session.answer(channel.decode(channel.encode(op, evidence.tensor_to_array)), None)
        return channel.decode(channel.encode(answer, evidence.tensor_to_array))

    block = plaincells.Link(ask).op({"op": "ref", "name": "block"})
    params = list(block.parameters())
    assert [p.requires_grad for p in params] == [True, True]
    x = torch.randn(1, 2, 5, 5)
    # a parameter handed to a torch function here is its current value, fetched from the sandbox
    assert torch.allclose(torch.nn.functional.conv2d(x, params[0], params[1]), block(x))
    for p in params:
        p.requires_grad_(False).zero_()
    out = block(torch.ones(1, 2, 5, 5))
    assert type(out) is torch.Tensor and out.shape == (1, 2, 3, 3)
    assert torch.count_nonzero(out) == 0, "the zeroing happened on copies, not on the student's module"
