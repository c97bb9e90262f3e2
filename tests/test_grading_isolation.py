"""The sandbox fails closed, and one student's bomb costs nobody else: cgroups, template protection, env.

Real runs throughout: the course grader's CLI on the real `conv_basics` assignment (graded beside bombs with
--jobs 2), and `Sandbox` on this machine's kernel in both isolation modes (root: 'full'; 'namespaces' is
what a normal user gets, forced here as root).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from helpers import democourse
from course_lib.grading.autograde.sandbox import IsolationError, Limits, Sandbox, isolation_mode
from course_lib.grading.sandboxed import cgroups

import sandbox_prereqs

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "conv_basics"
# Skipped where the machine lacks them, failed instead under COURSE_REQUIRE_SANDBOX=1 (.ci/run sets it).
linux_root = sandbox_prereqs.needs(root=True)
needs_cgroups = sandbox_prereqs.needs(cgroups=True)


def make_real_course(root: Path, assignment: str = ASSIGNMENT) -> Path:
    """A course folder with the repository's real `assignment` and nbgrader_config.py, released."""
    shutil.copytree(REPO / "solutions" / assignment, root / "solutions" / assignment)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    democourse.nbgrader(root, "generate_assignment", assignment, "--force")
    return root


def hand_in(root: Path, student: str, extra_cells: list[str] = (), first: str | None = None,
            assignment: str = ASSIGNMENT) -> Path:
    """Hand in the instructor's solution (full marks) with `extra_cells` appended, or `first` before all else."""
    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    nb.cells += [new_code_cell(source) for source in extra_cells]
    if first is not None:
        nb.cells.insert(0, new_code_cell(first))
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{assignment}.ipynb")
    return folder


def grade(root: Path, *args: str, path: str | None = None, assignment: str = ASSIGNMENT, timeout: float = 400,
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m course_lib.grading autograde ASSIGNMENT ARGS` in `root` (PATH replaced by `path` if given)."""
    env = {**democourse.nbgrader_env(), "PYTHONPATH": str(REPO), **(env or {})}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "course_lib.grading", "autograde", assignment, "--no-progress",
                           *args], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def scores(root: Path, assignment: str = ASSIGNMENT) -> dict[str, tuple[float, float]]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "cnn-course") as gb:
        return {s.student.id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    return make_real_course(tmp_path_factory.mktemp("isolation") / "course")


@pytest.fixture
def course(released: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(released, tmp_path / "course"))


# The shell's classic fork bomb, left running: only the job cgroup's pids.max stops it; counted after 3 s.
FORK_BOMB = """import os, subprocess, time
subprocess.Popen(["/bin/sh", "-c", "bomb() { bomb | bomb & }; bomb"])
time.sleep(3)
print("processes", len([p for p in os.listdir("/proc") if p.isdigit()]))
"""
# A memory bomb spread over processes, each under its own RLIMIT_DATA: only the cgroup caps their sum.
MEMORY_BOMB = """import os, time
for _ in range(3):
    if os.fork() == 0:
        hoard = [b"x" * (400 << 20)]
        time.sleep(20)
        os._exit(0)
hoard = []
for _ in range(6):
    hoard.append(b"x" * (200 << 20))
time.sleep(3)
"""


@linux_root
@needs_cgroups
def test_limits_on_a_sandbox_not_started_say_to_start_it() -> None:
    """The warm interpreter's memory is measured by start(); before it, check_limits says so (no AttributeError)."""
    from course_lib.grading.autograde.sandbox import SandboxError

    with pytest.raises(SandboxError, match="call start"):
        Sandbox().check_limits(Limits())


def test_fork_and_memory_bombs_beside_an_honest_submission_leave_its_marks(course: Path) -> None:
    hand_in(course, "honest")
    hand_in(course, "forker", first=FORK_BOMB)
    hand_in(course, "hoarder", first=MEMORY_BOMB)

    result = grade(course, "--jobs", "2", "--timeout", "90", "--memory-mb", "1500")

    assert result.returncode == 0, result.stdout + result.stderr
    got = scores(course)
    assert got["honest"][0] == got["honest"][1] > 0, result.stdout
    assert "cgroup v" in result.stdout.splitlines()[0]
    hoarder = [line for line in result.stdout.splitlines() if " hoarder: " in line and "note" in line]
    assert any("1500 MB memory limit" in line for line in hoarder), result.stdout
    counted = _stdout_of_first_cell(course, "forker")
    assert counted.startswith("processes ") and 100 < int(counted.split()[1]) <= 258, counted  # pids.max held it


def _stdout_of_first_cell(root: Path, student: str) -> str:
    nb = nbformat.read(root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("output_type") == "stream")


@linux_root
def test_without_unshare_the_grader_refuses_and_unsafe_grades_saying_so(course: Path) -> None:
    hand_in(course, "honest")
    bare_path = str(Path(sys.executable).parent)  # nbgrader and alembic, but no unshare

    refused = grade(course, path=bare_path)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "isolation step 'namespaces' failed" in refused.stderr and "--unsafe" in refused.stderr
    assert "util-linux" in refused.stderr  # says how to fix it
    assert scores(course) == {}

    unsafe = grade(course, "--unsafe", path=bare_path)

    assert unsafe.returncode == 0, unsafe.stdout + unsafe.stderr
    assert "UNSAFE, graded without: namespaces" in unsafe.stdout.splitlines()[0]
    assert "note    honest: graded with --unsafe, without: namespaces" in unsafe.stdout
    assert scores(course)["honest"][0] == scores(course)["honest"][1]


@linux_root
def test_a_normal_user_without_cgroups_is_refused_and_told_why(tmp_path: Path) -> None:
    if cgroups.detect().version != 1:
        pytest.skip("on cgroup v2 a normal user may hold a delegated subtree; this checks v1 refusing one")
    code = ("import json, sys\nfrom course_lib.grading.autograde.sandbox import Sandbox, IsolationError, Limits\n"
            "try:\n    Sandbox().start()\nexcept IsolationError as e:\n    print('STEP', e.step)\n    print(e)\n"
            "with Sandbox(unsafe=True) as box:\n"
            "    print('SKIPPED', json.dumps(box.skipped))\n"
            "    print('PROBE', box.run([sys.argv[1]], {}, Limits(timeout=60)).cells[0]['outputs'][0]['text'])\n")
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", code,
                          PROBE],
                         cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=180)
    assert "STEP cgroups" in run.stdout, run.stdout + run.stderr
    assert "Delegate=yes" in run.stdout and "--unsafe" in run.stdout
    # With --unsafe it grades without cgroups only: a normal user's sandbox still keeps the template out of reach.
    skipped = json.loads(run.stdout.split("SKIPPED ", 1)[1].splitlines()[0])
    assert [s.split(":")[0] for s in skipped] == ["cgroups"], skipped
    found = json.loads(run.stdout.split("PROBE ", 1)[1].splitlines()[0])
    assert found["ptrace"] == -1 and found["environ"] == "PermissionError" and found["cgroupfs"] == []


PROBE = r"""
import ctypes, json, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
found = {"uid": os.getuid(), "env": sorted(os.environ), "cgroupfs": os.listdir("/sys/fs/cgroup"),
         "ipc": os.readlink("/proc/self/ns/ipc"), "cgroup": open("/proc/self/cgroup").read(),
         "ptrace": libc.ptrace(0x4206, 1, None, None)}
try:
    found["environ"] = open("/proc/1/environ", "rb").read().decode(errors="replace")
except OSError as exc:
    found["environ"] = type(exc).__name__
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGSTOP, signal.SIGKILL):
    try:
        os.kill(1, sig)
    except OSError:
        pass
time.sleep(0.2)
print(json.dumps(found))
"""


@linux_root
@needs_cgroups
@pytest.mark.parametrize("mode", ["full", "namespaces"])
def test_a_submission_cannot_signal_trace_or_read_the_template(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_INSTRUCTOR_CANARY", "s3cret-7731")  # a variable of the instructor's session
    limits = Limits(timeout=60, cell_timeout=20, memory_mb=2500)
    with Sandbox(mode=mode) as sandbox:
        first = sandbox.run([PROBE], {}, limits)
        second = sandbox.run(["print(6 * 7)"], {}, limits)  # the template survived every signal
        folders = [Path(p) for p in sandbox._cgroups]
        assert folders and all(p.is_dir() and not [c for c in p.iterdir() if c.is_dir()] for p in folders)
    assert not [p for p in folders if p.exists()], "the sandbox's cgroups outlived it"

    assert first.status == "ok", first.detail
    found = json.loads(first.cells[0]["outputs"][0]["text"])
    assert found["ptrace"] == -1
    assert found["environ"] == "PermissionError"
    assert found["cgroupfs"] == []
    assert "COURSE_INSTRUCTOR_CANARY" not in found["env"] and set(found["env"]) <= {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "IPYTHONDIR", "MPLCONFIGDIR", "MPLBACKEND", "NBGRADER_EXECUTION",
        "TMPDIR", "PYTHONDONTWRITEBYTECODE"}
    assert found["ipc"] != os.readlink("/proc/self/ns/ipc")
    assert "cnn-grader-" in found["cgroup"]
    if mode == "full":
        assert found["uid"] >= 61000
    assert second.status == "ok" and second.cells[0]["outputs"][0]["text"] == "42\n"
    assert first.peak_memory_mb is not None and 0 < first.peak_memory_mb < 2500


@pytest.mark.skipif(isolation_mode() != "none", reason="this machine has unshare; the CLI test covers refusing")
def test_no_isolation_means_refusal() -> None:
    with pytest.raises(IsolationError, match="namespaces"):
        Sandbox().start()


# ----------------------------------------------------------------------------------------------------
# The syscall filter (sandboxed.syscalls): every denied call refused from inside a submission
# ----------------------------------------------------------------------------------------------------

HOSTILE_SYSCALLS = (REPO / "tests" / "hostile" / "syscalls.py").read_text()
# The same job then trains a small net with DataLoader workers (fork) and threads: the filter leaves torch be.
TRAINING = """import threading, torch, torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset
torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 3, 8, 8), torch.randint(0, 2, (64,)))
net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for x, y in DataLoader(data, batch_size=16, num_workers=2):
    loss = nn.functional.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
worker = threading.Thread(target=lambda: None)
worker.start()
worker.join()
print("TRAINED", bool(torch.isfinite(loss.detach())), open("/proc/self/status").read().split("Seccomp:")[1].split()[0])
"""


def _outcomes(result) -> dict[str, str]:
    text = "".join(o.get("text", "") for o in result.cells[0]["outputs"])
    return ast.literal_eval(text.split("SYSCALLS ", 1)[1].splitlines()[0])


def _without_libseccomp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage the sandbox with a `pyseccomp` that cannot load, as on a machine without libseccomp."""
    from course_lib.grading.autograde import sandbox as sandbox_module

    stage = sandbox_module.stage_sandboxed_package

    def broken() -> str:
        folder = stage()
        Path(folder, "pyseccomp.py").write_text("raise RuntimeError('Unable to find libseccomp')\n")
        return folder

    monkeypatch.setattr(sandbox_module, "stage_sandboxed_package", broken)


def test_the_filter_names_every_call_the_hostile_hand_in_makes() -> None:
    from course_lib.grading.sandboxed import syscalls

    attempted = {line.split('"')[1].split("(")[0] for line in HOSTILE_SYSCALLS.splitlines()
                 if line.lstrip().startswith(("call(", "pid = call("))}
    assert set(syscalls.denied_names()) <= attempted, set(syscalls.denied_names()) - attempted
    assert {"unshare", "setns", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root",
            "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "io_uring_setup", "io_uring_enter",
            "io_uring_register", "userfaultfd", "init_module", "finit_module", "delete_module", "reboot",
            "kexec_load", "kexec_file_load"} <= set(syscalls.denied_names())


@linux_root
@needs_cgroups
@pytest.mark.parametrize("mode", ["full", "namespaces"])
def test_every_denied_call_from_a_submission_is_refused_and_torch_still_trains(mode: str) -> None:
    limits = Limits(timeout=120, cell_timeout=100, memory_mb=2500)
    with Sandbox(mode=mode) as sandbox:
        assert not sandbox.skipped
        result = sandbox.run([HOSTILE_SYSCALLS, TRAINING], {}, limits)

    assert result.status == "ok", result.detail
    outcomes = _outcomes(result)
    assert len(outcomes) >= 60
    expected = {name: "ENOSYS" if name == "clone3" else "EPERM" for name in outcomes}
    assert outcomes == expected, {k: v for k, v in outcomes.items() if v != expected[k]}
    trained = "".join(o.get("text", "") for o in result.cells[1]["outputs"])
    assert "TRAINED True 2" in trained, result.cells[1]


@linux_root
@needs_cgroups
def test_without_libseccomp_the_sandbox_refuses_and_unsafe_runs_unfiltered_saying_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _without_libseccomp(monkeypatch)
    with pytest.raises(IsolationError, match="syscall filter") as refused:
        Sandbox(mode="namespaces").start()
    assert "libseccomp" in str(refused.value) and "--unsafe" in str(refused.value)

    limits = Limits(timeout=120, cell_timeout=100, memory_mb=2500)
    with Sandbox(mode="namespaces", unsafe=True) as sandbox:
        assert [s.split(":")[0] for s in sandbox.skipped] == ["syscall filter"], sandbox.skipped
        assert "UNSAFE, graded without: syscall filter" in sandbox.describe()
        result = sandbox.run([HOSTILE_SYSCALLS], {}, limits)
    assert result.status == "ok", result.detail
    assert any("without: syscall filter" in note for note in result.notes)
    outcomes = _outcomes(result)
    # Unfiltered, the same calls reach the kernel: what the filter refused above is the filter's doing.
    done = {name for name, outcome in outcomes.items() if outcome == "DONE"}
    assert {"unshare", "clone(NEWNS)", "clone(NEWNET)", "mount", "fsopen", "io_uring_setup", "keyctl",
            "add_key"} <= done, outcomes
    assert outcomes["clone3"] != "ENOSYS"


def test_under_course_require_sandbox_a_missing_prerequisite_fails_instead_of_skipping(tmp_path: Path) -> None:
    (tmp_path / "test_needs.py").write_text(
        "import sandbox_prereqs\n\n\n@sandbox_prereqs.needs()\ndef test_decorated():\n    pass\n\n\n"
        "def test_required_inside():\n    sandbox_prereqs.require()\n")
    bare = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{REPO}",
            "HOME": str(tmp_path)}  # no unshare on this PATH

    def run(**env: str) -> str:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider",
                               str(tmp_path / "test_needs.py")], cwd=tmp_path, env={**bare, **env},
                              capture_output=True, text=True, timeout=120)
        return done.stdout

    skipped = run()
    assert "2 skipped" in skipped and "unshare" in skipped
    required = run(COURSE_REQUIRE_SANDBOX="1")
    assert "2 failed" in required and "COURSE_REQUIRE_SANDBOX=1, but the sandbox needs util-linux's unshare" in required
