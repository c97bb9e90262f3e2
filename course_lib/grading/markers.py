"""nbgrader's hidden-test markers, written once for the grader, the feedback filter and the class report.

A test cell's lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are left out of the
release (nbgrader's ``ClearHiddenTests``, whose default delimiters these are, matched anywhere in a line)
and restored when autograding; the grader marks such cells hidden, ``feedback.HideHiddenTests`` cuts the
region from the feedback, and the report counts them.
"""

from __future__ import annotations

HIDDEN_BEGIN = "BEGIN HIDDEN TESTS"
HIDDEN_END = "END HIDDEN TESTS"


def has_hidden_tests(source: str) -> bool:
    """Whether a test cell's source holds a hidden region (as nbgrader finds it: the marker anywhere in a line)."""
    return HIDDEN_BEGIN in source
