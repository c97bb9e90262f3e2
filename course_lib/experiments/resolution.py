"""Input resolution in the training lab (chapter 10): the lab's recipe on 32×32 inputs and on the same
images resized to 80×80 (crops padded by 10, the same eighth of the side), several seeds each.

Data: Fashion-MNIST resized 28→32 and 28→80, grey copied to three channels (no CIFAR-10 offline).
"""

from __future__ import annotations

from typing import Any

from course_lib.experiments import lab, stats
from course_lib.experiments._training import column

ARMS = {"input 32x32": {"resolution": 32}, "input 80x80": {"resolution": 80}}


def run(scale: str) -> dict[str, Any]:
    """Both resolutions with the lab's recipe at `scale`."""
    arms = {name: {**lab.configuration(scale, "baseline"), **change} for name, change in ARMS.items()}
    return lab.run_configurations(scale, arms)


def verdicts(results: dict[str, Any]) -> dict[str, stats.Comparison]:
    """80×80 against 32×32 on validation accuracy, and the time ratio."""
    return lab.verdicts(results, baseline="input 32x32")


def verdict_sentences(results: dict[str, Any]) -> dict[str, str]:
    return lab.verdict_sentences(results, baseline="input 32x32")


def time_ratio(results: dict[str, Any]) -> float:
    """Mean training time of the 80×80 runs over that of the 32×32 runs."""
    big, small = (stats.mean_sd(column(results["arms"][name], "seconds"))[0] for name in ("input 80x80", "input 32x32"))
    return big / small
