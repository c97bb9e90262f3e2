"""`make test`'s grouping is in effect: under `pytest -n 2 --dist loadgroup` every test carries its xdist
group in its id, so one worker runs a whole group and a file's costly module fixtures are built once.

pytest 9.2 silently broke this with pytest-xdist 3.8 (the group went nowhere and both workers built the
book, the graded classes and the nbgrader courses); these tests fail if grouping is lost again.
"""

from __future__ import annotations

import pytest


def grouped_run(request: pytest.FixtureRequest) -> None:
    """Skip, saying why, unless this run is distributed with --dist loadgroup."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run under pytest-xdist's --dist loadgroup (make test uses it): no groups to check")


def test_a_test_without_a_group_runs_with_its_file(request: pytest.FixtureRequest) -> None:
    grouped_run(request)
    assert request.node.nodeid.endswith("@tests/test_xdist_groups.py"), request.node.nodeid


@pytest.mark.xdist_group("a-named-group")
def test_a_named_group_is_kept(request: pytest.FixtureRequest) -> None:
    grouped_run(request)
    assert request.node.nodeid.endswith("@a-named-group"), request.node.nodeid
