"""What the security tests need from the machine, and what happens when it is missing.

By default a test whose prerequisite is missing (Linux, util-linux's `unshare`, root, libseccomp, the
cgroup memory and pids controllers) is skipped, saying which. With ``COURSE_REQUIRE_SANDBOX=1`` (set by
``.ci/run``) the same test fails instead, so a machine where the sandbox cannot be set up turns the run
red rather than green with skips.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import Callable

import pytest

REQUIRED = os.environ.get("COURSE_REQUIRE_SANDBOX") == "1"


def _seccomp_missing() -> str | None:
    from course_lib.grading.sandboxed import syscalls

    try:
        syscalls.build()
    except OSError as exc:
        return f"the syscall filter cannot be built ({exc}): install libseccomp2 and pyseccomp (make setup)"
    return None


def _cgroups_missing() -> str | None:
    from course_lib.grading.sandboxed import cgroups

    try:
        cgroups.detect()
    except cgroups.CgroupError as exc:
        return f"no cgroup memory and pids controllers here ({exc})"
    return None


def missing(root: bool = False, cgroups: bool = False) -> str | None:
    """Why the sandbox cannot be tested here (None when it can): `root` for the full mode's own uid,
    `cgroups` for the per-job memory and process caps."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux, this is {sys.platform}"
    if shutil.which("unshare") is None:
        return "the sandbox needs util-linux's unshare (apt-get install util-linux)"
    if root and os.geteuid() != 0:
        return "full isolation (a uid per sandbox, namespaces, cgroups) needs root"
    return _seccomp_missing() or (_cgroups_missing() if cgroups else None)


def require(root: bool = False, cgroups: bool = False) -> None:
    """Inside a test or fixture: skip (or fail, under COURSE_REQUIRE_SANDBOX=1) when a prerequisite is missing."""
    reason = missing(root, cgroups)
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"COURSE_REQUIRE_SANDBOX=1, but {reason}", pytrace=False)
    pytest.skip(reason)


def needs(root: bool = False, cgroups: bool = False) -> Callable:
    """Decorator form of `require`: the test is skipped, or under COURSE_REQUIRE_SANDBOX=1 fails, before it runs."""
    reason = missing(root, cgroups)

    def decorate(test: Callable) -> Callable:
        if reason is None:
            return test
        if not REQUIRED:
            return pytest.mark.skip(reason=reason)(test)

        @functools.wraps(test)
        def failing(*args, **kwargs):
            pytest.fail(f"COURSE_REQUIRE_SANDBOX=1, but {reason}", pytrace=False)

        return failing

    return decorate
