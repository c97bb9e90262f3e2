"""An nbgrader preprocessor that runs the notebook in a sandbox instead of a local kernel.

It takes the place of nbgrader's `Execute` in `Autograde.autograde_preprocessors`; everything else
(restoring test cells, scoring, writing the gradebook) stays nbgrader's own. Outputs coming back
from the sandbox are untrusted: only well-formed kernel outputs are kept.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from .sandbox import JobResult

RunJob = Callable[[list[str], dict[str, bytes]], JobResult]
_STREAMS = {"stdout", "stderr"}


def _clean_data(data: Any) -> dict:
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(k, str) and isinstance(v, (str, list, dict))}


def clean_output(raw: Any, execution_count: int | None) -> NotebookNode | None:
    """A kernel-shaped output built from `raw`, or None when `raw` is not one."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("output_type")
    if kind == "stream" and raw.get("name") in _STREAMS and isinstance(raw.get("text"), str):
        return new_output("stream", name=raw["name"], text=raw["text"])
    if kind == "display_data":
        return new_output("display_data", data=_clean_data(raw.get("data")), metadata=_clean_data(raw.get("metadata")))
    if kind == "execute_result":
        return new_output("execute_result", data=_clean_data(raw.get("data")),
                          metadata=_clean_data(raw.get("metadata")), execution_count=execution_count)
    if kind == "error":
        trace = raw.get("traceback") if isinstance(raw.get("traceback"), list) else []
        return new_output("error", ename=str(raw.get("ename", "Error")), evalue=str(raw.get("evalue", "")),
                          traceback=[str(t) for t in trace])
    return None


def _unfinished(reason: str) -> NotebookNode:
    return new_output("error", ename="SubmissionLimitError", evalue=reason,
                      traceback=[f"SubmissionLimitError: {reason}; this cell did not finish"])


def collect_files(folder: Path, limit: int) -> dict[str, bytes]:
    """The regular files beside the notebook (data a student handed in, files the instructor provides)."""
    files, total = {}, 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix == ".ipynb":
            continue
        total += path.stat().st_size
        if total > limit:
            break
        files[str(path.relative_to(folder))] = path.read_bytes()
    return files


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook's code cells through `run_job`, releasing `lock` while they run."""

    def __init__(self, run_job: RunJob, lock: threading.Lock, record: Callable[[JobResult], None],
                 files_limit: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._run_job, self._lock, self._record, self._files_limit = run_job, lock, record, files_limit

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        files = collect_files(folder, self._files_limit)
        self._lock.release()  # other submissions may use the gradebook while this one runs
        try:
            result = self._run_job([cell.source for cell in code], files)
        finally:
            self._lock.acquire()
        self._record(result)
        for cell, entry in zip(code, result.cells):
            cell.outputs = []
            if entry is None:
                cell.execution_count = None
                if cell.source.strip():
                    cell.outputs.append(_unfinished(result.detail or result.status))
                continue
            count = entry.get("execution_count")
            cell.execution_count = count if isinstance(count, int) else None
            raw_outputs = entry.get("outputs") if isinstance(entry.get("outputs"), list) else []
            cell.outputs = [out for out in (clean_output(o, cell.execution_count) for o in raw_outputs) if out]
        return nb, resources
