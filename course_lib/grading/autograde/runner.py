"""Grade a whole class: nbgrader's own autograde per submission, with the code run in sandboxes in parallel.

The trusted parent runs nbgrader's `Autograde` converter for each submission (so the gradebook and
`autograded/` end up exactly as after `nbgrader autograde`); only its `Execute` step is replaced by
`SandboxedExecute`, which hands the cells to a warm, isolated sandbox (or a Dask worker's). One thread
per job slot. Each submission is one `execute.SubmissionGrading`, whose `GradebookTurn` lets exactly one
thread touch the gradebook at a time and is given up while that submission's code runs.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import queue
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbconvert.preprocessors import ExecutePreprocessor
from nbgrader import api as nbgrader_api
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook
from nbgrader.apps.autogradeapp import AutogradeApp
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute
from sqlalchemy.exc import SAWarning
from tqdm.auto import tqdm

from . import course, course_checks, records
from .execute import GradebookTurn, GradingContext, SandboxedExecute, SubmissionGrading
from .inputs import Submission, check_submission, find_submissions
from ..replay import new_secret
from .sandbox import DEFAULT_PRELOAD, JobResult, Limits, LimitsError, Sandbox, SandboxError, preload_for


class GradingError(RuntimeError):
    """Nothing can be graded (unknown assignment, no gradebook, no submissions): the message says why."""


class Backend(Protocol):
    slots: int
    description: str

    def run(self, cells: list[str], files: dict[str, bytes], requests: dict) -> JobResult: ...

    def close(self) -> None: ...


@dataclass
class Options:
    """What `python -m course_lib.grading autograde` was asked to do."""

    assignment: str
    students: list[str] | None = None
    jobs: int | None = None
    timeout: float = 300.0
    memory_mb: int = 3072
    db_url: str | None = None
    scheduler: str | None = None
    local_cluster: bool = False
    force: bool = False
    progress: bool = True
    unsafe: bool = False              # grade even where an isolation step cannot be set up, and say so


@dataclass
class Outcome:
    """How one submission went."""

    student: str
    status: str                       # "graded", "failed", "skipped"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)
    peak_memory_mb: float | None = None


@dataclass
class RunSummary:
    """What one autograde run did, printed at its end: every submission's outcome, the time, the backend."""

    outcomes: list[Outcome]
    seconds: float
    jobs: int
    backend: str
    canary: list[str] = field(default_factory=list)   # how the instructor's solution scored before the class
    stages: dict[str, float] = field(default_factory=dict)  # wall seconds: set-up, sandboxes, canary, class

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """0: nothing failed; 1: some submissions failed; 2: none could be graded."""
        if not self.count("failed"):
            return 0
        return 1 if self.count("graded") else 2


class LocalBackend:
    """A pool of warm sandboxes on this machine, one per job slot."""

    def __init__(self, jobs: int, limits: Limits, hide: list[str], unsafe: bool = False,
                 preload: tuple[str, ...] = DEFAULT_PRELOAD) -> None:
        self.slots, self.limits, self.preload = jobs, limits, preload
        self._free: queue.Queue[Sandbox] = queue.Queue()
        with ThreadPoolExecutor(jobs) as pool:
            sandboxes = list(pool.map(lambda _: self._new(hide, unsafe, limits.threads), range(jobs)))
        for sandbox in sandboxes:
            self._free.put(sandbox)
        try:
            sandboxes[0].check_limits(limits)
        except LimitsError:
            self.close()
            raise
        self.description = f"{jobs} local sandboxes ({sandboxes[0].describe()})"
        self.warnings = sorted({w for s in sandboxes for w in s.warnings})

    def _new(self, hide: list[str], unsafe: bool, threads: int) -> Sandbox:
        return Sandbox(hide=hide, unsafe=unsafe, threads=threads, preload=self.preload).start()

    def run(self, cells: list[str], files: dict[str, bytes], requests: dict, session=None) -> JobResult:
        """Run in a free sandbox; a sandbox that broke is replaced by a fresh one, and the job retried once."""
        sandbox = self._free.get()
        try:
            try:
                return sandbox.run(cells, files, self.limits, requests, session)
            except LimitsError:
                raise
            except SandboxError:
                sandbox.close()
                sandbox = self._new(sandbox.hide, sandbox.unsafe, sandbox.threads)
                return sandbox.run(cells, files, self.limits, requests, session)
        finally:
            self._free.put(sandbox)

    def close(self) -> None:
        """Stop every sandbox, all at once (each waits for its template to exit)."""
        sandboxes = []
        while not self._free.empty():
            sandboxes.append(self._free.get())
        with ThreadPoolExecutor(max(1, len(sandboxes))) as pool:
            list(pool.map(Sandbox.close, sandboxes))


def _assignment_notebooks(app: AutogradeApp, assignment: str) -> list[str]:
    try:
        return course.assignment_notebooks(CourseDirectory(parent=app), assignment)
    except course.CourseError as exc:
        raise GradingError(str(exc)) from None


class _LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def first(self, level: int, prefix: str = "") -> str | None:
        for record in self.records:
            message = record.getMessage()
            if record.levelno >= level and message.startswith(prefix):
                return message
        return None


def _execution_notes(result: JobResult, limits: Limits) -> list[str]:
    notes = list(getattr(result, "notes", []))
    if result.status == "setup-failed":  # the outcome's reason says it: not graded at all
        return notes
    if result.status != "ok":
        notes.append(f"{result.detail or result.status}: unfinished cells scored 0")
    errors = [o for cell in result.cells if cell for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if any(o.get("ename") == "MemoryError" or "allocate memory" in str(o.get("evalue", "")) for o in errors):
        notes.append(f"ran out of memory (limit {limits.memory_mb} MB): those cells scored 0")
    if any(o.get("ename") == "CellTimeoutError" for o in errors):
        notes.append("a cell ran past the per-cell timeout and scored 0")
    return notes


_env_users: Counter[tuple[str, str]] = Counter()
_env_lock = threading.Lock()


@contextlib.contextmanager
def _shared_setenv(**env: str):
    """nbgrader's `utils.setenv` for threads: the variables stay set until the last user leaves.

    nbgrader sets NBGRADER_EXECUTION around execution and deletes it after; two threads doing that at
    once would delete it under each other. (The sandbox sets it for the student code on its own.)
    """
    with _env_lock:
        for item in env.items():
            _env_users[item] += 1
            os.environ[item[0]] = item[1]
    try:
        yield
    finally:
        with _env_lock:
            for item in env.items():
                _env_users[item] -= 1
                if not _env_users[item]:
                    os.environ.pop(item[0], None)


_engines: dict[str, Any] = {}
_engines_lock = threading.Lock()


def _shared_engine(url: Any, **kwargs: Any) -> Any:
    """nbgrader's `create_engine` for a class run: one SQLAlchemy engine per database for the whole run.

    nbgrader opens a new `Gradebook`, hence a new engine, several times per submission; each new engine
    compiled every SQL statement again (about a fifth of the grading process's time on 24 hand-ins).
    `Gradebook.close` still disposes of the pooled connections; the engine and its statement cache stay.
    """
    from sqlalchemy import create_engine

    key = f"{url}|{sorted(kwargs.items())}"
    with _engines_lock:
        if key not in _engines:
            _engines[key] = create_engine(url, **kwargs)
        return _engines[key]


def swap_execute(preprocessors: list, executor: SandboxedExecute) -> list:
    """The autograde preprocessors with every kernel-executing step replaced by the sandboxed one.

    Entries may be classes, instances or dotted names (nbgrader_config.py may list any); a step that
    would run student code in this trusted process must never survive.
    """
    swapped = []
    for pp in preprocessors:
        target = pp
        if isinstance(pp, str):
            module, _, name = pp.rpartition(".")
            target = getattr(importlib.import_module(module), name)
        cls = target if isinstance(target, type) else type(target)
        swapped.append(executor if issubclass(cls, (Execute, ExecutePreprocessor)) else pp)
    return swapped


class ClassGrader:
    """Grades the checked submissions of one assignment through a backend; the only writer of the gradebook."""

    def __init__(self, app: AutogradeApp, options: Options, backend: Backend, limits: Limits,
                 release_sources: set[str] | None = None, records: Path | None = None) -> None:
        """`records`: the course root under which each submission's record is written (``records.path``)."""
        self.app, self.options, self.backend, self.limits = app, options, backend, limits
        self.gradebook_lock = threading.Lock()  # one submission at a time reads or writes the gradebook
        # this run's secret (its inputs: unknown before grading, never stored) and the release's cells
        self.context = GradingContext(backend.run, new_secret(), frozenset(release_sources or ()))
        import torch

        torch.set_num_threads(1)  # the checks run on tiny tensors, one thread per job slot
        self.records = records
        self._gradebook: Gradebook | None = None
        nbgrader_utils.setenv = _shared_setenv
        nbgrader_api.create_engine = _shared_engine
        warnings.filterwarnings("ignore", category=SAWarning)

    def grade(self, sub: Submission) -> Outcome:
        started = time.monotonic()
        coursedir = CourseDirectory(parent=self.app)
        coursedir.assignment_id = self.options.assignment
        coursedir.student_id = sub.student
        logger = logging.getLogger(f"course_lib.grading.autograde.{threading.get_ident()}")
        logger.propagate, logger.handlers = False, []
        logger.setLevel(logging.INFO)
        capture = _LogCapture()
        logger.addHandler(capture)
        submission = SubmissionGrading(GradebookTurn(self.gradebook_lock))
        executor = SandboxedExecute(self.context, submission)
        converter = Autograde(coursedir=coursedir, parent=self.app, log=logger)
        converter.force = self.options.force
        converter.autograde_preprocessors = swap_execute(converter.autograde_preprocessors, executor)
        outcome = Outcome(sub.student, "graded", notes=list(sub.notes))
        with submission.turn:
            try:
                converter.start()
            except NbGraderException as exc:
                outcome.status = "failed"
                outcome.reason = submission.grader_problem or self._failure_reason(capture, exc)
            except SandboxError as exc:
                outcome.status, outcome.reason = "failed", str(exc)
            if outcome.status == "graded" and not submission.results:
                outcome.status = "skipped"
                outcome.reason = "already autograded (newer submission not found); use --force to regrade"
            if outcome.status == "graded":
                outcome.score, outcome.max_score = self._recorded_score(coursedir, sub.student)
        for result in submission.results:
            outcome.notes += _execution_notes(result, self.limits)
            peak = getattr(result, "peak_memory_mb", None)
            if peak is not None:
                outcome.peak_memory_mb = max(outcome.peak_memory_mb or 0.0, peak)
        for grade in submission.grades:
            outcome.flags += [str(flag) for flag in grade.flags]
            if grade.problem:
                outcome.notes.append(grade.problem)
        outcome.seconds = time.monotonic() - started
        if self.records is not None and outcome.status != "skipped":
            records.write(self.records, self.options.assignment, outcome, submission.grades)
        return outcome

    def _recorded_score(self, coursedir: CourseDirectory, student: str) -> tuple[float, float]:
        """The score nbgrader stored, read through one gradebook kept open for the run (in the submission's turn)."""
        if self._gradebook is None:
            self._gradebook = Gradebook(coursedir.db_url, coursedir.course_id)
        session = self._gradebook.db
        try:
            record = self._gradebook.find_submission(self.options.assignment, student)
            return record.score, record.max_score
        finally:
            session.rollback()  # end the read (and expire what it loaded): the next one sees nbgrader's writes

    def close(self) -> None:
        """Close the run's read-only gradebook (nbgrader's own sessions close as each submission ends)."""
        if self._gradebook is not None:
            self._gradebook.close()
            self._gradebook = None

    @staticmethod
    def _failure_reason(capture: _LogCapture, exc: Exception) -> str:
        """The exception line of the first traceback nbgrader logged, else its first error message."""
        errors = [r.getMessage().strip() for r in capture.records if r.levelno >= logging.ERROR]
        for text in errors:
            if text.startswith("Traceback"):
                return f"nbgrader could not process it: {text.splitlines()[-1].strip()[:200]}"
        return (errors[0] if errors else str(exc) or "nbgrader could not process it").splitlines()[0]


def autograde(options: Options) -> RunSummary:
    """Grade every submission of `options.assignment`; return the report (also printed by the CLI)."""
    started = time.monotonic()
    app = course.load_app(AutogradeApp, options.db_url)
    coursedir = CourseDirectory(parent=app)
    root = Path(coursedir.root).resolve()
    os.chdir(root)  # nbgrader resolves every folder against the course root
    notebooks = _assignment_notebooks(app, options.assignment)
    try:
        course_checks.configure(app, root)
    except course_checks.CheckFolderError as exc:
        raise GradingError(str(exc)) from None
    submitted = Path(coursedir.format_path(coursedir.submitted_directory, ".", ".")).resolve().parent
    subs, unknown = find_submissions(Path(coursedir.submitted_directory).resolve(), options.assignment,
                                     options.students)
    outcomes = [Outcome(u.student, "failed", u.problem or "") for u in unknown]
    if not subs:
        if not outcomes:
            raise GradingError(f"no submissions found in {submitted}/*/{options.assignment}/")
        return RunSummary(outcomes, time.monotonic() - started, 0, "none")
    ready = []
    released = course.released_files(coursedir, options.assignment)
    for sub in subs:
        check_submission(sub, notebooks, [*coursedir.ignore, "timestamp.txt"], released)
        if sub.problem:
            outcomes.append(Outcome(sub.student, "failed", sub.problem, list(sub.notes)))
            records.write(root, options.assignment, outcomes[-1], [])  # says why
        else:
            ready.append(sub)
    if not ready:
        return RunSummary(sorted(outcomes, key=lambda o: o.student), time.monotonic() - started, 0, "none")
    cell_timeout = Execute(parent=app).timeout
    limits = Limits(timeout=options.timeout, cell_timeout=cell_timeout, memory_mb=options.memory_mb)
    stages = {"set-up": time.monotonic() - started}
    preload = preload_for(course.source_code(coursedir, options.assignment))
    remote = bool(options.scheduler or options.local_cluster)
    with ThreadPoolExecutor(1) as starter:  # local sandboxes start while the test cells are read
        starting = None if remote else starter.submit(make_backend, options, limits, [str(root)], len(ready), preload)
        try:
            plain = check_test_cells(coursedir, options.assignment)
        except BaseException:
            if starting is not None:
                with contextlib.suppress(Exception):
                    starting.result().close()
            raise
        if plain and remote:
            raise GradingError(f"{options.assignment} has ordinary test cells (asserts, not `grade.<check>(...)`): "
                               "the course grader runs them over a live session with each sandbox, which Dask "
                               "workers do not offer yet; grade it on this machine (without --scheduler / "
                               "--local-cluster)")
        backend = starting.result() if starting is not None else make_backend(options, limits, [str(root)],
                                                                              len(ready), preload)
    stages["test cells and sandboxes"] = time.monotonic() - started - sum(stages.values())
    jobs = backend.slots
    try:
        canaries = grade_solution(coursedir, options.assignment, notebooks, backend, root)
        stages["canary"] = time.monotonic() - started - sum(stages.values())
        grader = ClassGrader(app, options, backend, limits, course.release_sources(coursedir, options.assignment),
                             root)
        bar = tqdm(total=len(ready), desc=f"autograde {options.assignment}", unit="sub",
                   disable=not options.progress or not ready)
        try:
            with ThreadPoolExecutor(max(1, min(jobs, len(ready) or 1))) as pool:
                for outcome in pool.map(grader.grade, ready):
                    outcomes.append(outcome)
                    bar.update(1)
                    if outcome.status == "failed":
                        bar.write(f"  {outcome.student}: failed: {outcome.reason}")
        finally:
            bar.close()
            grader.close()
        stages["class"] = time.monotonic() - started - sum(stages.values())
    finally:
        backend.close()
    outcomes.sort(key=lambda o: o.student)
    return RunSummary(outcomes, time.monotonic() - started, jobs, backend.description, canaries, stages)


def grade_solution(coursedir: CourseDirectory, assignment: str, notebooks: list[str], backend: Backend,
                   root: Path) -> list[str]:
    """The canary: the instructor's source notebooks graded in the sandbox first; GradingError unless each
    gets full marks (then nothing of the class is graded, and the message says why and how to fix it)."""
    from .canary import CanaryError, check_solution

    folder = course.source_folder(coursedir, assignment)
    lines = []
    for name in notebooks:
        source = folder / f"{name}.ipynb"
        if not source.is_file():
            raise GradingError(f"refusing to grade: the instructor's solution {source} is missing. The course "
                               "grader first grades it in the sandbox and grades the class only if it gets full "
                               "marks (a grader that cannot run notebooks would otherwise score everyone 0); "
                               f"put the source notebook back in {folder}/")
        try:
            lines.append(check_solution(source, backend.run, new_secret(), root))
        except CanaryError as exc:
            raise GradingError(str(exc)) from None
    return lines


def check_test_cells(coursedir: CourseDirectory, assignment: str) -> bool:
    """Refuse, before anything runs, an assignment whose test cells cannot be scored here; whether any of them
    is an ordinary test cell (run over stand-ins, ``plaincells``)."""
    import nbformat

    from .execute import is_test_cell
    from .verdicts import GraderSetupError, parse_test_cell

    folder = course.source_folder(coursedir, assignment)
    plain = False
    for path in sorted(folder.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if is_test_cell(cell):
                meta = cell.metadata["nbgrader"]
                try:
                    plain |= parse_test_cell(cell.source, meta.get("grade_id", "?"), float(meta.get("points", 0))).plain
                except GraderSetupError as exc:
                    raise GradingError(f"{path.name}: {exc}. The course grader scores a hand-in only through "
                                       "checks of course_lib.grading or of the course's own check folders "
                                       "(c.CourseGrader.check_folders in nbgrader_config.py); grade this "
                                       "assignment with plain `nbgrader autograde`, or write its tests in that "
                                       "form") from None
    return plain


def make_backend(options: Options, limits: Limits, hide: list[str], pending: int,
                 preload: tuple[str, ...] = DEFAULT_PRELOAD) -> Backend:
    """Local sandboxes, or Dask workers when a scheduler (or a local cluster) is asked for."""
    if options.scheduler or options.local_cluster:
        from .cluster import DaskBackend
        return DaskBackend(limits, hide, scheduler=options.scheduler, jobs=options.jobs, unsafe=options.unsafe)
    jobs = options.jobs or max(1, min(os.cpu_count() or 1, pending or 1))
    limits.threads = max(1, (os.cpu_count() or 1) // jobs)
    return LocalBackend(max(1, min(jobs, pending or 1)), limits, hide, options.unsafe, preload)


def format_summary(summary: RunSummary, assignment: str) -> str:
    """The closing summary: counts, time, then one line per failure and per note."""
    n = len(summary.outcomes)
    graded = summary.count("graded")
    per = summary.seconds / graded if graded else 0.0
    lines = [f"autograde {assignment}: {n} submission(s): {graded} graded, {summary.count('failed')} failed, "
             f"{summary.count('skipped')} skipped in {summary.seconds:.1f} s"
             + (f" ({per:.2f} s per graded submission)" if graded else "")
             + f"; {summary.backend}"]
    if summary.stages:
        lines.append("  time    " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in summary.stages.items()))
    lines += [f"  canary  {line}" for line in summary.canary]
    if graded and n <= 40:
        for o in summary.outcomes:
            if o.status == "graded":
                lines.append(f"  graded  {o.student}: {o.score:g}/{o.max_score:g}")
    for o in summary.outcomes:
        if o.status != "graded":
            lines.append(f"  {o.status:<7} {o.student}: {o.reason}")
        for flag in o.flags:
            lines.append(f"  flag    {o.student}: {flag} -> scored 0, review it (formgrader) before releasing")
        for note in o.notes:
            lines.append(f"  note    {o.student}: {note}")
    return "\n".join(lines)
