"""The report's charts as inline SVG (matplotlib, glyphs drawn as paths): nothing to fetch, nothing to run."""

from __future__ import annotations

import io


def _svg(figure, salt: str) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):  # ids unique on the page
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML


def _figure(width: float, height: float):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(width, height))
    return figure, axes


def score_histogram(scores: list[float], max_score: float) -> str:
    """Histogram of the graded submissions' scores, one bar per point (or per tenth of the maximum)."""
    import numpy as np

    figure, axes = _figure(6.0, 2.4)
    top = max_score or max(scores or [1.0])
    step = 1.0 if top <= 20 else top / 10
    edges = np.arange(0.0, top + step, step)
    if len(edges) < 2:
        edges = np.array([0.0, step])
    edges[-1] = top + 1e-9
    axes.hist(scores, bins=edges, color="#4c72b0", edgecolor="white")
    axes.set_xlabel(f"score (of {top:g})")
    axes.set_ylabel("submissions")
    axes.set_xlim(0, top)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "scores")


def pass_rates(labels: list[str], rates: list[float]) -> str:
    """Horizontal bars: share of graded submissions with full marks, per test cell."""
    figure, axes = _figure(6.0, 0.35 * len(labels) + 0.8)
    positions = list(range(len(labels)))[::-1]
    axes.barh(positions, [100 * r for r in rates], color="#55a868")
    axes.set_yticks(positions, labels)
    axes.set_xlim(0, 100)
    axes.set_xlabel("full marks (% of graded submissions)")
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "cells")


def similarity_scores(scores: list[float], threshold: float) -> str:
    """Histogram of every compared pair's similarity with the threshold marked."""
    figure, axes = _figure(6.0, 2.2)
    axes.hist(scores, bins=[i / 20 for i in range(21)], color="#8172b2", edgecolor="white", log=True)
    axes.axvline(threshold, color="#c44e52", linestyle="--", label=f"threshold {threshold:g}")
    axes.set_xlabel("similarity of a pair of answers")
    axes.set_ylabel("pairs (log scale)")
    axes.set_xlim(0, 1)
    axes.legend(frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure, "similarity")
