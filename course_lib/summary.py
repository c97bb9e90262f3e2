"""Layer-by-layer summaries and a parameter/FLOPs table of the reference models, via torchinfo.

``summarize`` lists every layer's output shape and parameter count for one input size (the
(128, 64, 32, 32) -> (128, 512, 4, 4) trace of ResNet-18 on CIFAR-10). ``model_table`` counts
parameters and multiply-adds of every reference model at its natural input size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
import torchinfo
from torch import nn

from . import models as course_models

__all__ = ["summarize", "ModelRow", "ModelTable", "REFERENCE_MODELS", "model_table", "build_for_timing"]

SUMMARY_COLUMNS = ("output_size", "num_params")


def _check_input_size(input_size: Sequence[int]) -> tuple[int, ...]:
    """Accept (N, C, H, W)-like sizes only, with a message that says what to pass."""
    size = tuple(input_size)
    if len(size) < 2 or not all(isinstance(d, int) and d > 0 for d in size):
        raise ValueError(f"input_size must be a batch shape of positive ints such as (128, 3, 32, 32); got {input_size!r}")
    return size


def summarize(
    model: nn.Module,
    input_size: Sequence[int],
    depth: int = 3,
    *,
    col_names: Sequence[str] = SUMMARY_COLUMNS,
    verbose: int = 0,
    **kwargs,
) -> torchinfo.ModelStatistics:
    """Each layer's output shape and parameter count for a batch of ``input_size``, as a printable table.

    ``print(summarize(model, (128, 3, 32, 32)))`` shows the table (so does ending a notebook cell
    with the call); ``verbose=1`` prints it straight away as well. ``depth`` is how many levels of
    nested modules to list (resnet18_cifar: 1 = stages, 2 = blocks, 3 = convolutions). Other
    keywords go to :func:`torchinfo.summary` (``device``, ``dtypes``, ``mode`` ...). It runs one
    forward pass in eval mode without gradients and returns torchinfo's statistics
    (``total_params``, ``total_mult_adds``, ...), whose ``str`` is the table.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"summarize needs an nn.Module, got {type(model).__name__}")
    kwargs.setdefault("row_settings", ("var_names",))
    return torchinfo.summary(
        model, input_size=_check_input_size(input_size), depth=depth, col_names=col_names, verbose=verbose, **kwargs
    )


# name -> (constructor, natural input size of one image). ImageNet models at 3x224x224,
# the MNIST-sized nets at their dataset's size, the CIFAR nets at 3x32x32.
REFERENCE_MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, int, int]]] = {
    "LeNet5": (course_models.LeNet5, (1, 32, 32)),
    "LeNet5(input_size=28)": (lambda: course_models.LeNet5(input_size=28), (1, 28, 28)),
    "ConvNet": (course_models.ConvNet, (1, 28, 28)),
    "NiN": (course_models.NiN, (1, 224, 224)),
    "alexnet": (course_models.alexnet, (3, 224, 224)),
    **{name: (getattr(course_models, name), (3, 224, 224)) for name in
       ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")},
    # The auxiliary heads only run in training; the table shows the network used for inference.
    "googlenet": (lambda: course_models.googlenet(aux_logits=False), (3, 224, 224)),
    "resnet18": (course_models.resnet18, (3, 224, 224)),
    "resnet34": (course_models.resnet34, (3, 224, 224)),
    "resnet50": (course_models.resnet50, (3, 224, 224)),
    "resnet18_cifar": (course_models.resnet18_cifar, (3, 32, 32)),
    "FourBlockResNet": (course_models.FourBlockResNet, (3, 32, 32)),
}


@dataclass(frozen=True)
class ModelRow:
    """One model's size and cost for a single image.

    ``macs`` are multiply-adds as torchinfo counts them (a bias addition counts as one);
    ``flops`` = 2 * macs, the usual convention (one multiply plus one add).
    """

    name: str
    input_size: tuple[int, ...]
    params: int
    macs: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


class ModelTable(list):
    """A list of :class:`ModelRow` that prints as an aligned text table (millions of MACs and FLOPs)."""

    def __str__(self) -> str:
        header = f"{'model':<22} {'input':>11} {'params':>13} {'MMACs':>10} {'MFLOPs':>10}"
        lines = [header, "-" * len(header)]
        for row in self:
            size = "x".join(map(str, row.input_size))
            lines.append(
                f"{row.name:<22} {size:>11} {row.params:>13,} {row.macs / 1e6:>10,.1f} {row.flops / 1e6:>10,.1f}"
            )
        return "\n".join(lines)


def model_table(models: Iterable[str] | None = None, device: str | torch.device = "meta") -> ModelTable:
    """Parameters and multiply-adds of the reference models (all of :data:`REFERENCE_MODELS` by default).

    The default ``device="meta"`` builds each model without allocating weights and traces shapes
    only, which gives the same counts in a fraction of a second; pass "cpu" or "cuda" to run a
    real forward pass instead.
    """
    names = list(REFERENCE_MODELS) if models is None else list(models)
    unknown = [name for name in names if name not in REFERENCE_MODELS]
    if unknown:
        raise ValueError(f"unknown model names {unknown}; choose from {list(REFERENCE_MODELS)}")
    table = ModelTable()
    for name in names:
        build, image_size = REFERENCE_MODELS[name]
        with torch.device(device):
            model = build()
        stats = torchinfo.summary(model, input_size=(1, *image_size), device=device, verbose=0)
        params = sum(p.numel() for p in model.parameters())
        table.append(ModelRow(name, image_size, params, int(stats.total_mult_adds)))
    return table


_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
_RANDOM_BLOCK = 1 << 16  # values drawn once, then tiled: filling 140 M weights one draw each takes about a second


def build_for_timing(name: str, device: str | torch.device = "cpu", seed: int = 0) -> nn.Module:
    """A reference model with random weights but without its own initialisation, for timing it.

    Its arithmetic, what a speed measurement times, is the same as the real model's. Initialising
    torchvision's VGGs takes longer than timing them (1.4-2.4 s each on one CPU thread, against 0.5 s of
    timed passes). The model is built on the meta device, given memory, and filled with one block of
    normal values, tiled and scaled by 1 / sqrt(fan-in) so that activations keep their size. Biases are
    zero and BatchNorm's running statistics are reset (mean 0, variance 1).
    """
    if name not in REFERENCE_MODELS:
        raise ValueError(f"unknown model name {name!r}; choose from {list(REFERENCE_MODELS)}")
    build, _ = REFERENCE_MODELS[name]
    with torch.device("meta"):
        model = build()
    model = model.to_empty(device=device)
    block = torch.randn(_RANDOM_BLOCK, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() < 2:   # biases (normalisation layers are reset below)
                parameter.zero_()
                continue
            scaled, flat = block * (1.0 / math.sqrt(parameter[0].numel())), parameter.view(-1)
            whole = flat.numel() // _RANDOM_BLOCK * _RANDOM_BLOCK   # tiled by broadcasting: no copy of the block
            flat[:whole].view(-1, _RANDOM_BLOCK).copy_(scaled.expand(whole // _RANDOM_BLOCK, -1))
            flat[whole:].copy_(scaled[: flat.numel() - whole])
        for module in model.modules():
            if isinstance(module, _NORMS):
                module.reset_parameters()   # scale 1, shift 0, running mean 0 and variance 1
    return model

