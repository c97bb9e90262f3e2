"""Interactive explorers for convolution and pooling arithmetic (ipywidgets) that also work on the static web page.

Every combination of the controls' values is drawn in advance into its own panel, and the controls
switch panels through links that run in the browser (``jslink``). So the explorer responds with a
live kernel, in JupyterLab, and in the built book, where no kernel runs. The ranges are kept small
on purpose: each combination costs one panel in the page. The controls are labelled drop-down lists
and toggle buttons, which screen readers can name and a keyboard can operate (WCAG 2.1 AA).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle
import torch

from course_lib.layers import conv_output_size, pool2d

__all__ = ["Explorer", "conv_explorer", "pool_explorer", "conv_panel_html", "pool_panel_html", "camera_patch"]

MAX_PANELS = 400  # keeps the widget state embedded in a book page well under a megabyte
CELL = 22  # pixels per grid cell in the pictures
BLUE, ORANGE, PAD_GREY, UNCOVERED = "#1f77b4", "#ff7f0e", "#d0d0d0", "#f4c7c3"


# --------------------------------------------------------------------------------------------------
# The generic explorer: controls + one precomputed panel per combination
# --------------------------------------------------------------------------------------------------


class Explorer(widgets.VBox):
    """Controls above a nest of ``Stack`` widgets, one level per control, one HTML panel per combination.

    Each control's ``index`` is linked in the browser to the ``selected_index`` of every stack of its
    level, and the same is done in Python, so the shown panel follows the controls with or without a
    kernel. ``explorer.panel`` is the panel shown now, ``explorer.values`` the controls' values.
    """

    def __init__(
        self,
        title: str,
        controls: dict[str, tuple[widgets.ValueWidget, Sequence]],
        render: Callable[..., str],
    ) -> None:
        combinations = 1
        for _, options in controls.values():
            combinations *= len(options)
        if combinations > MAX_PANELS:
            raise ValueError(
                f"{combinations} combinations is too many panels for one page (at most {MAX_PANELS}): "
                "give the controls fewer options"
            )
        self.controls = {name: control for name, (control, _) in controls.items()}
        self._options = [list(options) for _, options in controls.values()]
        self._stacks: list[list[widgets.Stack]] = [[] for _ in controls]
        self._panel_layout = widgets.Layout(overflow="auto")  # shared by all panels: one model, not one each
        self._panel_style = HTMLStyle()
        self._stack_layout = widgets.Layout()
        root = self._build(0, (), render)
        self._links = []
        for level, control in enumerate(self.controls.values()):
            for stack in self._stacks[level]:
                self._links.append(widgets.jslink((control, "index"), (stack, "selected_index")))
            control.observe(self._follow(level), names="index")
        header = widgets.HTML(title)
        super().__init__(children=[header, widgets.HBox(list(self.controls.values())), root])
        self._root = root

    def _build(self, level: int, chosen: tuple, render: Callable[..., str]) -> widgets.Widget:
        if level == len(self._options):
            return widgets.HTML(render(*chosen), layout=self._panel_layout, style=self._panel_style)
        children = [self._build(level + 1, chosen + (value,), render) for value in self._options[level]]
        control = list(self.controls.values())[level]
        stack = widgets.Stack(children, selected_index=control.index, layout=self._stack_layout)
        self._stacks[level].append(stack)
        return stack

    def _follow(self, level: int) -> Callable[[dict], None]:
        def show(change: dict) -> None:
            for stack in self._stacks[level]:
                stack.selected_index = change["new"]

        return show

    @property
    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    @property
    def panel(self) -> widgets.HTML:
        """The panel shown for the current values."""
        node = self._root
        while isinstance(node, widgets.Stack):
            node = node.children[node.selected_index]
        return node

    @property
    def panel_count(self) -> int:
        count = 1
        for options in self._options:
            count *= len(options)
        return count


def _choice(description: str, options: Sequence[int], value: int) -> widgets.Dropdown:
    """A labelled drop-down list: its <label for> names it for screen readers, and arrow keys change it."""
    if value not in options:
        raise ValueError(f"the start value {value} of {description!r} is not one of its options {list(options)}")
    return widgets.Dropdown(
        options=list(options), value=value, description=description,
        style={"description_width": "initial"}, layout=widgets.Layout(width="max-content"),
    )


# SVG drawing helpers (integer coordinates and shared defaults keep each panel small)
# --------------------------------------------------------------------------------------------------

PCELL = 36  # width of a cell that holds a number in the pooling pictures


def _rect(x: int, y: int, w: int, h: int, fill: str, stroke: str = "", **extra: str) -> str:
    attributes = f' stroke="{stroke}"' if stroke else ""
    attributes += "".join(f' {k.replace("_", "-")}="{v}"' for k, v in extra.items())
    return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"{attributes}/>'


def _text(x: int, y: int, content: str, size: int | None = None, middle: bool = False, fill: str = "") -> str:
    attributes = f' font-size="{size}"' if size else ""
    attributes += ' text-anchor="middle"' if middle else ""
    attributes += f' fill="{fill}"' if fill else ""
    return f'<text x="{x}" y="{y}"{attributes}>{html.escape(content)}</text>'


def _grid_lines(x0: int, y0: int, rows: int, cols: int, width: int = CELL) -> str:
    """All cell borders of a rows x cols grid as one path."""
    d = "".join(f"M{x0} {y0 + r * CELL}h{cols * width}" for r in range(rows + 1))
    d += "".join(f"M{x0 + c * width} {y0}v{rows * CELL}" for c in range(cols + 1))
    return f'<path d="{d}" stroke="#888" fill="none"/>'


def _window(x: int, y: int, w: int, h: int, colour: str, dashed: bool, opacity: str = "0.22") -> str:
    dash = {"stroke_dasharray": "5 3"} if dashed else {}
    return _rect(x, y, w, h, colour, colour, fill_opacity=opacity, stroke_width="3", **dash)


def _legend(x0: int, y0: int, entries: Sequence[tuple[str, str]]) -> str:
    parts = []
    for index, (colour, label) in enumerate(entries):
        y = y0 + index * 18
        parts.append(_rect(x0, y - 6, 12, 12, colour, "#666"))
        parts.append(_text(x0 + 18, y, label))
    return "".join(parts)


def _svg(width: int, height: int, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" fill="#222" '
        f'dominant-baseline="middle">{body}</svg>'
    )


def _rule_text(n: int, k: int, p: int, s: int, out: int) -> str:
    return (
        f"⌊(n + 2p − k + s) / s⌋ = ⌊({n} + 2·{p} − {k} + {s}) / {s}⌋ = "
        f"⌊{n + 2 * p - k + s} / {s}⌋ = {out}"
    )


def _error_panel(message: str) -> str:
    return f'<div style="color:#b00020; padding:8px; max-width:560px"><b>Not possible:</b> {html.escape(message)}</div>'


# --------------------------------------------------------------------------------------------------
# Convolution explorer
# --------------------------------------------------------------------------------------------------


def conv_panel_html(n: int, k: int, p: int, s: int) -> str:
    """HTML for one setting: the output size by the rule, and the padded input with the first two windows."""
    try:
        out = conv_output_size(n, k, p, s)
    except ValueError as error:
        return _error_panel(str(error))
    padded = n + 2 * p
    covered = (out - 1) * s + k
    left = covered < padded
    x0, y0 = 10, 28
    body = [_text(x0, 12, f"input {n}×{n}, padded to {padded}×{padded}", 13)]
    body.append(_rect(x0, y0, padded * CELL, padded * CELL, PAD_GREY))
    body.append(_rect(x0 + p * CELL, y0 + p * CELL, n * CELL, n * CELL, "white"))
    if left:
        extra = (padded - covered) * CELL
        body.append(_rect(x0 + covered * CELL, y0, extra, padded * CELL, UNCOVERED))
        body.append(_rect(x0, y0 + covered * CELL, padded * CELL, extra, UNCOVERED))
    body.append(_grid_lines(x0, y0, padded, padded))
    body.append(_window(x0, y0, k * CELL, k * CELL, BLUE, dashed=False))
    if out > 1:
        body.append(_window(x0 + s * CELL, y0, k * CELL, k * CELL, ORANGE, dashed=True))
    ox = x0 + padded * CELL + 60
    body.append(_text(ox - 30, y0 + CELL // 2, "→", 18, middle=True))
    body.append(_text(ox, 12, f"output {out}×{out}", 13))
    body.append(_rect(ox, y0, CELL, CELL, BLUE, fill_opacity="0.6"))
    if out > 1:
        body.append(_rect(ox + CELL, y0, CELL, CELL, ORANGE, fill_opacity="0.6"))
    body.append(_grid_lines(ox, y0, out, out))
    legend = [(BLUE, "first window → first output"), (ORANGE, f"next window, {s} step(s) right")]
    if p:
        legend.append((PAD_GREY, f"padding ({p} on each side, zeros)"))
    if left:
        legend.append((UNCOVERED, "never covered by a window"))
    legend_y = y0 + max(padded, out) * CELL + 20
    body.append(_legend(x0, legend_y, legend))
    width = max(ox + max(out, 6) * CELL + 10, 380)
    height = legend_y + 18 * len(legend) + 4
    notes = []
    if left:
        notes.append(
            f"The stride does not divide n + 2p − k = {padded - k}: the last {padded - covered} "
            "row(s) and column(s) are never used."
        )
    if out == n:
        notes.append("Same size as the input: with stride 1, padding (k − 1)/2 keeps the size.")
    summary = (
        f"<div style='font-size:14px; margin:4px 0'><b>output size</b> {html.escape(_rule_text(n, k, p, s, out))}"
        f" &nbsp;→&nbsp; <b>output: {out} × {out}</b></div>"
    )
    note_html = "".join(f"<div style='font-size:13px; color:#444'>{html.escape(note)}</div>" for note in notes)
    return summary + note_html + _svg(width, height, "".join(body))


def conv_explorer(
    sizes: Sequence[int] = (5, 6, 7, 8),
    kernels: Sequence[int] = (1, 2, 3, 5),
    paddings: Sequence[int] = (0, 1, 2),
    strides: Sequence[int] = (1, 2, 3),
    start: tuple[int, int, int, int] = (7, 3, 1, 2),
) -> Explorer:
    """Drop-down lists for input size n, kernel k, padding p and stride s; shows floor((n + 2p - k + s) / s) and a picture."""
    n, k, p, s = start
    controls = {
        "n": (_choice("input n", sizes, n), sizes),
        "k": (_choice("kernel k", kernels, k), kernels),
        "p": (_choice("padding p", paddings, p), paddings),
        "s": (_choice("stride s", strides, s), strides),
    }
    title = (
        "<b>Convolution arithmetic.</b> A k×k kernel slides over an n×n input padded by p on each side, "
        "moving s cells at a time. Change the settings (every setting is drawn in advance, so this works "
        "on the web page too)."
    )
    return Explorer(title, controls, conv_panel_html)


# --------------------------------------------------------------------------------------------------
# Pooling explorer
# --------------------------------------------------------------------------------------------------


def camera_patch(size: int = 6, top: int = 204, left: int = 174) -> torch.Tensor:
    """A small real grey-level patch (0..255) from scikit-image's 'camera' photo, for pooling by hand.

    The default spot crosses the edge of the photographer's coat, so max and average pooling differ.
    """
    try:
        from skimage import data
    except ImportError as error:  # pragma: no cover - scikit-image is in the course's pins
        raise ImportError("camera_patch needs scikit-image: pip install scikit-image") from error
    photo = torch.from_numpy(data.camera()).to(torch.int64)
    return photo[top : top + size, left : left + size].clone()


def _matrix(x0: int, y0: int, texts: list[list[str]], numbers: list[list[float | None]], high: float) -> str:
    """A grid of numbers on grey-level cells (None: a padding cell)."""
    cells, labels = [], []
    for r, row in enumerate(texts):
        for c, text in enumerate(row):
            x, y, number = x0 + c * PCELL, y0 + r * CELL, numbers[r][c]
            if number is None:
                fill, ink = PAD_GREY, ""
            else:
                level = 0.0 if high <= 0 else max(0.0, min(1.0, number / high))
                grey = round(255 * level)
                fill, ink = f"rgb({grey},{grey},{grey})", "" if level > 0.55 else "#fff"
            cells.append(_rect(x, y, PCELL, CELL, fill))
            labels.append(_text(x + PCELL // 2, y + CELL // 2, text, fill=ink))
    grid = _grid_lines(x0, y0, len(texts), len(texts[0]), PCELL)
    return "".join(cells) + grid + f'<g font-size="11" text-anchor="middle">{"".join(labels)}</g>'


def pool_panel_html(patch: torch.Tensor, mode: str, size: int, stride: int, padding: int) -> str:
    """HTML for one pooling setting: the padded patch with the first two windows, and the pooled result."""
    try:
        pooled = pool2d(patch, size, mode, padding=padding, stride=stride)
    except ValueError as error:
        return _error_panel(str(error))
    h, w = patch.shape
    out_h, out_w = pooled.shape
    high = float(patch.max())
    pad_text = "−∞" if mode == "max" else "0"
    texts, numbers = [], []
    for r in range(-padding, h + padding):
        inside_row = 0 <= r < h
        texts.append([str(int(patch[r, c])) if inside_row and 0 <= c < w else pad_text for c in range(-padding, w + padding)])
        numbers.append([float(patch[r, c]) if inside_row and 0 <= c < w else None for c in range(-padding, w + padding)])
    x0, y0 = 10, 28
    body = [_text(x0, 12, f"input {h}×{w}" + (f", padded by {padding}" if padding else ""), 13)]
    body.append(_matrix(x0, y0, texts, numbers, high))
    body.append(_window(x0, y0, size * PCELL, size * CELL, BLUE, dashed=False, opacity="0.15"))
    if out_w > 1:
        body.append(_window(x0 + stride * PCELL, y0, size * PCELL, size * CELL, ORANGE, dashed=True, opacity="0.12"))
    ox = x0 + (w + 2 * padding) * PCELL + 60
    body.append(_text(ox - 30, y0 + CELL // 2, "→", 18, middle=True))
    body.append(_text(ox, 12, f"{mode} pool → {out_h}×{out_w}", 13))
    out_text = [[f"{v:.0f}" if mode == "max" else f"{v:.1f}" for v in row] for row in pooled.tolist()]
    body.append(_matrix(ox, y0, out_text, pooled.tolist(), high))
    body.append(_window(ox, y0, PCELL, CELL, BLUE, dashed=False, opacity="0"))
    if out_w > 1:
        body.append(_window(ox + PCELL, y0, PCELL, CELL, ORANGE, dashed=True, opacity="0"))
    width = max(ox + out_w * PCELL + 10, 380)
    height = y0 + max(h + 2 * padding, out_h) * CELL + 10
    rule = _rule_text(h, size, padding, stride, out_h)
    padding_note = (
        "Padding holds −∞ for max pooling, so it never wins."
        if mode == "max"
        else "Padding counts as 0 in the average (PyTorch's default, count_include_pad=True)."
    )
    summary = (
        f"<div style='font-size:14px; margin:4px 0'><b>{mode} pooling</b>, window {size}×{size}, stride {stride}, "
        f"padding {padding}: {html.escape(rule)} &nbsp;→&nbsp; <b>output: {out_h} × {out_w}</b></div>"
        f"<div style='font-size:13px; color:#444'>Each channel is pooled on its own. "
        f"{html.escape(padding_note) if padding else ''}</div>"
    )
    return summary + _svg(width, height, "".join(body))


def pool_explorer(
    patch: torch.Tensor | None = None,
    sizes: Sequence[int] = (2, 3),
    strides: Sequence[int] = (1, 2, 3),
    paddings: Sequence[int] = (0, 1),
    start: tuple[str, int, int, int] = ("max", 2, 2, 0),
) -> Explorer:
    """Max/avg pooling of a small real image patch with window size, stride and padding controls."""
    patch = camera_patch() if patch is None else patch
    if not isinstance(patch, torch.Tensor) or patch.dim() != 2:
        raise ValueError("patch must be a 2-D tensor (height, width) of pixel values")
    if patch.numel() > 100:
        raise ValueError(f"patch {tuple(patch.shape)} is too large to read: use at most 10×10 values")
    mode, size, stride, padding = start
    modes = ("max", "avg")
    controls = {
        "mode": (widgets.ToggleButtons(options=list(modes), value=mode, description="pooling",
                                       tooltips=["max pooling", "average pooling"],
                                       style={"button_width": "60px"}), modes),
        "size": (_choice("window", sizes, size), sizes),
        "stride": (_choice("stride", strides, stride), strides),
        "padding": (_choice("padding", paddings, padding), paddings),
    }
    title = (
        f"<b>Pooling arithmetic</b> on a real {patch.shape[0]}×{patch.shape[1]} patch of a photo (grey levels). Pick max or "
        "average pooling, the window, the stride and the padding (every setting is drawn in advance, "
        "so this works on the web page too)."
    )
    return Explorer(title, controls, lambda *values: pool_panel_html(patch, *values))

