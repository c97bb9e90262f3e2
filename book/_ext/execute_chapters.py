"""Execute the book's chapters into its jupyter-cache, several at a time, before `jupyter-book build`.

Jupyter Book executes the notebooks of a build one after another. This step runs them in a pool of
worker processes (two by default: one per core of a small machine) into the same cache
(`_build/.jupyter_cache`), with the timeout and error policy of `_config.yml`, so the build that
follows finds every notebook cached and executes nothing. `make book` and the tests
(tests/test_notebooks.py, tests/test_book.py) both call it, so a chapter runs once per change.

A notebook is executed again when its code cells change (jupyter-cache's own rule) and also when
the code it runs changes: each cached execution is tied to a fingerprint of `course_lib` (grading
aside: no chapter imports it), `book/results/` and `requirements.txt`, noted beside the cache
(`course-executions.json`), and one made under another fingerprint is removed and run again.
Without that, a chapter broken by a library change would still pass from its old outputs.

    python book/_ext/execute_chapters.py [--cache _build/.jupyter_cache] [--workers 2] [NOTEBOOK ...]

The longest chapters start first, which keeps both workers busy until the end: the times of their last
run, else (a fresh clone) the typical times in `chapter_seconds.json` beside this file, measured on 2
cores; they set only the order, never what runs. Chapters in neither go last, the table of contents read
backwards (the training chapters come late in it).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import logging
import multiprocessing
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from filelock import FileLock

if TYPE_CHECKING:
    from jupyter_cache.executors.basic import ProcessData

REPO = Path(__file__).resolve().parents[2]
STATE_FILE = "course-executions.json"
TYPICAL_SECONDS = Path(__file__).with_name("chapter_seconds.json")
# Left out of the fingerprint: no chapter imports it, and it changes often.
NOT_FINGERPRINTED = ("course_lib/grading",)


@dataclass(frozen=True)
class Outcome:
    """How one notebook fared: "cached" (already up to date), "executed", "failed" (a cell raised,
    or the run timed out) or "error" (jupyter-cache could not run or store it)."""

    path: Path
    status: str
    seconds: float | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in {"cached", "executed"}


def toc_notebooks(source: Path = REPO) -> list[Path]:
    """The notebooks `_toc.yml` lists, in its order (the pages jupyter-book executes)."""
    data = yaml.safe_load((source / "_toc.yml").read_text())
    files: list[str] = [data["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key, value in node.items():
                if key != "root":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    return [source / f"{name}.ipynb" for name in files if (source / f"{name}.ipynb").is_file()]


def execute_config(source: Path = REPO) -> dict:
    """The `execute:` section of `_config.yml` (timeout, allow_errors, run_in_temp), one source of truth."""
    return yaml.safe_load((source / "_config.yml").read_text()).get("execute", {}) or {}


def _library_dir() -> Path:
    """The folder of the course_lib the kernels import (found without importing it, which loads torch)."""
    spec = importlib.util.find_spec("course_lib")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("course_lib is not installed next to this Python: run `make setup` first")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def fingerprint(source: Path = REPO) -> str:
    """A hash of every file the chapters' outputs depend on besides their code cells: the course_lib the
    kernels import (grading aside), the book's stored results and the pins."""
    library = _library_dir()
    roots = [(library, library.parent), (source / "book" / "results", source),
             (REPO / "requirements.txt", REPO)]
    digest = hashlib.sha256()
    for root, base in roots:
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            relative = path.relative_to(base).as_posix()
            if (not path.is_file() or "__pycache__" in path.parts
                    or any(relative.startswith(skip + "/") for skip in NOT_FINGERPRINTED)):
                continue
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _load_state(cache_dir: Path) -> dict:
    """The step's own notes beside the cache: the fingerprint each cached execution was made under
    (by jupyter-cache hash key) and each notebook's last execution time (to start the longest first)."""
    try:
        state = json.loads((cache_dir / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"fingerprints": {}, "seconds": {}, "executed": {}}
    return {"fingerprints": dict(state.get("fingerprints", {})), "seconds": dict(state.get("seconds", {})),
            "executed": dict(state.get("executed", {})), "clean": state.get("clean")}


def _run(data: ProcessData) -> tuple[int, str, float]:
    """Pool task: execute one project notebook into the cache; (status code, uri, wall seconds)."""
    from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc

    start = time.monotonic()
    code, uri = ExecutionWorkerLocalMProc()(data)
    return code, uri, time.monotonic() - start


def execute_into_cache(notebooks: list[Path], cache_dir: Path, *, workers: int = 2, source: Path = REPO,
                       log=print) -> list[Outcome]:
    """Bring every notebook in `notebooks` up to date in the jupyter-cache at `cache_dir`; one outcome each.

    A notebook is up to date when the cache holds an execution of its current code cells made under
    the current fingerprint; an execution made under another one is removed (so a build cannot show
    it) and the notebook runs again. The rest run in `workers` processes, longest first, each in its
    own folder (as `run_in_temp: false` asks), with `_config.yml`'s timeout and allow_errors. One
    caller at a time per cache (a lock beside it), so `make book` and test runs can share it.
    """
    config = execute_config(source)
    if config.get("run_in_temp"):
        raise ValueError("_config.yml sets execute.run_in_temp: this step runs chapters in their own folder; "
                         "set run_in_temp: false or let jupyter-book execute them")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir.parent / f".{cache_dir.name}.lock")):
        return _execute_locked(notebooks, cache_dir, config, workers, source, log)


def _execute_locked(notebooks: list[Path], cache_dir: Path, config: dict, workers: int, source: Path,
                    log) -> list[Outcome]:
    state, wanted = _load_state(cache_dir), fingerprint(source)
    clean = _clean_key(notebooks, wanted)
    if state.get("clean") == clean:  # the last call left every one of these up to date: skip jupyter-cache
        log(f"execute: all {len(notebooks)} notebooks are cached for the current code ({cache_dir})")
        return [Outcome(path, "cached", state["seconds"].get(str(path.resolve()))) for path in notebooks]
    # imported here: nbformat and SQLAlchemy take seconds, which a rebuild with nothing to run skips
    from jupyter_cache import get_cache
    from jupyter_cache.cache.db import NbProjectRecord
    from jupyter_cache.executors.basic import ProcessData

    cache = get_cache(str(cache_dir))
    state.pop("clean", None)
    records = {str(path.resolve()): cache.add_nb_to_project(str(path.resolve())) for path in notebooks}
    outcomes: dict[str, Outcome] = {}
    stale: list[str] = []
    for uri in records:
        cached = cache.get_cached_project_nb(uri)
        if cached is not None and state["fingerprints"].get(cached.hashkey) == wanted:
            outcomes[uri] = Outcome(Path(uri), "cached", state["seconds"].get(uri))
            continue
        if cached is not None:  # made from other library code, data or pins: never let a build show it
            state["fingerprints"].pop(cached.hashkey, None)
            cache.remove_cache(cached.pk)
        stale.append(uri)
    if not stale:
        log(f"execute: all {len(records)} notebooks are cached for the current code ({cache_dir})")
    else:
        order = execution_order(stale, list(records), state["seconds"], typical_seconds(source))
        timeout, allow_errors = config.get("timeout", 30), bool(config.get("allow_errors", False))
        tasks = [ProcessData(records[uri].pk, uri, cache, timeout, allow_errors) for uri in order]
        NbProjectRecord.remove_tracebacks([records[uri].pk for uri in order], cache.db)
        log(f"execute: {len(order)} of {len(records)} notebooks into {cache_dir}, {workers} at a time")
        start = time.monotonic()
        # fork would copy this process's threads and locks; spawn starts each worker clean
        with multiprocessing.get_context("spawn").Pool(processes=max(1, min(workers, len(order)))) as pool:
            for code, uri, seconds in pool.imap_unordered(_run, tasks):
                status = {0: "executed", 1: "failed"}.get(code, "error")
                traceback = cache.get_project_record(uri).traceback if code else None
                outcomes[uri] = Outcome(Path(uri), status, seconds, traceback)
                state["seconds"][uri] = round(seconds, 1)
                state["executed"][uri] = time.strftime("%Y-%m-%d %H:%M")
                cached = cache.get_cached_project_nb(uri) if code == 0 else None
                if cached is not None:
                    state["fingerprints"][cached.hashkey] = wanted
                (cache_dir / STATE_FILE).write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
                log(f"  {seconds:7.1f} s  {status:8s}  {_name(Path(uri), source)}")
        log(f"execute: done in {time.monotonic() - start:.1f} s")
    if all(outcome.ok for outcome in outcomes.values()):
        state["clean"] = clean
    (cache_dir / STATE_FILE).write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    return [outcomes[str(path.resolve())] for path in notebooks]


def typical_seconds(source: Path = REPO) -> dict[str, float]:
    """{notebook uri: typical seconds} from chapter_seconds.json (paths relative to `source`); {} if absent."""
    try:
        table = json.loads(TYPICAL_SECONDS.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {str((source / name).resolve()): float(seconds) for name, seconds in table.get("seconds", {}).items()}


def execution_order(stale: list[str], toc: list[str], last: dict[str, float],
                    typical: dict[str, float]) -> list[str]:
    """Longest first: each notebook's last time, else its typical time; unknown ones last, in reverse
    table-of-contents order."""
    def key(uri: str) -> tuple[float, int]:
        return -last.get(uri, typical.get(uri, 0.0)), -toc.index(uri)
    return sorted(stale, key=key)


def _clean_key(notebooks: list[Path], wanted: str) -> str:
    """A hash of the notebooks' bytes, their paths and the fingerprint: equal means nothing to run."""
    digest = hashlib.sha256(wanted.encode())
    for path in notebooks:
        digest.update(str(path.resolve()).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _name(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to execute (default: those _toc.yml lists)")
    parser.add_argument("--cache", type=Path, default=REPO / "_build" / ".jupyter_cache",
                        help="the jupyter-cache folder (default: _build/.jupyter_cache, where jupyter-book looks)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BOOK_WORKERS", "2")),
                        help="notebooks executed at once (default: $BOOK_WORKERS, else 2)")
    args = parser.parse_args(argv)
    logging.getLogger("jupyter_cache").setLevel(logging.WARNING)
    outcomes = execute_into_cache(args.notebooks or toc_notebooks(), args.cache.resolve(), workers=args.workers)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    for outcome in failed:  # the failing cell and its error are printed above, as the worker saw them
        last = re.sub(r"\x1b\[[0-9;]*m", "", outcome.traceback or "(no traceback)").strip().splitlines()[-1]
        print(f"execute: {_name(outcome.path, REPO)} {outcome.status}: {last}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
