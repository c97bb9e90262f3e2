"""course_lib.diagrams: each block diagram draws, says what it should, keeps its text on the page and readable."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course_lib import diagrams

PAGE_WIDTH_INCHES = 8.0


def _texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _dashed_lines(fig: Figure) -> int:
    lines = [line for ax in fig.axes for line in ax.lines if line.get_linestyle() == "--"]
    arrows = [t.arrow_patch for ax in fig.axes for t in ax.texts
              if getattr(t, "arrow_patch", None) is not None and t.arrow_patch.get_linestyle() != "-"]
    return len(lines) + len(arrows)


@pytest.mark.parametrize("name", diagrams.__all__)
def test_diagram_fits_the_page_and_its_text_stays_inside(name: str) -> None:
    fig = getattr(diagrams, name)()
    assert isinstance(fig, Figure)
    width, _ = fig.get_size_inches()
    assert width <= PAGE_WIDTH_INCHES
    fig.savefig(io.BytesIO(), format="png")  # draws as the book does: errors at draw time show here
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox
    for ax in fig.axes:
        for text in ax.texts:
            assert text.get_fontsize() >= 10, f"{name}: {text.get_text()!r} is too small to read"
            box = text.get_window_extent(renderer)
            assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, f"{name}: {text.get_text()!r} runs off the page"
            assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, f"{name}: {text.get_text()!r} runs off the page"


def test_vgg_block_draws_as_many_convolutions_as_asked() -> None:
    for n in (1, 3):
        convs = [t for t in _texts(diagrams.vgg_block(num_convs=n, in_channels=3, out_channels=64)) if "3×3 conv" in t]
        assert len(convs) == n
        assert convs[0].endswith("3→64, pad 1")
    with pytest.raises(ValueError, match="at least one convolution"):
        diagrams.vgg_block(num_convs=0)


def test_inception_block_concatenates_its_four_branches() -> None:
    texts = _texts(diagrams.inception_block())
    assert "output: 256 × H × W" in texts  # 64 + 128 + 32 + 32 for block 3a
    assert sum(" conv, " in t for t in texts) == 6 and "3×3 max-pool" in texts
    assert "output: 480 × H × W" in _texts(diagrams.inception_block(256, 128, 128, 192, 32, 96, 64))  # block 3b


@pytest.mark.parametrize("draw", [diagrams.residual_block, diagrams.bottleneck_block])
def test_identity_shortcut_is_solid_and_projection_dashed(draw) -> None:
    identity, projection, both = draw("identity"), draw("projection"), draw("both")
    assert _dashed_lines(identity) == 0
    assert _dashed_lines(projection) > 0
    assert any("stride 2, BN" in t for t in _texts(projection))
    assert not any("stride 2, BN" in t for t in _texts(identity))
    assert len(both.axes) == 2 and "dashed = projection" in both.get_suptitle()
    with pytest.raises(ValueError, match="'identity', 'projection' or 'both'"):
        draw("dotted")
