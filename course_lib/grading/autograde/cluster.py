"""Hand notebook execution to Dask distributed workers (`--scheduler tls://HOST:PORT` or `--local-cluster`).

Each worker thread keeps its own warm sandbox (`sandbox.Sandbox`) and runs the cells there; the results
come back to the grading process, which alone writes the gradebook (SQLite or a shared PostgreSQL).

Every connection is TLS with certificates (mutual: the scheduler admits only workers and clients whose
certificate the course's CA signed). `--local-cluster` makes temporary certificates for its run; for
`--scheduler` the grader takes them from dask's configuration (`export DASK_CONFIG=DIR` after
`python -m course_lib.grading certs DIR`). Plain `tcp://` lets anyone who reaches the port join as a
worker (and read submissions) or submit code: it is refused unless `--unsafe`.
"""

from __future__ import annotations

import atexit
import threading

from .sandbox import IsolationError, JobResult, Limits, Sandbox

_local = threading.local()
_all: list[Sandbox] = []
DASK_STEP = "dask tls"


def _worker_sandbox(hide: list[str], unsafe: bool) -> Sandbox:
    sandbox = getattr(_local, "sandbox", None)
    if sandbox is None or sandbox.hide != hide or sandbox.unsafe != unsafe:
        if sandbox is not None:
            sandbox.close()
        sandbox = _local.sandbox = Sandbox(hide=list(hide), unsafe=unsafe).start()
        _all.append(sandbox)
    return sandbox


@atexit.register
def _close_all() -> None:
    for sandbox in _all:
        sandbox.close()


def run_on_worker(cells: list[str], files: dict[str, bytes], limits: dict, hide: list[str],
                  requests: dict | None = None, unsafe: bool = False) -> dict:
    """The Dask task: run one notebook's cells in this worker thread's sandbox, then answer the requests."""
    return _worker_sandbox(hide, unsafe).run(cells, files, Limits(**limits), requests).to_dict()


def client_security(scheduler: str, unsafe: bool):
    """The TLS settings for connecting to `scheduler`, from dask's configuration; refuses plain TCP."""
    from distributed.security import Security

    if not scheduler.startswith("tls://"):
        if unsafe:
            return None
        raise IsolationError(DASK_STEP, f"{scheduler} is not a tls:// address: anyone who reaches its port could "
                                           "join as a worker and read submissions, or submit code")
    security = Security()  # dask's configuration: distributed.comm.tls.* (DASK_CONFIG, ~/.config/dask)
    if not (security.tls_ca_file and security.tls_client_cert):
        raise IsolationError(DASK_STEP, "no TLS certificates in dask's configuration for the grader (client)")
    return security


class DaskBackend:
    """Runs each submission's cells as one Dask task; `slots` is the number of worker threads."""

    def __init__(self, limits: Limits, hide: list[str], scheduler: str | None = None, jobs: int | None = None,
                 local_workers: int = 2, unsafe: bool = False) -> None:
        from distributed import Client, LocalCluster
        from distributed.security import Security

        self._cluster = None
        if scheduler:
            security = client_security(scheduler, unsafe)
            self.client = Client(scheduler, timeout=30, **({"security": security} if security else {}))
            where = scheduler + ("" if security else " (UNSAFE: no TLS)")
        else:
            self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, host="127.0.0.1", security=Security.temporary())
            self.client = Client(self._cluster)
            where = f"a local cluster ({self._cluster.scheduler_address}, temporary certificates)"
        self.client.wait_for_workers(1, timeout=60)
        threads = sum(self.client.nthreads().values())
        self.slots = jobs or threads
        self.limits, self.hide, self.unsafe = limits, hide, unsafe
        self.description = (f"Dask at {where} ({len(self.client.nthreads())} workers, {threads} threads; "
                            "isolation set up on each worker" + (", --unsafe" if unsafe else "") + ")")

    def run(self, cells: list[str], files: dict[str, bytes], requests: dict | None = None) -> JobResult:
        future = self.client.submit(run_on_worker, cells, files, self.limits.__dict__, self.hide, requests,
                                    self.unsafe, pure=False)
        return JobResult.from_dict(future.result())

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
