"""The trusted side's handle on a sandbox: a warm template process per job slot, which forks per job.

The template (``sandboxed.server``) runs from a private copy of the ``sandboxed`` package alone, inside
its own namespaces; this side starts it, hands each job (the cells, the files beside the notebook and the
evidence requests) to a fresh child through a pair of pipes, and reads back the cells' outputs and the
evidence, which only ``channel.decode`` ever parses. After each job the slot is swept.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sandboxed import isolation
from .sandboxed.channel import read_frame, write_frame
from .sandboxed.server import DEFAULT_PRELOAD

UID_BASE = 61000  # slot k runs as uid UID_BASE + k: numeric ids without an account (those with one are skipped)
SLOT_LOCK_DIR = Path("/run/cnn-grader-slots")
MAX_RESULT = 128 << 20      # all outputs of one submission
SANDBOXED_PACKAGE = Path(__file__).resolve().parent / "sandboxed"
COURSE_PACKAGE = Path(__file__).resolve().parents[1]  # course_lib itself: never visible in a sandbox


class SandboxError(RuntimeError):
    """The sandbox itself (not the submission) failed: it could not start or stopped answering."""


class LimitsError(SandboxError):
    """The limits asked for cannot work on this machine."""


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


@dataclass
class JobResult:
    """What came back from one submission's run: per-cell outputs (None: the cell never finished)."""

    cells: list[dict | None]
    status: str                      # "ok", "timeout", "crashed", "output-limit"
    detail: str = ""
    seconds: float = 0.0
    exit_status: int | None = None
    evidence: dict | None = None     # the encoded answers to the evidence requests (decode with channel)

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


def isolation_mode() -> str:
    """'full' as root (own uid per slot, namespaces); 'namespaces' for a normal user; 'none' without unshare."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "none"
    return "full" if os.geteuid() == 0 else "namespaces"


@dataclass
class Sandbox:
    """One job slot: a warm template process and the means to run jobs in fresh children of it."""

    hide: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    mode: str = field(default_factory=isolation_mode)
    uid: int | None = None
    warnings: list[str] = field(default_factory=list)
    _proc: subprocess.Popen | None = None
    _sock: socket.socket | None = None
    _lock_handle: Any = None
    _stage: str | None = None

    def start(self) -> "Sandbox":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._stage = stage_sandboxed_package()
        command = [sys.executable, "-m", "sandboxed.server", "--fd", str(theirs.fileno()),
                   "--preload", ",".join(self.preload)]
        if self.mode == "full":
            slot, self._lock_handle = _claim_slot()
            self.uid = UID_BASE + slot
            command = ["unshare", "--net", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
                       *command, "--uid", str(self.uid)]
        elif self.mode == "namespaces":
            command = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--propagation", "private",
                       "--pid", "--fork", "--mount-proc", *command, "--nest"]
        if self.mode != "none":
            hide = [*isolation.DEFAULT_HIDDEN, *self.hide, str(COURSE_PACKAGE)]
            keep = [sys.prefix, *self.keep]
            command += [f"--hide={p}" for p in hide] + [f"--keep={p}" for p in keep]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DASK_"))}
        env["PYTHONPATH"] = self._stage
        self._proc = subprocess.Popen(command, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, env=env, cwd="/")
        theirs.close()
        self._sock = ours
        ours.settimeout(180)
        try:
            reply = json.loads(ours.recv(1 << 16) or b"{}")
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox did not start: {exc}") from exc
        if not reply.get("ready"):
            raise SandboxError(f"sandbox did not start (exit {self._proc.poll()})")
        self.warnings = list(reply.get("warnings", []))
        self.template_data_mb = reply.get("vmdata_kb", 0) / 1024
        ours.settimeout(None)
        return self

    def check_limits(self, limits: Limits) -> None:
        """Refuse a memory limit below what the warm interpreter itself holds (every cell would fail)."""
        if limits.memory_mb < self.template_data_mb + 256:
            raise LimitsError(f"--memory-mb {limits.memory_mb} leaves no room: the warm interpreter alone uses "
                              f"{self.template_data_mb:.0f} MB; give at least {self.template_data_mb + 512:.0f}")

    def run(self, cells: list[str], files: dict[str, bytes], limits: Limits, requests: dict | None = None) -> JobResult:
        """Run `cells` with `files` beside them in a fresh isolated child, then answer the evidence `requests`
        (a ``channel.encode`` message); never raises for student faults."""
        if self._sock is None:
            self.start()
        self.check_limits(limits)
        memory = limits.memory_mb << 20
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        started = time.monotonic()
        request = {"cmd": "fork", "memory_bytes": memory, "threads": limits.threads,
                   "cpu_seconds": int(limits.timeout * max(1, limits.threads)) + 10}
        try:
            socket.send_fds(self._sock, [json.dumps(request).encode()], [job_r, res_w])
            pid = json.loads(self._sock.recv(1 << 16))["pid"]
        except (OSError, ValueError, KeyError) as exc:
            raise SandboxError(f"sandbox stopped answering: {exc}") from exc
        finally:
            os.close(job_r)
            os.close(res_w)
        cells_out: list[dict | None] = [None] * len(cells)
        status, detail, evidence = "ok", "", None
        try:
            job = {"cells": cells, "cell_timeout": limits.cell_timeout, "requests": requests,
                   "files": {k: base64.b64encode(v).decode() for k, v in files.items()}}
            try:
                write_frame(job_w, job)
            except BrokenPipeError:
                pass
            os.close(job_w)
            job_w = -1
            deadline = started + limits.timeout
            total, done = 0, False
            while True:
                try:
                    frame = read_frame(res_r, deadline)
                except TimeoutError:
                    status, detail = "timeout", f"killed after the {limits.timeout:g} s limit"
                    break
                except (ValueError, UnicodeDecodeError) as exc:
                    status, detail = "output-limit", f"stopped: {exc}"
                    break
                if frame is None:
                    break
                if frame.get("done"):
                    done = True
                    continue
                if "evidence" in frame:
                    evidence = frame["evidence"] if isinstance(frame["evidence"], dict) else None
                    continue
                total += len(json.dumps(frame))
                if total > MAX_RESULT:
                    status, detail = "output-limit", "stopped: outputs exceed 128 MB"
                    break
                index = frame.get("index")
                if isinstance(index, int) and 0 <= index < len(cells) and cells_out[index] is None:
                    cells_out[index] = frame
            if status == "ok" and not done:
                status = "crashed"
        finally:
            if job_w >= 0:
                os.close(job_w)
            os.close(res_r)
            exit_status = self._sweep(pid)  # the template kills it: the pid is one of its namespace
        if status == "crashed":
            detail = (f"the notebook's process died (signal {-exit_status})" if exit_status and exit_status < 0
                      else f"the notebook's process stopped early (exit {exit_status})")
        return JobResult(cells_out, status, detail, time.monotonic() - started, exit_status, evidence)

    def _sweep(self, pid: int) -> int | None:
        try:
            socket.send_fds(self._sock, [json.dumps({"cmd": "sweep", "pid": pid}).encode()], [])
            return json.loads(self._sock.recv(1 << 16)).get("status")
        except (OSError, ValueError) as exc:
            raise SandboxError(f"sandbox stopped answering: {exc}") from exc

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


if __name__ == "__main__":
    main()
