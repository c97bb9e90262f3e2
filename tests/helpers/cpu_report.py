"""CPU seconds per test file, summed over the pytest-xdist workers and the processes the tests start.

Wall time per test (`--durations`) mixes in whatever the other worker was doing; on a 2-core machine the
length of `make test` is bounded below by the CPU time of everything it runs, divided by 2. This plugin
measures that: for every test it adds the worker's own CPU time (user + system) and that of the child
processes it waited for (kernels, nbgrader, the class grader, servers stopped by a module fixture) to the
test's file, setup and teardown included. Each worker writes its totals to a JSON file; the controller
prints the files in order of cost at the end of the run and writes them to COURSE_TEST_CPU_REPORT when set.

Processes that outlive the test that started them count where they are reaped; what a test starts and
never waits for is not counted (the summary's "not attributed" line is the whole run's CPU minus the files').
"""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pytest

REPORT_ENV = "COURSE_TEST_CPU_REPORT"


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuReport:
    """Per-file CPU seconds of this process (a worker, or pytest without xdist)."""

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = folder, name
        self.seconds: dict[str, float] = defaultdict(float)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):
        started = _cpu()
        yield
        self.seconds[item.nodeid.split("::", 1)[0]] += _cpu() - started

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{self.name}.json").write_text(json.dumps(self.seconds))


class Controller:
    """Collects the workers' files and prints the summary (the process that runs the terminal)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started_cpu, self.started_wall = _cpu(), time.perf_counter()

    def totals(self) -> dict[str, float]:
        seconds: dict[str, float] = defaultdict(float)
        for path in self.folder.glob("*.json"):
            for name, value in json.loads(path.read_text()).items():
                seconds[name] += value
        return dict(seconds)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        seconds = self.totals()
        if not seconds:
            return
        whole = _cpu() - self.started_cpu  # the workers are this process's children, reaped by now
        wall = time.perf_counter() - self.started_wall
        attributed = sum(seconds.values())
        terminalreporter.write_sep("=", "CPU seconds per test file (tests/helpers/cpu_report.py)")
        for name, value in sorted(seconds.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"{value:8.1f} s  {100 * value / attributed:5.1f} %  {name}")
        terminalreporter.write_line(f"{attributed:8.1f} s  in the files; the whole run {whole:.1f} s of CPU "
                                    f"(not attributed: {whole - attributed:.1f} s) in {wall:.0f} s of wall time")
        target = os.environ.get(REPORT_ENV)
        if target:
            Path(target).write_text(json.dumps({"files": seconds, "whole_cpu_seconds": round(whole, 1),
                                                "wall_seconds": round(wall, 1)}, indent=1) + "\n")


class XdistController(Controller):
    def pytest_configure_node(self, node) -> None:  # a pytest-xdist hook: tell each worker where to write
        node.workerinput["cpu_report_dir"] = str(self.folder)


def register(config: pytest.Config) -> None:
    """Install the plugin for this process: a worker measures, the controller (or a lone pytest) also reports."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        folder = workerinput.get("cpu_report_dir")
        if folder:
            config.pluginmanager.register(CpuReport(Path(folder), workerinput["workerid"]), "cpu-report")
        return
    folder = Path(tempfile.mkdtemp(prefix="cpu-report-"))
    distributed = config.pluginmanager.hasplugin("xdist") and bool(getattr(config.option, "numprocesses", None))
    config.pluginmanager.register((XdistController if distributed else Controller)(folder), "cpu-report-controller")
    if not distributed:
        config.pluginmanager.register(CpuReport(folder, "main"), "cpu-report")
