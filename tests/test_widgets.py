"""The convolution and pooling explorers show the right result for every setting, with and without a kernel."""

from __future__ import annotations

import json
import re
from itertools import product

import pytest
import torch
import torch.nn.functional as F
from ipywidgets import Stack, Widget
from ipywidgets.embed import embed_data

from course_lib.widgets import Explorer, camera_patch, conv_explorer, conv_panel_html, pool_explorer


def _shown_output_size(explorer: Explorer) -> tuple[int, int] | None:
    """The 'output: H × W' the visible panel states, or None for a 'Not possible' panel."""
    match = re.search(r"output: (\d+) × (\d+)", explorer.panel.value)
    return (int(match[1]), int(match[2])) if match else None


def _torch_conv_size(n: int, k: int, p: int, s: int) -> tuple[int, int] | None:
    try:
        return tuple(F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s).shape[-2:])
    except RuntimeError:
        return None


def _shown_pooled_values(explorer: Explorer) -> list[float]:
    """The numbers in the output grid of the visible pooling panel (the second group of cell labels)."""
    groups = re.findall(r'<g font-size="11" text-anchor="middle">(.*?)</g>', explorer.panel.value)
    return [float(t) for t in re.findall(r">([-\d.]+)</text>", groups[1])]


def test_conv_explorer_starts_on_the_rule_and_follows_a_control() -> None:
    explorer = conv_explorer()
    assert explorer.values == {"n": 7, "k": 3, "p": 1, "s": 2}
    assert _shown_output_size(explorer) == (4, 4)
    assert "⌊(7 + 2·1 − 3 + 2) / 2⌋" in explorer.panel.value
    explorer.controls["s"].value = 1
    assert _shown_output_size(explorer) == (7, 7)
    assert "Same size as the input" in explorer.panel.value


def test_conv_explorer_every_setting_agrees_with_conv2d() -> None:
    explorer = conv_explorer()
    options = [c.options for c in explorer.controls.values()]
    assert explorer.panel_count == len(list(product(*options))) == 144
    for n, k, p, s in product(*options):
        explorer.controls["n"].value, explorer.controls["k"].value = n, k
        explorer.controls["p"].value, explorer.controls["s"].value = p, s
        assert _shown_output_size(explorer) == _torch_conv_size(n, k, p, s), (n, k, p, s)


def test_conv_panel_marks_uncovered_cells_and_impossible_settings() -> None:
    assert "never covered" in conv_panel_html(7, 3, 0, 3)  # windows end at 6 of 7 columns
    assert "never covered" not in conv_panel_html(7, 3, 1, 1)
    impossible = conv_panel_html(4, 5, 0, 1)
    assert "Not possible" in impossible and "padding" in impossible


def test_pool_explorer_every_setting_agrees_with_torch() -> None:
    patch = camera_patch()
    explorer = pool_explorer(patch)
    assert explorer.values == {"mode": "max", "size": 2, "stride": 2, "padding": 0}
    for mode, size, stride, padding in product(*(c.options for c in explorer.controls.values())):
        explorer.controls["mode"].value, explorer.controls["size"].value = mode, size
        explorer.controls["stride"].value, explorer.controls["padding"].value = stride, padding
        pool = F.max_pool2d if mode == "max" else F.avg_pool2d
        expected = pool(patch[None].float(), size, stride=stride, padding=padding)[0]
        assert _shown_output_size(explorer) == tuple(expected.shape)
        decimals = 0 if mode == "max" else 1
        shown = torch.tensor(_shown_pooled_values(explorer))
        torch.testing.assert_close(shown, expected.flatten(), atol=0.51 * 10**-decimals, rtol=0)


def test_pool_explorer_switches_between_max_and_average() -> None:
    explorer = pool_explorer()
    before = _shown_pooled_values(explorer)
    explorer.controls["mode"].value = "avg"
    after = _shown_pooled_values(explorer)
    assert "avg pooling" in explorer.panel.value
    assert all(a <= b for a, b in zip(after, before)) and after != before


def test_controls_are_linked_in_the_browser_to_every_stack() -> None:
    """The static book has no kernel: each control must be jslinked to all stacks of its level."""
    explorer = conv_explorer()
    state = embed_data(views=[explorer])["manager_state"]["state"]
    links = [m["state"] for m in state.values() if m["model_name"] == "LinkModel"]
    for level, control in enumerate(explorer.controls.values()):
        targets = {link["target"][0] for link in links if link["source"] == [f"IPY_MODEL_{control.model_id}", "index"]}
        assert targets == {f"IPY_MODEL_{stack.model_id}" for stack in explorer._stacks[level]}
        assert all(isinstance(stack, Stack) for stack in explorer._stacks[level])


def test_explorer_state_is_embeddable_and_light() -> None:
    Widget.close_all()  # embed_data takes every live widget: leave only this explorer's
    explorer = conv_explorer()
    data = embed_data(views=[explorer])
    assert data["view_specs"][0]["model_id"] == explorer.model_id
    assert explorer.model_id in data["manager_state"]["state"]
    assert len(json.dumps(data["manager_state"])) < 600_000, "the page would grow too heavy"


def test_explorer_in_a_real_kernel_stores_links_and_panels_for_the_book() -> None:
    """What Jupyter Book embeds: the widget state nbclient saves after running the cell."""
    import nbclient
    import nbformat

    cell = nbformat.v4.new_code_cell("from course_lib.widgets import pool_explorer\npool_explorer()")
    notebook = nbformat.v4.new_notebook(cells=[cell])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in notebook.cells[0].outputs)
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    names = [m["model_name"] for m in state.values()]
    assert names.count("HTMLModel") >= 24 and names.count("LinkModel") == 1 + 2 + 2 * 2 + 2 * 2 * 3  # one link per stack


def test_explorer_errors() -> None:
    with pytest.raises(ValueError, match="too many panels"):
        conv_explorer(sizes=range(3, 13), kernels=range(1, 8), paddings=(0, 1, 2), strides=(1, 2, 3))
    with pytest.raises(ValueError, match="not one of its options"):
        conv_explorer(start=(9, 3, 1, 1))
    with pytest.raises(ValueError, match="at most 10×10"):
        pool_explorer(torch.zeros(12, 12))
    with pytest.raises(ValueError, match="2-D"):
        pool_explorer(torch.zeros(2, 4, 4))


@pytest.mark.parametrize("make", [conv_explorer, pool_explorer], ids=["conv", "pool"])
def test_every_control_is_named_and_keyboard_operable(make) -> None:
    # Drop-down lists render as <label for> + <select> (a screen reader says the label, arrow keys
    # change the value); toggle buttons are buttons named by their text. Sliders have no name.
    from ipywidgets import Dropdown, ToggleButtons

    for name, control in make().controls.items():
        assert isinstance(control, (Dropdown, ToggleButtons)), f"{name}: {type(control).__name__}"
        assert control.description.strip(), f"{name} has no label"
        if isinstance(control, ToggleButtons):
            assert len(control.tooltips) == len(control.options) and all(control.tooltips)
