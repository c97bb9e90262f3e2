"""The resumable runner for real: a run killed part way keeps what finished, the next call trains only the
rest, and the combined file is rebuilt from the per-run files with provenance per run (tiny scale)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_lib.experiments import __main__ as cli
from course_lib.experiments import batchnorm, runs

REPO = Path(__file__).resolve().parents[1]
RUN_KEYS = {"commit", "device", "torch", "threads", "started", "wall_seconds", "cpu_seconds", "load_average_at_start"}


def _stored(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.json"))}


def test_a_killed_run_resumes_where_it_stopped_and_rebuilds_the_combined_file(tmp_path, capsys):
    out, directory = tmp_path / "batchnorm-tiny.json", tmp_path / "runs" / "batchnorm-tiny"
    expected = len(batchnorm.VARIANTS) * len(batchnorm.LEARNING_RATES) * len(batchnorm.SETTINGS["tiny"]["seeds"])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_EXPERIMENT_JOBS": "1"}
    process = subprocess.Popen([sys.executable, "-m", "course_lib.experiments", "batchnorm", "--scale", "tiny",
                                "--out", str(out)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_stored(directory)) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    before = _stored(directory)
    assert 3 <= len(before) < expected, f"killed after {len(before)} of {expected} runs; the test needs it part way"
    assert not out.exists(), "the combined file is written only once every run exists"
    for content in before.values():  # every file that exists is whole (written atomically)
        assert json.loads(content)["record"]["eval_acc"]

    assert cli.main(["batchnorm", "--scale", "tiny", "--out", str(out)]) == 0
    assert f"{len(before)} runs were stored already, {expected - len(before)} trained now" in capsys.readouterr().out
    after = _stored(directory)
    assert len(after) == expected
    assert all(after[name] == content for name, content in before.items()), "a stored run was trained again"

    combined = json.loads(out.read_text())
    assert combined["provenance"]["runs_loaded"] == len(before)
    assert combined["provenance"]["runs_trained"] == expected - len(before)
    store = runs.RunStore(directory)
    for arm, records in combined["results"]["arms"].items():
        assert [r["seed"] for r in records] == list(batchnorm.SETTINGS["tiny"]["seeds"])
        for record in records:
            assert record == store.get(arm, record["seed"])
            assert RUN_KEYS <= record["provenance"].keys()
            assert record["provenance"]["cpu_seconds"] > 0 and len(record["provenance"]["load_average_at_start"]) == 3
    cpu = sum(r["provenance"]["cpu_seconds"] for rs in combined["results"]["arms"].values() for r in rs)
    assert abs(combined["provenance"]["cpu_seconds_of_runs"] - cpu) < 0.1

    assert cli.main(["batchnorm", "--scale", "tiny", "--out", str(out)]) == 0  # all stored: nothing trains
    assert f"{expected} runs were stored already, 0 trained now" in capsys.readouterr().out
    assert json.loads(out.read_text())["results"] == combined["results"]


def test_an_arm_name_that_collides_with_another_is_refused(tmp_path):
    store = runs.RunStore(tmp_path)
    store.put("lr 0.1, BN", 0, {"seed": 0, "eval_acc": [0.5]})
    assert store.get("lr 0.1, BN", 0) == {"seed": 0, "eval_acc": [0.5]}
    try:
        store.get("lr 0.1 BN", 0)  # the same slug
    except ValueError as error:
        assert "rename an arm" in str(error)
    else:
        raise AssertionError("a colliding arm name read another arm's run")


def test_more_seeds_keep_the_stored_runs_and_other_settings_are_refused(tmp_path):
    record = {"seed": 0, "eval_acc": [0.5]}
    runs.RunStore(tmp_path, settings={"train": 100, "epochs": 2, "seeds": [0, 1, 2]}).put("BN", 0, record)
    more_seeds = runs.RunStore(tmp_path, settings={"train": 100, "epochs": 2, "seeds": [0, 1, 2, 3, 4]})
    assert more_seeds.get("BN", 0) == record and more_seeds.get("BN", 3) is None
    with pytest.raises(ValueError, match="other settings"):
        runs.RunStore(tmp_path, settings={"train": 100, "epochs": 3, "seeds": [0, 1, 2]}).get("BN", 0)


def test_runs_of_an_older_combined_file_are_imported_marked_and_not_trained_again(tmp_path, capsys):
    out = tmp_path / "batchnorm-tiny.json"
    assert cli.main(["batchnorm", "--scale", "tiny", "--out", str(out)]) == 0
    first = json.loads(out.read_text())
    directory = tmp_path / "runs" / "batchnorm-tiny"
    removed = sorted(directory.glob("BN-He-init-head-*.json"))  # as if this arm had been added since
    assert removed
    for path in directory.glob("*.json"):
        path.unlink()
    older = copy_without(first, "BN, He-init head")
    out.write_text(json.dumps(older))
    capsys.readouterr()
    assert cli.main(["--import-stored", "batchnorm", "--scale", "tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    expected = len(batchnorm.LEARNING_RATES) * len(batchnorm.SETTINGS["tiny"]["seeds"])
    assert f"{expected} trained now" in printed
    combined = json.loads(out.read_text())
    assert combined["provenance"]["runs_imported"]["count"] == sum(map(len, older["results"]["arms"].values()))
    for arm, records in combined["results"]["arms"].items():
        imported = [r["provenance"].get("imported_from") for r in records]
        assert all(imported) != arm.startswith("BN, He-init head"), arm
        if all(imported):
            assert [r["eval_acc"] for r in records] == [r["eval_acc"] for r in first["results"]["arms"][arm]]
            assert all(r["provenance"]["cpu_seconds"] is None for r in records)


def copy_without(stored: dict, variant: str) -> dict:
    """`stored` with one variant's arms removed and no per-run provenance: a file from before runs were stored."""
    results = {**stored["results"], "arms": {
        arm: [{k: v for k, v in r.items() if k not in ("provenance", "cpu_seconds")} for r in records]
        for arm, records in stored["results"]["arms"].items() if not arm.startswith(variant)}}
    return {**stored, "results": results}
