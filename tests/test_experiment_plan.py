"""`--plan`: what a scale would train, counted from the experiments' own code paths, with nothing trained or
written; stored runs are left out, so a session resuming a scale sees what remains."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.experiments import __main__ as cli
from course_lib.experiments import available, lab, plan
from course_lib.experiments.cost import multiply_adds
from course_lib.models import resnet18_cifar

REPO = Path(__file__).resolve().parents[1]


def test_the_plan_counts_every_run_of_the_settings_and_trains_nothing(tmp_path: Path) -> None:
    out = tmp_path / "lab-tiny.json"
    planned = cli.plan_one("lab", "tiny", out=str(out))
    s = lab.SETTINGS["tiny"]
    assert [(r.arm, r.seed) for r in planned] == [(arm, seed) for arm in s["arms"] for seed in s["seeds"]]
    for run in planned:
        config = lab.configuration("tiny", run.arm)
        model = resnet18_cifar(num_classes=10, in_channels=3, width=round(s["width"] * config["width_factor"]))
        assert run.macs == multiply_adds(model, (3, 32, 32))
        assert run.train_images == s["train"] * s["epochs"]
        assert run.steps == math.ceil(s["train"] / s["batch"]) * s["epochs"]
        # validation every epoch, the test set and the training set once at the end
        assert run.eval_images == s["val"] * s["epochs"] + s["test"] + s["train"]
    assert not out.exists() and not (tmp_path / "runs").exists(), "planning wrote files"


def test_stored_runs_are_not_planned_again(tmp_path: Path) -> None:
    out = tmp_path / "dropout-tiny.json"
    assert len(cli.plan_one("dropout", "tiny", out=str(out))) == 4
    cli.run_one("dropout", "tiny", argv=["course_lib.experiments", "dropout", "--scale", "tiny"], out=str(out))
    assert cli.plan_one("dropout", "tiny", out=str(out)) == []


def test_the_estimate_takes_the_longer_of_arithmetic_and_steps() -> None:
    big = plan.Planned("x", "big", 0, steps=100, train_images=50_000 * 60, eval_images=0, macs=plan.BASELINE_MACS)
    assert plan.estimate([big]) == pytest.approx(1.0)       # one minute of the baseline at 50,000 images/s
    small = plan.Planned("x", "small", 0, steps=30_000, train_images=3_000_000, eval_images=0, macs=1_000)
    assert plan.estimate([small], step_ms=2.0) == pytest.approx(1.0)   # 30,000 steps at 2 ms
    assert plan.estimate([big, small], images_per_second=100_000) == pytest.approx(1.5)


def test_the_unit_is_the_labs_full_scale_baseline(tmp_path: Path) -> None:
    width = lab.SETTINGS["full"]["width"]
    assert plan.BASELINE_MACS == multiply_adds(resnet18_cifar(num_classes=10, in_channels=3, width=width), (3, 32, 32))
    # counted per planning block: a tiny plan of the same arm first must not lend the full plan its smaller count
    cli.plan_one("lab", "tiny", out=str(tmp_path / "lab-tiny.json"))
    full = cli.plan_one("lab", "full", out=str(tmp_path / "lab-full.json"))
    assert {r.macs for r in full if r.arm == "baseline"} == {plan.BASELINE_MACS}


def test_the_command_line_prints_the_plan_for_every_experiment(tmp_path: Path) -> None:
    # with worker processes asked for: the plan must still count every run (in this process, not in theirs)
    done = subprocess.run([sys.executable, "-m", "course_lib.experiments", "all", "--scale", "tiny", "--plan",
                           "--results-dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "COURSE_EXPERIMENT_JOBS": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:] if line and line[0].isalpha()}
    assert set(available()) | {"all"} <= set(rows)
    assert int(rows["all"][1]) == sum(int(rows[name][1]) for name in available())
    assert "an estimate, not a measurement" in done.stdout
    assert list(tmp_path.iterdir()) == [], "planning wrote files"
