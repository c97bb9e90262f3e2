"""The small public API for a course's own check modules (``c.CourseGrader.check_folders``).

A check is a function ``check(target, points=N) -> float`` that builds a :class:`Report`, adds cases and
returns ``report.score()``. The same function runs in the student's notebook (``target`` is their class or
function) and in the class grader, where ``target`` is a stand-in and every call of it, and every module
probe, is carried out in the sandbox: write it only with what is here, and compare with a reference you
build in the check module itself (the trusted side's code, which students cannot change).

- ``Report(title, points)``: ``report.check(name, test)`` with ``test() -> (passed, message)``;
  ``report.block_if_reused(target)`` scores 0 a hand-in that is the course's own class; ``report.score()``.
- ``@check_function(title, points=N)`` over ``body(target, report)``: that preamble written once (the
  Report, the reuse guard, the score), as the course's own check modules use it.
- ``module_cases(report, label, target, args, reference, input_shape)``: three cases for a module
  (output shape, exact parameter count, same function as ``reference()`` with the hand-in's weights).
- ``module_evidence``, ``require``, ``match_reference``, ``worst_error``, ``parameter_count``,
  ``relative_error``: the pieces ``module_cases`` is made of, for checks of your own design.
- ``generator(seed)``, ``salted_seed(seed)``: inputs and weight seeds that change with every grading run.
- ``close(actual, expected)``: a case for a function's returned tensor or number.
"""

from __future__ import annotations

from .assignments.architectures import module_cases, parameter_totals
from .checks import Report, check_function, close, generator, salted_seed
from .modules import match_reference, module_evidence, parameter_count, relative_error, require, worst_error

__all__ = ["Report", "check_function", "close", "generator", "salted_seed", "module_cases", "parameter_totals", "module_evidence",
           "require", "match_reference", "worst_error", "parameter_count", "relative_error"]
