"""What the chapters draw from experiment results: a Markdown table of seed spreads, and curves with a
band of ± one standard deviation across seeds."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from IPython.display import Markdown

from course_lib.experiments import stats
from course_lib.experiments._training import column

Runs = Sequence[dict[str, Any]]


def percent(key: str, epoch: int = -1) -> Callable[[Runs], str]:
    """A table column: `key` (a fraction per seed) as 'mean ± sd (n seeds)' in percent."""
    return lambda runs: stats.spread([100 * v for v in column(runs, key, epoch)])


def number(key: str, epoch: int = -1, digits: int = 3) -> Callable[[Runs], str]:
    """A table column: `key` per seed as 'mean ± sd (n seeds)'."""
    return lambda runs: stats.spread(column(runs, key, epoch), digits=digits)


def gap() -> Callable[[Runs], str]:
    """A table column: training accuracy (eval mode) minus final validation accuracy, in points."""
    return lambda runs: stats.spread([100 * (r["train_acc_eval"] - r["eval_acc"][-1]) for r in runs])


def table(results: dict[str, Any], columns: dict[str, Callable[[Runs], str]], arms: Sequence[str] | None = None,
          caption: str = "") -> Markdown:
    """One row per arm, one column per measure, every cell a seed spread."""
    names = arms or list(results["arms"])
    rows = [caption, ""] if caption else []
    rows += ["| run | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for name in names:
        runs = results["arms"][name]
        rows.append(f"| {name} | " + " | ".join(fn(runs) for fn in columns.values()) + " |")
    return Markdown("\n".join(rows))


def curves(ax, results: dict[str, Any], key: str, arms: Sequence[str] | None = None, *, scale: float = 1.0,
           style: str = "-", colors: dict[str, str] | None = None, label_suffix: str = "") -> None:
    """Per-epoch mean of `key` over seeds, with a ± 1 sd band, one line per arm (NaN where a run diverged)."""
    for name in arms or list(results["arms"]):
        runs = results["arms"][name]
        epochs = len(runs[0][key])
        means, sds = [], []
        for epoch in range(epochs):
            values = [v * scale for v in column(runs, key, epoch)]
            finite = [v for v in values if not math.isnan(v)]
            mean, sd = stats.mean_sd(finite) if finite else (math.nan, 0.0)
            means.append(mean)
            sds.append(sd)
        xs = list(range(1, epochs + 1)) if key != "step_loss" else [(i + 0.5) / epochs * results["epochs"]
                                                                     for i in range(epochs)]
        color = (colors or {}).get(name)
        line, = ax.plot(xs, means, style, color=color, label=f"{name}{label_suffix}")
        ax.fill_between(xs, [m - s for m, s in zip(means, sds)], [m + s for m, s in zip(means, sds)],
                        color=line.get_color(), alpha=0.15)
