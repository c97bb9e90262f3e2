"""Checks for the ``architectures`` exercise: a VGG block, an Inception block, a bottleneck block and
LeNet-5, each compared with the reference in ``course_lib.models`` by output shape, parameter count
and the function computed: the student's seed-derived weights are loaded into the reference's layers
paired by role (``modules``), and the outputs compared."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .. import modules as mod
from ..checks import Report, check_function, generator, reference_model, salted_seed


def parameter_totals(reference: nn.Module, bias_optional: bool = False) -> dict[int, str]:
    """The parameter counts the exercise text allows, each with what it means: the reference's exactly, and, where
    the text lets the convolutions go with or without a bias (``bias_optional``), the count with none at all."""
    total = sum(p.numel() for p in reference.parameters())
    if not bias_optional:
        return {total: ""}
    biases = sum(m.bias.numel() for m in reference.modules()
                 if isinstance(m, nn.modules.conv._ConvNd) and m.bias is not None)
    return {total: " (with biases)", total - biases: " (without)"} if biases else {total: ""}


def module_cases(report: Report, label: str, student: Callable[..., nn.Module], args: tuple,
                  reference: Callable[[], nn.Module], input_shape: tuple[int, ...], tolerance: float = 1e-4,
                  bias_optional: bool = False) -> None:
    """Add three cases to ``report`` from one piece of module evidence of ``student(*args)``: output shape,
    parameter count and the function computed, each against ``reference()`` (a trusted ``nn.Module`` factory)
    on inputs of ``input_shape`` drawn from this run's salted seeds. Public: ``course_lib.grading.api``."""
    inputs = [torch.randn(*input_shape, generator=generator(11)), torch.randn(*input_shape, generator=generator(13))]
    seed = salted_seed(12)
    ev = mod.module_evidence(student, args, inputs, seed)

    def shape():
        with torch.no_grad():
            expected = tuple(reference().eval()(inputs[0]).shape)
        got = mod.require(ev, "eval")["eval"][0]
        got = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return got == expected, f"expected output shape {expected}, got {got}"

    def count():
        got = mod.parameter_count(mod.require(ev, "structure")["structure"])
        allowed = parameter_totals(reference(), bias_optional)
        return got in allowed, f"got {got:,} parameters, expected " + \
            " or ".join(f"{n:,}{meaning}" for n, meaning in allowed.items())

    def function():
        mod.require(ev)
        match = mod.match_reference(ev, reference, inputs, seed)
        if match is None:
            return False, "its layers (kinds and shapes) do not match the specification"
        error = mod.worst_error(ev, match.evidence)
        return error < tolerance, f"outputs differ from the reference's (relative error {error:.2g})"

    report.check(f"{label}: output shape for input {input_shape}", shape)
    report.check(f"{label}: parameter count", count)
    report.check(f"{label}: same function as the reference", function)


@check_function("vgg_block", points=2)
def vgg_block(factory: Callable[..., nn.Module], report: Report) -> None:
    """``factory(num_convs, in_channels, out_channels)``: (3x3 conv, padding 1, ReLU) x num_convs, then 2x2 max-pool."""
    make = reference_model("make_vgg_features")
    for num_convs, c_in, c_out in [(1, 3, 8), (2, 4, 6), (3, 5, 5)]:
        module_cases(report, f"vgg_block({num_convs}, {c_in}, {c_out})", factory, (num_convs, c_in, c_out),
                      lambda n=num_convs, i=c_in, o=c_out: make([o] * n + ["M"], batch_norm=False, in_channels=i),
                      (2, c_in, 8, 10), bias_optional=True)


INCEPTION_ARGS = [(16, 8, 6, 12, 4, 10, 5), (10, 3, 5, 7, 2, 4, 6)]


@check_function("Inception block", points=3)
def inception(cls: Callable[..., nn.Module], report: Report) -> None:
    """``cls(in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj)`` as ``course_lib.models.Inception``."""
    reference = reference_model("Inception")
    for args in INCEPTION_ARGS:
        # The specification asks for eps=1e-3; a block with PyTorch's default eps is within 2e-2.
        module_cases(report, f"Inception{args}", cls, args, lambda a=args: reference(*a),
                      (4, args[0], 9, 7), tolerance=2e-2)


BOTTLENECK_ARGS = [(16, 4, 1), (8, 4, 1), (16, 4, 2), (12, 6, 2)]


def _reference_bottleneck(in_channels: int, channels: int, stride: int) -> nn.Module:
    block = reference_model("Bottleneck")
    conv1x1 = reference_model("conv1x1")
    out = channels * block.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(conv1x1(in_channels, out, stride), nn.BatchNorm2d(out))
    return block(in_channels, channels, stride, downsample)


@check_function("Bottleneck block", points=3)
def bottleneck(cls: Callable[..., nn.Module], report: Report) -> None:
    """``cls(in_channels, channels, stride)``: 1x1 reduce, 3x3 with stride, 1x1 expand x4, shortcut, ReLU."""
    for args in BOTTLENECK_ARGS:
        module_cases(report, f"Bottleneck{args}", cls, args, lambda a=args: _reference_bottleneck(*a),
                      (4, args[0], 8, 6))


@check_function("LeNet-5", points=2)
def lenet5(cls: Callable[..., nn.Module], report: Report) -> None:
    """``cls()`` is LeNet-5 as ``course_lib.models.LeNet5()``: 61,706 parameters, (N, 1, 32, 32) -> (N, 10)."""
    module_cases(report, "LeNet5()", cls, (), lambda: reference_model("LeNet5")(), (3, 1, 32, 32))
