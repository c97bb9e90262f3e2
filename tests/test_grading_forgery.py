"""Grades that hold when every test is public: forged ResBlk hand-ins graded by the class grader.

A temporary copy of the course releases `resblk`; every file of tests/forge becomes a student's answer cell
beside honest hand-ins (the solution and two correct variants) and a wrong one. After
`python -m course_lib.grading autograde resblk`: every forgery scores 0, every honest hand-in full marks,
the wrong one loses points but not all, the forgeries that touch the grader's machinery are flagged with a
reason in the summary and in their record, and no active content survives in a graded notebook.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import sandbox_prereqs
from submissions import bank

ROOT = Path(__file__).resolve().parent.parent
FORGE = Path(__file__).resolve().parent / "forge"
FORGERIES = sorted(p.stem for p in FORGE.glob("*.py"))
HONEST = ["ok_sequential", "ok_conv_bias"]
WRONG = "no_final_relu"
pytestmark = [pytest.mark.xdist_group("forgery")]


def _student(name: str) -> str:
    return name.replace("_", "-")


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    sandbox_prereqs.require()  # the class grader's sandbox: a skip, or under COURSE_REQUIRE_SANDBOX=1 a failure
    course = tmp_path_factory.mktemp("forgery")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    # reference_from_disk walks the whole file system until the per-cell timeout stops it (it finds nothing:
    # the course is hidden). 30 s instead of the course's 120 s: an honest cell here takes about a second.
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nc.Execute.timeout = 30\n")
    shutil.copytree(ROOT / "solutions" / "resblk", course / "solutions" / "resblk")
    shutil.copytree(ROOT / "exercises" / "resblk", course / "exercises" / "resblk")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "resblk", "--force",
                    "--log-level=WARN"], cwd=course, env=env, check=True, capture_output=True)
    release = course / "exercises" / "resblk" / "resblk.ipynb"
    solution = course / "solutions" / "resblk" / "resblk.ipynb"
    hand_ins = {"solution": bank.Submission("resblk", "solution", {}, "nothing")}
    hand_ins |= {name: bank.load("resblk", name) for name in [*HONEST, WRONG]}
    hand_ins |= {name: bank.Submission("resblk", name, {"answer_resblk": (FORGE / f"{name}.py").read_text()},
                                       "everything") for name in FORGERIES}
    for name, submission in hand_ins.items():
        target = course / "submitted" / _student(name) / "resblk" / "resblk.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(bank.notebook_for(submission, release, solution), target)
    result = subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", "resblk", "--no-progress",
                             "--jobs", "2"], cwd=course, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {s.student_id: s.score for s in gradebook.assignment_submissions("resblk")}
    return {"root": course, "scores": scores, "summary": result.stdout}


@pytest.mark.parametrize("name", FORGERIES)
def test_every_forgery_scores_zero(graded: dict, name: str) -> None:
    assert graded["scores"][_student(name)] == 0.0, graded["summary"]


def test_honest_hand_ins_keep_full_marks_and_a_wrong_one_loses_some(graded: dict) -> None:
    for name in ["solution", *HONEST]:
        assert graded["scores"][_student(name)] == 10.0, graded["summary"]
    assert 0 < graded["scores"][_student(WRONG)] < 10.0


@pytest.mark.parametrize("name", ["silence_tracebacks", "input_transformer", "reference_via_new", "patch_checks",
                                  "patch_torch_compare", "obfuscated_exec", "forged_evidence", "displayhook"])
def test_forgeries_that_reach_the_machinery_are_flagged_with_a_reason(graded: dict, name: str) -> None:
    flags = [line for line in graded["summary"].splitlines() if f"flag    {_student(name)}:" in line]
    assert flags, graded["summary"]
    record = json.loads((graded["root"] / "grading_records" / "resblk" / f"{_student(name)}.json").read_text())
    assert record["flags"] and all(flag["reason"] and flag["kind"] for flag in record["flags"])


def test_no_honest_hand_in_is_flagged(graded: dict) -> None:
    for name in ["solution", *HONEST, WRONG]:
        assert f"flag    {_student(name)}:" not in graded["summary"]


def test_test_cells_are_written_by_the_trusted_side(graded: dict) -> None:
    """A forgery's autograded notebook shows the trusted report in its test cells, whatever it printed."""
    path = graded["root"] / "autograded" / _student("input_transformer") / "resblk" / "resblk.ipynb"
    cells = [c for c in nbformat.read(path, as_version=4).cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert cells and all("flagged for review" in c.outputs[0]["text"] for c in cells)
    assert all(c.outputs[-1]["data"]["text/plain"] == "0.0" for c in cells)


def test_no_active_content_survives_in_any_graded_notebook(graded: dict) -> None:
    notebooks = sorted((graded["root"] / "autograded").glob("*/resblk/resblk.ipynb"))
    assert len(notebooks) == len(FORGERIES) + len(HONEST) + 2
    for path in notebooks:
        cells = nbformat.read(path, as_version=4).cells
        text = json.dumps([c.get("outputs", []) for c in cells]
                          + [c.source for c in cells if c.cell_type == "markdown"]).lower()
        for active in ("<script", "onerror=", "javascript:", "application/javascript"):
            assert active not in text, f"{active} in {path}"
