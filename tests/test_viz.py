"""course_lib.viz draws what it is given: right panels, titles, labels and data, on real small models and images."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from skimage import data as skdata
from torch import nn

from course_lib import viz
from helpers.figures import overlapping_labels

HISTORY = {
    "train_loss": [2.1, 1.2, 0.8],
    "test_loss": [1.9, 1.3, 1.0],
    "train_acc": [0.40, 0.65, 0.80],
    "test_acc": [0.45, 0.62, 0.74],
    "seconds": [3.0, 2.9, 2.9],
}


class RecordedHistory:
    """A minimal object with the History interface the Trainer returns (``.to_dict()``)."""

    def __init__(self, values: dict[str, list[float]]) -> None:
        self.values = values

    def to_dict(self) -> dict[str, list[float]]:
        return dict(self.values)


def _visible_axes(fig: Figure) -> list:
    return [ax for ax in fig.axes if ax.get_visible()]


def _render(fig: Figure) -> bytes:
    """Draw the figure to PNG bytes: catches errors that only appear at draw time."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _camera_batch(n: int = 5, size: int = 32) -> torch.Tensor:
    """n real grey patches (1, size, size) cut from scikit-image's camera photo, scaled to [0, 1]."""
    photo = torch.from_numpy(skdata.camera()).float() / 255
    return torch.stack([photo[100 + 40 * i : 100 + 40 * i + size, 200 : 200 + size] for i in range(n)]).unsqueeze(1)


def _assert_readable(fig: Figure) -> None:
    for ax in _visible_axes(fig):
        if ax.get_title():
            assert ax.title.get_fontsize() >= 10
        if ax.get_xlabel():
            assert ax.xaxis.label.get_fontsize() >= 10


# ---- plot_history ------------------------------------------------------------------------------------


@pytest.mark.parametrize("history", [HISTORY, RecordedHistory(HISTORY)], ids=["dict", "to_dict"])
def test_plot_history_one_run(history) -> None:
    fig = viz.plot_history(history)
    loss_ax, acc_ax = _visible_axes(fig)
    assert loss_ax.get_title() == "Loss per epoch" and acc_ax.get_title() == "Accuracy per epoch"
    assert loss_ax.get_xlabel() == "epoch" and acc_ax.get_ylabel() == "accuracy"
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert set(lines) == {"train", "test"}
    np.testing.assert_allclose(lines["test"].get_ydata(), HISTORY["test_loss"])
    np.testing.assert_allclose(lines["train"].get_xdata(), [1, 2, 3])
    assert lines["test"].get_linestyle() == "--"
    _assert_readable(fig)
    assert _render(fig)


def test_plot_history_compares_runs_and_picks_metrics() -> None:
    faster = {k: [v * 0.5 for v in values] for k, values in HISTORY.items()}
    fig = viz.plot_history({"sgd": HISTORY, "adam": RecordedHistory(faster)}, metrics=("loss", "seconds"))
    loss_ax, seconds_ax = _visible_axes(fig)
    assert {line.get_label() for line in loss_ax.get_lines()} == {"sgd train", "sgd test", "adam train", "adam test"}
    assert seconds_ax.get_title() == "Seconds per epoch"
    assert len(seconds_ax.get_lines()) == 2
    labelled = viz.plot_history([HISTORY, faster], labels=["a", "b"], metrics=("accuracy",), title="Two runs")
    assert labelled._suptitle.get_text() == "Two runs"
    assert len(labelled.axes[0].get_lines()) == 4


def test_plot_history_draws_the_trainers_history() -> None:
    from course_lib import train

    history = train.History()
    for epoch in range(3):
        history.append(
            epoch=epoch + 1, train_loss=HISTORY["train_loss"][epoch], train_acc=HISTORY["train_acc"][epoch],
            test_loss=float("nan"), test_acc=float("nan"), lr=0.05, seconds=1.0, images_per_second=100.0,
        )
    fig = viz.plot_history(history)
    loss_ax, acc_ax = _visible_axes(fig)
    assert [line.get_label() for line in loss_ax.get_lines()] == ["train"], "NaN test metrics (no test loader) are skipped"
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_ydata(), HISTORY["train_acc"])
    np.testing.assert_allclose(acc_ax.get_lines()[0].get_xdata(), [1, 2, 3])


def test_plot_history_errors() -> None:
    with pytest.raises(ValueError, match="available keys"):
        viz.plot_history(HISTORY, metrics=("f1",))
    with pytest.raises(ValueError, match="one label per history"):
        viz.plot_history([HISTORY, HISTORY], labels=["only one"])
    with pytest.raises(TypeError, match="to_dict"):
        viz.history_to_dict([1, 2, 3])


# ---- images ------------------------------------------------------------------------------------------


def test_show_images_grid_and_labels() -> None:
    images = _camera_batch(5)
    names = ["zero", "one", "two", "three"]
    fig = viz.show_images(images, labels=torch.tensor([0, 1, 2, 3, 3]), class_names=names, ncols=3)
    visible = _visible_axes(fig)
    assert len(visible) == 5 and len(fig.axes) == 6  # a 2 x 3 grid, the spare panel hidden
    assert [ax.get_title() for ax in visible] == ["zero", "one", "two", "three", "three"]
    np.testing.assert_allclose(visible[0].images[0].get_array(), images[0, 0].numpy())
    assert _render(fig)


def test_show_images_marks_wrong_predictions_in_red() -> None:
    fig = viz.show_images(_camera_batch(3), labels=[0, 1, 2], predictions=[0, 2, 2], class_names=["a", "b", "c"])
    titles = [ax.title for ax in _visible_axes(fig)]
    assert titles[1].get_text() == "c\n(b)"
    assert titles[1].get_color() == "red" and titles[0].get_color() == "black"


def test_show_images_rescales_normalised_colour_images() -> None:
    photo = torch.from_numpy(skdata.astronaut()[:64, :64]).permute(2, 0, 1).float() / 255
    normalised = (photo - 0.5) / 0.25  # like transforms.Normalize: values leave [0, 1]
    fig = viz.show_images([normalised, skdata.astronaut()[:64, :64]], ncols=2)
    for ax in _visible_axes(fig):
        shown = np.asarray(ax.images[0].get_array())
        assert shown.shape == (64, 64, 3)
        assert shown.min() >= 0.0 and shown.max() <= 1.0


def test_show_images_errors() -> None:
    with pytest.raises(ValueError, match="one per image"):
        viz.show_images(_camera_batch(3), labels=[1])
    with pytest.raises(ValueError, match="shape"):
        viz.show_images([torch.zeros(4, 8, 8)])


# ---- feature maps and kernels --------------------------------------------------------------------------


def _small_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 20, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(20 * 16 * 16, 10),
    )


def test_plot_feature_maps_shows_the_layer_output() -> None:
    model, image = _small_cnn(), _camera_batch(1)[0]
    model.train()
    fig = viz.plot_feature_maps(model, model[0], image)
    visible = _visible_axes(fig)
    assert len(visible) == 1 + 6 and visible[0].get_title() == "input"
    expected = model[0](image[None])[0, 2].detach().numpy()
    np.testing.assert_allclose(visible[3].images[0].get_array(), expected, rtol=1e-5, atol=1e-6)
    assert "6 channels of 32×32" in fig._suptitle.get_text()
    assert not model[0]._forward_hooks, "the hook must be removed"
    assert model.training, "the model's mode must be restored"
    assert _render(fig)


def test_plot_feature_maps_by_name_limits_panels() -> None:
    model = _small_cnn()
    fig = viz.plot_feature_maps(model, "3", _camera_batch(1)[0], max_maps=8, show_input=False)
    assert len(_visible_axes(fig)) == 8
    assert "20 channels of 16×16, first 8 shown" in fig._suptitle.get_text()


def test_plot_feature_maps_errors() -> None:
    model, image = _small_cnn(), _camera_batch(1)[0]
    with pytest.raises(ValueError, match="not feature maps"):
        viz.plot_feature_maps(model, model[6], image)
    with pytest.raises(ValueError, match="has no layer"):
        viz.plot_feature_maps(model, "conv9", image)
    with pytest.raises(ValueError, match="not a layer of this model"):
        viz.plot_feature_maps(model, nn.Conv2d(1, 1, 1), image)


def test_plot_kernels_colour_and_single_channel() -> None:
    rgb = nn.Conv2d(3, 6, 5)
    fig = viz.plot_kernels(rgb)
    visible = _visible_axes(fig)
    assert len(visible) == 6
    assert np.asarray(visible[0].images[0].get_array()).shape == (5, 5, 3)
    assert "(3×5×5)" in fig._suptitle.get_text()

    grey = nn.Conv2d(2, 20, 3)
    fig = viz.plot_kernels(grey.weight, max_kernels=16, in_channel=1)
    visible = _visible_axes(fig)
    assert len(visible) == 16
    np.testing.assert_allclose(visible[4].images[0].get_array(), grey.weight[4, 1].detach().numpy())
    limits = {ax.images[0].get_clim() for ax in visible}
    assert len(limits) == 1, "all kernels share one colour scale"
    low, high = limits.pop()
    assert low == -high
    assert _render(fig)


def test_plot_kernels_errors() -> None:
    with pytest.raises(ValueError, match="C_out, C_in, kh, kw"):
        viz.plot_kernels(nn.Linear(3, 4))
    with pytest.raises(ValueError, match="in_channel"):
        viz.plot_kernels(nn.Conv2d(2, 4, 3), in_channel=2)


# ---- schedules and bars ----------------------------------------------------------------------------------


def _cosine_lrs(steps: int = 20) -> list[float]:
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


def test_plot_lr_schedule() -> None:
    lrs = _cosine_lrs()
    fig = viz.plot_lr_schedule(lrs)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "learning rate" and ax.get_xlabel() == "step"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), lrs)
    fig = viz.plot_lr_schedule({"cosine": lrs, "constant": [0.1] * 20}, log_scale=True)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["cosine", "constant"]
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_lr_schedule([])


def test_plot_bars() -> None:
    params = {"LeNet-5": 61_706, "ResNet-18 (CIFAR)": 11_173_962}
    fig = viz.plot_bars(params, title="Parameters per model", ylabel="parameters", log_scale=True)
    ax = fig.axes[0]
    assert ax.get_title() == "Parameters per model" and ax.get_ylabel() == "parameters"
    assert [p.get_height() for p in ax.patches] == list(params.values())
    assert "61,706" in [t.get_text() for t in ax.texts]
    assert _render(fig)
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_bars({}, title="t", ylabel="y")


def test_figures_are_not_left_in_pyplot() -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    viz.plot_bars({"a": 1.0}, title="t", ylabel="y")
    assert len(plt.get_fignums()) == before


def test_a_returned_figure_shows_exactly_once_in_a_notebook() -> None:
    """In a real kernel, the cell's last expression displays the figure once; a trailing ';' or an
    assignment shows nothing (the figure is not left in pyplot for the inline backend to flush)."""
    import nbclient
    import nbformat

    cells = [
        "from course_lib.viz import plot_bars",
        "plot_bars({'a': 1.0, 'b': 2.0}, title='t', ylabel='y')",
        "fig = plot_bars({'a': 1.0}, title='t', ylabel='y')",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    pngs = [[o for o in cell.outputs if "image/png" in o.get("data", {})] for cell in notebook.cells]
    assert [len(p) for p in pngs] == [0, 1, 0]


# ---- labelled scatter plots (chapter 11's trade-off figures) -----------------------------------------

IMAGENET_MODELS = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
                   "googlenet", "resnet18", "resnet34", "resnet50"]


@pytest.fixture(scope="module")
def accuracy_vs_compute() -> dict[str, tuple[float, float]]:
    """Chapter 11's real points: GMACs of the course's models (torchinfo) and torchvision's published top-1."""
    import torchvision

    from course_lib.summary import model_table

    macs = {row.name: row.macs for row in model_table() if row.name in IMAGENET_MODELS}
    top1 = {name: torchvision.models.get_model_weights(name)["IMAGENET1K_V1"].meta["_metrics"]["ImageNet-1K"]["acc@1"]
            for name in IMAGENET_MODELS}
    return {name: (macs[name] / 1e9, top1[name]) for name in IMAGENET_MODELS}


def test_labels_at_their_points_overlap_on_the_real_data(accuracy_vs_compute) -> None:
    # Why the plot moves labels: written at their points, the VGG and GoogLeNet/ResNet-18 names collide.
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    ax.set_xscale("log")
    for name, (x, y) in accuracy_vs_compute.items():
        ax.scatter(x, y)
        ax.text(x, y, name, fontsize=viz.TICK_SIZE)
    assert overlapping_labels(fig), "the check finds no overlap even where labels sit on top of each other"
    plt.close(fig)


def test_labelled_scatter_keeps_labels_apart_and_readable(accuracy_vs_compute) -> None:
    sizes = {name: 10 + 4 * index for index, name in enumerate(accuracy_vs_compute)}
    fig = viz.plot_labelled_scatter(accuracy_vs_compute, "Accuracy vs compute", "GMACs per image (log scale)",
                                    "ImageNet top-1 accuracy (%)", sizes=sizes, log_x=True)
    ax = _visible_axes(fig)[0]
    assert [text.get_text() for text in ax.texts] == list(accuracy_vs_compute)
    assert ax.get_xscale() == "log"
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, list(accuracy_vs_compute.values()))
    np.testing.assert_allclose(ax.collections[0].get_sizes(), list(sizes.values()))
    assert overlapping_labels(fig) == []
    shown = [t for t in ax.get_xticklabels(minor=True) + ax.get_xticklabels() if t.get_text()]
    spans = sorted((t.get_window_extent().x0, t.get_window_extent().x1) for t in shown
                   if ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1])
    assert len(spans) >= 3, spans
    assert all(right < next_left for (_, right), (next_left, _) in zip(spans, spans[1:])), "x tick labels overlap"
    axes_box = ax.get_window_extent()
    assert all(axes_box.contains(*text.get_window_extent().get_points().mean(axis=0)) for text in ax.texts)
    # At the book's text width (the inline backend saves at 100 dpi in chapter 11) text stays >= 10 px.
    assert viz.smallest_text_px(fig, dpi=100) >= 10
    _assert_readable(fig)
    assert _render(fig)


def test_smallest_text_px_scales_with_the_page() -> None:
    fig, ax = plt.subplots(figsize=(14, 5))
    ax.set_title("wide", fontsize=9)
    ax.tick_params(labelsize=12)
    # 14 in at 100 dpi = 1400 px shown 688 px wide: 9 pt = 12.5 px in the image, about 6 px on the page.
    assert viz.smallest_text_px(fig, page_width_px=688, dpi=100) == pytest.approx(9 * 100 / 72 * 688 / 1400)
    assert viz.smallest_text_px(fig, page_width_px=2000, dpi=100) == pytest.approx(9 * 100 / 72)
    plt.close(fig)


def test_labelled_scatter_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_labelled_scatter({}, "t", "x", "y")
