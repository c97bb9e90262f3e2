"""The class report after grading: the real resblk assignment, the report bank graded by the class grader,
then `python -m course_lib.grading report resblk` checked against the gradebook, `nbgrader export`, the
bank's known copied pairs, the LMS formats' documented headers and a real browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import democourse
from course_lib.grading.report import gather, similarity
from report_bank import course as report_bank
from submissions import bank
from test_grading_postgres import pg_scores, postgres_url  # noqa: F401 - the module's PostgreSQL server fixture

REPO = Path(__file__).resolve().parents[1]
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
SCREENSHOT = REPO / "_build" / "screenshots" / "grading-report.png"


def _run(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = democourse.nbgrader_env()
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "course_lib.grading", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The bank handed in, graded by the class grader, two feedback pages generated, the report written."""
    root = tmp_path_factory.mktemp("report") / "course"
    ids = report_bank.make_course(root)
    grading = _run(root, "autograde", "resblk", "--no-progress", "--jobs", "2")
    assert grading.returncode in (0, 1), grading.stdout + grading.stderr
    failed = [line for line in grading.stdout.splitlines() if line.lstrip().startswith("failed") and "st99" not in line]
    assert not failed, "the class grader could not grade these bank hand-ins:\n" + "\n".join(failed)
    for name in ("indep_attributes", "wrong_no_final_relu"):
        done = democourse.nbgrader(root, "generate_feedback", "resblk", "--student", ids[name], check=False)
        assert done.returncode == 0, done.stderr
    report = _run(root, "report", "resblk", "--format", "csv", "--format", "canvas", "--format", "moodle")
    assert report.returncode == 0, report.stdout + report.stderr
    return {"root": root, "ids": ids, "stdout": report.stdout, "out": root / "reports" / "resblk"}


def _collect(root: Path, monkeypatch: pytest.MonkeyPatch) -> gather.ClassResults:
    monkeypatch.chdir(root)
    return gather.collect("resblk")


def _pair_names(pairs: list[similarity.Pair], names_by_id: dict[str, str]) -> set[frozenset[str]]:
    return {frozenset((names_by_id[p.first], names_by_id[p.second])) for p in pairs}


def test_copied_pairs_are_listed_and_independent_solutions_are_not(graded: dict, monkeypatch) -> None:
    names = {sid: name for name, sid in graded["ids"].items()}
    results = _collect(graded["root"], monkeypatch)
    answers = {s.student: s.answers["answer_resblk"] for s in results.students if "answer_resblk" in s.answers}
    found = similarity.compare("answer_resblk", answers, results.stubs["answer_resblk"])
    known = report_bank.copied_pairs(list(graded["ids"]))
    assert len(known) >= 4
    assert _pair_names(found.pairs, names) == known
    page = (graded["out"] / "report.html").read_text()
    for pair in found.pairs:
        assert f"{pair.first} and {pair.second}: similarity" in page
    assert "evidence for a person to weigh, not a verdict" in page
    assert f"pairs scoring {similarity.THRESHOLD:g} or more are listed" in page
    for pair in known:
        first, second = sorted(graded["ids"][n] for n in pair)
        assert re.search(rf"{first}~{second} \d\.\d\d", graded["stdout"]), graded["stdout"]


def test_similarity_ignores_names_layout_order_and_the_stub_but_not_different_designs() -> None:
    """The bank, the submission bank's correct blocks and the solution: only the copies reach the threshold."""
    answers = {f"report:{name}": code for name, code in report_bank.entries().items()}
    answers |= {f"bank:{name}": bank.load("resblk", name).answers["answer_resblk"]
                for name in bank.names("resblk") if name.startswith("ok_")}
    solution = bank.read(REPO / "solutions" / "resblk" / "resblk.ipynb")
    answers["solution"] = next(bank.SOLUTION_MARKERS.sub("", c.source) for c in solution.cells
                               if c.metadata.get("nbgrader", {}).get("solution"))
    answers["stub only"] = STUB
    found = similarity.compare("answer_resblk", answers, STUB)
    flagged = {frozenset(n.split(":")[-1] for n in (p.first, p.second)) for p in found.pairs}
    assert flagged == report_bank.copied_pairs(list(report_bank.entries()))
    independent = [n for n in answers if "indep_" in n or n.startswith("bank:") or n == "solution"]
    assert len(independent) >= 9
    assert "stub only" in found.too_short and "report:broken_syntax" in found.unparsable
    for pair in found.pairs:
        assert pair.first_lines and pair.second_lines  # matching lines are marked on both sides
    comparison = similarity.compare("answer_resblk", {n: answers[n] for n in independent}, STUB, threshold=0.0)
    highest = max(p.score for p in comparison.pairs)
    assert highest < similarity.THRESHOLD, [(p.first, p.second, p.score) for p in comparison.pairs[:3]]
    padded = {n: STUB + "\n" + answers[n] for n in ("report:indep_sequential", "report:indep_helpers")}
    assert not similarity.compare("answer_resblk", padded, STUB).pairs  # the release's stub is not evidence


def _gradebook_full_marks(root: Path) -> dict[str, tuple[int, int]]:
    """test cell -> (submissions with full marks, graded submissions), straight from the SQLite tables."""
    with sqlite3.connect(root / "gradebook.db") as db:
        rows = db.execute(
            "SELECT bc.name, g.auto_score, g.manual_score, gc.max_score FROM grade g "
            "JOIN base_cell bc ON bc.id = g.cell_id JOIN grade_cells gc ON gc.id = bc.id "
            "JOIN submitted_notebook sn ON sn.id = g.notebook_id "
            "JOIN submitted_assignment sa ON sa.id = sn.assignment_id JOIN assignment a ON a.id = sa.assignment_id "
            "WHERE a.name = 'resblk'").fetchall()
    counts: dict[str, list[int]] = {}
    for name, auto, manual, points in rows:
        score = manual if manual is not None else (auto or 0.0)
        entry = counts.setdefault(name, [0, 0])
        entry[0] += score >= points
        entry[1] += 1
    return {name: (full, total) for name, (full, total) in counts.items()}


def test_pass_rates_and_scores_equal_the_gradebook_and_nbgrader_export(graded: dict, monkeypatch) -> None:
    from course_lib.grading.report.stats import cell_rates, check_rates

    root = graded["root"]
    results = _collect(root, monkeypatch)
    rates = {r.cell: (r.passed, r.total) for r in cell_rates(results)}
    expected = {name: counts for name, counts in _gradebook_full_marks(root).items() if name in rates}
    assert rates == expected and len(rates) == 6
    assert any(full < total for full, total in rates.values())
    exported = democourse.nbgrader(root, "export", "--to", str(root / "grades.csv"))
    with open(root / "grades.csv") as fh:
        theirs = {row["student_id"]: row["score"] for row in csv.DictReader(fh) if row["assignment"] == "resblk"}
    assert exported.returncode == 0
    with open(graded["out"] / "resblk-grades.csv") as fh:
        ours = {row["student_id"]: row for row in csv.DictReader(fh)}
    graded_ids = {sid for sid, row in ours.items() if row["status"] == "graded"}
    assert graded_ids == {sid for sid in theirs if sid in graded_ids} and len(graded_ids) >= 12
    for sid in graded_ids:
        assert float(ours[sid]["score"]) == pytest.approx(float(theirs[sid]))
    # each check line the test cells printed accounts for the cell's score: points * passed / checks
    cells = [(s.student, grade_id, cell) for s in results.graded for grade_id, cell in s.cells.items()]
    assert sum(bool(cell.checks) for _, _, cell in cells) >= 0.8 * len(cells)
    for student, grade_id, cell in cells:
        if cell.checks:
            passed = sum(c.passed for c in cell.checks)
            assert cell.score == pytest.approx(round(cell.points * passed / len(cell.checks), 2), abs=0.011), \
                (student, grade_id, cell.checks)
    worst = check_rates(results)[0]
    assert worst.failed > 0 and worst.messages and sum(n for _, n in worst.messages) == worst.failed
    assert f"check {worst.cell} / {worst.check[:60]}: failed {worst.failed}/{worst.total}" in graded["stdout"]


def test_unparsable_hand_ins_flags_and_feedback_links_appear_on_the_page(graded: dict) -> None:
    page = (graded["out"] / "report.html").read_text()
    # the grader's record says why it could not grade the damaged notebook; the report passes it on
    assert "st99" in page and "not graded" in page and "not valid JSON" in page
    assert "failed st99: " in graded["stdout"] and "not valid JSON" in graded["stdout"]
    flagged = graded["ids"]["flag_reference_imported"]
    assert re.search(rf"<td>{flagged}</td><td>course-code</td>", page)
    for name in ("indep_attributes", "wrong_no_final_relu"):
        sid = graded["ids"][name]
        link = f"../../feedback/{sid}/resblk/resblk.html"
        assert link in page and (graded["out"] / link).resolve().is_file()


def test_lms_exports_have_the_documented_columns(graded: dict) -> None:
    canvas = list(csv.reader(io.StringIO((graded["out"] / "resblk-canvas.csv").read_text())))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "resblk"]
    assert canvas[1][0] == "Points Possible" and float(canvas[1][5]) == 10.0
    by_sis = {row[2]: row for row in canvas[2:]}
    ada = graded["ids"][next(iter(report_bank.entries()))]
    assert by_sis[ada][:4] == ["Lovelace, Ada", "1001", ada, "ada@example.edu"]
    assert by_sis["st99"][5] == ""  # not graded: left empty, which Canvas leaves unchanged
    moodle = list(csv.reader(io.StringIO((graded["out"] / "resblk-moodle.csv").read_text())))
    assert moodle[0] == ["First name", "Last name", "ID number", "Username", "Email address", "resblk"]
    assert moodle[1][:5] == ["Ada", "Lovelace", ada, ada, "ada@example.edu"]
    with open(graded["out"] / "resblk-grades.csv") as fh:
        spreadsheet = {row["student_id"]: row for row in csv.DictReader(fh)}
    assert {row[2]: row[5] for row in canvas[2:]} == {sid: row["score"] for sid, row in spreadsheet.items()}


def test_grading_records_are_used_when_present(graded: dict, tmp_path: Path, monkeypatch) -> None:
    root = Path(shutil.copytree(graded["root"], tmp_path / "course", symlinks=True))
    records = root / "grading_records" / "resblk"
    records.mkdir(parents=True, exist_ok=True)  # the grader may have written its own: two are replaced here
    sid = graded["ids"]["indep_helpers"]
    (records / f"{sid}.json").write_text(json.dumps({
        "schema": 1, "assignment": "resblk", "student": sid, "status": "graded", "reason": "", "score": 10.0,
        "max_score": 10.0, "seconds": 3.25, "peak_memory_mb": 812.0,
        "flags": [{"kind": "dynamic-code", "reason": "calls exec", "cell": "answer_resblk", "line": 4}],
        "cells": [{"grade_id": "same_function", "points": 3, "score": 3, "hidden": True,
                   "checks": [{"name": "a hidden check from the record", "passed": True, "message": ""}]}]}))
    (records / "st99.json").write_text(json.dumps({"schema": 1, "student": "st99", "status": "failed",
                                                   "reason": "resblk.ipynb is not valid JSON"}))
    results = _collect(root, monkeypatch)
    by_id = {s.student: s for s in results.students}
    assert results.records == len(list(records.glob("*.json"))) >= 2
    assert (by_id[sid].seconds, by_id[sid].peak_memory_mb) == (3.25, 812.0)
    assert [f.kind for f in by_id[sid].flags] == ["dynamic-code"]
    assert [c.name for c in by_id[sid].cells["same_function"].checks] == ["a hidden check from the record"]
    assert len(by_id[sid].cells["shapes"].checks) == 6  # a cell the record leaves out: its printed checks
    assert (by_id["st99"].status, by_id["st99"].reason) == ("failed", "resblk.ipynb is not valid JSON")
    assert by_id[sid].score == 10.0  # scores stay the gradebook's


def test_bad_input_gets_a_clear_error(graded: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    from course_lib.grading.report.__main__ import main

    monkeypatch.chdir(graded["root"])
    assert main(["nosuch"]) == 2
    assert "unknown assignment 'nosuch' (the gradebook has: resblk)" in capsys.readouterr().err
    assert main(["resblk", "--threshold", "3"]) == 2 and "--threshold must be in (0, 1]" in capsys.readouterr().err
    democourse.write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["resblk"]) == 2
    assert "no gradebook at" in capsys.readouterr().err


def test_page_renders_offline_in_chromium_without_requests_or_errors(graded: dict, browser) -> None:
    import browser as harness

    report = graded["out"] / "report.html"
    page, log = harness.new_page(browser, offline=True)
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    assert log.requested == [report.as_uri()], log.requested
    assert not log.failed and not log.errors, (log.failed, log.errors)
    assert page.locator("svg").count() >= 3
    assert page.locator("pre.code span.hit").count() > 0
    width = page.evaluate("document.querySelector('.pair').getBoundingClientRect().width")
    assert width > 600  # the two answers of a pair sit side by side
    assert harness.screenshot(page, "grading-report") == SCREENSHOT
    assert harness.screenshot(page, "grading-report-similarity", ".pair") is not None
    page.context.close()


def test_report_from_a_postgresql_gradebook_given_by_db(postgres_url: str, tmp_path: Path, monkeypatch) -> None:
    """The tiny `square` course graded into PostgreSQL; the report reads it through --db alone."""
    root = democourse.make_course(tmp_path / "course", db_url=postgres_url)
    democourse.write_config(root)  # from here on only --db names the server
    for student, answer in (("ann", democourse.CORRECT), ("ben", democourse.WRONG), ("cat", democourse.CORRECT)):
        democourse.add_submission(root, student, answer)
    grading = _run(root, "autograde", democourse.ASSIGNMENT, "--no-progress", "--db", postgres_url)
    assert grading.returncode == 0, grading.stdout + grading.stderr
    report = _run(root, "report", democourse.ASSIGNMENT, "--db", postgres_url, "--format", "csv")
    assert report.returncode == 0, report.stdout + report.stderr
    with open(root / "reports" / democourse.ASSIGNMENT / f"{democourse.ASSIGNMENT}-grades.csv") as fh:
        ours = {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}
    assert ours == pg_scores(postgres_url) and len(ours) == 3
    monkeypatch.chdir(root)
    from course_lib.grading.report.stats import cell_rates

    rates = {r.cell: (r.passed, r.total) for r in cell_rates(gather.collect(democourse.ASSIGNMENT, postgres_url))}
    full = sum(score == democourse.MAX_SCORE for score in ours.values())
    assert rates == {"test_int": (full, 3), "test_partial": (full, 3)}
