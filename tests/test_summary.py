"""Summary helper and model table: shapes in the printed trace, counts that match the models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_lib import models
from course_lib.summary import REFERENCE_MODELS, ModelRow, build_for_timing, model_table, summarize

# Building blocks and helpers in course_lib.models that are not whole networks.
NOT_NETWORKS = {"conv3x3", "conv1x1", "make_vgg_features", "nin_block"}


def test_summarize_shows_the_cifar_resnet18_trace(capsys: pytest.CaptureFixture[str]) -> None:
    with torch.device("meta"):  # shapes only: the trace does not need real weights or arithmetic
        model = models.resnet18_cifar()
    stats = summarize(model, (128, 3, 32, 32), depth=1, device="meta")
    assert capsys.readouterr().out == ""  # quiet unless asked: print(summarize(...)) shows it once
    printed = str(stats)
    for stage, shape in [("layer1", "[128, 64, 32, 32]"), ("layer2", "[128, 128, 16, 16]"),
                         ("layer3", "[128, 256, 8, 8]"), ("layer4", "[128, 512, 4, 4]")]:
        line = next(line for line in printed.splitlines() if f"({stage})" in line)
        assert shape in line, line
    assert "11,173,962" in printed
    assert stats.total_params == 11_173_962


def test_summarize_runs_a_real_forward_on_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    model = models.LeNet5()
    model.train()
    stats = summarize(model, (2, 1, 32, 32), verbose=1)
    printed = capsys.readouterr().out
    assert stats.total_params == 61_706
    assert printed.count("[2, 6, 28, 28]") == 2  # conv1 and its activation
    assert "[2, 16, 5, 5]" in printed
    assert model.training  # torchinfo's eval-mode pass leaves the model's mode alone


def test_summarize_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch shape"):
        summarize(models.LeNet5(), (32, 32.0))
    with pytest.raises(TypeError, match="nn.Module"):
        summarize(lambda x: x, (1, 1, 32, 32))


def test_model_table_covers_every_reference_network() -> None:
    factories = {name for name in models.__all__ if name.islower() and name not in NOT_NETWORKS}
    course_classes = {"LeNet5", "ConvNet", "NiN", "FourBlockResNet"}
    table = model_table()
    names = {row.name for row in table}
    assert factories | course_classes <= names
    assert all(isinstance(row, ModelRow) and row.params > 0 and row.macs > 0 for row in table)
    rows = {row.name: row for row in table}
    assert rows["resnet18_cifar"].params == 11_173_962
    assert rows["googlenet"].params == 6_624_904  # inference network, without the auxiliary heads
    assert rows["vgg16"].input_size == (3, 224, 224) and rows["LeNet5"].input_size == (1, 32, 32)
    text = str(table)
    assert "resnet18_cifar" in text and "11,173,962" in text


def test_model_table_counts_match_the_models_and_a_real_forward() -> None:
    # LeNet-5 multiply-adds by hand, each output also adding its bias (torchinfo counts that as one):
    # conv1 6*28*28*(25+1), conv2 16*10*10*(150+1), fc (400+1)*120 + (120+1)*84 + (84+1)*10.
    lenet_macs = 6 * 28 * 28 * 26 + 16 * 10 * 10 * 151 + 401 * 120 + 121 * 84 + 85 * 10
    shapes_only = {row.name: row for row in model_table(["LeNet5", "ConvNet", "FourBlockResNet"])}
    measured = {row.name: row for row in model_table(["LeNet5", "ConvNet", "FourBlockResNet"], device="cpu")}
    assert shapes_only == measured
    assert measured["LeNet5"].macs == lenet_macs
    assert measured["ConvNet"].params == sum(p.numel() for p in models.ConvNet().parameters())
    assert measured["LeNet5"].flops == 2 * lenet_macs


def test_model_table_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown model names"):
        model_table(["resnet152"])


def test_registry_builds_modules() -> None:
    build, size = REFERENCE_MODELS["LeNet5(input_size=28)"]
    model = build()
    assert isinstance(model, nn.Module) and size == (1, 28, 28)
    assert model(torch.randn(1, *size)).shape == (1, 10)


@pytest.mark.parametrize("name", ["vgg11_bn", "resnet18", "googlenet", "LeNet5"])
def test_build_for_timing_gives_the_same_network_with_usable_random_weights(name: str) -> None:
    build, image_size = REFERENCE_MODELS[name]
    real, timed = build(), build_for_timing(name)
    assert [(n, p.shape) for n, p in real.named_parameters()] == [(n, p.shape) for n, p in timed.named_parameters()]
    assert [(n, b.shape) for n, b in real.named_buffers()] == [(n, b.shape) for n, b in timed.named_buffers()]
    for parameter in timed.parameters():
        if parameter.dim() >= 2:   # random, at the 1/sqrt(fan-in) scale that keeps activations finite
            fan_in = parameter[0].numel()
            assert parameter.std().item() == pytest.approx(fan_in ** -0.5, rel=0.1)
    for module in timed.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            assert torch.equal(module.running_var, torch.ones_like(module.running_var))
            assert torch.equal(module.weight, torch.ones_like(module.weight))
    timed.eval()
    with torch.inference_mode():
        out = timed(torch.randn(2, *image_size))
    assert torch.isfinite(out).all() and out.std() > 0
    assert torch.equal(next(build_for_timing(name).parameters()), next(timed.parameters()))   # seeded


def test_build_for_timing_names_the_models_it_knows() -> None:
    with pytest.raises(ValueError, match="choose from"):
        build_for_timing("vgg17")
