"""Figures for the course: training curves, image grids, feature maps, kernels, schedules, bar charts
and labelled scatter plots.

Every function returns a matplotlib ``Figure`` and never calls ``plt.show()``. The figure is closed in
pyplot's registry, so a notebook shows it exactly once: make the call the cell's last expression (or
``display(fig)``); in a script, ``fig.savefig(path)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from torch import nn

__all__ = [
    "plot_history",
    "show_images",
    "plot_feature_maps",
    "plot_kernels",
    "plot_lr_schedule",
    "plot_bars",
    "history_to_dict",
    "plot_labelled_scatter",
    "smallest_text_px",
]

TITLE_SIZE = 13
LABEL_SIZE = 12
TICK_SIZE = 10
SUPTITLE_SIZE = 14
# Width of the book's text column in CSS pixels (sphinx-book-theme on a 1280-pixel-wide window):
# a wider figure is scaled down to it, and its text with it.
PAGE_WIDTH_PX = 688
SPLITS = ("train", "val", "valid", "test")
METRIC_ALIASES = {"accuracy": ("accuracy", "acc"), "acc": ("acc", "accuracy")}


# --------------------------------------------------------------------------------------------------
# Small helpers shared by the plots
# --------------------------------------------------------------------------------------------------


def _new_figure(nrows: int, ncols: int, panel_size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A figure with a grid of axes, already removed from pyplot's registry (shown once, never leaked)."""
    fig, axes = plt.subplots(
        nrows, ncols, squeeze=False, layout="constrained",
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
    )
    plt.close(fig)
    return fig, axes


def _label(ax: Axes, title: str, xlabel: str = "", ylabel: str = "") -> None:
    """Title, axis labels and tick labels in readable sizes."""
    ax.set_title(title, fontsize=TITLE_SIZE)
    ax.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)


def _image_panel(ax: Axes, image: np.ndarray, title: str = "", **imshow_kw: Any) -> None:
    """Draw one image without ticks (pixel axes carry no information)."""
    if image.ndim == 2:
        imshow_kw.setdefault("cmap", "gray")
    ax.imshow(image, **imshow_kw)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=LABEL_SIZE)


def _hide_unused(axes: np.ndarray, used: int) -> None:
    for ax in axes.flat[used:]:
        ax.set_visible(False)


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float32).numpy()
    return np.asarray(x, dtype=np.float32)


def _displayable(image: Any) -> np.ndarray:
    """Turn a (C,H,W)/(H,W,C)/(H,W) tensor, array or PIL image into an (H,W) or (H,W,3) array in [0, 1].

    Values outside [0, 1] (a normalised image, or 0..255 pixels) are min-max rescaled for display only.
    """
    array = _to_numpy(image)
    # tensors are channels-first by PyTorch's convention; arrays and PIL images are channels-last
    channels_first = isinstance(image, torch.Tensor) or (array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3))
    if array.ndim == 3 and channels_first:
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(
            f"an image must be (H, W), (1|3, H, W) or (H, W, 1|3), got shape {tuple(array.shape)}"
        )
    low, high = float(array.min()), float(array.max())
    if low < 0.0 or high > 1.0:
        array = (array - low) / (high - low) if high > low else np.zeros_like(array)
    return array


def _grid(count: int, ncols: int) -> tuple[int, int]:
    ncols = max(1, min(ncols, count))
    return math.ceil(count / ncols), ncols


# --------------------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------------------


def history_to_dict(history: Any) -> dict[str, list[float]]:
    """A training history as a dict of per-epoch lists: accepts an object with ``to_dict()`` or a dict."""
    if hasattr(history, "to_dict"):
        history = history.to_dict()
    if not isinstance(history, Mapping):
        raise TypeError(
            "a history must be a dict of per-epoch lists (e.g. {'train_loss': [...], 'test_loss': [...]}) "
            f"or an object with .to_dict(), got {type(history).__name__}"
        )
    return {str(k): [float(v) for v in values] for k, values in history.items() if _is_series(values)}


def _is_series(values: Any) -> bool:
    return isinstance(values, (Sequence, np.ndarray, torch.Tensor)) and not isinstance(values, (str, bytes))


def _is_single_history(obj: Any) -> bool:
    if hasattr(obj, "to_dict"):
        return True
    return isinstance(obj, Mapping) and any(_is_series(v) for v in obj.values())


def _metric_keys(history: Mapping[str, list[float]], metric: str) -> list[tuple[str, str]]:
    """(split, key) pairs holding ``metric``: 'loss' finds train_loss and test_loss, 'accuracy' finds *_acc."""
    names = METRIC_ALIASES.get(metric, (metric,))

    def measured(key: str) -> bool:  # a run without a test loader records test_* as NaN: skip those
        return any(not math.isnan(v) for v in history.get(key, []))

    found = []
    for split in SPLITS:
        for name in names:
            key = f"{split}_{name}"
            if measured(key):
                found.append((split, key))
                break
    if not found:
        found = [("", name) for name in names if measured(name)][:1]
    return found


def plot_history(
    histories: Any,
    labels: Sequence[str] | None = None,
    metrics: Sequence[str] = ("loss", "accuracy"),
    title: str | None = None,
) -> Figure:
    """Training curves, one panel per metric: train solid, test dashed, one colour per run.

    ``histories`` is one history (a ``History`` with ``.to_dict()`` or a dict of per-epoch lists such as
    ``{"train_loss": [...], "test_acc": [...]}``), a list of them, or a dict ``{label: history}``.
    """
    if _is_single_history(histories):
        runs = [histories]
    elif isinstance(histories, Mapping):
        labels = list(histories.keys()) if labels is None else labels
        runs = list(histories.values())
    elif isinstance(histories, Sequence) and histories:
        runs = list(histories)
    else:
        raise TypeError("histories must be a history, a non-empty list of histories or a dict {label: history}")
    runs = [history_to_dict(h) for h in runs]
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"got {len(labels)} labels for {len(runs)} histories: give one label per history")
    if not metrics:
        raise ValueError("metrics must name at least one metric, e.g. ('loss', 'accuracy')")

    fig, axes = _new_figure(1, len(metrics), (5.0, 3.6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, metric in zip(axes.flat, metrics):
        drawn = 0
        for index, history in enumerate(runs):
            colour = colours[index % len(colours)]
            run_label = labels[index] if labels is not None else ""
            for split, key in _metric_keys(history, metric):
                values = history[key]
                epochs = history.get("epoch") or list(range(1, len(values) + 1))
                style = "--" if split in ("test", "val", "valid") else "-"
                name = " ".join(part for part in (run_label, split) if part) or key
                ax.plot(epochs[: len(values)], values, style, color=colour, marker="o", markersize=3, label=name)
                drawn += 1
        if not drawn:
            available = sorted({k for h in runs for k in h})
            raise ValueError(f"no history holds the metric {metric!r}; available keys: {available}")
        _label(ax, f"{metric.capitalize()} per epoch", "epoch", metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=TICK_SIZE)
    if title:
        fig.suptitle(title, fontsize=SUPTITLE_SIZE)
    return fig


# --------------------------------------------------------------------------------------------------
# Images, feature maps, kernels
# --------------------------------------------------------------------------------------------------


def _label_text(label: Any, class_names: Sequence[str] | None) -> str:
    if isinstance(label, torch.Tensor):
        label = label.item()
    if class_names is not None and isinstance(label, (int, np.integer)):
        return str(class_names[int(label)])
    return str(label)


def show_images(
    images: Any,
    labels: Sequence[Any] | None = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    predictions: Sequence[Any] | None = None,
    title: str | None = None,
    max_images: int = 64,
) -> Figure:
    """A grid of images with their labels; with ``predictions`` each panel reads 'prediction (truth)', wrong ones in red.

    ``images`` is a batch tensor (N, C, H, W) or (N, H, W), or a list of tensors, arrays or PIL images.
    """
    images = list(images)[:max_images]
    if not images:
        raise ValueError("show_images needs at least one image")
    for name, seq in (("labels", labels), ("predictions", predictions)):
        if seq is not None and len(seq) < len(images):
            raise ValueError(f"got {len(seq)} {name} for {len(images)} images: give one per image")
    nrows, ncols = _grid(len(images), ncols)
    fig, axes = _new_figure(nrows, ncols, (1.6, 1.8))
    for index, (ax, image) in enumerate(zip(axes.flat, images)):
        text, colour = "", "black"
        if labels is not None:
            text = _label_text(labels[index], class_names)
        if predictions is not None:
            predicted = _label_text(predictions[index], class_names)
            colour = "black" if labels is None or predicted == text else "red"
            text = predicted if labels is None else f"{predicted}\n({text})"
        _image_panel(ax, _displayable(image), text)
        ax.title.set_color(colour)
    _hide_unused(axes, len(images))
    fig.suptitle(title or f"{len(images)} images", fontsize=SUPTITLE_SIZE)
    return fig


def _resolve_layer(model: nn.Module, layer: nn.Module | str) -> tuple[nn.Module, str]:
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer), layer
        except AttributeError as error:
            names = [name for name, _ in model.named_modules() if name]
            raise ValueError(f"the model has no layer {layer!r}; its layers are: {names}") from error
    for name, module in model.named_modules():
        if module is layer:
            return module, name or type(module).__name__
    raise ValueError(f"{type(layer).__name__} is not a layer of this model: pass one of model.named_modules()")


def plot_feature_maps(
    model: nn.Module,
    layer: nn.Module | str,
    image: torch.Tensor,
    max_maps: int = 16,
    ncols: int = 8,
    show_input: bool = True,
) -> Figure:
    """The output channels of one layer (a module or its dotted name) for one input image (C, H, W).

    A forward hook catches the layer's output during one evaluation-mode forward pass.
    """
    module, name = _resolve_layer(model, layer)
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"image must be one image (C, H, W) or (1, C, H, W), got shape {tuple(image.shape)}")
    caught: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _inp, out: caught.append(out))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            device = next((p.device for p in model.parameters()), image.device)
            model(image.to(device))
    finally:
        handle.remove()
        model.train(was_training)
    output = caught[0]
    if isinstance(output, (tuple, list)):
        output = output[0]
    if output.dim() != 4:
        raise ValueError(f"layer {name!r} gives output of shape {tuple(output.shape)}, not feature maps (N, C, H, W)")
    maps = output[0, :max_maps]
    panels = len(maps) + int(show_input)
    nrows, ncols = _grid(panels, ncols)
    fig, axes = _new_figure(nrows, ncols, (1.6, 1.8))
    flat = list(axes.flat)
    if show_input:
        _image_panel(flat.pop(0), _displayable(image[0]), "input")
    for channel, (ax, fmap) in enumerate(zip(flat, maps)):
        _image_panel(ax, _to_numpy(fmap), f"channel {channel}", cmap="viridis")
    _hide_unused(axes, panels)
    c, h, w = output.shape[1:]
    shown = f", first {len(maps)} shown" if len(maps) < c else ""
    heading = f"Feature maps of layer {name} ({type(module).__name__}): {c} channels of {h}×{w}{shown}"
    fig.suptitle(heading, fontsize=SUPTITLE_SIZE)
    return fig


def plot_kernels(
    conv_or_weight: nn.Module | torch.Tensor,
    max_kernels: int = 64,
    ncols: int = 8,
    in_channel: int = 0,
    title: str | None = None,
) -> Figure:
    """The learned kernels of a convolution (a module with a 4-D ``weight``, or the weight itself).

    Kernels over 3 input channels are drawn in colour (each rescaled to [0, 1]); otherwise the slice for
    ``in_channel`` is drawn on one diverging scale centred on 0, so signs and sizes compare across panels.
    """
    weight = conv_or_weight.weight if isinstance(conv_or_weight, nn.Module) else conv_or_weight
    if not isinstance(weight, torch.Tensor) or weight.dim() != 4:
        shape = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight).__name__
        raise ValueError(f"need a conv layer or a weight of shape (C_out, C_in, kh, kw), got {shape}")
    c_out, c_in, kh, kw = weight.shape
    if not 0 <= in_channel < c_in:
        raise ValueError(f"in_channel must be in [0, {c_in - 1}], got {in_channel}")
    kernels = _to_numpy(weight[:max_kernels])
    nrows, ncols = _grid(len(kernels), ncols)
    fig, axes = _new_figure(nrows, ncols, (1.3, 1.5))
    colour = c_in == 3
    vmax = float(np.abs(kernels[:, in_channel]).max()) or 1.0
    for index, (ax, kernel) in enumerate(zip(axes.flat, kernels)):
        if colour:
            spread = float(kernel.max() - kernel.min()) or 1.0
            _image_panel(ax, ((kernel - kernel.min()) / spread).transpose(1, 2, 0), f"{index}")
        else:
            _image_panel(ax, kernel[in_channel], f"{index}", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    _hide_unused(axes, len(kernels))
    what = "RGB" if colour else f"input channel {in_channel}"
    count = f"{c_out}" if c_out <= max_kernels else f"{max_kernels} of {c_out}"
    heading = title or f"{count} kernels ({c_in}×{kh}×{kw}), {what}"
    fig.suptitle(heading, fontsize=SUPTITLE_SIZE)
    return fig


# --------------------------------------------------------------------------------------------------
# Schedules and result tables
# --------------------------------------------------------------------------------------------------


def plot_lr_schedule(
    lrs: Sequence[float] | Mapping[str, Sequence[float]],
    title: str = "Learning-rate schedule",
    xlabel: str = "step",
    log_scale: bool = False,
) -> Figure:
    """Learning rate against step for one schedule (a list) or several ({name: list})."""
    curves = dict(lrs) if isinstance(lrs, Mapping) else {"": lrs}
    if not curves or any(len(v) == 0 for v in curves.values()):
        raise ValueError("give at least one non-empty list of learning rates")
    fig, axes = _new_figure(1, 1, (6.0, 3.6))
    ax = axes[0, 0]
    for name, values in curves.items():
        ax.plot(range(len(values)), [float(v) for v in values], label=name or None)
    if log_scale:
        ax.set_yscale("log")
    _label(ax, title, xlabel, "learning rate")
    ax.grid(alpha=0.3)
    if len(curves) > 1 or next(iter(curves)):
        ax.legend(fontsize=TICK_SIZE)
    return fig


def plot_bars(
    values: Mapping[str, float],
    title: str,
    ylabel: str,
    xlabel: str = "",
    annotate: bool = True,
    log_scale: bool = False,
    fmt: str | None = None,
) -> Figure:
    """A bar chart of a results table ({name: value}), e.g. parameters per model or accuracy per run.

    Bars are annotated with their values: whole numbers with thousands separators, others with 4
    significant digits, unless ``fmt`` (a format string such as ``"{:.1%}"``) says otherwise.
    """
    if not values:
        raise ValueError("plot_bars needs at least one {name: value} entry")
    names = [str(k) for k in values]
    numbers = [float(v) for v in values.values()]
    fig, axes = _new_figure(1, 1, (max(4.0, 0.7 * len(names) + 2.0), 3.8))
    ax = axes[0, 0]
    bars = ax.bar(names, numbers, color="tab:blue")
    if log_scale:
        ax.set_yscale("log")
    if annotate:
        texts = [(fmt or ("{:,.0f}" if v.is_integer() else "{:.4g}")).format(v) for v in numbers]
        ax.bar_label(bars, labels=texts, fontsize=TICK_SIZE, padding=2)
        ax.margins(y=0.12)  # room for the labels above the tallest bar
    _label(ax, title, xlabel, ylabel)
    if len(names) > 4:
        ax.tick_params(axis="x", labelrotation=45)
    ax.grid(axis="y", alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------------
# Labelled scatter plots and readability checks
# --------------------------------------------------------------------------------------------------


def plot_labelled_scatter(
    points: Mapping[str, tuple[float, float]],
    title: str,
    xlabel: str,
    ylabel: str,
    sizes: Mapping[str, float] | None = None,
    log_x: bool = False,
    figsize: tuple[float, float] = (7.5, 5.5),
) -> Figure:
    """One labelled point per entry ({name: (x, y)}), labels moved apart by adjustText so none overlap.

    ``sizes`` ({name: marker area in points²}) scales the markers; a label pushed away from its
    point is joined to it by a thin line.
    """
    if not points:
        raise ValueError("plot_labelled_scatter needs at least one {name: (x, y)} entry")
    try:
        from adjustText import adjust_text
    except ImportError as error:  # pragma: no cover - adjustText is in the course's pins
        raise ImportError("plot_labelled_scatter needs adjustText: pip install adjustText") from error
    names = list(points)
    xs = np.array([float(points[name][0]) for name in names])
    ys = np.array([float(points[name][1]) for name in names])
    areas = [float(sizes[name]) if sizes else 40.0 for name in names]
    fig, axes = _new_figure(1, 1, figsize)
    ax = axes[0, 0]
    markers = ax.scatter(xs, ys, s=areas, alpha=0.55, color="tab:blue", edgecolor="#1a4d80", zorder=2)
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(_plain_log_tick))
        ax.xaxis.set_minor_formatter(FuncFormatter(_plain_log_tick))
    _label(ax, title, xlabel, ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.margins(x=0.12, y=0.12)  # room for the labels at the edges
    texts = [ax.text(x, y, name, fontsize=TICK_SIZE, zorder=3) for name, x, y in zip(names, xs, ys)]
    fig.draw_without_rendering()  # the final layout first: adjustText works in display coordinates
    adjust_text(texts, x=xs, y=ys, objects=markers, ax=ax, expand=(1.15, 1.4), ensure_inside_axes=True,
                arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.7})
    return fig


def _plain_log_tick(value: float, _position: Any = None) -> str:
    """Tick label on a log axis: 1, 2 and 5 times a power of ten as plain numbers (0.5, 2, 20), others blank."""
    if value <= 0:
        return ""
    mantissa = value / 10 ** math.floor(math.log10(value))
    return f"{value:g}" if min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-6 else ""


def _texts(fig: Figure) -> list[Any]:
    return [text for text in fig.findobj(match=lambda artist: hasattr(artist, "get_text"))
            if text.get_visible() and text.get_text().strip()]


def smallest_text_px(fig: Figure, page_width_px: float = PAGE_WIDTH_PX, dpi: float | None = None) -> float:
    """Height in CSS pixels of the figure's smallest text when the page shows it at most page_width_px wide.

    Pass the dpi the figure is saved with (a notebook's inline backend uses ``figure.dpi``).
    """
    dpi = float(dpi or fig.dpi)
    width_px = fig.get_figwidth() * dpi
    scale = min(1.0, page_width_px / width_px)
    sizes = [text.get_fontsize() for text in _texts(fig)]
    if not sizes:
        raise ValueError("the figure has no text to measure")
    return min(sizes) * dpi / 72 * scale
