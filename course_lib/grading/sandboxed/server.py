"""The sandbox's template process: started once per job slot inside its own namespaces, it forks per job.

The template starts inside its own network and mount namespaces (no network; the course, /tmp, /home and
the other scratch places are covered by empty tmpfs mounts), imports torch and friends, and then only
forks. It never sees a submission: the trusted side (``course_lib.grading.sandbox``) passes each fork a
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

from . import channel, evidence, isolation
from .cellrunner import run_cells
from .channel import read_frame, write_frame

DEFAULT_PRELOAD = ("numpy", "torch", "torch.nn", "torch.nn.functional", "torchvision", "matplotlib",
                   "matplotlib.pyplot", "IPython", "ipykernel.zmqshell", "ipywidgets")
MAX_JOB = 128 << 20


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
        job = read_frame(job_fd, time.monotonic() + 60, limit=MAX_JOB)
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
        namespace = run_cells(job["cells"], job.get("cell_timeout"), lambda msg: write_frame(result_fd, msg))
        if job.get("requests") is not None:
            try:
                requests = channel.decode(job["requests"])
            except channel.ChannelError:
                requests = []
            results = evidence.answer(namespace, requests, job.get("cell_timeout"))
            write_frame(result_fd, {"evidence": channel.encode(results, evidence.tensor_to_array)})
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


if __name__ == "__main__":
    main()
