"""`python -m course_lib.experiments all` end to end at the toy scale on the CPU: every experiment trains, stores
its results with provenance and its regime (reference accuracy and source), and its verdicts compute; and the
regime table fits the experiments' own settings, so a later `--regime` run starts without surprises."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib.experiments import _scales, available, regimes

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    command = [sys.executable, "-m", "course_lib.experiments", "all", "--scale", "tiny", "--results-dir", str(folder)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "COURSE_EXPERIMENT_JOBS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_every_experiment_runs_and_stores_provenance_and_its_regime(tiny):
    for name in available():
        stored = json.loads((tiny / f"{name}-tiny.json").read_text())
        assert stored["experiment"] == name and stored["provenance"]["command"].endswith(f"{name} --scale tiny")
        assert stored["provenance"]["threads"] == 1
        records = [r for runs in stored["results"]["arms"].values() for r in runs]
        assert records and all(r["provenance"]["cpu_seconds"] > 0 for r in records)
        assert stored["provenance"]["runs_trained"] == len(records)


@pytest.mark.parametrize("name", ["batchnorm", "dropout", "lab", "resolution", "normalize", "stems", "degradation"])
def test_the_verdicts_compute_from_the_tiny_results(tiny, name):
    module = importlib.import_module(f"course_lib.experiments.{name}")
    results = json.loads((tiny / f"{name}-tiny.json").read_text())["results"]
    sentences = module.verdict_sentences(results)
    assert sentences and all(("beats" in s) or ("within seed noise" in s) or ("failed on every seed" in s) for s in
                             (sentences.values() if isinstance(sentences, dict) else sentences))


@pytest.mark.parametrize("name", sorted(regimes.TARGETS))
def test_each_regime_fits_its_experiment_and_names_its_reference(name):
    module = importlib.import_module(f"course_lib.experiments.{name}")
    for scale in ("medium", "full"):
        entry = regimes.target(name, scale)
        assert set(entry["settings"]) <= set(module.SETTINGS[scale]), (name, scale)
        assert entry["reference"]["source"] and entry["reference"]["test_accuracy"]
        assert entry["lesson"] in (regimes.ACCURACY, regimes.REGULARISER)


def test_tiny_is_derived_from_fast_at_toy_size():
    settings = _scales.Settings({"fast": dict(train=2_000, val=1_000, epochs=12, seeds=(0, 1, 2))})
    assert "tiny" in settings and settings["tiny"] == dict(train=200, val=100, epochs=1, seeds=(0, 1))
    with pytest.raises(KeyError):
        settings["medium"]
