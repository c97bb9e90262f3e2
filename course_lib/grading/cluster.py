"""Hand notebook execution to Dask distributed workers (`--scheduler tcp://HOST:PORT` or `--local-cluster`).

Each worker thread keeps its own warm sandbox (`sandbox.Sandbox`) and runs the cells there; the results
come back to the grading process, which alone writes the gradebook (SQLite or a shared PostgreSQL).
"""

from __future__ import annotations

import atexit
import threading

from .sandbox import JobResult, Limits, Sandbox

_local = threading.local()
_all: list[Sandbox] = []


def _worker_sandbox(hide: list[str]) -> Sandbox:
    sandbox = getattr(_local, "sandbox", None)
    if sandbox is None or sandbox.hide != hide:
        if sandbox is not None:
            sandbox.close()
        sandbox = _local.sandbox = Sandbox(hide=list(hide)).start()
        _all.append(sandbox)
    return sandbox


@atexit.register
def _close_all() -> None:
    for sandbox in _all:
        sandbox.close()


def run_on_worker(cells: list[str], files: dict[str, bytes], limits: dict, hide: list[str],
                  requests: dict | None = None) -> dict:
    """The Dask task: run one notebook's cells in this worker thread's sandbox, then answer the requests."""
    return _worker_sandbox(hide).run(cells, files, Limits(**limits), requests).to_dict()


class DaskBackend:
    """Runs each submission's cells as one Dask task; `slots` is the number of worker threads."""

    def __init__(self, limits: Limits, hide: list[str], scheduler: str | None = None, jobs: int | None = None,
                 local_workers: int = 2) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            self.client = Client(scheduler, timeout=30)
            where = scheduler
        else:
            self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self.client = Client(self._cluster)
            where = "a local cluster"
        self.client.wait_for_workers(1, timeout=60)
        threads = sum(self.client.nthreads().values())
        self.slots = jobs or threads
        self.limits, self.hide = limits, hide
        self.description = (f"Dask at {where} ({len(self.client.nthreads())} workers, {threads} threads; "
                            "isolation set up on each worker)")

    def run(self, cells: list[str], files: dict[str, bytes], requests: dict | None = None) -> JobResult:
        future = self.client.submit(run_on_worker, cells, files, self.limits.__dict__, self.hide, requests,
                                    pure=False)
        return JobResult.from_dict(future.result())

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
