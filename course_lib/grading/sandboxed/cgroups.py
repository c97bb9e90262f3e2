"""Per-submission cgroups: a memory cap, a process cap and a fair CPU share for each child, on v1 or v2.

The trusted side makes one parent cgroup per job slot (``make_parent``) and passes its folders to the
template, which opens them before ``/sys/fs/cgroup`` is covered inside the sandbox. For every job the
template makes a child cgroup under that parent (``JobCgroup``), sets its limits, moves the forked child
in before any student code arrives, and after the sweep kills what is left in it, reads its peak memory
and removes it. Which version is used: cgroup v2 where ``/sys/fs/cgroup`` (or another cgroup2 mount)
offers the memory and pids controllers, else the v1 ``memory`` and ``pids`` hierarchies (``cpu`` too
where mounted). Hybrid machines (v1 controllers, an empty v2 ``unified`` mount) use v1.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = ("memory", "pids")
OPTIONAL = ("cpu",)
FIX = ("run the grader as root on a machine with the memory and pids cgroup controllers (v1 or v2); as a "
       "normal user on cgroup v2, run it in a delegated scope, e.g. `systemd-run --user --scope -p Delegate=yes "
       "python -m course_lib.grading autograde ...`")


class CgroupError(RuntimeError):
    """Per-submission cgroups cannot be set up here; the message says why (``FIX`` says what to do)."""


@dataclass
class Hierarchy:
    """Where this machine's cgroups live: version, and per controller the folder of our own cgroup."""

    version: int
    own: dict[str, Path] = field(default_factory=dict)   # controller -> folder (v2: one folder, key '')
    mount: Path | None = None                            # v2: where the cgroup2 tree is mounted


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount point, mount root, fs type, super options) of every cgroup mount, from /proc/self/mountinfo."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """Our cgroup path per v1 controller, and under key '' the v2 path (from /proc/self/cgroup)."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            paths[name] = path
    return paths


def _join(mount: str, root: str, path: str) -> Path:
    rel = os.path.relpath(path, root) if root != "/" and path.startswith(root) else path.lstrip("/")
    return Path(mount) / ("" if rel == "." else rel)


def detect() -> Hierarchy:
    """The cgroup hierarchy to use, or CgroupError when neither v2 nor v1 offers memory and pids."""
    if not Path("/proc/self/cgroup").exists():
        raise CgroupError("no cgroups on this system (/proc/self/cgroup is missing)")
    mounts, own = _mounts(), _own_paths()
    for mount, root, kind, _ in mounts:
        if kind != "cgroup2":
            continue
        try:
            offered = set(Path(mount, "cgroup.controllers").read_text().split())
        except OSError:
            continue
        if set(REQUIRED) <= offered and "" in own:
            return Hierarchy(2, {"": _join(mount, root, own[""])}, Path(mount))
    v1 = {}
    for mount, root, kind, options in mounts:
        for name in (*REQUIRED, *OPTIONAL):
            if kind == "cgroup" and name in options and name in own and name not in v1:
                v1[name] = _join(mount, root, own[name])
    missing = [name for name in REQUIRED if name not in v1]
    if missing:
        raise CgroupError(f"no cgroup {'/'.join(missing)} controller is mounted (neither v2 with them nor v1)")
    return Hierarchy(1, v1)


def _write(folder_fd: int, name: str, value: str) -> None:
    fd = os.open(name, os.O_WRONLY, dir_fd=folder_fd)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(folder_fd: int, name: str) -> str:
    fd = os.open(name, os.O_RDONLY, dir_fd=folder_fd)
    try:
        return os.read(fd, 1 << 20).decode()
    finally:
        os.close(fd)


def _enable_v2(folder: Path) -> None:
    wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in Path(folder, "cgroup.controllers").read_text().split()]
    for name in wanted:  # one at a time: an optional controller that is refused must not block the others
        try:
            Path(folder, "cgroup.subtree_control").write_text(f"+{name}")
        except OSError:
            if name in REQUIRED:
                raise


def make_parent(name: str) -> list[str]:
    """Create our parent cgroup `name` (a folder per v1 controller, one on v2); returns the folders.

    On v2 a cgroup holding processes cannot hand controllers to children, so the parent goes beside
    our own cgroup unless ours is the root. Raises CgroupError with what to do when that is refused.
    """
    hierarchy = detect()
    made: list[Path] = []
    try:
        if hierarchy.version == 2:
            own = hierarchy.own[""]
            base = own if own == hierarchy.mount else own.parent
            _enable_v2(base)
            folder = base / name
            folder.mkdir()
            made.append(folder)
            _enable_v2(folder)
            offered = set(Path(folder, "cgroup.subtree_control").read_text().split())
            if not set(REQUIRED) <= offered:
                raise CgroupError(f"cgroup v2 at {folder} does not hand memory and pids to its children")
        else:
            for controller, own in hierarchy.own.items():
                folder = own / name
                try:
                    folder.mkdir()
                except OSError:
                    if controller in REQUIRED:
                        raise
                    continue
                made.append(folder)
    except CgroupError:
        remove_parent([str(p) for p in made])
        raise
    except OSError as exc:
        remove_parent([str(p) for p in made])
        raise CgroupError(f"cannot create a cgroup v{hierarchy.version} for the sandbox: {exc}") from None
    return [str(p) for p in made]


def remove_parent(folders: list[str]) -> None:
    """Remove the parent cgroups made by ``make_parent`` (and any job cgroup a dead template left)."""
    for folder in folders:
        path = Path(folder)
        if not path.is_dir():
            continue
        for child in path.iterdir():
            if child.is_dir():
                _kill_and_remove(child)
        _kill_and_remove(path)


def _kill_and_remove(path: Path) -> None:
    for _ in range(50):
        try:
            for pid in Path(path, "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def controller_of(folder: str) -> str:
    """Which v1 controller a parent folder belongs to ('' on v2), from its interface files."""
    names = set(os.listdir(folder))
    if "cgroup.subtree_control" in names:
        return ""
    for controller in (*REQUIRED, *OPTIONAL):
        if any(n.startswith(controller + ".") for n in names):
            return controller
    return "?"


class JobCgroup:
    """One child's cgroup under the slot's parent(s), handled through folder descriptors (``parent_fds``)."""

    def __init__(self, parent_fds: dict[str, int], name: str, memory_bytes: int | None, max_pids: int | None) -> None:
        self.parent_fds, self.name = parent_fds, name
        self.fds: dict[str, int] = {}
        try:
            for controller, parent in parent_fds.items():
                os.mkdir(name, 0o755, dir_fd=parent)
                self.fds[controller] = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=parent)
            self._set_limits(memory_bytes, max_pids)
        except OSError:
            self.remove()
            raise

    @property
    def v2(self) -> bool:
        return "" in self.fds

    def _set_limits(self, memory_bytes: int | None, max_pids: int | None) -> None:
        memory = self.fds.get("" if self.v2 else "memory")
        pids = self.fds.get("" if self.v2 else "pids")
        if memory_bytes:
            if self.v2:
                _write(memory, "memory.max", str(memory_bytes))
                for name in ("memory.swap.max",):
                    try:
                        _write(memory, name, "0")
                    except OSError:
                        pass
            else:
                _write(memory, "memory.limit_in_bytes", str(memory_bytes))
                try:  # no swapping past the limit where swap is accounted
                    _write(memory, "memory.memsw.limit_in_bytes", str(memory_bytes))
                except OSError:
                    pass
        if max_pids:
            _write(pids, "pids.max", str(max_pids))

    def add(self, pid: int) -> None:
        """Move `pid` (of the caller's pid namespace) into this cgroup, in every controller."""
        for fd in self.fds.values():
            _write(fd, "cgroup.procs", str(pid))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for fd in self.fds.values():
            try:
                found.update(int(p) for p in _read(fd, "cgroup.procs").split())
            except OSError:
                pass
        return sorted(found)

    def kill_all(self) -> None:
        """SIGKILL everything still in the cgroup until it is empty (a fork bomb keeps forking for a while)."""
        if self.v2:
            try:
                _write(self.fds[""], "cgroup.kill", "1")
            except OSError:
                pass
        for _ in range(200):
            left = self.pids()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:  # collect our own children among them so they stop being listed
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.01)

    def peak_memory_bytes(self) -> int | None:
        """The highest memory use the cgroup saw (v1 memory.max_usage_in_bytes, v2 memory.peak)."""
        fd = self.fds.get("" if self.v2 else "memory")
        if fd is None:
            return None
        try:
            return int(_read(fd, "memory.peak" if self.v2 else "memory.max_usage_in_bytes").split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def oom_kills(self) -> int:
        """How many processes the kernel killed for hitting the memory cap (0 where not reported)."""
        fd = self.fds.get("" if self.v2 else "memory")
        try:
            text = _read(fd, "memory.events" if self.v2 else "memory.oom_control") if fd is not None else ""
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def remove(self) -> None:
        for controller, fd in list(self.fds.items()):
            os.close(fd)
            for _ in range(100):
                try:
                    os.rmdir(self.name, dir_fd=self.parent_fds[controller])
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        self.fds.clear()
