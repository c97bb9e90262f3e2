"""The class report's numbers: failure examples belong to their own check, one median everywhere, student data
ignored by git, and parameter counts exact to the exercise text."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

from course_lib.grading.assignments import architectures
from course_lib.grading.report import cli, page
from course_lib.grading.report.gather import CellResult, Check, ClassResults, StudentResult
from course_lib.grading.report.gather import TestCell as ReportCell
from course_lib.grading.report.stats import check_rates, median

REPO = Path(__file__).resolve().parents[1]


def _results(cells: dict[str, list[tuple[float, list[Check]]]], scores: list[float]) -> ClassResults:
    tests = [ReportCell(g, "nb", 2.0, False) for g in cells]
    students = []
    for i, score in enumerate(scores):
        s = StudentResult(f"s{i}", status="graded", score=score, max_score=5.0)
        for grade_id, rows in cells.items():
            points, checks = rows[i]
            s.cells[grade_id] = CellResult(grade_id, "nb", 2.0, points, checks)
        students.append(s)
    return ClassResults("a", REPO, "sqlite://", ["nb"], tests, [], {}, students, 5.0)


def test_each_check_quotes_its_own_failure_messages() -> None:
    # the same message once numbers are masked, in two different checks: each quotes what its students got
    results = _results({
        "vgg": [(1, [Check("parameter count", False, "got 752 parameters, expected 248")]),
                (1, [Check("parameter count", False, "got 760 parameters, expected 248")])],
        "lenet": [(1, [Check("parameter count", False, "got 61,000 parameters, expected 61,706")]),
                  (2, [Check("parameter count", True)])],
    }, [1.0, 3.0])
    by_cell = {rate.cell: rate for rate in check_rates(results)}
    assert by_cell["vgg"].messages == [("got 752 parameters, expected 248", 2)]
    assert by_cell["lenet"].messages == [("got 61,000 parameters, expected 61,706", 1)]
    assert (by_cell["lenet"].passed, by_cell["lenet"].total, by_cell["lenet"].failing) == (1, 2, ["s0"])


@pytest.mark.parametrize("scores, expected", [([1.67, 5.0], 3.335), ([1.0, 2.0, 5.0], 2.0)])
def test_the_summary_and_the_page_show_one_median(scores: list[float], expected: float) -> None:
    results = _results({}, scores)
    assert median(scores) == pytest.approx(expected)
    assert f"median {expected:g}" in cli.summary(results, [], [])
    assert f"median {expected:g}," in page._summary(results)


def test_student_data_written_by_nbgrader_is_ignored_by_git() -> None:
    paths = ["grades.csv", "grades-2026.csv", "downloaded/resblk/archive/alice.zip", "submitted/a/resblk/x.ipynb",
             "gradebook.db", "reports/resblk/report.html", "grading_records/resblk/alice.json"]
    ignored = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True,
                             text=True).stdout.split()
    assert ignored == paths


class _Inception(nn.Module):
    """The exercise's Inception block, with or without (the text rules them out) conv biases."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, bias=False):
        super().__init__()

        def unit(i, o, k):
            return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2, bias=bias), nn.BatchNorm2d(o, eps=0.001), nn.ReLU())

        self.b1 = unit(in_channels, ch1x1, 1)
        self.b2 = nn.Sequential(unit(in_channels, ch3x3red, 1), unit(ch3x3red, ch3x3, 3))
        self.b3 = nn.Sequential(unit(in_channels, ch5x5red, 1), unit(ch5x5red, ch5x5, 3))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), unit(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


def _count_cases(capsys, check, factory) -> list[str]:
    check(factory)
    return [ln.strip() for ln in capsys.readouterr().out.splitlines() if "parameter count" in ln]


def test_inception_count_is_exact_as_its_text_says_no_bias(capsys) -> None:
    assert all(ln.startswith("[pass]") for ln in _count_cases(capsys, architectures.inception, _Inception))
    with_bias = _count_cases(capsys, architectures.inception, lambda *a: _Inception(*a, bias=True))
    assert with_bias and all(ln.startswith("[FAIL]") for ln in with_bias), with_bias
    assert with_bias[0].endswith("got 1,511 parameters, expected 1,466")  # one number: no range of biases


def test_vgg_count_allows_exactly_the_two_the_text_allows(capsys) -> None:
    def block(bias, last_bias=None):
        def make(n, i, o):
            layers = []
            for k in range(n):
                b = bias if k < n - 1 or last_bias is None else last_bias
                layers += [nn.Conv2d(i if k == 0 else o, o, 3, padding=1, bias=b), nn.ReLU()]
            return nn.Sequential(*layers, nn.MaxPool2d(2))
        return make

    assert all(ln.startswith("[pass]") for ln in _count_cases(capsys, architectures.vgg_block, block(True)))
    assert all(ln.startswith("[pass]") for ln in _count_cases(capsys, architectures.vgg_block, block(False)))
    mixed = _count_cases(capsys, architectures.vgg_block, block(False, last_bias=True))  # a bias on the last only
    assert [ln[:6] for ln in mixed] == ["[pass]", "[FAIL]", "[FAIL]"], mixed  # one conv: all of them have one
    assert "(with biases) or" in mixed[1] and "(without)" in mixed[1]
