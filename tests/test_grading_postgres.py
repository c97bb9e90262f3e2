"""The class autograder with a real PostgreSQL gradebook on loopback, started and stopped by the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from helpers.democourse import ASSIGNMENT, CORRECT, WRONG, add_submission, make_course, nbgrader

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "postgres.sh"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_available() -> str | None:
    """None when a throwaway server can be started here, else the reason it cannot."""
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")) and shutil.which("pg_ctl") is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        return "running as root but there is no 'postgres' user to own the server"
    return None


@pytest.fixture(scope="module")
def postgres_url():
    """Start an empty PostgreSQL on a free loopback port for this module; yield its URL; stop it."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    port = str(_free_port())
    started = subprocess.run([str(SCRIPT), "start", port], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        pytest.skip(f"could not start PostgreSQL: {started.stderr.strip()}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(SCRIPT), "stop", port], capture_output=True, timeout=60)


def pg_scores(url: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(url, "demo") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(ASSIGNMENT)}


def test_autograde_into_postgresql_round_trip(postgres_url: str, tmp_path: Path) -> None:
    from test_grading_runner import run_autograde

    course = make_course(tmp_path / "course", db_url=postgres_url)  # the config names the server
    assert not (course / "gradebook.db").exists()
    add_submission(course, "alice", CORRECT)
    add_submission(course, "bob", WRONG)

    result = run_autograde(course, "--db", postgres_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert pg_scores(postgres_url) == {"alice": 5.0, "bob": 1.0}
    exported = nbgrader(course, "export", "--to", str(tmp_path / "grades.csv"))
    assert exported.returncode == 0
    rows = (tmp_path / "grades.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].split(",")[3] == "alice" and rows[1].split(",")[-2] == "5.0"
    assert not (course / "gradebook.db").exists()  # nothing went to a stray SQLite file
