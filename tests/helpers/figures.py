"""Checks on drawn figures that only the tests use."""

from __future__ import annotations

from matplotlib.figure import Figure


def overlapping_labels(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of data labels (texts placed in an axes, not titles or ticks) whose boxes overlap, as drawn."""
    fig.draw_without_rendering()
    labels = [text for ax in fig.axes for text in ax.texts if text.get_visible() and text.get_text().strip()]
    boxes = [text.get_window_extent() for text in labels]
    return [(labels[i].get_text(), labels[j].get_text())
            for i in range(len(labels)) for j in range(i + 1, len(labels)) if boxes[i].overlaps(boxes[j])]
