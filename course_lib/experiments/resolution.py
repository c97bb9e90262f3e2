"""Input resolution in the training lab (chapter 10): the lab's recipe on 32×32 inputs and on the same
images resized to 80×80 (crops padded by 10, the same eighth of the side), several seeds each.

Data: Fashion-MNIST resized 28→32 and 28→80, grey copied to three channels (no CIFAR-10 offline).
"""

from __future__ import annotations

from typing import Any

from course_lib.experiments import cost, lab, stats
from course_lib.experiments._scales import Settings
from course_lib.experiments._training import column

ARMS = {"input 32x32": {"resolution": 32}, "input 80x80": {"resolution": 80}}
# The lab's recipe at settings of its own: an 80×80 run costs about 7 times a 32×32 one (about 1,800 CPU-s each
# in the regime), so its regime (regimes.TARGETS["resolution"]["medium"]) is smaller than the lab's. The medium
# settings below are that regime: `resolution --scale medium` rebuilds book/results/resolution-medium.json from
# the runs stored in runs/resolution-medium/ (completed over two sessions).
SETTINGS = Settings({
    "tiny": dict(lab.SETTINGS["tiny"]),
    "fast": dict(lab.SETTINGS["fast"]),
    "medium": dict(width=8, train=20_000, val=5_000, test=10_000, epochs=5, batch=64, lr=0.05, seeds=[0, 1, 2, 3, 4],
                   arms=None),
    "full": dict(lab.SETTINGS["full"]),
})


def run(scale: str) -> dict[str, Any]:
    """Both resolutions with the lab's recipe at `scale`."""
    s = SETTINGS[scale]
    arms = {name: {**lab.configuration(scale, "baseline", s), **change} for name, change in ARMS.items()}
    return lab.run_configurations(scale, arms, s)


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """80×80 against 32×32 on validation accuracy, and the time ratio."""
    return lab.verdicts(results, baseline="input 32x32")


def verdict_sentences(results: dict[str, Any]) -> dict[str, str]:
    return lab.verdict_sentences(results, baseline="input 32x32")


COST_NOTES: dict[str, str] = {}


def cost_configs(scale: str) -> tuple[str, dict]:
    """The lab's baseline network on a real 32×32 batch and on a real 80×80 batch, for `cost.section`."""
    reference, small = lab.cost_configs(scale, arms=("baseline",), side=32, settings=SETTINGS[scale])
    _, big = lab.cost_configs(scale, arms=("baseline",), side=80, settings=SETTINGS[scale])
    return "input 32x32", {"input 32x32": small["baseline"], "input 80x80": big["baseline"]}


def cost_lines(results: dict[str, Any]) -> list[str]:
    """The measured cost of 80×80 inputs against 32×32, beside the multiply-adds."""
    return cost.lines(results["measured_cost"])


def time_ratio(results: dict[str, Any]) -> float:
    """Mean wall time of the 80×80 runs over that of the 32×32 runs (shared machine: use `cost_lines` for cost)."""
    big, small = (stats.mean_sd(column(results["arms"][name], "seconds"))[0] for name in ("input 80x80", "input 32x32"))
    return big / small
