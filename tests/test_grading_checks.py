"""course_lib.grading on its own (no nbgrader): scoring, the reuse guard, the weight transplant, the
feedback preprocessor, and every submission in tests/submissions scored by the checks directly."""

from __future__ import annotations

import warnings

import nbformat
import pytest
import torch
from torch import nn

from course_lib.grading import checks, transplant
from course_lib.grading.feedback import PLACEHOLDER, HideHiddenTests
from submissions import bank

ASSIGNMENTS = ["resblk", "conv_basics", "pooling", "batchnorm_dropout", "architectures"]


# ---------------------------------------------------------------------------------------------- Report


def test_report_gives_the_share_of_passed_cases(capsys):
    report = checks.Report("demo", points=3)
    report.add("a", True)
    report.add("b", False, "why b failed")
    report.check("c", lambda: (True, ""))
    report.check("d", lambda: 1 / 0)
    assert report.score() == 1.5
    out = capsys.readouterr().out
    assert "why b failed" in out and "ZeroDivisionError" in out and "1.5 / 3 points" in out


def test_report_never_exceeds_points_and_zero_without_cases():
    assert checks.Report("empty", 2).score() == 0.0
    report = checks.Report("all", 2)
    for i in range(3):
        report.add(str(i), True)
    assert report.score() == 2


def test_quiet_keeps_warnings_and_stderr_out(capfd):
    with checks.quiet():
        warnings.warn("should not appear", UserWarning)
        import sys

        print("also hidden", file=sys.stderr)
    assert capfd.readouterr().err == ""


# ----------------------------------------------------------------------------------------- reuse guard


class _OwnBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))


def test_own_code_is_not_reuse():
    assert checks.reference_reuse(_OwnBlock) is None
    assert checks.reference_reuse(_OwnBlock()) is None
    assert checks.reference_reuse(lambda x: x + 1) is None


def test_reference_classes_subclasses_and_instances_are_reuse():
    from course_lib.layers import corr2d
    from course_lib.models import ResBlk

    class Sub(ResBlk):
        pass

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = ResBlk(2, 2)

    class Borrowed(nn.Module):  # layers typed in, the forward pass borrowed
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(2, 2, 3, padding=1)

        forward = ResBlk.forward

    assert checks.reference_reuse(ResBlk)
    assert checks.reference_reuse(Sub)
    assert checks.reference_reuse(Wrapper())
    assert checks.reference_reuse(Borrowed)
    assert checks.reference_reuse(corr2d)


def test_reuse_hidden_in_code_is_found():
    namespace = {"__name__": "__main__"}
    exec(
        "import importlib\n"
        "def helper():\n"
        "    return importlib.import_module('course_' + 'lib.layers').corr2d\n"
        "def corr2d(X, K):\n"
        "    return helper()(X, K)\n"
        "def sneaky(X, K):\n"
        "    from course_lib.layers import corr2d as c\n"
        "    return c(X, K)\n",
        namespace,
    )
    assert checks.reference_reuse(namespace["sneaky"])  # an import statement inside the body
    assert "helper" in checks.reference_reuse(namespace["corr2d"])  # followed into the student's own helper
    namespace["ref"] = __import__("course_lib.layers", fromlist=["corr2d"]).corr2d
    exec("def via_global(X, K):\n    return ref(X, K)\n", namespace)
    assert checks.reference_reuse(namespace["via_global"])


def test_blocked_report_scores_zero(capsys):
    from course_lib.models import ResBlk

    report = checks.Report("blocked", 2)
    assert report.block_if_reused(ResBlk)
    report.add("would pass", True)
    assert report.score() == 0.0
    assert "course's own package" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------ transplant


class _Reordered(nn.Module):
    """Same function as nn.Sequential(conv a, BN a, ReLU, conv b, BN b), registered in another order, biased."""

    def __init__(self, c):
        super().__init__()
        self.norms = nn.ModuleList([nn.BatchNorm2d(c), nn.BatchNorm2d(c)])
        self.convs = nn.ModuleDict({"second": nn.Conv2d(c, c, 3, padding=1), "first": nn.Conv2d(c, c, 3, padding=1)})

    def forward(self, x):
        x = torch.relu(self.norms[1](self.convs["first"](x)))
        return self.norms[0](self.convs["second"](x))


def _plain(c):
    return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                         nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))


def test_transplant_finds_the_pairing_by_function_not_order():
    reference = transplant.randomize_(_plain(4), checks.generator(0))
    x = [torch.randn(3, 4, 6, 6, generator=checks.generator(1))]
    error, _, student, mapping = transplant.transplant(reference, _Reordered(4), x)
    assert error < 1e-5 and len(mapping) == 4
    assert all(float(conv.bias.detach().abs().sum()) == 0 for conv in student.convs.values())


def test_transplant_reports_a_different_function_and_missing_layers():
    reference = transplant.randomize_(_plain(4), checks.generator(0))
    x = [torch.randn(3, 4, 6, 6, generator=checks.generator(1))]
    wrong = _plain(4)
    wrong[2] = nn.Sigmoid()
    assert transplant.transplant(reference, wrong, x)[0] > 1e-2
    no_norm = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))
    error, _, _, mapping = transplant.transplant(reference, no_norm, x)
    assert error == float("inf") and not mapping


# ------------------------------------------------------------------------------------------- feedback


def test_feedback_preprocessor_removes_hidden_code_and_tracebacks():
    cell = nbformat.v4.new_code_cell(
        "# visible line\n### BEGIN HIDDEN TESTS\nsecret_check(ResBlk)\n### END HIDDEN TESTS\nafter = 1"
    )
    cell.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'x' is not defined",
                                           traceback=["----> 3 secret_check(ResBlk)", "NameError: ..."])]
    plain = nbformat.v4.new_code_cell("print('shown')")
    plain.outputs = [nbformat.v4.new_output("error", ename="E", evalue="v", traceback=["line kept"])]
    nb = nbformat.v4.new_notebook(cells=[cell, plain])
    nb, _ = HideHiddenTests().preprocess(nb, {})
    assert "secret_check" not in nb.cells[0].source and PLACEHOLDER in nb.cells[0].source
    assert nb.cells[0].source.endswith("after = 1")
    assert nb.cells[0].outputs[0]["traceback"] == ["NameError: name 'x' is not defined"]
    assert nb.cells[1].outputs[0]["traceback"] == ["line kept"]


# ----------------------------------------------------------------------------------- submission bank


def _scores(submission: bank.Submission) -> tuple[dict[str, float], dict[str, float]]:
    """Score a bank submission with the solution notebook's own test cells; returns (scores, points)."""
    solution = bank.read(bank.ROOT / "solutions" / submission.assignment / f"{submission.assignment}.ipynb")
    points = bank.test_points(solution)
    namespace = bank.namespace_for(submission)
    scores = {}
    for cell in solution.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in points:
            *statements, expression = [line for line in cell.source.splitlines() if line and not line.startswith("#")]
            exec("\n".join(statements), namespace)
            scores[grade_id] = float(eval(expression, namespace))
    return scores, points


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_answers_score_full_marks(assignment, capfd):
    submission = bank.Submission(assignment, "solution", {}, "nothing")
    scores, points = _scores(submission)
    assert scores == points
    assert capfd.readouterr().err == ""  # nbgrader would score a cell that writes to stderr 0


@pytest.mark.parametrize(
    "assignment,name", [(a, n) for a in ASSIGNMENTS for n in bank.names(a)], ids=lambda v: v
)
def test_bank_submission_loses_exactly_the_expected_points(assignment, name, capfd):
    submission = bank.load(assignment, name)
    scores, points = _scores(submission)
    lost = {grade_id for grade_id, score in scores.items() if score < points[grade_id]}
    assert lost == bank.expected_loss(submission, points), scores
    if submission.expect_lost == "everything":
        assert sum(scores.values()) == 0
    assert capfd.readouterr().err == ""
