"""`torchrun --nproc_per_node=2 -m course_lib.train` trains data-parallel on the CPU (gloo) and reports like one process."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_two_process_torchrun_trains_and_reports(fashion_mnist_root, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        torchrun = Path(shutil.which("torchrun") or "torchrun")
    env = {
        **os.environ,
        "COURSE_DATA": str(fashion_mnist_root),
        "COURSE_OFFLINE": "1",
        "COURSE_SYSTEM_DATASETS": "none",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
    }
    checkpoint = tmp_path / "ddp.pt"
    command = [
        str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "course_lib.train",
        "--model", "lenet5", "--data", "fashion_mnist", "--epochs", "2", "--batch-size", "32",
        "--train-subset", "2000", "--test-subset", "400", "--lr", "0.05", "--schedule", "cosine",
        "--device", "cpu", "--checkpoint", str(checkpoint),
    ]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "with 2 process(es)" in done.stdout
    # Each rank took its own half of the training subset (gathered from both ranks by a collective call).
    assert "2 ranks (gloo); training images per epoch by rank: [1000, 1000]" in done.stdout
    assert len(re.findall(r"^epoch \d/2 ", done.stdout, flags=re.M)) == 2, "only rank 0 prints"
    final = re.search(r"^final: epochs 2 test_acc (\d\.\d+)", done.stdout, flags=re.M)
    assert final, done.stdout
    assert float(final.group(1)) > 0.3, "two ranks training together should beat chance (0.10) clearly"
    assert checkpoint.is_file(), "rank 0 saves the checkpoint"
