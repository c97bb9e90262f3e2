"""Operating-system isolation for graded code: hidden paths, a private uid, resource limits.

Linux only. The functions here run inside the sandbox's own mount and network namespaces
(see ``server``); nothing here touches the instructor's files.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import shutil
import signal
from pathlib import Path

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 32, 4096, 16384
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 38, 39
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
PTRACE_SEIZE = 0x4206

# World-writable or private places a submission must neither read nor use to leave things behind.
# /sys/fs/cgroup too: the template keeps descriptors of its own cgroups, the submission sees none.
DEFAULT_HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/home", "/root", "/mnt", "/media", "/srv",
                  "/sys/fs/cgroup")
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source} -> {target}: {os.strerror(err)}")


def _is_under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def hide_paths(hidden: list[str], keep: list[str], scratch_mb: int = 512) -> list[str]:
    """Cover every hidden directory with an empty tmpfs, then bind the kept ones back read-only.

    Must run as (namespace) root inside a private mount namespace. Returns the paths hidden.
    """
    real_hidden = sorted({os.path.realpath(p) for p in hidden if os.path.isdir(p)}, key=len)
    top: list[str] = []
    for path in real_hidden:
        if not any(_is_under(path, t) for t in top):
            top.append(path)
    real_keep = [os.path.realpath(p) for p in keep if os.path.exists(p)]
    keep_fds = {p: os.open(p, os.O_PATH) for p in real_keep if any(_is_under(p, t) for t in top)}
    for path in top:
        mode = "1777" if path in SCRATCH_DIRS else "755"
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size={scratch_mb}m")
    for path, fd in sorted(keep_fds.items(), key=lambda kv: len(kv[0])):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Path(path).touch()
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        os.close(fd)
    # A hidden folder inside a kept one (the course's package inside the kept environment) is covered again.
    again = [p for p in real_hidden if p not in top and any(_is_under(p, k) for k in keep_fds)]
    for path in again:
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    return top + again


def apply_limits(memory_bytes: int | None, cpu_seconds: int | None, max_file_bytes: int = 256 << 20,
                 max_processes: int | None = 512) -> None:
    """Cap data memory (RLIMIT_DATA: RLIMIT_AS would break `import torch`), CPU, file size, processes."""
    limits = {
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_FSIZE: max_file_bytes,
        resource.RLIMIT_NOFILE: 1024,
    }
    if max_processes:  # counted per real uid: only meaningful for a uid of the sandbox's own
        limits[resource.RLIMIT_NPROC] = max_processes
    if memory_bytes:
        limits[resource.RLIMIT_DATA] = memory_bytes
    if cpu_seconds:
        limits[resource.RLIMIT_CPU] = cpu_seconds
    for which, value in limits.items():
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))


def drop_privileges(uid: int | None, gid: int | None) -> None:
    """Become `uid`/`gid` with no supplementary groups, and forbid regaining rights (setuid binaries)."""
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(gid if gid is not None else uid)
        os.setuid(uid)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS, 1): {os.strerror(err)}")
    if _libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
        raise OSError("prctl(PR_SET_NO_NEW_PRIVS, 1) did not hold")


def set_dumpable(dumpable: bool) -> None:
    """Mark this process (un)dumpable: when not, no process without CAP_SYS_PTRACE in its user namespace can
    ptrace it or read its /proc files (environ, mem, maps), the same uid included."""
    _libc.prctl(PR_SET_DUMPABLE, int(dumpable), 0, 0, 0)
    if _libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != int(dumpable):
        raise OSError(f"prctl(PR_SET_DUMPABLE, {int(dumpable)}) did not hold")


def can_trace(pid: int) -> bool:
    """Whether this process may attach to `pid` with ptrace (the attachment ends when this process exits)."""
    return _libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0


def caught_signals() -> set[int]:
    """The signals this process has handlers for, as the kernel sees them (SigCgt in /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            mask = int(line.split()[1], 16)
            return {n + 1 for n in range(64) if mask >> n & 1}
    return set()


def lock_mounts() -> None:
    """Enter a nested user and mount namespace, so the covering mounts can no longer be undone.

    Used where the sandbox runs as the instructor's own user (no root): inside the first user
    namespace the child would be root and could unmount the tmpfs covers; mounts inherited by a
    less privileged namespace are locked together by the kernel.
    """
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def kill_all_of_uid(uid: int) -> None:
    """Kill every process running as `uid` (what a submission may have left behind), from a helper."""
    pid = os.fork()
    if pid == 0:  # the helper takes the uid so that kill(-1) reaches exactly that user's processes
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(3):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def clean_scratch(uid: int | None) -> None:
    """Empty the private scratch directories between two submissions of one sandbox."""
    for top in SCRATCH_DIRS:
        if not os.path.isdir(top):
            continue
        for entry in os.scandir(top):
            try:
                if uid is not None and entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def data_memory_kb() -> int:
    """This process's data segment size (what RLIMIT_DATA counts), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1])
    return 0
