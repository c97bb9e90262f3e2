"""The syscall filter every job's child runs under: seccomp-bpf through libseccomp (``pyseccomp``).

Namespaces, hidden paths and a uid of its own leave the kernel's whole interface open to the student's
code; this filter closes the parts a notebook never needs and sandboxes (Docker's default profile, nsjail,
bubblewrap) close too. It is a documented deny list, not an allow list: torch, numpy, matplotlib and IPython
use a wide and changing set of ordinary calls, and each kernel release adds new ones; what is denied is the
kernel surface that creates namespaces, reaches into other processes, mounts, loads kernel code or programs,
or has been a steady source of privilege escalations. Every denied call fails with EPERM (``clone3`` with
ENOSYS, so that glibc falls back to ``clone``, whose flags the filter can read: ``clone3`` keeps them in
memory); a call made through another architecture's convention (32-bit ``int 0x80``, x32) kills the process.

The template builds the filter once (``build``); each child loads it (``install``) as the last isolation
step, after it has dropped to its own uid with ``PR_SET_NO_NEW_PRIVS`` set; ``refusals`` makes each denied
call from inside and returns those that were not refused, which the template's start-up probe requires to
be none.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
from pathlib import Path
from typing import Any

DENIED: dict[str, tuple[str, ...]] = {
    "namespaces": ("unshare", "setns"),                     # clone with namespace flags: NAMESPACE_FLAGS
    "other processes": ("ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd"),
    "mounts": ("mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
               "open_tree", "mount_setattr", "swapon", "swapoff", "quotactl", "quotactl_fd",
               "name_to_handle_at", "open_by_handle_at"),
    "kernel programs": ("bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
                        "io_uring_register", "fanotify_init", "lookup_dcookie"),
    "keyrings": ("keyctl", "add_key", "request_key"),
    "kernel modules and the machine": ("init_module", "finit_module", "delete_module", "create_module",
                                       "get_kernel_syms", "query_module", "reboot", "kexec_load",
                                       "kexec_file_load", "acct", "syslog", "vhangup", "iopl", "ioperm",
                                       "uselib", "nfsservctl", "_sysctl", "sysfs", "ustat"),
    "clocks": ("settimeofday", "clock_settime", "clock_adjtime"),
}
ENOSYS_CALLS = ("clone3",)  # glibc retries with clone on ENOSYS; a filter cannot read clone3's flags
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x02000000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
NAMESPACE_FLAGS = (CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                   CLONE_NEWNET)
CLONE_THREAD = 0x00010000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


def denied_names() -> list[str]:
    """Every call the filter refuses outright (clone with namespace flags aside)."""
    return [name for group in DENIED.values() for name in group] + list(ENOSYS_CALLS)


def _seccomp() -> Any:
    try:
        import pyseccomp
    except (ImportError, RuntimeError, OSError) as exc:  # RuntimeError: pyseccomp finds no libseccomp
        raise OSError(f"libseccomp's bindings cannot be loaded ({exc})") from None
    return pyseccomp


def number(name: str) -> int:
    """This machine's number for syscall `name` (negative where its architecture has no such call)."""
    seccomp = _seccomp()
    return int(seccomp.resolve_syscall(seccomp.Arch.NATIVE, name))


def build() -> Any:
    """The filter, ready to load: default allow, the DENIED calls and namespace-creating clones refused.

    Raises OSError when libseccomp or its bindings are missing or refuse a rule."""
    seccomp = _seccomp()
    deny = seccomp.ERRNO(errno.EPERM)
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
        rules.set_attr(seccomp.Attr.CTL_NNP, 1)
        rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)  # every thread of the child, should one exist already
        for name in denied_names():
            if number(name) < 0:  # not a call of this architecture (e.g. create_module on newer ABIs)
                continue
            rules.add_rule(seccomp.ERRNO(errno.ENOSYS) if name in ENOSYS_CALLS else deny, name)
        for flag in NAMESPACE_FLAGS:
            rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    except (OSError, ValueError) as exc:
        raise OSError(f"building the filter: {exc}") from None
    return rules


def install(rules: Any) -> None:
    """Load `rules` into this process (for good: a seccomp filter cannot be removed), and check it holds."""
    try:
        rules.load()
    except OSError as exc:
        raise OSError(exc.errno, f"seccomp_load: {exc.strerror}") from None
    if filter_mode() != 2:
        raise OSError("the kernel reports no seccomp filter on this process after loading it")


def filter_mode() -> int:
    """This process's seccomp mode as the kernel reports it: 0 none, 1 strict, 2 filter."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("Seccomp:"):
            return int(line.split()[1])
    return 0


def _attempts() -> dict[str, tuple[int, ...]]:
    """Arguments for each denied call that the kernel itself would reject harmlessly (bad flags, descriptors
    or addresses), should the filter ever let one through: no attempt can change anything."""
    bad = 0xFFFFFFFF
    return {
        "unshare": (bad,), "setns": (bad, 0), "ptrace": (0x4206, 0, 0, 0),  # PTRACE_SEIZE of no process
        "process_vm_readv": (0, 0, 0, 0, 0, bad), "process_vm_writev": (0, 0, 0, 0, 0, bad),
        "kcmp": (0, 0, bad, 0, 0), "pidfd_getfd": (bad, bad, bad),
        "mount": (0, 0, 0, 0, 0), "umount2": (0, bad), "pivot_root": (0, 0), "fsopen": (0, bad),
        "fsconfig": (bad, bad, 0, 0, 0), "fsmount": (bad, bad, bad), "fspick": (bad, 0, bad),
        "move_mount": (bad, 0, bad, 0, bad), "open_tree": (bad, 0, bad), "mount_setattr": (bad, 0, bad, 0, 0),
        "swapon": (0, 0), "swapoff": (0,), "quotactl": (bad, 0, 0, 0), "quotactl_fd": (bad, bad, 0, 0),
        "name_to_handle_at": (bad, 0, 0, 0, bad), "open_by_handle_at": (bad, 0, 0),
        "bpf": (bad, 0, 0), "perf_event_open": (0, 0, bad, bad, bad), "userfaultfd": (bad,),
        "io_uring_setup": (0, 0), "io_uring_enter": (bad, 0, 0, 0, 0, 0), "io_uring_register": (bad, 0, 0, 0),
        "fanotify_init": (bad, bad), "lookup_dcookie": (0, 0, 0),
        "keyctl": (bad, 0, 0, 0, 0), "add_key": (0, 0, 0, 0, 0), "request_key": (0, 0, 0, 0),
        "init_module": (0, 0, 0), "finit_module": (bad, 0, bad), "delete_module": (0, bad),
        "create_module": (0, 0), "get_kernel_syms": (0,), "query_module": (0, 0, 0, 0, 0),
        "reboot": (0, 0, 0, 0), "kexec_load": (0, 0, 0, bad), "kexec_file_load": (bad, bad, 0, 0, bad),
        "acct": (1,), "syslog": (bad, 0, 0), "vhangup": (), "iopl": (bad,), "ioperm": (bad, bad, bad),
        "uselib": (0,), "nfsservctl": (0, 0, 0), "_sysctl": (0,), "sysfs": (bad, 0, 0), "ustat": (0, 0),
        "settimeofday": (1, 1), "clock_settime": (bad, 0), "clock_adjtime": (bad, 0), "clone3": (0, 0),
        # CLONE_THREAD without CLONE_SIGHAND: EINVAL from the kernel, were the filter not there
        **{f"clone({flag:#x})": (flag | CLONE_THREAD, 0, 0, 0, 0) for flag in NAMESPACE_FLAGS},
    }


def refusals() -> dict[str, str]:
    """Make every denied call from this process; return those not refused as the filter refuses them
    (name -> what happened). Empty when the filter holds. Only under a loaded filter: unfiltered, a call such
    as vhangup would act."""
    if filter_mode() != 2:
        raise OSError("no seccomp filter on this process: the denied calls are not attempted without one")
    failed: dict[str, str] = {}
    for name, args in _attempts().items():
        nr = number(name.split("(")[0])
        if nr < 0:
            continue
        expected = errno.ENOSYS if name in ENOSYS_CALLS else errno.EPERM
        ctypes.set_errno(0)
        result = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a) for a in args))
        err = ctypes.get_errno()
        if result != -1 or err != expected:
            if name.startswith("clone") and result == 0:  # the kernel made a child after all: it ends here
                os._exit(0)
            if name.startswith("clone") and result > 0:
                os.waitpid(result, 0)
            failed[name] = f"returned {result}, errno {errno.errorcode.get(err, err)}"
    return failed
