"""Chapters 5 and 6: the stored VGG-vs-GoogLeNet run, its verdicts and the chapters' text agree; the nets are sound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from course_lib.experiments import stats, store
from course_lib.experiments import vgg_vs_inception as exp

BOOK = Path(__file__).resolve().parents[1] / "book"


@pytest.fixture(scope="module")
def stored() -> dict:
    return store.load("vgg_vs_inception", "medium")


def _text(name: str) -> str:
    cells = json.loads((BOOK / name).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def test_stored_run_has_provenance_and_the_settings_chapter_6_describes(stored: dict) -> None:
    for key in ("command", "commit", "device", "torch", "started", "wall_seconds"):
        assert stored["provenance"][key] not in (None, "")
    results, medium = stored["results"], exp.SETTINGS["medium"]
    # the stored file is what `--scale medium` trains, and chapters 5 and 6 describe it with its own numbers
    assert results["epochs"] == medium["epochs"] and results["seeds"] == list(medium["seeds"])
    assert f"on {medium['train']:,} Fashion-MNIST training images" in results["data"]
    assert f"tested on {medium['test']:,}" in results["data"]
    steps = medium["epochs"] * -(-medium["train"] // medium["batch_size"])
    for chapter in ("05_alexnet_vgg.ipynb", "06_nin_googlenet.ipynb"):
        text = " ".join(_text(chapter).split())
        for words in (f"{medium['train']:,} training images read {medium['epochs']} times",
                      f"about {round(steps, -2):,} steps", f"all {medium['test']:,} test images",
                      f"{['', 'one', 'two', 'three', 'four', 'five', 'six'][len(medium['seeds'])]} seeds"):
            assert words in text, (chapter, words)
    records = [r for runs in results["arms"].values() for r in runs]
    assert all(r["provenance"]["cpu_seconds"] > 0 for r in records), "every stored run carries its CPU seconds"
    for arch in exp.ARCHS:
        runs = results["arms"][arch]
        assert [r["seed"] for r in runs] == results["seeds"]
        assert all(len(r["test_acc"]) == results["epochs"] and r["final_test_acc"] == r["test_acc"][-1] for r in runs)


def test_verdict_follows_the_seed_noise(stored: dict) -> None:
    results = stored["results"]
    comparison = stats.compare("a", exp.finals(results, "GoogLeNet"), "b", exp.finals(results, "VGG"))
    sentence = exp.verdict(results)
    assert ("within seed noise" in sentence) == (not comparison.separated)
    if comparison.separated:
        winner = exp.ARCH_LABELS["GoogLeNet" if comparison.diff > 0 else "VGG"]
        assert sentence.lower().startswith(winner.lower() + " beats")
    assert f"{abs(comparison.diff):.1f} points" in sentence


def test_verdict_changes_when_the_numbers_do() -> None:
    def fake(vgg: list[float], inc: list[float]) -> dict:
        return {"arms": {"VGG": [{"final_test_acc": v} for v in vgg], "GoogLeNet": [{"final_test_acc": v} for v in inc]}}

    assert "within seed noise" in exp.verdict(fake([70.0, 72.0, 71.0], [71.0, 70.5, 72.5]))
    assert exp.verdict(fake([70.0, 70.5, 69.5], [80.0, 80.5, 79.5])).startswith("The small GoogLeNet beats")
    assert exp.verdict(fake([80.0, 80.5, 79.5], [70.0, 70.5, 69.5])).startswith("The reduced VGG-11 beats")


def test_cost_sentence_states_the_stored_ratios(stored: dict) -> None:
    results = stored["results"]
    vgg, inc = results["cost"]["VGG"], results["cost"]["GoogLeNet"]
    sentence = exp.cost_sentence(results)
    assert f"{vgg['params'] / inc['params']:.0f} times fewer parameters" in sentence
    assert f"{inc['params']:,} against {vgg['params']:,}" in sentence


def test_chapters_print_the_verdicts_and_show_the_stored_run() -> None:
    ch5, ch6 = _text("05_alexnet_vgg.ipynb"), _text("06_nin_googlenet.ipynb")
    assert 'vgg_vs_inception.run(scale, archs=["VGG"])' in ch5 and 'store.load("vgg_vs_inception", "medium")' in ch5
    for call in ("vgg_vs_inception.run(scale)", "vgg_vs_inception.verdict(live)", "vgg_vs_inception.verdict(medium)",
                 "vgg_vs_inception.cost_sentence(medium)", "store.provenance_line(stored)", "diagrams.inception_block()"):
        assert call in ch6
    assert "diagrams.vgg_block(" in ch5


def test_both_nets_take_32x32_grey_images_and_count_their_cost() -> None:
    x = torch.randn(2, 1, exp.IMAGE_SIZE, exp.IMAGE_SIZE)
    for arch, build in exp.ARCHS.items():
        model = build().eval()
        assert model(x).shape == (2, 10)
        cost = exp.cost(arch)
        assert cost["params"] == sum(p.numel() for p in model.parameters()) and cost["macs"] > 0
    vgg = exp.ARCHS["VGG"]()
    assert vgg.avgpool.output_size == (1, 1)          # no 49 copies of a 1x1 map
    assert vgg.classifier[0].in_features == 64
