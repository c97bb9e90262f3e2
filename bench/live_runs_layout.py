"""The chapters' live (fast-scale) experiment runs with and without ``channels_last``, side by side.

Each run is a fresh process on one thread (as `make book` runs a chapter), so import and first-step costs
are the same on both sides; the two layouts alternate per experiment. Prints wall and CPU seconds and the
ratio. Usage::

    .venv/bin/python bench/live_runs_layout.py [EXPERIMENT ...]   # default: every chapter's live run
"""

from __future__ import annotations

import os
import subprocess
import sys

LIVE_RUNS = ["notes_mnist_convnet", "vgg_vs_inception", "batchnorm", "dropout", "degradation", "normalize", "lab"]
ONE_RUN = r'''
import importlib, sys, time, torch
torch.set_num_threads(1)
from course_lib.experiments import _training
_training.TRAINER_DEFAULTS["channels_last"] = sys.argv[2] == "1"
module = importlib.import_module("course_lib.experiments." + sys.argv[1])
wall, cpu = time.perf_counter(), time.process_time()
module.run("fast")
print(f"SECONDS {time.perf_counter() - wall:.1f} {time.process_time() - cpu:.1f}")
'''


def timed(name: str, channels_last: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of `name`'s fast-scale run in a fresh one-thread process."""
    result = subprocess.run([sys.executable, "-c", ONE_RUN, name, "1" if channels_last else "0"],
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = next((row for row in result.stdout.splitlines() if row.startswith("SECONDS")), None)
    if line is None:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    wall, cpu = line.split()[1:]
    return float(wall), float(cpu)


def main(names: list[str]) -> None:
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    print("| live run (fast scale) | contiguous: wall / CPU s | channels_last: wall / CPU s | ratio (wall) |")
    print("|---|---:|---:|---:|")
    totals = [0.0, 0.0]
    for name in names:
        before, after = timed(name, False), timed(name, True)
        totals[0] += before[0]
        totals[1] += after[0]
        print(f"| {name} | {before[0]:.1f} / {before[1]:.1f} | {after[0]:.1f} / {after[1]:.1f} | "
              f"{before[0] / after[0]:.2f}× |", flush=True)
    print(f"| **sum** | {totals[0]:.1f} | {totals[1]:.1f} | {totals[0] / totals[1]:.2f}× |")


if __name__ == "__main__":
    main(sys.argv[1:] or LIVE_RUNS)
