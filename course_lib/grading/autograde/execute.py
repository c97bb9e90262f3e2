"""An nbgrader preprocessor that runs the notebook's cells in a sandbox and scores its test cells here.

It takes the place of nbgrader's `Execute` in `Autograde.autograde_preprocessors`; everything else
(restoring test cells, reading the scores from the test cells' outputs, writing the gradebook) stays
nbgrader's own. Outputs coming back from the sandbox are untrusted: only well-formed kernel outputs are
kept, and the test cells' outputs are written by the trusted side alone.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from . import plaincells, static
from . import verdicts as verdicts_
from ..replay import new_secret, submission_salt
from .inputs import MAX_EXTRA_BYTES
from .sandbox import JobResult
from .sanitize import sanitize_data, sanitize_html
from ..sandboxed import channel
from ..sandboxed.evidence import tensor_to_array

RunJob = Callable[[list[str], dict[str, bytes], dict], JobResult]
_STREAMS = {"stdout", "stderr"}


def _clean_data(data: Any) -> dict:
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(k, str) and isinstance(v, (str, list, dict))}


def clean_output(raw: Any, execution_count: int | None) -> NotebookNode | None:
    """A kernel-shaped output built from `raw`, or None when `raw` is not one; displays lose active content
    (scripts, event handlers, JavaScript and widget mime types: ``sanitize``)."""
    if not isinstance(raw, dict):
        return None
    kind = raw.get("output_type")
    if kind == "stream" and raw.get("name") in _STREAMS and isinstance(raw.get("text"), str):
        return new_output("stream", name=raw["name"], text=raw["text"])
    if kind == "display_data":
        return new_output("display_data", data=sanitize_data(_clean_data(raw.get("data"))),
                          metadata=_clean_data(raw.get("metadata")))
    if kind == "execute_result":
        return new_output("execute_result", data=sanitize_data(_clean_data(raw.get("data"))),
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


def _nbgrader(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_test_cell(cell: NotebookNode) -> bool:
    meta = _nbgrader(cell)
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def student_cells(code: list[NotebookNode], release_sources: set[str]) -> list[tuple[str, str]]:
    """(label, source) of the code the student wrote or changed: answer cells, and any other unlocked cell
    whose source is not the release's own."""
    found = []
    for number, cell in enumerate(code, 1):
        meta = _nbgrader(cell)
        if is_test_cell(cell) or meta.get("locked"):
            continue
        if not meta.get("solution") and cell.source in release_sources:
            continue
        found.append((meta.get("grade_id") or f"code cell {number}", cell.source))
    return found


class GraderSideError(RuntimeError):
    """The sandbox could not run the notebook for a reason on the grader's side: no score may be recorded."""


@dataclass
class NotebookGrade:
    """What the trusted side decided about one notebook: its test cells' verdicts and the flags raised."""

    notebook: str
    verdicts: list[verdicts_.CellVerdict]
    flags: list[static.Flag]
    answers: dict[str, str]
    problem: str = ""


class GradebookTurn:
    """A submission's turn at the class's one gradebook: held while nbgrader reads and writes it, given to
    the other submissions while this one's cells run in the sandbox and its tests are decided (``away``)."""

    def __init__(self, shared: threading.Lock | None = None) -> None:
        self._lock = shared or threading.Lock()

    def __enter__(self) -> GradebookTurn:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    @contextlib.contextmanager
    def away(self) -> Iterator[None]:
        """Give the turn up for the block (which must not touch the gradebook), then wait for it again."""
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()


@dataclass(frozen=True)
class GradingContext:
    """What every submission of a run is graded with: the sandboxes, this run's secret, the release's cells."""

    run_job: RunJob
    secret: bytes = field(default_factory=new_secret)
    release_sources: frozenset[str] = frozenset()
    files_limit: int = MAX_EXTRA_BYTES  # bytes of files beside a notebook that go into its sandbox


@dataclass
class SubmissionGrading:
    """One hand-in's grading: its turn at the gradebook, and what came of each of its notebooks."""

    turn: GradebookTurn = field(default_factory=GradebookTurn)
    results: list[JobResult] = field(default_factory=list)  # one per notebook run in the sandbox
    grades: list[NotebookGrade] = field(default_factory=list)  # one per notebook decided here
    grader_problem: str = ""  # set when the sandbox failed on the grader's side (then preprocess raises)


class SandboxedExecute(NbGraderPreprocessor):
    """Run the notebook's own cells in the sandbox, then score its test cells here from the evidence.

    Test cells never run in the sandbox: their checks run in this trusted process, first recording the
    evidence they need, then deciding from what the sandbox sent back (``verdicts``). The answer cells'
    source is read here for flags (``static``). One instance per submission, called by nbgrader with the
    submission's gradebook turn held; the turn is given up while the sandbox runs.
    """

    def __init__(self, context: GradingContext, submission: SubmissionGrading, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.context, self.submission = context, submission

    @staticmethod
    def _answers(result: JobResult) -> tuple[list, str]:
        """The decoded evidence (an empty list if none is usable) and, if so, why."""
        if result.evidence is None:
            return [], f"no evidence came back ({result.detail or result.status}): every test scored 0"
        try:
            answers = channel.decode(result.evidence)
        except channel.ChannelError as exc:
            return [], f"the evidence could not be read ({exc}): every test scored 0"
        if not isinstance(answers, list):
            return [], "the evidence is not a list of answers: every test scored 0"
        return answers, ""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        for cell in nb.cells:  # the student's own Markdown is shown to instructors too: no active content
            if cell.cell_type == "markdown" and not _nbgrader(cell).get("locked"):
                cell.source = sanitize_html(cell.source)
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        tests = [cell for cell in code if is_test_cell(cell)]
        runnable = [cell for cell in code if not is_test_cell(cell)]
        context = self.context
        written = student_cells(code, context.release_sources)
        flags = static.flags_for(written)
        calls = [verdicts_.parse_test_cell(cell.source, _nbgrader(cell).get("grade_id", "?"),
                                           float(_nbgrader(cell).get("points", 0))) for cell in tests]
        student = str(resources.get("nbgrader", {}).get("student", ""))
        notebook = str(resources.get("unique_key") or resources.get("metadata", {}).get("name") or "")
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        files = collect_files(folder, context.files_limit)
        plain_calls = [call for call in calls if call.plain]
        plain_scores: dict[str, tuple[float, str]] = {}
        instructor = [c.source for c in runnable if _nbgrader(c).get("locked")
                      or (not _nbgrader(c).get("solution") and c.source in context.release_sources)]

        def session(ask: Callable[[Any], Any]) -> None:  # ordinary test cells, here, over the sandbox's objects
            link, imports = plaincells.Link(ask), plaincells.import_lines(instructor)
            for call in plain_calls:
                plain_scores[call.grade_id] = plaincells.run_cell(call.source, call.points, link, imports)

        with self.submission.turn.away():  # other submissions use the gradebook while this one runs
            plan = verdicts_.plan(calls, lambda name: static.names_used(name, written),
                                  submission_salt(context.secret, f"{student}/{notebook}"))
            requests = channel.encode(plan.requests, tensor_to_array)
            extra = {"session": session} if plain_calls else {}
            result = context.run_job([cell.source for cell in runnable], files, requests, **extra)
            answers, problem = self._answers(result)
            decided = verdicts_.decide(plan, answers, plain_scores)
        self.submission.results.append(result)
        if result.status == "setup-failed":  # nothing of the student's ran: a score of 0 would be the grader's fault
            self.submission.grader_problem = f"not graded: {result.detail}; the grader's environment needs fixing"
            raise GraderSideError(self.submission.grader_problem)
        for cell, entry in zip(runnable, result.cells):
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
        flagged = "; ".join(str(flag) for flag in flags) or None
        for cell, verdict in zip(tests, decided):
            cell.outputs = verdict.outputs(flagged)
            cell.execution_count = None
        self.submission.grades.append(NotebookGrade(notebook, decided, flags, dict(written), problem))
        return nb, resources
