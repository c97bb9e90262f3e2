"""Dask without open doors: the scheduler admits only holders of the course's certificates, grading works over TLS.

Certificates come from the real `python -m course_lib.grading certs DIR`; the cluster is distributed's own
(scheduler and worker processes on loopback); the grading is the course grader's CLI on the real
`conv_basics` assignment.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
from pathlib import Path

import distributed  # pinned, as is cryptography (which the certs command uses): imported, never skipped
import pytest

from course_lib.grading.autograde.certs import CertPaths, security
from test_grading_isolation import REPO, grade, hand_in, linux_root, make_real_course, scores


def make_certs(folder: Path) -> CertPaths:
    run = subprocess.run([sys.executable, "-m", "course_lib.grading", "certs", str(folder)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "dask worker tls://" in run.stdout
    return CertPaths(folder)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> CertPaths:
    return make_certs(tmp_path_factory.mktemp("tls") / "certs")


@pytest.fixture(scope="module")
def tls_cluster(certs: CertPaths):
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                       host="127.0.0.1", security=security(certs))
    try:
        yield cluster
    finally:
        cluster.close()


def try_to_join(address: str, sec=None) -> str:
    """Start a worker against `address` with `sec` (None: no certificates); 'joined' or why it could not."""
    async def attempt() -> str:
        try:
            worker = await asyncio.wait_for(
                distributed.Worker(address, nthreads=1, death_timeout=3, **({"security": sec} if sec else {})), 20)
        except Exception as exc:  # noqa: BLE001 - any failure to join is the outcome under test
            return f"refused ({type(exc).__name__})"
        await worker.close()
        return "joined"
    # in a thread of its own: this test process may already run an event loop (the browser tests' one)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, attempt()).result()


def test_certs_refuses_to_overwrite_a_ca(certs: CertPaths) -> None:
    again = subprocess.run([sys.executable, "-m", "course_lib.grading", "certs", str(certs.folder)], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--force" in again.stderr
    assert oct(certs.key("worker").stat().st_mode & 0o777) == "0o600"


def test_a_worker_without_the_certificate_cannot_join(tls_cluster, certs: CertPaths, tmp_path: Path) -> None:
    address = tls_cluster.scheduler_address
    assert address.startswith("tls://")
    stranger = security(make_certs(tmp_path / "other"))  # certificates of another CA

    assert try_to_join(address).startswith("refused")
    assert try_to_join(address, stranger).startswith("refused")
    assert try_to_join(address.replace("tls://", "tcp://")).startswith("refused")
    with pytest.raises((OSError, TimeoutError)):
        distributed.Client(address, security=stranger, timeout=5)
    assert try_to_join(address, security(certs)) == "joined"  # the same attempt with the course's certificate
    with distributed.Client(address, security=security(certs)) as client:
        assert len(client.nthreads()) == 1  # nobody else got in


def test_local_cluster_uses_tls_by_default() -> None:
    from course_lib.grading.autograde.cluster import DaskBackend
    from course_lib.grading.autograde.sandbox import Limits

    backend = DaskBackend(Limits(), [], local_workers=1)
    try:
        assert backend._cluster.scheduler_address.startswith("tls://")
        assert "temporary certificates" in backend.description
        assert try_to_join(backend._cluster.scheduler_address).startswith("refused")
    finally:
        backend.close()


@linux_root
def test_grading_over_tls_and_plain_tcp_refused(tls_cluster, certs: CertPaths, tmp_path: Path) -> None:
    course = make_real_course(tmp_path / "course")
    hand_in(course, "honest")
    address = tls_cluster.scheduler_address

    plain = grade(course, "--scheduler", address.replace("tls://", "tcp://"))
    assert plain.returncode == 2 and "not a tls:// address" in plain.stderr, plain.stdout + plain.stderr
    no_certs = grade(course, "--scheduler", address, env={"DASK_CONFIG": str(tmp_path / "empty")})
    assert no_certs.returncode == 2 and "no TLS certificates" in no_certs.stderr, no_certs.stdout + no_certs.stderr

    result = grade(course, "--scheduler", address, env={"DASK_CONFIG": str(certs.folder)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Dask at {address}" in result.stdout
    assert scores(course)["honest"][0] == scores(course)["honest"][1] > 0
