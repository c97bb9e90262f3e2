"""Checks for the ``pooling`` exercise: ``pool2d(X, pool_size, mode, padding, stride)`` on (H, W) or
(C, H, W) input, compared with ``torch.nn.functional.max_pool2d`` and ``avg_pool2d``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..checks import Report, check_function, close, generator


def _expected(X: torch.Tensor, size, mode: str, padding=0, stride=None) -> torch.Tensor:
    batch = X[None] if X.dim() == 3 else X[None, None]
    stride = size if stride is None else stride
    if mode == "max":
        out = F.max_pool2d(batch, size, stride=stride, padding=padding)
    else:
        out = F.avg_pool2d(batch, size, stride=stride, padding=padding, count_include_pad=True)
    return out[0] if X.dim() == 3 else out[0, 0]


def _cases(fn: Callable, report: Report, mode: str, cases, seed: int) -> None:
    g = generator(seed)
    for shape, size, padding, stride in cases:
        X = torch.randn(*shape, generator=g)
        if padding and mode == "max":  # mostly negative values: padding with zeros instead of -inf shows
            X = X - 3.0
        expected = _expected(X, size, mode, padding, stride)
        kwargs = {"mode": mode}
        if padding:
            kwargs["padding"] = padding
        if stride is not None:
            kwargs["stride"] = stride
        label = f"{mode} pooling, X {shape}, window {size}" + (f", padding {padding}" if padding else "") + \
            (f", stride {stride}" if stride is not None else "")
        report.check(label, lambda X=X, size=size, kwargs=kwargs, e=expected: close(fn(X.clone(), size, **kwargs), e))


def _one_mode(fn: Callable, report: Report, mode: str, worked: list[list[float]], seed: int) -> None:
    """One mode without padding: the worked 3x3 example with stride 1, then cases where the stride defaults."""
    X = torch.arange(9.0).reshape(3, 3)
    report.check("worked example: 3x3 input, 2x2 window, stride 1",
                 lambda: close(fn(X, 2, mode=mode, stride=1), torch.tensor(worked)))
    _cases(fn, report, mode, [((4, 4), 2, 0, None), ((6, 5), 3, 0, 1), ((7, 7), (2, 3), 0, None)], seed=seed)


@check_function("pool2d, mode='max'", points=2)
def max_pooling(fn: Callable, report: Report) -> None:
    """Max pooling without padding; the stride defaults to the window size."""
    _one_mode(fn, report, "max", [[4.0, 5.0], [7.0, 8.0]], seed=4)


@check_function("pool2d, mode='avg'", points=2)
def avg_pooling(fn: Callable, report: Report) -> None:
    """Average pooling without padding; the stride defaults to the window size."""
    _one_mode(fn, report, "avg", [[2.0, 3.0], [5.0, 6.0]], seed=5)


@check_function("pool2d with padding and stride", points=2)
def padding_and_stride(fn: Callable, report: Report) -> None:
    """Padding (max pools over -inf padding, average counts the zeros) and strides other than the window."""
    cases = [((4, 4), 3, 1, 2), ((5, 6), 2, 1, 1), ((8, 8), 3, 1, 3)]
    _cases(fn, report, "max", cases, seed=6)
    _cases(fn, report, "avg", cases, seed=7)
    negative = -1.0 - torch.rand(4, 4, generator=generator(8))
    report.check("max pooling of negative values with padding never returns the padding",
                 lambda: close(fn(negative, 3, mode="max", padding=1, stride=2), _expected(negative, 3, "max", 1, 2)))


@check_function("pool2d on several channels", points=1)
def channels(fn: Callable, report: Report) -> None:
    """Multi-channel input (C, H, W): every channel pooled on its own, channels neither summed nor mixed."""
    _cases(fn, report, "max", [((3, 4, 4), 2, 0, None), ((2, 5, 5), 3, 1, 2)], seed=9)
    _cases(fn, report, "avg", [((3, 4, 4), 2, 0, None)], seed=10)
