"""Copy a reference model's weights into a student's model by role, never by attribute name.

A role is the kind of layer (convolution, linear, batch norm) and its weight's shape. Layers of the
same role are paired in every order (registration order first) and the pairing under which the two
models compute the same function wins. Convolution/linear biases may be present on one side only:
the missing bias counts as zero.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterator, Sequence

import torch
from torch import nn

PARAMETRIC_TYPES = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._BatchNorm)
MAX_PAIRINGS = 720


def parametric_modules(model: nn.Module) -> list[nn.Module]:
    """Convolution, linear and batch-norm layers of ``model`` in registration order (shared ones once)."""
    return [m for m in model.modules() if isinstance(m, PARAMETRIC_TYPES)]


def role(module: nn.Module) -> tuple:
    """What a layer does, independent of its name: kind plus weight shape (and stride for convolutions)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return ("batchnorm", module.num_features)
    if isinstance(module, nn.modules.conv._ConvNd):
        return ("conv", tuple(module.weight.shape))
    return ("linear", tuple(module.weight.shape))


def pairings(reference: nn.Module, student: nn.Module) -> Iterator[list[tuple[nn.Module, nn.Module]]]:
    """Every pairing of the reference's layers with the student's layers of the same role.

    Yields nothing when the two models do not have the same layers (e.g. a batch norm is missing).
    Registration order comes first; at most ``MAX_PAIRINGS`` pairings are tried.
    """
    ref_layers, stu_layers = parametric_modules(reference), parametric_modules(student)
    groups: dict[tuple, tuple[list[nn.Module], list[nn.Module]]] = {}
    for layer in ref_layers:
        groups.setdefault(role(layer), ([], []))[0].append(layer)
    for layer in stu_layers:
        groups.setdefault(role(layer), ([], []))[1].append(layer)
    if any(len(refs) != len(stus) for refs, stus in groups.values()):
        return
    orders = [list(itertools.permutations(stus)) for _, stus in groups.values()]
    refs_in_groups = [refs for refs, _ in groups.values()]
    for count, choice in enumerate(itertools.product(*orders)):
        if count >= MAX_PAIRINGS:
            return
        yield [pair for refs, stus in zip(refs_in_groups, choice) for pair in zip(refs, stus)]


@torch.no_grad()
def copy_layer(source: nn.Module, target: nn.Module) -> None:
    """Copy weights (and batch-norm statistics) from ``source`` into ``target``; a one-sided bias becomes 0."""
    if isinstance(source, nn.modules.batchnorm._BatchNorm):
        for name in ("weight", "bias"):
            src, dst = getattr(source, name), getattr(target, name)
            if dst is not None and src is not None:
                dst.copy_(src)
            elif src is not None:  # the target has no affine parameters: make the source plain too
                src.fill_(1.0 if name == "weight" else 0.0)
            elif dst is not None:
                dst.fill_(1.0 if name == "weight" else 0.0)
        for name in ("running_mean", "running_var"):
            src, dst = getattr(source, name), getattr(target, name)
            if src is not None and dst is not None:
                dst.copy_(src)
        return
    target.weight.copy_(source.weight)
    if target.bias is not None and source.bias is not None:
        target.bias.copy_(source.bias)
    elif target.bias is not None:
        target.bias.zero_()
    elif source.bias is not None:
        source.bias.zero_()


@torch.no_grad()
def randomize_(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Give every parameter and batch-norm statistic distinct random values, so that roles cannot be confused."""
    for layer in parametric_modules(model):
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            if layer.weight is not None:
                layer.weight.copy_(0.5 + torch.rand(layer.weight.shape, generator=generator))
                layer.bias.copy_(torch.rand(layer.bias.shape, generator=generator) - 0.5)
            if layer.running_mean is not None:
                layer.running_mean.copy_(0.2 * torch.randn(layer.running_mean.shape, generator=generator))
                layer.running_var.copy_(0.5 + torch.rand(layer.running_var.shape, generator=generator))
        else:
            fan_in = layer.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            layer.weight.copy_((2 * torch.rand(layer.weight.shape, generator=generator) - 1) * bound)
            if layer.bias is not None:
                layer.bias.copy_((2 * torch.rand(layer.bias.shape, generator=generator) - 1) * bound)
    return model


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest absolute difference relative to the size of ``expected``; inf when shapes differ."""
    if not isinstance(actual, torch.Tensor) or actual.shape != expected.shape:
        return math.inf
    scale = expected.abs().max().item() + 1e-6
    error = (actual.detach().double() - expected.detach().double()).abs().max().item() / scale
    return error if math.isfinite(error) else math.inf


def compare(reference: nn.Module, student: nn.Module, inputs: Sequence[torch.Tensor]) -> float:
    """Largest relative error between the two models on ``inputs``, in eval mode and then in train mode."""
    worst = 0.0
    for training in (False, True):
        ref, stu = copy.deepcopy(reference).train(training), copy.deepcopy(student).train(training)
        with torch.no_grad():
            for x in inputs:
                worst = max(worst, relative_error(stu(x.clone()), ref(x.clone())))
    return worst


def transplant(
    reference: nn.Module, student: nn.Module, inputs: Sequence[torch.Tensor]
) -> tuple[float, nn.Module, nn.Module, dict[int, nn.Module]]:
    """Try every pairing; return (error, reference copy, student copy, {id(reference layer): student layer}).

    Each pairing is scored quickly (eval mode, first input); the best one is then compared in eval and
    train mode on all inputs. The copies carry the reference's weights under that pairing. The error
    is inf when the models have different layers or the student's forward fails.
    """
    ref, stu = copy.deepcopy(reference), copy.deepcopy(student)
    ref_index = {id(m): i for i, m in enumerate(parametric_modules(reference))}
    stu_index = {id(m): i for i, m in enumerate(parametric_modules(student))}
    ref_layers, stu_layers = parametric_modules(ref), parametric_modules(stu)
    best_error, best_pairing = math.inf, None
    for pairing in pairings(reference, student):
        pairs = [(ref_layers[ref_index[id(r)]], stu_layers[stu_index[id(s)]]) for r, s in pairing]
        for src, dst in pairs:
            copy_layer(src, dst)
        try:
            with torch.no_grad():
                error = relative_error(stu.eval()(inputs[0].clone()), ref.eval()(inputs[0].clone()))
        except Exception:  # this pairing makes the student's forward fail (e.g. wrong shapes)
            error = math.inf
        if best_pairing is None or error < best_error:
            best_error, best_pairing = error, pairs
        if error < 1e-6:
            break
    if best_pairing is None:
        return math.inf, ref, stu, {}
    for src, dst in best_pairing:
        copy_layer(src, dst)
    try:
        error = compare(ref, stu, inputs)
    except Exception:
        error = math.inf
    return error, ref, stu, {id(src): dst for src, dst in best_pairing}
