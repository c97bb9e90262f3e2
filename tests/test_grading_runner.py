"""The class autograder on a tiny course: isolation against a hostile student, limits, bad input, and
the same gradebook as plain `nbgrader autograde`."""

from __future__ import annotations

import ast
import csv
import hashlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import democourse
from helpers.democourse import ASSIGNMENT, CORRECT, WRONG, add_submission, make_course, nbgrader

import sandbox_prereqs

REPO = Path(__file__).resolve().parents[1]
HOSTILE = Path(__file__).parent / "hostile"
needs_root = sandbox_prereqs.needs(root=True)  # a skip, or under COURSE_REQUIRE_SANDBOX=1 a failure


def run_autograde(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = democourse.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", ASSIGNMENT, "--no-progress",
                           *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def scores(root: Path) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "demo") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}


def tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def hostile(name: str, root: Path, port: int = 9) -> str:
    return (HOSTILE / name).read_text().replace("COURSE_ROOT", str(root)).replace("NET_PORT", str(port))


def summary_line(output: str, student: str, word: str) -> str:
    lines = [ln for ln in output.splitlines() if f" {student}: " in ln and word in ln]
    assert lines, f"no summary line for {student} containing {word!r} in:\n{output}"
    return lines[0]


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    return make_course(tmp_path_factory.mktemp("released") / "course")


@pytest.fixture
def course(released: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(released, tmp_path / "course"))


@needs_root
def test_hostile_submission_cannot_touch_gradebook_solutions_or_others(course: Path) -> None:
    add_submission(course, "zoe", CORRECT)
    first = run_autograde(course)
    assert first.returncode == 0, first.stdout + first.stderr
    assert scores(course) == {"zoe": 5.0}
    secret = "# alice-secret-7731"
    add_submission(course, "alice", secret + "\n" + CORRECT)
    listener = socket.create_server(("127.0.0.1", 0))  # reachable from here, so only the sandbox stops it
    add_submission(course, "mallory", hostile("tamper.py", course, listener.getsockname()[1]))
    before = {name: tree_hash(course / name) for name in ("solutions", "submitted", "exercises")}
    zoe_notebook = (course / "autograded" / "zoe" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()

    result = run_autograde(course)
    listener.close()

    assert result.returncode == 0, result.stdout + result.stderr
    # mallory's square is right, but her cell reaches for the system: flagged, scored 0 pending review
    assert scores(course) == {"zoe": 5.0, "alice": 5.0, "mallory": 0.0}
    assert "system-access" in summary_line(result.stdout, "mallory", "flag")
    assert {name: tree_hash(course / name) for name in before} == before
    assert (course / "autograded" / "zoe" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == zoe_notebook
    mallory = (course / "autograded" / "mallory" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert secret not in mallory and "alice" not in mallory
    cells = nbformat.reads(mallory, as_version=4).cells
    text = "".join(o.get("text", "") for c in cells if c.cell_type == "code" for o in c.outputs)
    attempts = ast.literal_eval(text.split("ATTEMPTS ", 1)[1].splitlines()[0])
    assert len(attempts) == 9
    assert not [name for name, outcome in attempts.items() if outcome == "DONE"], attempts


def test_hanging_and_memory_hungry_submissions_score_zero_and_the_batch_goes_on(course: Path) -> None:
    add_submission(course, "alice", CORRECT)
    add_submission(course, "henry", hostile("hang.py", course))
    add_submission(course, "molly", hostile("memory_hog.py", course))
    add_submission(course, "bob", WRONG)

    result = run_autograde(course, "--timeout", "15", "--memory-mb", "2000", "--jobs", "2")

    assert result.returncode == 0, result.stdout + result.stderr
    assert scores(course) == {"alice": 5.0, "henry": 0.0, "molly": 0.0, "bob": 1.0}
    assert "killed after the 15 s limit" in summary_line(result.stdout, "henry", "note")
    assert "ran out of memory (limit 2000 MB)" in summary_line(result.stdout, "molly", "note")


def test_bad_input_is_reported_and_nothing_in_the_gradebook_is_lost(course: Path) -> None:
    add_submission(course, "bob", CORRECT)
    seed = run_autograde(course)
    assert seed.returncode == 0 and scores(course) == {"bob": 5.0}, seed.stdout + seed.stderr

    broken = add_submission(course, "bob", raw=b'{"cells": [')  # a newer, damaged resubmission
    (broken / "timestamp.txt").write_text("2026-11-21 09:00:00.000000 UTC")
    add_submission(course, "dave", CORRECT, notebook="square (1).ipynb")
    add_submission(course, "erin", CORRECT, extra={"notes.txt": b"my notes", "data.csv": b"1,2\n"})
    result = run_autograde(course, "--student", "bob", "--student", "dave", "--student", "erin",
                           "--student", "ghost")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "not valid JSON" in summary_line(result.stdout, "bob", "failed")
    assert "rename it to square.ipynb" in summary_line(result.stdout, "dave", "failed")
    assert "unknown student" in summary_line(result.stdout, "ghost", "failed")
    assert "data.csv, notes.txt" in summary_line(result.stdout, "erin", "extra files")
    assert "square.py" not in result.stdout  # the released check module, handed back, is not an extra file
    assert scores(course) == {"bob": 5.0, "erin": 5.0}
    assert (course / "autograded" / "erin" / ASSIGNMENT / "notes.txt").read_bytes() == b"my notes"

    nothing = run_autograde(course, "--student", "dave")
    assert nothing.returncode == 2 and "missing notebook" in nothing.stdout
    wrong_assignment = subprocess.run(
        [sys.executable, "-m", "course_lib.grading", "autograde", "nosuch"], cwd=course,
        env=democourse.nbgrader_env(), capture_output=True, text=True)
    assert wrong_assignment.returncode == 2
    assert "unknown assignment 'nosuch'" in wrong_assignment.stderr
    assert scores(course) == {"bob": 5.0, "erin": 5.0}


def _export(root: Path) -> list[dict[str, str]]:
    nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv") as fh:
        return sorted(csv.DictReader(fh), key=lambda row: row["student_id"])


def test_export_and_feedback_after_ours_equal_plain_nbgrader(course: Path, tmp_path: Path) -> None:
    answers = {
        "ann": CORRECT,
        "ben": WRONG,
        "cat": "import sys\ndef square(x):\n    print('squaring', file=sys.stderr)\n    return x * x\n",
        "dan": "def square(x) return x\n",
        "eve": "from tqdm.auto import tqdm\ndef square(x):\n    for _ in tqdm(range(2)):\n        pass\n    return x * x\n",
    }
    for student, answer in answers.items():
        add_submission(course, student, answer)
    plain = Path(shutil.copytree(course, tmp_path / "plain"))

    ours = run_autograde(course)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    theirs = nbgrader(plain, "autograde", ASSIGNMENT, check=False)
    assert theirs.returncode == 0, theirs.stderr

    exported = _export(course)
    assert exported == _export(plain)
    assert {row["student_id"]: float(row["score"]) for row in exported} == {
        "ann": 5.0, "ben": 1.0, "cat": 5.0, "dan": 0.0, "eve": 5.0}  # the checks silence what runs inside them
    feedback = nbgrader(course, "generate_feedback", ASSIGNMENT, check=False)
    assert feedback.returncode == 0, feedback.stderr
    for student in answers:
        assert (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()


RESBLK = REPO / "solutions" / "resblk" / "resblk.ipynb"


@pytest.mark.skipif(not (RESBLK.exists() and (REPO / "nbgrader_config.py").exists()),
                    reason="the real resblk assignment (solutions/resblk, nbgrader_config.py) is not in the repo")
def test_real_resblk_assignment_grades_like_plain_nbgrader(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(REPO / "solutions" / "resblk", course / "solutions" / "resblk")
    shutil.copy(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    generated = nbgrader(course, "generate_assignment", "resblk", "--force", check=False)
    assert generated.returncode == 0, generated.stderr
    release = next(p for p in course.glob("*/resblk/resblk.ipynb") if p.parts[-3] != "solutions")
    for student, notebook in (("solver", RESBLK), ("blank", release)):
        folder = course / "submitted" / student / "resblk"
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder / "resblk.ipynb")
    plain = Path(shutil.copytree(course, tmp_path / "plain"))

    env = democourse.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    ours = subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", "resblk", "--no-progress"],
                          cwd=course, env=env, capture_output=True, text=True, timeout=600)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    theirs = nbgrader(plain, "autograde", "resblk", check=False)
    assert theirs.returncode == 0, theirs.stderr

    exported = _export(course)
    assert exported == _export(plain)
    by_student = {row["student_id"]: row for row in exported}
    assert float(by_student["solver"]["score"]) == float(by_student["solver"]["max_score"]) > 0
    assert float(by_student["blank"]["score"]) == 0.0
