"""The class autograder handing notebooks to a Dask scheduler with two workers over TLS, PostgreSQL gradebook shared."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_lib.grading.autograde.certs import security
from helpers.democourse import CORRECT, WRONG, add_submission, make_course
from test_grading_postgres import pg_scores, postgres_url  # noqa: F401 - the fixture is used by name
from test_grading_runner import run_autograde
from test_grading_tls import make_certs


@pytest.fixture
def certs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    paths = make_certs(tmp_path / "certs")
    monkeypatch.setenv("DASK_CONFIG", str(paths.folder))  # the grader reads its certificates from dask's config
    return paths


@pytest.fixture
def scheduler(certs):
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1", security=security(certs))
    try:
        yield cluster
    finally:
        cluster.close()


def test_two_dask_workers_grade_into_shared_postgresql(scheduler, certs, postgres_url: str, tmp_path: Path) -> None:
    course = make_course(tmp_path / "course", db_url=postgres_url)
    expected = {}
    for i in range(6):
        add_submission(course, f"s{i}", CORRECT if i % 2 else WRONG)
        expected[f"s{i}"] = 5.0 if i % 2 else 1.0

    result = run_autograde(course, "--scheduler", scheduler.scheduler_address)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 workers" in result.stdout
    assert pg_scores(postgres_url) == expected
    import distributed

    assert scheduler.scheduler_address.startswith("tls://")
    with distributed.Client(scheduler.scheduler_address, security=security(certs)) as client:
        done = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
    assert len(done) == 2 and all(n > 0 for n in done.values()), done  # both workers took a share
