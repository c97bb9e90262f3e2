"""Behavioural checks of a student's residual block against ``course_lib.models.ResBlk``.

Each function takes the student's class (called as ``cls(ch_in, ch_out, stride)``), prints what passed
and returns the points earned, for the last line of an nbgrader test cell. Nothing looks at attribute
names: layers are found by type and shape, and weights are moved over by role (see ``transplant``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from . import transplant as tp
from .checks import Report, reference_model

# (ch_in, ch_out, stride): kept shape, more channels, halving with a projection, the notes' faulty
# case (stride 2 with equal channels) and the notes' stride 4.
SHAPE_CASES = [(8, 8, 1), (8, 16, 1), (8, 16, 2), (8, 8, 2), (8, 16, 4), (16, 8, 2)]
FUNCTION_CASES = [(8, 8, 1), (8, 16, 1), (8, 16, 2), (8, 8, 2), (8, 16, 4)]
TOLERANCE = 1e-4


def _reference(ch_in: int, ch_out: int, stride: int) -> nn.Module:
    return reference_model("ResBlk")(ch_in, ch_out, stride)


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _inputs(ch_in: int, seed: int = 0, batch: int = 4, size: tuple[int, int] = (12, 10)) -> torch.Tensor:
    return torch.randn(batch, ch_in, *size, generator=_generator(seed))


def _build(cls: Callable[..., nn.Module], ch_in: int, ch_out: int, stride: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        block = cls(ch_in, ch_out, stride)
    if not isinstance(block, nn.Module):
        raise TypeError(f"ResBlk({ch_in}, {ch_out}, {stride}) made a {type(block).__name__}, not an nn.Module")
    return block


def _out_size(n: int, stride: int) -> int:
    return (n + 2 - 3) // stride + 1


def shapes(cls: Callable[..., nn.Module], points: float = 2) -> float:
    """Output shape (N, ch_out, H', W') for kept shape, more channels, stride 2 (also with equal channels) and 4."""
    report = Report("ResBlk output shapes", points)
    if report.block_if_reused(cls):
        return report.score()
    for ch_in, ch_out, stride in SHAPE_CASES:
        def case(ch_in=ch_in, ch_out=ch_out, stride=stride):
            x = _inputs(ch_in, batch=2)
            expected = (2, ch_out, _out_size(x.shape[2], stride), _out_size(x.shape[3], stride))
            out = _build(cls, ch_in, ch_out, stride).train()(x)
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return shape == expected, f"expected {expected}, got {shape}"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride}) on (2, {ch_in}, 12, 10)", case)
    return report.score()


def _conv_biases(block: nn.Module) -> list[int]:
    return [m.out_channels for m in block.modules() if isinstance(m, nn.modules.conv._ConvNd)]


def allowed_parameter_counts(ch_in: int, ch_out: int, stride: int) -> set[int]:
    """Parameter counts of a correct block: the reference's, with any subset of its convolutions biased."""
    reference = _reference(ch_in, ch_out, stride)
    base = sum(p.numel() for p in reference.parameters())
    base -= sum(m.bias.numel() for m in reference.modules()
                if isinstance(m, nn.modules.conv._ConvNd) and m.bias is not None)
    counts = {0}
    for out_channels in _conv_biases(reference):
        counts |= {c + out_channels for c in counts}
    return {base + c for c in counts}


def parameter_count(cls: Callable[..., nn.Module], points: float = 1) -> float:
    """Number of learnable parameters equals the reference's (convolution biases allowed or not)."""
    report = Report("ResBlk parameter count", points)
    if report.block_if_reused(cls):
        return report.score()
    for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 1), (8, 8, 2), (16, 8, 2)]:
        def case(ch_in=ch_in, ch_out=ch_out, stride=stride):
            count = sum(p.numel() for p in _build(cls, ch_in, ch_out, stride).parameters())
            allowed = sorted(allowed_parameter_counts(ch_in, ch_out, stride))
            return count in allowed, f"got {count:,}, expected {allowed[0]:,} (or with conv biases {allowed[-1]:,})"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride})", case)
    return report.score()


def _transplanted(cls, ch_in: int, ch_out: int, stride: int, seed: int = 0):
    reference = tp.randomize_(_reference(ch_in, ch_out, stride), _generator(seed + 1))
    student = _build(cls, ch_in, ch_out, stride)
    inputs = [_inputs(ch_in, seed=seed), _inputs(ch_in, seed=seed + 7, size=(9, 9))]
    return tp.transplant(reference, student, inputs), inputs


def same_function(cls: Callable[..., nn.Module], points: float = 3) -> float:
    """With the reference's weights moved into the student's layers, both blocks compute the same outputs."""
    report = Report("ResBlk computes the reference's function", points)
    if report.block_if_reused(cls):
        return report.score()
    for ch_in, ch_out, stride in FUNCTION_CASES:
        def case(ch_in=ch_in, ch_out=ch_out, stride=stride):
            (error, _, _, mapping), _ = _transplanted(cls, ch_in, ch_out, stride)
            if not mapping:
                return False, "its layers (convolutions, batch norms) do not match the specification"
            return error < TOLERANCE, f"outputs differ (relative error {error:.2g}) in train or eval mode"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride}) in train and eval mode", case)
    return report.score()


def _batchnorms(block: nn.Module) -> list[nn.Module]:
    return [m for m in block.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def _silence_(norm: nn.Module) -> None:
    if norm.weight is not None:
        norm.weight.zero_()
        norm.bias.zero_()
    else:  # no affine parameters: zero its statistics' effect by a huge variance instead
        norm.running_var.fill_(1e30)


def _residual_branch_end(reference: nn.Module, x: torch.Tensor) -> nn.Module:
    """The reference's batch norm after the second 3x3 convolution, found by following the data."""
    producers: dict[int, nn.Module] = {}
    keep: list[torch.Tensor] = []
    found: list[nn.Module] = []

    def hook(module, inputs, output):
        keep.append(output)
        source = producers.get(id(inputs[0]))
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and isinstance(source, nn.Conv2d):
            if source.kernel_size == (3, 3) and inputs_of[source] is not x:
                found.append(module)
        producers[id(output)] = module
        inputs_of[module] = inputs[0]

    inputs_of: dict[nn.Module, torch.Tensor] = {}
    handles = [m.register_forward_hook(hook) for m in tp.parametric_modules(reference)]
    try:
        with torch.no_grad():
            reference.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    if len(found) != 1:
        raise RuntimeError("could not locate the reference block's second batch norm")
    return found[0]


def residual(cls: Callable[..., nn.Module], points: float = 2) -> float:
    """The shortcut is really added: with the residual branch's last BN zeroed, output = ReLU(shortcut(x))."""
    report = Report("ResBlk uses its shortcut", points)
    if report.block_if_reused(cls):
        return report.score()

    def identity_case():
        block = _build(cls, 8, 8, 1).eval()
        x = _inputs(8)
        for index in range(len(_batchnorms(block))):
            trial = copy.deepcopy(block)
            _silence_(_batchnorms(trial)[index])
            with torch.no_grad():
                if tp.relative_error(trial(x), torch.relu(x)) < TOLERANCE:
                    return True
        return False, "no batch norm, once zeroed, leaves ReLU(x): is x added and ReLU applied after the sum?"

    report.check("ResBlk(8, 8, stride=1): zeroed residual branch gives ReLU(x)", identity_case)
    for ch_in, ch_out, stride in [(8, 16, 2), (8, 8, 2)]:
        def projection_case(ch_in=ch_in, ch_out=ch_out, stride=stride):
            (error, reference, student, mapping), inputs = _transplanted(cls, ch_in, ch_out, stride)
            if not mapping:
                return False, "its layers do not match the specification, so the shortcut cannot be isolated"
            end = _residual_branch_end(reference, inputs[0])
            _silence_(end)
            _silence_(mapping[id(end)])
            error = tp.compare(reference, student, inputs)
            return error < TOLERANCE, "with the residual branch zeroed the output is not ReLU(projection(x))"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride}): zeroed residual branch gives "
                     "ReLU(projection shortcut)", projection_case)
    return report.score()


def batchnorm_modes(cls: Callable[..., nn.Module], points: float = 1) -> float:
    """Batch norm behaves as such: batch statistics in train mode, running statistics in eval mode."""
    report = Report("ResBlk batch norm in train and eval mode", points)
    if report.block_if_reused(cls):
        return report.score()
    for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 2)]:
        x = _inputs(ch_in)
        other = x.clone()
        other[1:] = 3.0 * _inputs(ch_in, seed=5)[1:] + 1.0

        def batch_dependent(ch_in=ch_in, ch_out=ch_out, stride=stride, x=x, other=other):
            block = _build(cls, ch_in, ch_out, stride).train()
            with torch.no_grad():
                return tp.relative_error(block(other)[0], block(x)[0]) > 1e-3, \
                    "in train mode a sample's output should depend on the rest of the batch"

        def batch_independent(ch_in=ch_in, ch_out=ch_out, stride=stride, x=x, other=other):
            block = _build(cls, ch_in, ch_out, stride).eval()
            with torch.no_grad():
                return tp.relative_error(block(other)[0], block(x)[0]) < TOLERANCE, \
                    "in eval mode a sample's output should not depend on the rest of the batch"

        def statistics_tracked(ch_in=ch_in, ch_out=ch_out, stride=stride, x=x):
            block = _build(cls, ch_in, ch_out, stride)
            def statistics():
                return [b.detach().clone() for b in block.buffers() if b.is_floating_point()]

            before = statistics()
            with torch.no_grad():
                block.eval()(x)
                unchanged = all(torch.equal(a, b) for a, b in zip(before, statistics()))
                block.train()(x)
            moved = any(not torch.equal(a, b) for a, b in zip(before, statistics()))
            return bool(before) and unchanged and moved, \
                "running statistics should move in train mode and stay put in eval mode"

        name = f"ResBlk({ch_in}, {ch_out}, stride={stride})"
        report.check(f"{name}: train mode uses batch statistics", batch_dependent)
        report.check(f"{name}: eval mode uses running statistics", batch_independent)
        report.check(f"{name}: running statistics update only in train mode", statistics_tracked)
    return report.score()


def gradients(cls: Callable[..., nn.Module], points: float = 1) -> float:
    """Gradients of the output reach the input and every parameter, and are finite."""
    report = Report("ResBlk gradients", points)
    if report.block_if_reused(cls):
        return report.score()
    for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 2)]:
        def to_input(ch_in=ch_in, ch_out=ch_out, stride=stride):
            x = _inputs(ch_in).requires_grad_(True)
            _build(cls, ch_in, ch_out, stride).train()(x).square().mean().backward()
            ok = x.grad is not None and bool(torch.isfinite(x.grad).all()) and x.grad.abs().sum().item() > 0
            return ok, "no finite, non-zero gradient reaches the input"

        def to_parameters(ch_in=ch_in, ch_out=ch_out, stride=stride):
            block = _build(cls, ch_in, ch_out, stride).train()
            block(_inputs(ch_in)).square().mean().backward()
            params = list(block.parameters())
            missing = [tuple(p.shape) for p in params if p.grad is None or not torch.isfinite(p.grad).all()]
            return bool(params) and not missing, f"parameters of shapes {missing[:3]} get no gradient (unused layers?)"

        name = f"ResBlk({ch_in}, {ch_out}, stride={stride})"
        report.check(f"{name}: gradient reaches the input", to_input)
        report.check(f"{name}: every parameter gets a gradient", to_parameters)
    return report.score()


def all_checks(cls: Callable[..., nn.Module]) -> dict[str, float]:
    """Every check with its default points, for a quick self-assessment outside nbgrader."""
    return {check.__name__: check(cls) for check in (shapes, parameter_count, same_function, residual,
                                                      batchnorm_modes, gradients)}


__all__ = ["shapes", "parameter_count", "same_function", "residual", "batchnorm_modes", "gradients",
           "allowed_parameter_counts", "all_checks"]
