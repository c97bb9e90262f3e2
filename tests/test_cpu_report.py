"""The CPU report of `make test` (tests/helpers/cpu_report.py) puts a test's CPU time, its child processes'
included, on its file, with and without pytest-xdist workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent / "helpers"

BUSY = '''
import subprocess, sys, time

def test_spends_cpu_in_a_child():
    subprocess.run([sys.executable, "-c", "import time\\nend = time.process_time() + 1.5\\nwhile time.process_time() < end: pass"], check=True)
'''
IDLE = '''
import time

def test_waits_without_cpu():
    time.sleep(1.5)
'''
CONFTEST = f'''
import sys
sys.path.insert(0, {str(HELPERS.parent)!r})
from helpers import cpu_report

def pytest_configure(config):
    cpu_report.register(config)
'''


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "two xdist workers"])
def test_the_busy_file_gets_the_childs_cpu_and_the_sleeping_one_none(tmp_path: Path, workers: list[str]) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_busy.py").write_text(BUSY)
    (tmp_path / "test_idle.py").write_text(IDLE)
    report = tmp_path / "cpu.json"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COURSE_TEST_CPU_REPORT": str(report), "PYTHONPATH": ""})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "CPU seconds per test file" in done.stdout
    files = json.loads(report.read_text())["files"]
    assert files["test_busy.py"] >= 1.4, files
    assert files["test_idle.py"] < 0.5, files
