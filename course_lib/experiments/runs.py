"""One stored file per finished (arm, seed): what lets an experiment of several hours be completed over
several sessions.

``python -m course_lib.experiments NAME --scale S`` opens a `RunStore` at ``book/results/runs/NAME-S/``
before it calls the experiment's ``run``; `_training.run_arm` asks the active store for every (arm, seed)
before training it and writes the record the moment the seed finishes (atomically: a run killed half way
leaves no file, only the runs before it). The combined results file is then rebuilt from these records.

Each record carries its own provenance: the commit it ran at, device, torch version, threads, wall and CPU
seconds, and the machine's load average when it started (a run started on a busy machine has slow seconds,
so timings are compared through CPU seconds or a separate throughput measurement, never through these).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from course_lib.experiments import store

_ACTIVE: "RunStore | None" = None  # inherited by forked worker processes (COURSE_EXPERIMENT_JOBS)


def slug(arm: str) -> str:
    """A file-name form of an arm name: 'no BN, He-init head, lr 0.05' -> 'no-BN-He-init-head-lr-0.05'."""
    return re.sub(r"[^A-Za-z0-9.+=]+", "-", arm).strip("-") or "arm"


def default_dir(name: str, scale: str, out: str | Path | None = None) -> Path:
    """book/results/runs/NAME-SCALE/, or runs/NAME-SCALE/ beside a results file given with --out."""
    base = Path(out).parent if out else store.RESULTS_DIR
    return base / "runs" / f"{name}-{scale}"


def _per_run(settings: dict[str, Any]) -> dict[str, Any]:
    """What one run depends on: the settings without the list of seeds (adding seeds keeps the runs made)."""
    return {key: value for key, value in settings.items() if key != "seeds"}


class RunStore:
    """The per-run files of one experiment at one scale."""

    def __init__(self, directory: str | Path, commit: str | None = None, settings: dict[str, Any] | None = None):
        self.directory = Path(directory)
        self.settings = json.loads(json.dumps(settings, default=str)) if settings is not None else None
        self.commit = commit or store.current_commit()
        self.loaded: list[str] = []
        self.trained: list[str] = []
        self._at_open = self._stored_names()

    def _stored_names(self) -> set[str]:
        return {p.name for p in self.directory.glob("*.json")} if self.directory.is_dir() else set()

    def counts(self) -> tuple[int, int]:
        """(runs stored before this store was opened, runs written since), read from the folder, so that runs
        trained in worker processes (COURSE_EXPERIMENT_JOBS) count too."""
        return len(self._at_open), len(self._stored_names() - self._at_open)

    def path(self, arm: str, seed: int) -> Path:
        return self.directory / f"{slug(arm)}--seed{seed}.json"

    def get(self, arm: str, seed: int) -> dict[str, Any] | None:
        """The stored record of (arm, seed), or None when it has not run yet."""
        path = self.path(arm, seed)
        if not path.is_file():
            return None
        payload = json.loads(path.read_text())
        if payload.get("arm") != arm or payload.get("record", {}).get("seed") != seed:
            raise ValueError(f"{path} holds {payload.get('arm')!r} seed {payload.get('record', {}).get('seed')}, "
                             f"not {arm!r} seed {seed}: two arm names map to one file; rename an arm")
        stored = payload.get("settings")
        if self.settings is not None and stored is not None and _per_run(stored) != _per_run(self.settings):
            raise ValueError(f"{path} was trained with other settings ({stored}) than this run ({self.settings}); "
                             f"use another --runs-dir, or delete the folder to start over")
        self.loaded.append(path.name)
        return payload["record"]

    def put(self, arm: str, seed: int, record: dict[str, Any]) -> Path:
        """Write one finished run atomically (a temporary file renamed into place)."""
        path = self.path(arm, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
        partial.write_text(json.dumps({"arm": arm, "settings": self.settings, "record": record}, indent=1) + "\n")
        os.replace(partial, path)
        self.trained.append(path.name)
        return path


def import_combined(stored: dict[str, Any], run_store: RunStore, source: str) -> int:
    """Seed `run_store` with the runs of a combined results file made before runs were stored one by one, so
    the runner trains only what that file lacks (e.g. an arm added since). Each imported run gets the file's
    provenance, marked as imported; what the file never measured (CPU seconds, load) is None, not guessed.
    Returns the number of runs written; runs already in the store are left alone."""
    prov = stored["provenance"]
    written = 0
    for arm, records in stored["results"].get("arms", {}).items():
        for record in records:
            if run_store.path(arm, record["seed"]).is_file():
                continue
            run_prov = {"commit": prov["commit"], "device": prov["device"], "torch": prov["torch"],
                        "threads": None, "started": prov["started"], "wall_seconds": record.get("seconds"),
                        "cpu_seconds": None, "load_average_at_start": None,
                        "imported_from": f"{source} (command {prov['command']!r}, started {prov['started']})"}
            run_store.put(arm, record["seed"], {**record, "provenance": run_prov})
            written += 1
    run_store.trained.clear()
    run_store._at_open = run_store._stored_names()  # imported runs count as stored already, not as trained
    return written


def active() -> RunStore | None:
    return _ACTIVE


@contextmanager
def storing(run_store: RunStore | None) -> Iterator[RunStore | None]:
    """Make `run_store` the one `run_arm` reads and writes while the block runs (None: store nothing)."""
    global _ACTIVE
    previous, _ACTIVE = _ACTIVE, run_store
    try:
        yield run_store
    finally:
        _ACTIVE = previous


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all its threads: the cost of a run, whatever the load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Measures one run: wall and CPU seconds, and the machine as it was when the run started."""

    def __init__(self, commit: str | None = None):
        self.commit = commit
        self.started = time.time()
        self.load_at_start = [round(v, 2) for v in os.getloadavg()]
        self._wall, self._cpu = time.perf_counter(), _cpu_seconds()

    def provenance(self) -> dict[str, Any]:
        return {
            "commit": self.commit or store.current_commit(),
            "device": store.device(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "started": _dt.datetime.fromtimestamp(self.started, _dt.timezone.utc).isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - self._wall, 2),
            "cpu_seconds": round(_cpu_seconds() - self._cpu, 2),
            "load_average_at_start": self.load_at_start,
        }
