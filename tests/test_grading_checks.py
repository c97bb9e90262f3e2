"""course_lib.grading on its own (no nbgrader): scoring, the reuse guard, module evidence and the pairing of
layers by role, the feedback preprocessor, and every submission in tests/submissions scored by the checks
directly (as in the student's notebook) and through the evidence channel (as the class grader scores it)."""

from __future__ import annotations

import inspect
import warnings

import nbformat
import pytest
import torch
from torch import nn

from course_lib.grading import checks, modules
from course_lib.grading.autograde.feedback import PLACEHOLDER, HideHiddenTests
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


def test_one_closeness_rule_relative_for_large_values_absolute_near_zero():
    """``checks.close`` and the module checks' ``relative_error`` are one rule: error over 1 + max |expected|."""
    assert modules.relative_error is checks.relative_error
    large = torch.full((3,), 1000.0)
    assert checks.close(large + 0.05, large)[0]                  # 5e-5 of the size: within 1e-4
    assert not checks.close(large + 0.2, large)[0]
    zeros = torch.zeros(3)
    assert checks.close(zeros + 5e-5, zeros)[0]                  # near zero the difference itself counts
    assert not checks.close(zeros + 5e-4, zeros)[0]
    assert checks.relative_error(zeros + 5e-5, zeros) == pytest.approx(5e-5)
    assert checks.relative_error(torch.tensor([float("nan")]), torch.zeros(1)) == float("inf")
    assert checks.relative_error(torch.zeros(2), torch.zeros(3)) == float("inf")
    assert checks.close(large + 0.2, large) == (False, "values differ by up to 0.2")


def test_check_function_runs_the_body_unless_the_target_is_reuse(capsys):
    ran = []

    @checks.check_function("doubling", points=2)
    def doubling(fn, report):
        ran.append(fn)
        report.check("fn(2) == 4", lambda: (fn(2) == 4, "expected 4"))

    assert doubling(lambda x: 2 * x) == 2.0 and doubling(lambda x: x, points=3) == 0.0
    assert "doubling" in capsys.readouterr().out
    from course_lib.models import resnet

    assert doubling(resnet.ResBlk) == 0.0 and len(ran) == 2  # the reference class: blocked, the body never ran
    assert str(inspect.signature(doubling)) == "(fn, /, points: float = 2) -> float"


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


# ------------------------------------------------------------------------- module evidence and pairing


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


def _inputs():
    return [torch.randn(3, 4, 6, 6, generator=checks.generator(1)), torch.randn(2, 4, 5, 5, generator=checks.generator(2))]


def test_pairing_follows_function_not_order_or_names():
    x = _inputs()
    ev = modules.module_evidence(_Reordered, (4,), x, seed=7)
    match = modules.match_reference(ev, lambda: _plain(4), x, seed=7)
    assert match is not None and len(match.pairing) == 4
    assert modules.worst_error(ev, match.evidence) < 1e-5
    # the student's biases were carried into the reference: same function, not zeroed
    assert all(m.bias is not None for m in match.model if isinstance(m, nn.Conv2d))


def test_a_different_function_or_missing_layers_do_not_match():
    x = _inputs()
    wrong = lambda: nn.Sequential(*[nn.Sigmoid() if isinstance(m, nn.ReLU) else m for m in _plain(4)])  # noqa: E731
    ev = modules.module_evidence(wrong, (), x, seed=3)
    match = modules.match_reference(ev, lambda: _plain(4), x, seed=3)
    assert match is not None and modules.worst_error(ev, match.evidence) > 1e-2
    no_norm = lambda: nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))  # noqa: E731
    ev = modules.module_evidence(no_norm, (), x, seed=3)
    assert modules.match_reference(ev, lambda: _plain(4), x, seed=3) is None


def test_weights_come_from_the_seed_not_from_the_student():
    x = _inputs()
    first = modules.module_evidence(_Reordered, (4,), x, seed=1)
    again = modules.module_evidence(_Reordered, (4,), x, seed=1)
    other = modules.module_evidence(_Reordered, (4,), x, seed=2)
    assert torch.equal(first["eval"][0], again["eval"][0])
    assert not torch.allclose(first["eval"][0], other["eval"][0])


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


def _scores_through_the_channel(submission: bank.Submission, salt: int) -> dict[str, float]:
    """Score as the class grader does, minus the sandbox: record requests, answer them in the submission's
    namespace through the wire format, replay the answers to the checks."""
    from course_lib.grading.autograde import static, verdicts
    from course_lib.grading.autograde.execute import is_test_cell
    from course_lib.grading.sandboxed import channel, evidence

    solution = bank.read(bank.ROOT / "solutions" / submission.assignment / f"{submission.assignment}.ipynb")
    calls = [verdicts.parse_test_cell(c.source, c.metadata["nbgrader"]["grade_id"], c.metadata["nbgrader"]["points"])
             for c in solution.cells if is_test_cell(c)]
    answers = [(c.metadata["nbgrader"]["grade_id"],
                submission.answers.get(c.metadata["nbgrader"]["grade_id"], bank.SOLUTION_MARKERS.sub("", c.source)))
               for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")]
    plan = verdicts.plan(calls, lambda name: static.names_used(name, answers), salt)
    requests = channel.decode(channel.encode(plan.requests, evidence.tensor_to_array))
    answers = evidence.answer(bank.namespace_for(submission), requests, seconds=30)
    decoded = channel.decode(channel.encode(answers, evidence.tensor_to_array))
    return {v.call.grade_id: v.score for v in verdicts.decide(plan, decoded)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_evidence_channel_scores_every_bank_submission_as_the_checks_do(assignment, capfd):
    """Same scores in-process and through record/replay, for fresh salts: nothing depends on the inputs."""
    for name in ["solution", *bank.names(assignment)]:
        submission = (bank.Submission(assignment, name, {}, "nothing") if name == "solution"
                      else bank.load(assignment, name))
        if submission.expect_lost == "everything":
            continue  # the reuse guard of the student's notebook; the class grader flags these statically
        points = bank.test_points(bank.read(bank.ROOT / "solutions" / assignment / f"{assignment}.ipynb"))
        scores = _scores_through_the_channel(submission, salt=12345 + len(name))
        lost = {grade_id for grade_id, score in scores.items() if score < points[grade_id]}
        assert lost == bank.expected_loss(submission, points), (name, scores)
