import ctypes
import errno
import os
import struct

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SIGCHLD = 17
CLONE_FLAGS = {"NEWNS": 0x00020000, "NEWCGROUP": 0x02000000, "NEWUTS": 0x04000000, "NEWIPC": 0x08000000,
               "NEWUSER": 0x10000000, "NEWPID": 0x20000000, "NEWNET": 0x40000000}
outcomes = {}


def call(name, nr, *args):
    """One raw system call (x86_64 numbers, as a student would copy them from a table)."""
    ctypes.set_errno(0)
    result = libc.syscall(ctypes.c_long(nr), *(ctypes.c_ulong(a) if isinstance(a, int) else a for a in args))
    err = ctypes.get_errno()
    outcomes[name] = "DONE" if result >= 0 else errno.errorcode.get(err, str(err))
    return result


def child_that_waits():
    pid = os.fork()
    if pid == 0:
        import time
        time.sleep(30)
        os._exit(0)
    return pid


buf = ctypes.create_string_buffer(4096)
iov = (ctypes.c_uint64 * 2)(ctypes.addressof(buf), 8)
target = child_that_waits()
# What the sandbox's namespaces, uid and mounts are meant to hold, tried from underneath them
call("unshare", 272, CLONE_FLAGS["NEWUSER"] | CLONE_FLAGS["NEWNS"])
call("setns", 308, os.open("/proc/self/ns/net", os.O_RDONLY), 0)
for flag, bit in CLONE_FLAGS.items():
    pid = call(f"clone({flag})", 56, bit | SIGCHLD, 0, 0, 0, 0)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
pid = call("clone3", 435, ctypes.byref(ctypes.create_string_buffer(struct.pack("QQQQQQQQ", CLONE_FLAGS["NEWUSER"],
                                                                                0, 0, 0, SIGCHLD, 0, 0, 0))), 64)
if pid == 0:
    os._exit(0)
call("ptrace", 101, 0x4206, target, 0, 0)                       # PTRACE_SEIZE its own child
call("process_vm_readv", 310, target, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0)
call("process_vm_writev", 311, target, ctypes.byref(iov), 1, ctypes.byref(iov), 1, 0)
call("kcmp", 312, os.getpid(), target, 0, 0, 0)
call("pidfd_getfd", 438, os.pidfd_open(target), 0, 0)
os.makedirs("mnt", exist_ok=True)
call("mount", 165, b"none", os.path.abspath("mnt").encode(), b"tmpfs", 0, 0)
call("umount2", 166, b"/tmp", 2)                                # MNT_DETACH the cover of /tmp
call("pivot_root", 155, b".", b"mnt")
call("fsopen", 430, b"tmpfs", 0)
call("open_tree", 428, -100 & 0xFFFFFFFF, b"/", 1)              # OPEN_TREE_CLONE of /
call("move_mount", 429, 0xFFFFFFFF, b"", 0xFFFFFFFF, b"", 0)
call("fsconfig", 431, 0xFFFFFFFF, 0, 0, 0, 0)
call("fsmount", 432, 0xFFFFFFFF, 0, 0)
call("fspick", 433, 0xFFFFFFFF, b"/", 0)
call("mount_setattr", 442, 0xFFFFFFFF, b"/", 0, 0, 0)
call("swapon", 167, b"/swapfile", 0)
call("swapoff", 168, b"/swapfile")
call("quotactl", 179, 0xFFFFFFFF, 0, 0, 0)
call("quotactl_fd", 443, 0xFFFFFFFF, 0, 0, 0)
handle = ctypes.create_string_buffer(struct.pack("II", 128, 0) + b"\0" * 128)
mount_id = ctypes.c_int()
call("name_to_handle_at", 303, -100 & 0xFFFFFFFF, b"/etc/hostname", handle, ctypes.byref(mount_id), 0)
call("open_by_handle_at", 304, os.open("/", os.O_RDONLY), handle, 0)
# Kernel programs and interfaces with a history of escalations
map_attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 4, 1) + b"\0" * 112)  # BPF_MAP_TYPE_ARRAY
call("bpf", 321, 0, map_attr, 128)                              # BPF_MAP_CREATE
perf_attr = ctypes.create_string_buffer(struct.pack("IIQ", 1, 128, 0) + b"\0" * 112)   # a software clock
call("perf_event_open", 298, perf_attr, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0)
call("userfaultfd", 323, 0)
params = ctypes.create_string_buffer(120)
call("io_uring_setup", 425, 8, params)
call("io_uring_enter", 426, 0xFFFFFFFF, 0, 0, 0, 0, 0)
call("io_uring_register", 427, 0xFFFFFFFF, 0, 0, 0)
call("fanotify_init", 300, 0, 0)
call("lookup_dcookie", 212, 0, 0, 0)
call("keyctl", 250, 0, 0xFFFFFFFD, 0, 0, 0)                      # KEYCTL_GET_KEYRING_ID of the session keyring
call("add_key", 248, b"user", b"stolen", b"x", 1, 0xFFFFFFFD)
call("request_key", 249, b"user", b"stolen", 0, 0)
# Kernel modules, the machine, its clock
call("init_module", 175, buf, 16, b"")
call("finit_module", 313, os.open("/dev/null", os.O_RDONLY), b"", 0)
call("delete_module", 176, b"loop", 0x800)                      # O_NONBLOCK
call("create_module", 174, b"x", 0)
call("get_kernel_syms", 177, 0)
call("query_module", 178, 0, 0, 0, 0, 0)
call("reboot", 169, 0xfee1dead, 672274793, 0, 0)                # LINUX_REBOOT_CMD_CAD_OFF: magic right, harmless
call("kexec_load", 246, 0, 0, 0, 0)
call("kexec_file_load", 320, 0xFFFFFFFF, 0xFFFFFFFF, 0, 0, 0)
call("acct", 163, b"/dev/null")
call("syslog", 103, 10, 0, 0)                                   # SYSLOG_ACTION_SIZE_BUFFER
call("vhangup", 153)
call("iopl", 172, 3)
call("ioperm", 173, 0x80, 1, 1)
call("uselib", 134, b"/lib/x86_64-linux-gnu/libc.so.6")
call("nfsservctl", 180, 0, 0, 0)
call("_sysctl", 156, 0)
call("sysfs", 139, 3, 0, 0)                                     # the number of filesystem types
call("ustat", 136, os.stat("/").st_dev, buf)
call("settimeofday", 164, 1, 1)
call("clock_settime", 227, 0xFFFFFFFF, 0)
call("clock_adjtime", 305, 0xFFFFFFFF, 0)
os.kill(target, 9)
os.waitpid(target, 0)
print("SYSCALLS", outcomes)
