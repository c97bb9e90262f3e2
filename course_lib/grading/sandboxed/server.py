"""The sandbox's template process: started once per job slot inside its own namespaces, it forks per job.

The template starts inside its own network and mount namespaces (no network; the course, /tmp, /home and
the other scratch places are covered by empty tmpfs mounts), imports torch and friends, and then only
forks. It never sees a submission: the trusted side (``course_lib.grading.autograde.sandbox``) passes each fork a
fresh pair of pipes, writes the job to the child and reads its results. The child drops to the slot's own
uid, sets resource limits, runs the cells (``cellrunner``), answers the evidence requests (``evidence``)
and reports through ``channel``. After each job the slot's uid is swept of processes and files.

It runs from a copy of this package alone (``python -m sandboxed.server``), so nothing of ``course_lib``
is importable next to the student's code.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from . import cgroups, channel, evidence, isolation, syscalls
from .cellrunner import run_cells
from .channel import read_frame, write_frame

DEFAULT_PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torchvision", "matplotlib",
                   "matplotlib.pyplot", "IPython", "ipykernel.zmqshell", "ipywidgets")
MAX_JOB = 128 << 20


class StepFailed(Exception):
    """An isolation step could not be set up: `step` names it for the instructor's error message."""

    def __init__(self, step: str, error: str) -> None:
        super().__init__(f"{step}: {error}")
        self.step, self.error = step, error


def _step(name: str, action, *args):
    try:
        return action(*args)
    except (OSError, ValueError) as exc:
        raise StepFailed(name, str(exc)) from None


def _isolate(opts: dict) -> None:
    """The child's own isolation, in order: new session, no inherited descriptors, limits, locked mounts,
    own uid, then the syscall filter (``opts["syscall_filter"]``, built by the template; None only where
    --unsafe skipped it). Raises StepFailed naming the step that could not be done."""
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    keep = {*opts.get("keep_fds", ()), 0, 1, 2}
    for fd in range(3, 4096):  # the template's control socket and cgroup folders must not reach student code
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the template has none: it is its namespace's init
    uid = opts.get("uid")
    _step("limits", isolation.apply_limits, opts.get("memory_bytes"), opts.get("cpu_seconds"),
          256 << 20, 512 if uid is not None else None)
    if opts.get("nest"):
        _step("mount lock (nested user namespace)", isolation.lock_mounts)
    _step("own uid", isolation.drop_privileges, uid, uid)
    if uid is not None and (os.getuid(), os.geteuid(), os.getgid()) != (uid, uid, uid):
        raise StepFailed("own uid", f"still running as uid {os.getuid()}, gid {os.getgid()}")
    if opts.get("syscall_filter") is not None:
        _step("syscall filter", syscalls.install, opts["syscall_filter"])


def _child(job_fd: int, result_fd: int, opts: dict) -> None:
    """In the forked child: isolate, read the job, run it, report. Never returns.

    A failure outside the student's cells is reported as ``{"fatal": {"stage", "error"}}`` before exit 4:
    stage "setup" (before the first cell could run: the grader's side) or "cells"/"evidence".
    """
    stage = "setup"
    try:
        _isolate({**opts, "keep_fds": (job_fd, result_fd)})
        uid = opts.get("uid")
        job = read_frame(job_fd, time.monotonic() + 60, limit=MAX_JOB)
        if job is None:
            os._exit(3)
        if not job.get("session"):
            os.close(job_fd)
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
        def started() -> None:
            nonlocal stage
            stage = "cells"

        namespace = run_cells(job["cells"], job.get("cell_timeout"), lambda msg: write_frame(result_fd, msg),
                              started=started)
        stage = "evidence"
        if job.get("requests") is not None:
            try:
                requests = channel.decode(job["requests"])
            except channel.ChannelError:
                requests = []
            results = evidence.answer(namespace, requests, job.get("cell_timeout"))
            write_frame(result_fd, {"evidence": channel.encode(results, evidence.tensor_to_array)})
        if job.get("session"):  # ordinary test cells: the trusted side asks one operation at a time
            stage = "session"
            session = evidence.Session(namespace)
            while (message := read_frame(job_fd, limit=MAX_JOB)) is not None and "op" in message:
                try:
                    op = channel.decode(message["op"])
                except channel.ChannelError:
                    op = None
                write_frame(result_fd, {"answer": channel.encode(session.answer(op, job.get("cell_timeout")),
                                                                 evidence.tensor_to_array)})
        write_frame(result_fd, {"done": True})
    except BaseException as exc:  # noqa: BLE001 - the child reports by its exit status and end of file
        try:
            write_frame(result_fd, {"fatal": {"stage": stage, "error": evidence.describe_error(exc)}})
        except BaseException:  # noqa: BLE001 - the exit status still says it failed
            pass
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


def _serve(sock: socket.socket, uid: int | None, private_scratch: bool, nest: bool,
           cgroup_fds: dict[str, int], syscall_filter: object | None = None) -> None:
    """Answer the trusted side until it closes the socket: 'fork' (with two pipe ends attached) and 'sweep'."""
    template = _Template(sock, uid, private_scratch, nest, cgroup_fds, syscall_filter)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 4)
        except OSError:
            return
        if not msg:
            return
        request = json.loads(msg)
        if request["cmd"] == "fork":
            reply = template.fork(request, fds)
        elif request["cmd"] == "sweep":
            for fd in fds:
                os.close(fd)
            reply = template.sweep(request.get("pid"))
        else:
            for fd in fds:
                os.close(fd)
            reply = {"error": f"unknown command {str(request['cmd'])[:40]!r}"}
        sock.sendall(json.dumps(reply).encode())


class _Template:
    """The warm template's two jobs: fork a child per job (in a cgroup of its own), and sweep up after it."""

    def __init__(self, sock: socket.socket, uid: int | None, private_scratch: bool, nest: bool,
                 cgroup_fds: dict[str, int], syscall_filter: object | None) -> None:
        self.sock, self.uid, self.private_scratch, self.nest = sock, uid, private_scratch, nest
        self.cgroup_fds, self.syscall_filter = cgroup_fds, syscall_filter
        self.jobs: dict[int, cgroups.JobCgroup] = {}
        self.serial = 0

    def fork(self, request: dict, fds: list[int]) -> dict:
        """Fork the job's child on the pipes `fds`; its pid, or why it could not start."""
        job_fd, result_fd = fds
        self.serial += 1
        group = None
        if self.cgroup_fds:  # made and limited before the fork, entered before the job (and its code) arrives
            try:
                group = cgroups.JobCgroup(self.cgroup_fds, f"job-{self.serial}", request.get("memory_bytes"),
                                          request.get("max_pids"))
            except OSError as exc:
                os.close(job_fd)
                os.close(result_fd)
                return {"error": f"cgroup for the job: {exc}"}
        pid = os.fork()
        if pid == 0:
            self.sock.close()
            _child(job_fd, result_fd, {**request, "uid": self.uid, "nest": self.nest,
                                       "syscall_filter": self.syscall_filter})
        os.close(job_fd)
        os.close(result_fd)
        if group is not None:
            try:
                group.add(pid)
                self.jobs[pid] = group
            except OSError as exc:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                group.remove()
                return {"error": f"moving the job into its cgroup: {exc}"}
        return {"pid": pid}

    def sweep(self, pid: int | None) -> dict:
        """Kill the job `pid` and everything it left, reap it, clean the scratch space; its exit status and
        its cgroup's peak memory and OOM kills."""
        status = None
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
            try:  # one sweep no fork can outrun: a process with SIGKILL pending cannot fork
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif self.uid is not None:
            isolation.kill_all_of_uid(self.uid)
        group = self.jobs.pop(pid, None) if pid else None
        if group is not None:  # whatever escaped the above (e.g. no pid namespace under --unsafe)
            group.kill_all()
        _reap_orphans()
        if self.private_scratch:  # only ever inside our own tmpfs mounts, never the machine's /tmp
            isolation.clean_scratch(self.uid)
        reply: dict = {"status": status}
        if group is not None:
            peak = group.peak_memory_bytes()
            reply.update(peak_memory_mb=None if peak is None else round(peak / 2**20, 1), oom_kills=group.oom_kills())
            group.remove()
        return reply


def _no_signal_handlers() -> None:
    """Leave no signal caught: the kernel then drops every signal sent to its namespace's init from inside."""
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            if signal.getsignal(number) not in (signal.SIG_DFL, signal.SIG_IGN):
                signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):  # glibc's own (32, 33) cannot be touched: it ignores foreign senders
            pass
    caught = isolation.caught_signals() - {32, 33}
    if caught:
        raise OSError(f"signals {sorted(caught)} still have handlers in the template")


def _probe(uid: int | None, nest: bool, cgroup_fds: dict[str, int], isolated: bool,
           syscall_filter: object | None = None) -> None:
    """Fork one child through every isolation step a job's child takes, and check from inside it that it
    cannot trace or read the template, then, under the syscall filter, that every denied call is refused.
    Raises StepFailed with the first step that does not hold."""
    group = cgroups.JobCgroup(cgroup_fds, "probe", 1 << 30, 64) if cgroup_fds else None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        verdict: dict = {"ok": True}
        try:
            _isolate({"uid": uid, "nest": nest, "memory_bytes": 1 << 40, "cpu_seconds": 60,
                      "keep_fds": (write_end,)})
            template = os.getppid()
            if isolated and isolation.can_trace(template):
                raise StepFailed("template protection", "a child can ptrace the template")
            try:
                if isolated:
                    Path(f"/proc/{template}/environ").read_bytes()
                    raise StepFailed("template protection", "a child can read the template's environment")
            except PermissionError:
                pass
            if syscall_filter is not None:  # loaded after the checks above, which ptrace would otherwise pass
                _step("syscall filter", syscalls.install, syscall_filter)
                allowed = _step("syscall filter", syscalls.refusals)
                if allowed:
                    raise StepFailed("syscall filter", "not refused under the filter: " + "; ".join(
                        f"{name} {what}" for name, what in allowed.items()))
        except StepFailed as exc:
            verdict = {"step": exc.step, "error": exc.error}
        except BaseException as exc:  # noqa: BLE001
            verdict = {"step": "probe", "error": repr(exc)}
        os.write(write_end, json.dumps(verdict).encode())
        os._exit(0)
    os.close(write_end)
    try:
        if group is not None:
            try:
                group.add(pid)
            except OSError as exc:
                os.kill(pid, signal.SIGKILL)
                raise StepFailed("cgroups", f"moving a child into its cgroup: {exc}") from None
        with os.fdopen(read_end, "rb") as pipe:
            answer = pipe.read()
        os.waitpid(pid, 0)
    finally:
        if group is not None:
            group.kill_all()
            group.remove()
    verdict = json.loads(answer or b'{"step": "probe", "error": "the probe child died"}')
    if not verdict.get("ok"):
        raise StepFailed(verdict["step"], verdict["error"])


def _setup(args: argparse.Namespace, skipped: list[str]) -> tuple[list[str], dict[str, int], bool, object | None]:
    """The template's isolation steps, each failing closed (StepFailed) unless --unsafe lets it be skipped."""
    def attempt(step: str, action, *a):
        try:
            return _step(step, action, *a)
        except StepFailed as exc:
            if not args.unsafe:
                raise
            skipped.append(str(exc))
            return None

    attempt("template not traceable", isolation.set_dumpable, False)
    syscall_filter = attempt("syscall filter", syscalls.build)  # libseccomp is loaded before paths are hidden
    cgroup_fds: dict[str, int] = {}
    for folder in args.cgroup:  # opened now: /sys/fs/cgroup is covered below
        fd = attempt("cgroups", os.open, folder, os.O_RDONLY | os.O_DIRECTORY)
        if fd is not None:
            cgroup_fds[cgroups.controller_of(folder)] = fd
    hidden: list[str] = []
    if args.hide:
        hidden = attempt("hide paths", isolation.hide_paths, args.hide, args.keep) or []
    if args.isolated:
        attempt("signals", _no_signal_handlers)
    return hidden, cgroup_fds, args.nest, syscall_filter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="control socket inherited from the trusted side")
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--keep", action="append", default=[])
    parser.add_argument("--cgroup", action="append", default=[], help="parent cgroup folder (one per v1 controller)")
    parser.add_argument("--preload", default=",".join(DEFAULT_PRELOAD))
    parser.add_argument("--nest", action="store_true", help="lock the mounts in a nested user namespace per child")
    parser.add_argument("--isolated", action="store_true", help="started in its own namespaces (as their init)")
    parser.add_argument("--unsafe", action="store_true", help="skip the isolation steps that fail, and say so")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    skipped: list[str] = []
    warnings: list[str] = []
    try:
        hidden, cgroup_fds, nest, syscall_filter = _setup(args, skipped)
    except StepFailed as exc:
        sock.sendall(json.dumps({"ready": False, "step": exc.step, "error": exc.error}).encode())
        return
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ.setdefault("MPLCONFIGDIR", "/tmp/.mpl-template")
    for name in filter(None, args.preload.split(",")):
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a missing optional module only costs speed
            warnings.append(f"preload {name}: {exc}")
    if args.isolated:  # a preloaded library may have set handlers of its own
        try:
            _no_signal_handlers()
        except OSError as exc:
            if not args.unsafe:
                sock.sendall(json.dumps({"ready": False, "step": "signals", "error": str(exc)}).encode())
                return
            skipped.append(f"signals: {exc}")
    if args.uid is not None:
        isolation.kill_all_of_uid(args.uid)
    try:
        _probe(args.uid, nest, cgroup_fds, args.isolated, syscall_filter)
    except StepFailed as exc:
        if not args.unsafe:
            sock.sendall(json.dumps({"ready": False, "step": exc.step, "error": exc.error}).encode())
            return
        skipped.append(str(exc))
    sock.sendall(json.dumps({"ready": True, "hidden": hidden, "warnings": warnings, "skipped": skipped,
                             "vmdata_kb": isolation.data_memory_kb()}).encode())
    _serve(sock, args.uid, private_scratch="/tmp" in hidden, nest=nest, cgroup_fds=cgroup_fds,
           syscall_filter=syscall_filter)
    # The trusted side has closed the socket: nothing is left to flush, and the interpreter's own teardown
    # (torch's finalisers) took about a second per template while the grader waited for it to go.
    os._exit(0)


if __name__ == "__main__":
    main()
