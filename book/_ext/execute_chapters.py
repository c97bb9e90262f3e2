"""Execute the book's chapters into its jupyter-cache, several at a time, before `jupyter-book build`.

Jupyter Book executes the notebooks of a build one after another. This step runs them in a pool of
worker processes (two by default: one per core of a small machine) into the same cache
(`_build/.jupyter_cache`), with the timeout and error policy of `_config.yml`, so the build that
follows finds every notebook cached and executes nothing. `make book` and the tests
(tests/test_notebooks.py, tests/test_book.py) both call it, so a chapter runs once per change.

A notebook is executed again when its code cells change (jupyter-cache's own rule) and also when
the code it runs changes: the cache is tied to a fingerprint of `course_lib` (grading aside: no
chapter imports it), `book/results/` and `requirements.txt`, and a cache made with another
fingerprint is emptied first. Without that, a chapter broken by a library change would still pass
from its old outputs.

    python book/_ext/execute_chapters.py [--cache _build/.jupyter_cache] [--workers 2] [NOTEBOOK ...]

The longest chapters start first (the times of their last run, else the table of contents read
backwards: the training chapters come last), which keeps both workers busy until the end.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.cache.db import NbProjectRecord
from jupyter_cache.executors.basic import ExecutionWorkerLocalMProc, ProcessData

REPO = Path(__file__).resolve().parents[2]
FINGERPRINT_FILE = "course-fingerprint.txt"
# What the chapters' outputs depend on besides their own code cells.
FINGERPRINTED = ("course_lib", "book/results", "requirements.txt")
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


def fingerprint(source: Path = REPO) -> str:
    """A hash of every file the chapters' outputs depend on besides their code cells."""
    digest = hashlib.sha256()
    for name in FINGERPRINTED:
        root = source / name
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            relative = path.relative_to(source).as_posix()
            if (not path.is_file() or "__pycache__" in path.parts
                    or any(relative.startswith(skip + "/") for skip in NOT_FINGERPRINTED)):
                continue
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _last_times(cache_dir: Path) -> dict[str, float]:
    """Seconds of each notebook's last recorded execution (empty without a cache)."""
    if not (cache_dir / "global.db").is_file():
        return {}
    times: dict[str, float] = {}
    for record in sorted(get_cache(str(cache_dir)).list_cache_records(), key=lambda r: r.created):
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            times[record.uri] = float(seconds)
    return times


def _run(data: ProcessData) -> tuple[int, str, float]:
    """Pool task: execute one project notebook into the cache; (status code, uri, wall seconds)."""
    start = time.monotonic()
    code, uri = ExecutionWorkerLocalMProc()(data)
    return code, uri, time.monotonic() - start


def execute_into_cache(notebooks: list[Path], cache_dir: Path, *, workers: int = 2, source: Path = REPO,
                       log=print) -> list[Outcome]:
    """Bring every notebook in `notebooks` up to date in the jupyter-cache at `cache_dir`; one outcome each.

    Up-to-date notebooks are not run again. The rest run in `workers` processes, longest first, each
    in its own folder (as `run_in_temp: false` asks), with `_config.yml`'s timeout and allow_errors.
    """
    config = execute_config(source)
    if config.get("run_in_temp"):
        raise ValueError("_config.yml sets execute.run_in_temp: this step runs chapters in their own folder; "
                         "set run_in_temp: false or let jupyter-book execute them")
    cache_dir.mkdir(parents=True, exist_ok=True)
    stamp, wanted = cache_dir / FINGERPRINT_FILE, fingerprint(source)
    times = _last_times(cache_dir)
    if (stamp.read_text().strip() != wanted) if stamp.is_file() else bool(times):
        log(f"execute: course_lib, book/results or the pins changed since {cache_dir} was filled: "
            "emptying it so every chapter runs against the current code")
        get_cache(str(cache_dir)).clear_cache()
        cache_dir.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_dir))
    stamp.write_text(wanted + "\n")
    records = {str(path.resolve()): cache.add_nb_to_project(str(path.resolve())) for path in notebooks}
    stale = {record.uri for record in cache.list_unexecuted(filter_pks=[r.pk for r in records.values()])}
    outcomes: dict[str, Outcome] = {uri: Outcome(Path(uri), "cached") for uri in records if uri not in stale}
    order = sorted(stale, key=lambda uri: (-times.get(uri, 0.0), -list(records).index(uri)))
    if order:
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
                log(f"  {seconds:7.1f} s  {status:8s}  {_name(Path(uri), source)}")
        log(f"execute: done in {time.monotonic() - start:.1f} s")
    return [outcomes[str(path.resolve())] for path in notebooks]


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
    for outcome in failed:
        print(f"execute: {_name(outcome.path, REPO)} {outcome.status}:\n{outcome.traceback or '(no traceback)'}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
