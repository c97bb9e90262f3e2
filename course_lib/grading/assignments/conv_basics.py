"""Checks for the ``conv_basics`` exercise: cross-correlation, the output-size rule, multi-channel
convolution and a 1x1 convolution as a matrix product, each compared with ``torch.nn.functional``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..checks import Report, check_function, close, code_names, generator

_CONVOLUTION_NAMES = {"conv2d", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv1d", "Conv2d"}


@check_function("corr2d: 2-D cross-correlation", points=2)
def corr2d(fn: Callable, report: Report) -> None:
    """``fn(X, K)`` is the 2-D cross-correlation of X (H, W) with K (kh, kw), without padding, stride 1."""
    g = generator(1)
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.arange(4.0).reshape(2, 2)
    report.check("3x3 input, 2x2 kernel (worked example)", lambda: close(fn(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]])))
    for (h, w), (kh, kw) in [((6, 8), (1, 2)), ((7, 5), (3, 3)), ((5, 9), (2, 4)), ((4, 4), (4, 4))]:
        X = torch.randn(h, w, generator=g)
        K = torch.randn(kh, kw, generator=g)
        expected = F.conv2d(X[None, None], K[None, None])[0, 0]
        report.check(f"({h}, {w}) input, ({kh}, {kw}) kernel", lambda X=X, K=K, e=expected: close(fn(X, K), e))


@check_function("conv_output_size: the output-size rule", points=1)
def output_size(fn: Callable, report: Report) -> None:
    """``fn(n, k, p, s)`` gives the output length of a convolution, as PyTorch computes it."""
    for n, k, p, s in [(8, 3, 0, 1), (8, 3, 1, 1), (224, 11, 2, 4), (7, 3, 1, 2), (32, 5, 0, 1), (6, 2, 0, 2),
                       (5, 3, 0, 3), (10, 1, 0, 3)]:
        expected = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s).shape[-1]

        def case(n=n, k=k, p=p, s=s, expected=expected):
            got = fn(n, k, p, s)
            return isinstance(got, int) and not isinstance(got, bool) and got == expected, \
                f"expected the int {expected}, got {got!r}"
        report.check(f"n={n}, k={k}, p={p}, s={s}", case)


@check_function("corr2d_multi_in_out: several input and output channels", points=2)
def multi_in_out(fn: Callable, report: Report) -> None:
    """``fn(X, K)`` correlates X (C_in, H, W) with a kernel bank K (C_out, C_in, kh, kw) -> (C_out, H', W')."""
    g = generator(2)
    for c_in, c_out, (h, w), (kh, kw) in [(1, 1, (5, 5), (2, 2)), (3, 2, (6, 7), (3, 3)), (2, 4, (5, 4), (2, 1)),
                                         (4, 3, (3, 3), (1, 1))]:
        X = torch.randn(c_in, h, w, generator=g)
        K = torch.randn(c_out, c_in, kh, kw, generator=g)
        expected = F.conv2d(X[None], K)[0]
        report.check(f"X {tuple(X.shape)}, K {tuple(K.shape)}", lambda X=X, K=K, e=expected: close(fn(X, K), e))


@check_function("conv1x1_as_matmul: 1x1 convolution as a matrix product", points=2)
def conv1x1_matmul(fn: Callable, report: Report) -> None:
    """``fn(X, K)``: a 1x1 convolution of X (C_in, H, W) with K (C_out, C_in, 1, 1), written as one matrix product."""
    g = generator(3)
    for c_in, c_out, h, w in [(3, 2, 3, 3), (1, 4, 5, 2), (6, 6, 4, 7)]:
        X = torch.randn(c_in, h, w, generator=g)
        K = torch.randn(c_out, c_in, 1, 1, generator=g)
        expected = F.conv2d(X[None], K)[0]
        report.check(f"X {tuple(X.shape)}, K {tuple(K.shape)}", lambda X=X, K=K, e=expected: close(fn(X, K), e))

    def no_convolution():
        if not any(passed for _, passed, _ in report.cases):
            return False, "first make the function compute the right values"
        used = sorted(code_names(fn) & _CONVOLUTION_NAMES)
        return not used, f"it calls {', '.join(used)}: write the product with reshape and @ (or torch.matmul)"
    report.check("uses a matrix product, not a convolution", no_convolution)
