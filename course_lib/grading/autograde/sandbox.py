"""The trusted side's handle on a sandbox: a warm template process per job slot, which forks per job.

The template (``sandboxed.server``) runs from a private copy of the ``sandboxed`` package alone, inside
its own namespaces; this side starts it, hands each job (the cells, the files beside the notebook and the
evidence requests) to a fresh child through a pair of pipes, and reads back the cells' outputs and the
evidence, which only ``channel.decode`` ever parses. After each job the slot is swept.

Isolation fails closed: when a step cannot be set up (namespaces, own uid, hidden paths, limits, cgroups,
protection of the template, the syscall filter), ``Sandbox.start`` raises ``IsolationError`` naming the step
and its fix, unless ``unsafe`` is set, in which case the step is skipped and listed in ``Sandbox.skipped``.
Per-job memory and process caps come from cgroups (``sandboxed.cgroups``: v2 where it offers memory and pids,
else v1).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..sandboxed import cgroups, channel, isolation
from ..sandboxed.evidence import tensor_to_array
from ..sandboxed.channel import read_frame, write_frame
from ..sandboxed.server import DEFAULT_PRELOAD

# What every template imports before it forks: torch and the shell the cells run in. An assignment adds the
# modules its own notebooks import (``preload_for``); a hand-in that imports more loads it in its child.
CORE_PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "IPython", "ipykernel.zmqshell")

UID_BASE = 61000  # slot k runs as uid UID_BASE + k: numeric ids without an account (those with one are skipped)
SLOT_LOCK_DIR = Path("/run/cnn-grader-slots")
MAX_RESULT = 128 << 20      # all outputs of one submission
SANDBOXED_PACKAGE = Path(__file__).resolve().parents[1] / "sandboxed"
COURSE_PACKAGE = Path(__file__).resolve().parents[2]  # course_lib itself: never visible in a sandbox


class SandboxError(RuntimeError):
    """The sandbox itself (not the submission) failed: it could not start or stopped answering."""


class SessionClosed(Exception):
    """The child stopped answering a session's operations (it died, timed out or broke the format)."""


class LimitsError(SandboxError):
    """The limits asked for cannot work on this machine."""


FIXES = {
    "namespaces": "grade on Linux with util-linux's `unshare` (Debian: apt-get install util-linux); as a normal "
                  "user, allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and "
                  "user.max_user_namespaces > 0), or run the grader as root",
    "own uid": "run the grader as root, so each job slot runs as a uid of its own (61000 and up, without an "
               "account); free the slots other graders hold (/run/cnn-grader-slots)",
    "hide paths": "the sandbox's mount namespace must allow tmpfs and bind mounts: run as root, or as a user "
                  "allowed user namespaces (in a container: CAP_SYS_ADMIN or a user-namespace-enabled runtime)",
    "limits": "the hard resource limits of the grading user (ulimit -H -d -u -t -f -n) must allow the caps: "
              "raise them, or lower --memory-mb / --timeout",
    "mount lock (nested user namespace)": "allow nested user namespaces (user.max_user_namespaces of at least "
                                          "twice --jobs), or run the grader as root",
    "cgroups": cgroups.FIX,
    "template not traceable": "the kernel must honour prctl(PR_SET_DUMPABLE, 0) (Linux does)",
    "template protection": "run the grader as root, so every submission runs as a uid other than the template's",
    "signals": "a preloaded module installs signal handlers in the template: drop it from the preload list",
    "syscall filter": "install libseccomp (Debian: apt-get install libseccomp2) and the pinned pyseccomp (make setup), "
                      "on a kernel with seccomp filters (CONFIG_SECCOMP_FILTER; in a container, one whose own "
                      "profile allows seccomp(2))",
    "own uid in child": "run the grader as root",
    "probe": "the isolation probe failed unexpectedly: rerun; if it persists, report the message",
    "dask tls": "make certificates with `python -m course_lib.grading certs DIR`, start the scheduler and workers "
                "with them (the command prints how), then grade with `DASK_CONFIG=DIR ... --scheduler tls://HOST:PORT`",
}


class IsolationError(SandboxError):
    """An isolation step could not be set up, so nothing is graded (fail closed); says which step and the fix."""

    def __init__(self, step: str, error: str) -> None:
        self.step, self.error = step, error
        fix = FIXES.get(step, FIXES["probe"])
        super().__init__(f"refusing to grade: the sandbox's isolation step '{step}' failed ({error}). To fix: {fix}. "
                         "Or pass --unsafe to grade without that step (the summary then says so).")


def stage_sandboxed_package() -> str:
    """A private folder holding a copy of the ``sandboxed`` package alone: the template's only code of ours."""
    stage = tempfile.mkdtemp(prefix="cnn-sandbox-")
    os.chmod(stage, 0o755)
    target = Path(stage) / "sandboxed"
    target.mkdir()
    for source in SANDBOXED_PACKAGE.glob("*.py"):
        shutil.copy2(source, target / source.name)
    return stage


@dataclass
class Limits:
    """Per-submission limits: wall clock for the whole notebook, per-cell timeout, memory (RLIMIT_DATA)."""

    timeout: float = 300.0
    cell_timeout: float | None = 30.0
    memory_mb: int = 3072
    threads: int = 1
    max_processes: int = 256   # pids.max of the job's cgroup: processes and threads of the submission together


@dataclass
class JobResult:
    """What came back from one submission's run: per-cell outputs (None: the cell never finished)."""

    cells: list[dict | None]
    status: str                      # "ok", "timeout", "crashed", "output-limit", "setup-failed" (grader's side)
    detail: str = ""
    seconds: float = 0.0
    exit_status: int | None = None
    evidence: dict | None = None     # the encoded answers to the evidence requests (decode with channel)
    peak_memory_mb: float | None = None  # the job cgroup's peak (v1 memory.max_usage_in_bytes, v2 memory.peak)
    notes: list[str] = field(default_factory=list)  # what the summary should say about how it ran (e.g. --unsafe)

    def to_dict(self) -> dict:
        return self.__dict__.copy()

    @classmethod
    def from_dict(cls, data: dict) -> "JobResult":
        return cls(**data)


def _claim_slot() -> tuple[int, Any]:
    """Pick a slot number no other grading process on this machine holds (a lock file per slot)."""
    SLOT_LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    for slot in range(1024):
        try:  # never borrow the uid of a real account: its processes are killed after every job
            pwd.getpwuid(UID_BASE + slot)
            continue
        except KeyError:
            pass
        handle = open(SLOT_LOCK_DIR / f"slot-{slot}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, handle
        except OSError:
            handle.close()
    raise SandboxError("no free sandbox slot (1024 in use)")


def preload_for(sources: list[str]) -> tuple[str, ...]:
    """CORE_PRELOAD plus the installed modules the instructor's cells import (never the course's own package).

    Each template pays for its imports once (torchvision alone is about 2 s, matplotlib.pyplot 1.3 s), so it
    loads what the assignment uses rather than everything a notebook might.
    """
    import ast
    import importlib.util

    names: list[str] = []
    for source in sources:
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
        try:
            tree = ast.parse(code)  # IPython's magics and shell lines blanked out
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.append(node.module)
    extra = []
    for name in names:
        top = name.split(".")[0]
        if top == COURSE_PACKAGE.name or name in CORE_PRELOAD or name in extra:
            continue
        try:
            if importlib.util.find_spec(top) is None:
                continue
        except (ImportError, ValueError):
            continue
        extra.append(name)
    return (*CORE_PRELOAD, *extra)


def isolation_mode() -> str:
    """'full' as root (own uid per slot, namespaces); 'namespaces' for a normal user; 'none' without unshare."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "none"
    return "full" if os.geteuid() == 0 else "namespaces"


def template_env(stage: str, threads: int = 1) -> dict[str, str]:
    """The template's whole environment, built from scratch: nothing of the instructor's session reaches it."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONPATH": stage, "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1", "HOME": stage,
        "TMPDIR": "/tmp", "MPLCONFIGDIR": os.path.join(stage, ".mpl"),
        **{name: str(threads) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    }


@dataclass
class Sandbox:
    """One job slot: a warm template process and the means to run jobs in fresh children of it."""

    hide: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    mode: str = field(default_factory=isolation_mode)
    uid: int | None = None
    unsafe: bool = False             # skip the isolation steps that fail (listed in `skipped`) instead of refusing
    threads: int = 1
    warnings: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    cgroup_version: int | None = None
    template_data_mb: float | None = None  # what the warm interpreter holds: measured by start()
    _cgroups: list[str] = field(default_factory=list)
    _last_sweep: dict = field(default_factory=dict)
    _proc: subprocess.Popen | None = None
    _sock: socket.socket | None = None
    _lock_handle: Any = None
    _stage: str | None = None

    def start(self) -> "Sandbox":
        """Start the template with every isolation step, or raise IsolationError naming the one that failed."""
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _refuse_or_skip(self, step: str, error: str) -> None:
        if not self.unsafe:
            raise IsolationError(step, error)
        self.skipped.append(f"{step}: {error}")

    def _start(self) -> "Sandbox":
        self.skipped = []
        if self.mode == "none":
            self._refuse_or_skip("namespaces", "no `unshare` on this system" if sys.platform.startswith("linux")
                                 else f"isolation needs Linux, this is {sys.platform}")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stage = stage_sandboxed_package()
        command = self._command(theirs.fileno())
        errors = open(os.path.join(self._stage, "template.err"), "w+b")
        self._proc = subprocess.Popen(command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=errors,
                                      env=template_env(self._stage, self.threads), cwd="/")
        theirs.close()
        self._sock = ours
        reply = self._ready_reply(errors)
        self.warnings = list(reply.get("warnings", []))
        self.skipped += list(reply.get("skipped", []))
        self.template_data_mb = reply.get("vmdata_kb", 0) / 1024
        return self

    def _command(self, fd: int) -> list[str]:
        """The template's command line: the server on socket `fd`, inside the namespaces, with its own uid (as
        root), the course hidden and cgroups made for it; a step that cannot be set up refuses (or, with
        --unsafe, is listed in `skipped`)."""
        command = [sys.executable, "-m", "sandboxed.server", "--fd", str(fd), "--preload", ",".join(self.preload)]
        namespaces = [shutil.which("unshare") or "unshare", "--net", "--ipc", "--mount", "--propagation", "private",
                      "--pid", "--fork", "--mount-proc"]
        if self.mode == "full":
            try:
                slot, self._lock_handle = _claim_slot()
                self.uid = UID_BASE + slot
            except (SandboxError, OSError) as exc:
                self._refuse_or_skip("own uid", str(exc))
            command = [*namespaces, *command, "--isolated"] + (["--uid", str(self.uid)] if self.uid else [])
        elif self.mode == "namespaces":
            command = [namespaces[0], "--user", "--map-root-user", *namespaces[1:], *command, "--nest", "--isolated"]
        if self.mode != "none":
            hide = [*isolation.DEFAULT_HIDDEN, *self.hide, str(COURSE_PACKAGE)]
            keep = [sys.prefix, *self.keep]
            command += [f"--hide={p}" for p in hide] + [f"--keep={p}" for p in keep]
            try:
                self._cgroups = cgroups.make_parent(f"cnn-grader-{os.getpid()}-{secrets.token_hex(4)}")
                self.cgroup_version = cgroups.detect().version
                command += [f"--cgroup={folder}" for folder in self._cgroups]
            except cgroups.CgroupError as exc:
                self._refuse_or_skip("cgroups", str(exc))
        if self.unsafe:
            command.append("--unsafe")
        return command

    def _ready_reply(self, errors: Any) -> dict:
        """The template's first message once it is ready; IsolationError naming the step it could not take, or
        SandboxError with the last line it wrote to `errors` (its stderr) if it ended before saying."""
        self._sock.settimeout(180)
        try:
            reply = json.loads(self._sock.recv(1 << 16) or b"{}")
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox did not start: {exc}") from exc
        finally:
            errors.seek(0)
            stderr = errors.read()[-2000:].decode(errors="replace").strip()
            errors.close()
        if reply.get("step"):
            raise IsolationError(reply["step"], reply.get("error", "?"))
        if not reply.get("ready"):
            exit_status = self._proc.wait(timeout=30)
            last = stderr.splitlines()[-1] if stderr else f"exit {exit_status}"
            if self.mode != "none" and last.startswith("unshare"):
                raise IsolationError("namespaces", last)
            raise SandboxError(f"sandbox did not start: {last}")
        self._sock.settimeout(None)
        return reply

    def describe(self) -> str:
        """How this sandbox isolates, for the summary: mode, cgroups, and what --unsafe left out."""
        parts = [f"isolation: {self.mode}"]
        parts.append(f"cgroup v{self.cgroup_version}" if self.cgroup_version and self._cgroups else "no cgroups")
        if self.skipped:
            parts.append("UNSAFE, graded without: " + "; ".join(self.skipped))
        return ", ".join(parts)

    def check_limits(self, limits: Limits) -> None:
        """Refuse a memory limit below what the warm interpreter itself holds (every cell would fail)."""
        if self.template_data_mb is None:
            raise SandboxError("check_limits needs a started sandbox (the warm interpreter's memory is measured "
                               "when it starts): call start() first")
        if limits.memory_mb < self.template_data_mb + 256:
            raise LimitsError(f"--memory-mb {limits.memory_mb} leaves no room: the warm interpreter alone uses "
                              f"{self.template_data_mb:.0f} MB; give at least {self.template_data_mb + 512:.0f}")

    def run(self, cells: list[str], files: dict[str, bytes], limits: Limits, requests: dict | None = None,
            session: Callable[[Callable[[Any], Any]], None] | None = None) -> JobResult:
        """Run `cells` with `files` beside them in a fresh isolated child, then answer the evidence `requests`
        (a ``channel.encode`` message); never raises for student faults. With `session`, once the evidence is
        back, ``session(ask)`` runs here: ``ask(op)`` has the child carry out one operation
        (``sandboxed.evidence.Session``) and returns its decoded answer, or raises SessionClosed."""
        if self._sock is None:
            self.start()
        self.check_limits(limits)
        started = time.monotonic()
        pid, job = self._fork(limits, started + limits.timeout)
        try:
            job.send({"cells": cells, "cell_timeout": limits.cell_timeout, "requests": requests,
                      "session": session is not None,
                      "files": {k: base64.b64encode(v).decode() for k, v in files.items()}})
            if session is None:
                job.close_input()
            collected = _collect(job, len(cells), limits, session)
        finally:
            job.close()
            exit_status = self._sweep(pid)  # the template kills it: the pid is one of its namespace
        return self._result(collected, exit_status, limits, time.monotonic() - started)

    def _fork(self, limits: Limits, deadline: float) -> tuple[int, _Job]:
        """Have the template fork a child for one job under `limits`; its pid and the pipes to it."""
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        request = {"cmd": "fork", "memory_bytes": limits.memory_mb << 20, "threads": limits.threads,
                   "cpu_seconds": int(limits.timeout * max(1, limits.threads)) + 10,
                   "max_pids": limits.max_processes}
        try:
            socket.send_fds(self._sock, [json.dumps(request).encode()], [job_r, res_w])
            reply = json.loads(self._sock.recv(1 << 16))
        except (OSError, ValueError) as exc:
            os.close(job_w)
            os.close(res_r)
            raise SandboxError(f"sandbox stopped answering: {exc}") from exc
        finally:
            os.close(job_r)
            os.close(res_w)
        if "pid" not in reply:
            os.close(job_w)
            os.close(res_r)
            raise SandboxError(f"sandbox could not start the job: {reply.get('error', reply)}")
        return reply["pid"], _Job(job_w, res_r, deadline)

    def _result(self, collected: _Collected, exit_status: int | None, limits: Limits, seconds: float) -> JobResult:
        """The job's result: why a child that never said it was done ended (signal, exit, its own last error,
        the memory limit), and what --unsafe left out."""
        status, detail, fatal, cells_out = collected.status, collected.detail, collected.fatal, collected.cells
        if status == "crashed":
            detail = (f"the notebook's process died (signal {-exit_status})" if exit_status and exit_status < 0
                      else f"the notebook's process stopped early (exit {exit_status})")
            if fatal is not None:
                stage, error = str(fatal.get("stage", "?"))[:40], str(fatal.get("error", "?"))[:300]
                if stage == "setup" and not any(cells_out):  # before any cell: nothing of the student's ran
                    status = "setup-failed"
                    detail = f"the sandbox could not start the notebook ({error})"
                else:
                    detail += f" in its {stage}: {error}"
        notes = [f"graded with --unsafe, without: {'; '.join(self.skipped)}"] if self.skipped else []
        oom_kills = self._last_sweep.get("oom_kills") or 0
        if oom_kills and status == "crashed":
            detail = f"killed for using more than the {limits.memory_mb} MB memory limit (its cgroup's)"
        elif oom_kills:
            notes.append(f"{oom_kills} of its processes killed at the {limits.memory_mb} MB memory limit (its cgroup's)")
        return JobResult(cells_out, status, detail, seconds, exit_status, collected.evidence,
                         self._last_sweep.get("peak_memory_mb"), notes)

    def _sweep(self, pid: int) -> int | None:
        """Have the template kill what is left of the job; keeps its report (peak memory, OOM kills)."""
        self._last_sweep = {}
        try:
            socket.send_fds(self._sock, [json.dumps({"cmd": "sweep", "pid": pid}).encode()], [])
            self._last_sweep = json.loads(self._sock.recv(1 << 16))
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox stopped answering: {exc}") from exc
        return self._last_sweep.get("status")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._cgroups:
            cgroups.remove_parent(self._cgroups)
            self._cgroups = []
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
        if self._stage:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class _Job:
    """The pipes to one job's child: frames to it (the job, then a session's operations) and frames back."""

    def __init__(self, to_child: int, from_child: int, deadline: float) -> None:
        self.to_child, self.from_child, self.deadline = to_child, from_child, deadline

    def send(self, frame: dict) -> None:
        try:
            write_frame(self.to_child, frame)
        except BrokenPipeError:
            pass  # the child is gone: reading its results says how it ended

    def close_input(self) -> None:
        if self.to_child >= 0:
            os.close(self.to_child)
            self.to_child = -1

    def read(self) -> dict | None:
        """The child's next frame (None once it has closed); TimeoutError past the job's deadline."""
        return read_frame(self.from_child, self.deadline)

    def ask(self, op: Any) -> Any:
        """One session operation carried out by the child, and its decoded answer (SessionClosed if it ended)."""
        try:
            write_frame(self.to_child, {"op": channel.encode(op, tensor_to_array)})
            while True:
                frame = self.read()
                if frame is None or frame.get("done"):
                    raise SessionClosed("the notebook's process ended")
                if "answer" in frame:
                    return channel.decode(frame["answer"])
        except (OSError, ValueError, TimeoutError) as exc:
            raise SessionClosed(f"the notebook's process stopped answering ({type(exc).__name__})") from None

    def end_session(self) -> None:
        with contextlib.suppress(OSError):
            write_frame(self.to_child, {"end": True})
        self.close_input()

    def close(self) -> None:
        self.close_input()
        if self.from_child >= 0:
            os.close(self.from_child)
            self.from_child = -1


@dataclass
class _Collected:
    """What came back from a job's child: each cell's frame, the evidence, its own last error, and how it ended."""

    cells: list[dict | None]
    status: str = "ok"
    detail: str = ""
    evidence: dict | None = None
    fatal: dict | None = None


def _collect(job: _Job, n_cells: int, limits: Limits,
             session: Callable[[Callable[[Any], Any]], None] | None) -> _Collected:
    """Read the child's frames until it closes, is past its time, or sends too much; runs `session` once the
    evidence is in. Frames are untrusted: anything not of the expected shape is ignored."""
    got = _Collected([None] * n_cells)
    total, done = 0, False
    while True:
        try:
            frame = job.read()
        except TimeoutError:
            got.status, got.detail = "timeout", f"killed after the {limits.timeout:g} s limit"
            break
        except (ValueError, UnicodeDecodeError) as exc:
            got.status, got.detail = "output-limit", f"stopped: {exc}"
            break
        if frame is None:
            break
        if frame.get("done"):
            done = True
            continue
        if "evidence" in frame:
            got.evidence = frame["evidence"] if isinstance(frame["evidence"], dict) else None
            if session is not None and job.to_child >= 0:
                try:
                    session(job.ask)
                finally:
                    job.end_session()
            continue
        if "fatal" in frame:  # the child's own error, just before it exits
            got.fatal = frame["fatal"] if isinstance(frame["fatal"], dict) else {}
            continue
        total += len(json.dumps(frame))
        if total > MAX_RESULT:
            got.status, got.detail = "output-limit", "stopped: outputs exceed 128 MB"
            break
        index = frame.get("index")
        if isinstance(index, int) and 0 <= index < n_cells and got.cells[index] is None:
            got.cells[index] = frame
    if got.status == "ok" and not done:
        got.status = "crashed"
    return got
