"""Block diagrams of the architectures the book teaches: VGG, Inception, residual and bottleneck blocks.

Each function draws one diagram with matplotlib and returns its ``Figure`` (closed in pyplot's registry,
so a notebook shows it once when it is a cell's last expression). Boxes are named by their text, not
only by their colour, and sized to stay readable at the book's page width (about 7 inches).
Shortcuts follow He et al. (2016): a solid line is the identity, a dashed line a projection.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyBboxPatch

__all__ = ["vgg_block", "inception_block", "residual_block", "bottleneck_block"]

BOX_FONT = 11
NOTE_FONT = 10
TITLE_FONT = 13
BOX_W = 2.6
BOX_H = 0.55
GAP = 0.45
# colour-blind-safe fills (Okabe-Ito, lightened); the text in each box names the layer anyway
FILL = {
    "conv": "#cfe3f3",
    "bn": "#fbe9b7",
    "relu": "#d4eedf",
    "pool": "#f8d6bd",
    "io": "#ffffff",
    "merge": "#e6e6e6",
}


def _figure(ncols: int, size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    fig, axes = plt.subplots(1, ncols, figsize=size, squeeze=False, layout="constrained")
    plt.close(fig)
    panels = list(axes[0])
    for ax in panels:
        ax.set_axis_off()
        ax.set_aspect("equal")
    return fig, panels


def _box(ax: Axes, x: float, y: float, text: str, kind: str, width: float = BOX_W) -> tuple[float, float]:
    """A rounded box centred at (x, y); returns its (top, bottom) y for the arrows."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - BOX_H / 2), width, BOX_H,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=FILL[kind], edgecolor="#333333", linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=BOX_FONT)
    return y + BOX_H / 2, y - BOX_H / 2


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], dashed: bool = False) -> None:
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": "#333333", "linewidth": 1.4,
                            "linestyle": "--" if dashed else "-", "shrinkA": 0, "shrinkB": 0,
                            "mutation_scale": 14})


def _line(ax: Axes, xs: Sequence[float], ys: Sequence[float], dashed: bool = False) -> None:
    ax.plot(xs, ys, color="#333333", linewidth=1.4, linestyle="--" if dashed else "-", solid_capstyle="butt")


def _plus(ax: Axes, x: float, y: float, radius: float = 0.2) -> None:
    ax.add_patch(Circle((x, y), radius, facecolor="#ffffff", edgecolor="#333333", linewidth=1.4))
    ax.text(x, y, "+", ha="center", va="center", fontsize=BOX_FONT + 3)


def _note(ax: Axes, x: float, y: float, text: str, ha: str = "left") -> None:
    ax.text(x, y, text, ha=ha, va="center", fontsize=NOTE_FONT, color="#222222", style="italic")


def _column(ax: Axes, x: float, y_top: float, layers: Sequence[tuple[str, str]],
            width: float = BOX_W) -> tuple[float, float]:
    """Boxes from top to bottom joined by arrows; returns the first box's top and the last box's bottom y."""
    y = y_top - BOX_H / 2
    top = bottom = y_top
    previous_bottom = None
    for i, (text, kind) in enumerate(layers):
        box_top, box_bottom = _box(ax, x, y, text, kind, width)
        if i == 0:
            top = box_top
        if previous_bottom is not None:
            _arrow(ax, (x, previous_bottom), (x, box_top))
        previous_bottom = bottom = box_bottom
        y -= BOX_H + GAP
    return top, bottom


def _fit(ax: Axes, x0: float, x1: float, y0: float, y1: float) -> None:
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def vgg_block(num_convs: int = 2, in_channels: int = 64, out_channels: int = 128) -> Figure:
    """One VGG block (Simonyan & Zisserman 2015): ``num_convs`` × (3×3 conv, padding 1, ReLU), then 2×2 max-pool."""
    if num_convs < 1:
        raise ValueError(f"a VGG block has at least one convolution, got num_convs={num_convs}")
    layers: list[tuple[str, str]] = [(f"input: {in_channels} × H × W", "io")]
    channels = in_channels
    for i in range(num_convs):
        layers += [(f"3×3 conv, {channels}→{out_channels}, pad 1", "conv"), ("ReLU", "relu")]
        channels = out_channels
    layers += [("2×2 max-pool, stride 2", "pool"), (f"output: {out_channels} × H/2 × W/2", "io")]
    height = len(layers) * (BOX_H + GAP) + 0.4
    fig, (ax,) = _figure(1, (5.2, 0.62 * height + 0.5))
    width = 3.6
    _column(ax, 0.0, height - 0.5, layers, width)
    repeat_top = height - 0.5 - (BOX_H + GAP)
    repeat_bottom = repeat_top - 2 * num_convs * (BOX_H + GAP) + GAP
    brace_x = width / 2 + 0.2
    _line(ax, [brace_x, brace_x + 0.15, brace_x + 0.15, brace_x], [repeat_top, repeat_top, repeat_bottom, repeat_bottom])
    _note(ax, brace_x + 0.25, (repeat_top + repeat_bottom) / 2, f"{num_convs} ×\nsame H × W")
    _note(ax, brace_x + 0.25, repeat_bottom - (BOX_H + GAP) / 2 - BOX_H / 2, "halves H and W")
    ax.set_title("VGG block", fontsize=TITLE_FONT)
    _fit(ax, -width / 2 - 0.2, brace_x + 1.9, -0.1, height)
    return fig


def inception_block(in_channels: int = 192, ch1x1: int = 64, ch3x3red: int = 96, ch3x3: int = 128,
                    ch5x5red: int = 16, ch5x5: int = 32, pool_proj: int = 32) -> Figure:
    """The Inception block (Szegedy et al. 2015): four parallel branches concatenated along channels.

    Defaults are block 3a of GoogLeNet (192 channels in, 64 + 128 + 32 + 32 = 256 out).
    """
    out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
    branches = [
        [(f"1×1 conv, {ch1x1}", "conv")],
        [(f"1×1 conv, {ch3x3red}", "conv"), (f"3×3 conv, {ch3x3}", "conv")],
        [(f"1×1 conv, {ch5x5red}", "conv"), (f"5×5 conv, {ch5x5}", "conv")],
        [("3×3 max-pool", "pool"), (f"1×1 conv, {pool_proj}", "conv")],
    ]
    fig, (ax,) = _figure(1, (7.4, 4.6))
    width, step = 2.0, 2.35
    xs = [(i - 1.5) * step for i in range(4)]
    top_y, branch_top = 5.0, 4.0
    concat_y = branch_top - 2 * (BOX_H + GAP) - 0.45
    in_top, in_bottom = _box(ax, 0.0, top_y, f"input: {in_channels} × H × W", "io", 3.6)
    split_y = in_bottom - 0.2
    _line(ax, [0.0, 0.0], [in_bottom, split_y])
    _line(ax, [xs[0], xs[-1]], [split_y, split_y])
    concat_top = concat_y + BOX_H / 2
    for x, layers in zip(xs, branches):
        first_top, last_bottom = _column(ax, x, branch_top, layers, width)
        _arrow(ax, (x, split_y), (x, first_top))
        _arrow(ax, (x, last_bottom), (x, concat_top))
    _box(ax, 0.0, concat_y, "concatenate along channels", "merge", 2 * step * 1.5 + width)
    out_top, _ = _box(ax, 0.0, concat_y - BOX_H - GAP, f"output: {out_channels} × H × W", "io", 3.6)
    _arrow(ax, (0.0, concat_y - BOX_H / 2), (0.0, out_top))
    _note(ax, 0.0, concat_y - 2 * (BOX_H + GAP) + 0.05,
          "every branch keeps H × W (padding 1 for 3×3, 2 for 5×5, pool stride 1);\n"
          "every convolution is followed by a ReLU", ha="center")
    ax.set_title("Inception block (GoogLeNet 3a)", fontsize=TITLE_FONT)
    _fit(ax, xs[0] - width / 2 - 0.1, xs[-1] + width / 2 + 0.1, concat_y - 2 * (BOX_H + GAP) - 0.3, top_y + 0.45)
    return fig


def _shortcut_panel(ax: Axes, title: str, in_text: str, main: Sequence[tuple[str, str]],
                    projection: str | None, out_text: str) -> None:
    """Main path down the middle, shortcut on the right: solid identity, or dashed with a projection box."""
    n = len(main)
    top = n * (BOX_H + GAP) + 2.2
    in_top, in_bottom = _box(ax, 0.0, top, in_text, "io", 3.0)
    first_top, last_bottom = _column(ax, 0.0, in_bottom - GAP, main)
    _arrow(ax, (0.0, in_bottom), (0.0, first_top))
    plus_y = last_bottom - GAP - 0.2
    _arrow(ax, (0.0, last_bottom), (0.0, plus_y + 0.2))
    _plus(ax, 0.0, plus_y)
    relu_top, relu_bottom = _box(ax, 0.0, plus_y - 0.2 - GAP - BOX_H / 2, "ReLU", "relu")
    _arrow(ax, (0.0, plus_y - 0.2), (0.0, relu_top))
    out_top, _ = _box(ax, 0.0, relu_bottom - GAP - BOX_H / 2, out_text, "io", 3.0)
    _arrow(ax, (0.0, relu_bottom), (0.0, out_top))
    # the shortcut leaves the input's arrow, runs down the right and enters the addition from the side
    dashed = projection is not None
    proj_width = 1.8
    side = BOX_W / 2 + (0.3 + proj_width / 2 if dashed else 0.55)
    branch_y = (in_bottom + first_top) / 2
    _line(ax, [0.0, side], [branch_y, branch_y], dashed)
    if projection is None:
        _line(ax, [side, side], [branch_y, plus_y])
        _note(ax, side + 0.12, (branch_y + plus_y) / 2, "identity")
    else:
        proj_y = (branch_y + plus_y) / 2
        p_top, p_bottom = _box(ax, side, proj_y, projection, "conv", proj_width)
        _line(ax, [side, side], [branch_y, p_top], dashed=True)
        _line(ax, [side, side], [p_bottom, plus_y], dashed=True)
    _arrow(ax, (side, plus_y), (0.2, plus_y), dashed)
    ax.set_title(title, fontsize=TITLE_FONT)
    _fit(ax, -1.6, BOX_W / 2 + 0.4 + proj_width + 0.1, relu_bottom - GAP - BOX_H - 0.1, top + BOX_H / 2 + 0.1)


def _shortcut_figure(kind: str, shortcut: str, identity: dict, projection: dict) -> Figure:
    choices = {"identity": [identity], "projection": [projection], "both": [identity, projection]}
    if shortcut not in choices:
        raise ValueError(f"shortcut must be 'identity', 'projection' or 'both', got {shortcut!r}")
    panels = choices[shortcut]
    rows = len(panels[0]["main"])
    fig, axes = _figure(len(panels), (3.9 * len(panels), 0.62 * (rows + 5) + 0.6))
    for ax, spec in zip(axes, panels):
        _shortcut_panel(ax, **spec)
    if len(panels) == 2:
        fig.suptitle(f"{kind}: solid shortcut = identity, dashed = projection", fontsize=TITLE_FONT)
    return fig


def residual_block(shortcut: str = "both") -> Figure:
    """The basic residual block of ResNet-18/34 (He et al. 2016), with identity and/or projection shortcut.

    The projection panel is the stage change of the paper's figure: 56 × 56 × 64 → 28 × 28 × 128.
    """
    identity = {
        "title": "identity shortcut", "in_text": "x: 64 × 56 × 56", "projection": None,
        "main": [("3×3 conv, 64", "conv"), ("BatchNorm", "bn"), ("ReLU", "relu"),
                 ("3×3 conv, 64", "conv"), ("BatchNorm", "bn")],
        "out_text": "64 × 56 × 56",
    }
    projection = {
        "title": "projection shortcut", "in_text": "x: 64 × 56 × 56",
        "projection": "1×1 conv, 128\nstride 2, BN",
        "main": [("3×3 conv, 128, stride 2", "conv"), ("BatchNorm", "bn"), ("ReLU", "relu"),
                 ("3×3 conv, 128", "conv"), ("BatchNorm", "bn")],
        "out_text": "128 × 28 × 28",
    }
    return _shortcut_figure("Residual block", shortcut, identity, projection)


def bottleneck_block(shortcut: str = "both") -> Figure:
    """The bottleneck block of ResNet-50/101/152 (He et al. 2016): 1×1 reduce, 3×3, 1×1 expand (×4).

    The stride sits on the 3×3 convolution, as in torchvision ("ResNet v1.5"); the paper put it on the first 1×1.
    """
    identity = {
        "title": "identity shortcut", "in_text": "x: 256 × 56 × 56", "projection": None,
        "main": [("1×1 conv, 64", "conv"), ("BatchNorm, ReLU", "bn"), ("3×3 conv, 64", "conv"),
                 ("BatchNorm, ReLU", "bn"), ("1×1 conv, 256", "conv"), ("BatchNorm", "bn")],
        "out_text": "256 × 56 × 56",
    }
    projection = {
        "title": "projection shortcut", "in_text": "x: 256 × 56 × 56",
        "projection": "1×1 conv, 512\nstride 2, BN",
        "main": [("1×1 conv, 128", "conv"), ("BatchNorm, ReLU", "bn"), ("3×3 conv, 128, stride 2", "conv"),
                 ("BatchNorm, ReLU", "bn"), ("1×1 conv, 512", "conv"), ("BatchNorm", "bn")],
        "out_text": "512 × 28 × 28",
    }
    return _shortcut_figure("Bottleneck block", shortcut, identity, projection)
