"""A warm, isolated place to run one submission's code: a template process per job slot that forks per job.

The template starts once per slot inside its own network and mount namespaces (no network; the course,
/tmp, /home and the other scratch places are covered by empty tmpfs mounts), imports torch and friends,
and then only forks. It never sees a submission: the trusted side passes each fork a fresh pair of pipes,
writes the job to the child and reads its results. The child drops to the slot's own uid, sets resource
limits, and runs the cells (`cellrunner`). After each job the slot's uid is swept of processes and files.

Run as `python -m course_lib.grading.sandbox` only by `Sandbox` below.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import importlib
import json
import os
import pwd
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import isolation

UID_BASE = 61000  # slot k runs as uid UID_BASE + k: numeric ids without an account (those with one are skipped)
SLOT_LOCK_DIR = Path("/run/cnn-grader-slots")
DEFAULT_PRELOAD = ("numpy", "torch", "torch.nn", "torchvision", "matplotlib", "matplotlib.pyplot", "IPython",
                   "ipykernel.zmqshell", "ipywidgets",
                   "course_lib")
MAX_FRAME = 32 << 20        # one cell's outputs
MAX_RESULT = 128 << 20      # all outputs of one submission
_HEADER = struct.Struct("!I")


class SandboxError(RuntimeError):
    """The sandbox itself (not the submission) failed: it could not start or stopped answering."""


class LimitsError(SandboxError):
    """The limits asked for cannot work on this machine."""


def write_frame(fd: int, message: dict) -> None:
    data = json.dumps(message, default=str).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks, need = [], size
    while need:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(need, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None, limit: int = MAX_FRAME) -> dict | None:
    """Read one length-prefixed JSON frame; None at end of file. Raises TimeoutError, ValueError (too big)."""
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise ValueError(f"output of {size} bytes exceeds the {limit}-byte limit")
    body = _read_exact(fd, size, deadline)
    if body is None:
        return None
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("malformed message")
    return message


# ----------------------------------------------------------------------------------------------------
# The template process (trusted code, runs as root in its namespaces when root started it)
# ----------------------------------------------------------------------------------------------------

def _child(job_fd: int, result_fd: int, opts: dict) -> None:
    """In the forked child: isolate, read the job, run it, report. Never returns."""
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        keep = {job_fd, result_fd, 0, 1, 2}
        for fd in range(3, 4096):  # the template's control socket must not reach student code
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        uid = opts.get("uid")
        isolation.apply_limits(opts.get("memory_bytes"), opts.get("cpu_seconds"),
                               max_processes=512 if uid is not None else None)
        if opts.get("nest"):
            isolation.lock_mounts()
        isolation.drop_privileges(uid, uid)
        job = read_frame(job_fd, time.monotonic() + 60, limit=MAX_RESULT)
        os.close(job_fd)
        if job is None:
            os._exit(3)
        work = Path("/tmp") / f"submission-{os.getpid()}"
        work.mkdir(mode=0o700)
        for rel, b64 in job.get("files", {}).items():
            target = (work / rel).resolve()
            if not str(target).startswith(str(work) + "/"):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(b64))
        os.chdir(work)
        name = f"grader{uid}" if uid is not None else os.environ.get("USER", "grader")
        os.environ.clear()
        os.environ.update({
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "USER": name, "LOGNAME": name,
            "LANG": "C.UTF-8", "IPYTHONDIR": str(work / ".ipython"), "MPLCONFIGDIR": str(work / ".mpl"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline", "NBGRADER_EXECUTION": "autograde",
            "TMPDIR": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
        })
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(max(1, int(opts.get("threads") or 1)))
        sys.path.insert(0, "")
        from .cellrunner import run_cells
        run_cells(job["cells"], job.get("cell_timeout"), lambda msg: write_frame(result_fd, msg))
        write_frame(result_fd, {"done": True})
    except BaseException:  # noqa: BLE001 - the child reports by its exit status and end of file
        os._exit(4)
    os._exit(0)


def _reap_orphans() -> None:
    """As init of the pid namespace the template inherits orphans; collect their exit statuses."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    return
            except ChildProcessError:
                return


def _serve(sock: socket.socket, uid: int | None, private_scratch: bool, nest: bool) -> None:
    """Answer the trusted side: 'fork' (with two pipe ends attached) and 'sweep'."""
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 4)
        except OSError:
            return
        if not msg:
            return
        request = json.loads(msg)
        if request["cmd"] == "fork":
            job_fd, result_fd = fds
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(job_fd, result_fd, {**request, "uid": uid, "nest": nest})
            os.close(job_fd)
            os.close(result_fd)
            sock.sendall(json.dumps({"pid": pid}).encode())
        elif request["cmd"] == "sweep":
            for fd in fds:
                os.close(fd)
            status = None
            pid = request.get("pid")
            if pid:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    _, raw = os.waitpid(pid, 0)
                    status = -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)
                except ChildProcessError:
                    pass
            if os.getpid() == 1:  # init of our own pid namespace: everything else in it is the submission's
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            elif uid is not None:
                isolation.kill_all_of_uid(uid)
            _reap_orphans()
            if private_scratch:  # only ever inside our own tmpfs mounts, never the machine's /tmp
                isolation.clean_scratch(uid)
            sock.sendall(json.dumps({"status": status}).encode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="control socket inherited from the trusted side")
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--keep", action="append", default=[])
    parser.add_argument("--preload", default=",".join(DEFAULT_PRELOAD))
    parser.add_argument("--nest", action="store_true", help="lock the mounts in a nested user namespace per child")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    hidden: list[str] = []
    warnings: list[str] = []
    if args.hide:
        try:
            hidden = isolation.hide_paths(args.hide, args.keep)
        except OSError as exc:
            warnings.append(f"could not hide paths: {exc}")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ.setdefault("MPLCONFIGDIR", "/tmp/.mpl-template")
    for name in filter(None, args.preload.split(",")):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional module only costs speed
            warnings.append(f"preload {name}: {exc}")
    if args.uid is not None:
        isolation.kill_all_of_uid(args.uid)
    sock.sendall(json.dumps({"ready": True, "hidden": hidden, "warnings": warnings,
                             "vmdata_kb": isolation.data_memory_kb()}).encode())
    _serve(sock, args.uid, private_scratch="/tmp" in hidden, nest=args.nest and bool(hidden))


# ----------------------------------------------------------------------------------------------------
# The trusted side
# ----------------------------------------------------------------------------------------------------

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

    def start(self) -> "Sandbox":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "course_lib.grading.sandbox", "--fd", str(theirs.fileno()),
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
            hide = [*isolation.DEFAULT_HIDDEN, *self.hide]
            keep = [sys.prefix, str(Path(__file__).resolve().parents[1]), *self.keep]
            command += [f"--hide={p}" for p in hide] + [f"--keep={p}" for p in keep]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DASK_"))}
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
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

    def run(self, cells: list[str], files: dict[str, bytes], limits: Limits) -> JobResult:
        """Run `cells` with `files` beside them in a fresh isolated child; never raises for student faults."""
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
        status, detail = "ok", ""
        try:
            job = {"cells": cells, "cell_timeout": limits.cell_timeout,
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
        return JobResult(cells_out, status, detail, time.monotonic() - started, exit_status)

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

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    main()
