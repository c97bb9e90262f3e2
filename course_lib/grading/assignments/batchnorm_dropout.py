"""Checks for the ``batchnorm_dropout`` exercise: batch normalisation and inverted dropout from scratch.

``batch_norm(X, gamma, beta, running_mean, running_var, eps, momentum, training)`` returns
``(Y, new_running_mean, new_running_var)`` with PyTorch's conventions and is compared with
``torch.nn.functional.batch_norm``; ``dropout(X, p, training)`` is checked statistically.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from ..checks import Report, check_function, close, generator

_SHAPES = [(8, 5), (4, 3, 5, 6), (16, 2)]


def _batch(shape, seed: int):
    g = generator(seed)
    channels = shape[1]
    X = 2.0 * torch.randn(*shape, generator=g) + 0.5
    gamma = 0.5 + torch.rand(channels, generator=g)
    beta = torch.randn(channels, generator=g)
    mean = 0.3 * torch.randn(channels, generator=g)
    var = 0.5 + torch.rand(channels, generator=g)
    return X, gamma, beta, mean, var


def _expected(X, gamma, beta, mean, var, eps, momentum, training):
    mean, var = mean.clone(), var.clone()
    Y = F.batch_norm(X, mean, var, gamma, beta, training=training, momentum=momentum, eps=eps)
    return Y, mean, var


def _run(fn, X, gamma, beta, mean, var, eps, momentum, training):
    out = fn(X.clone(), gamma.clone(), beta.clone(), mean.clone(), var.clone(), eps, momentum, training)
    if not (isinstance(out, tuple) and len(out) == 3):
        raise TypeError("batch_norm must return a tuple (Y, new_running_mean, new_running_var)")
    return out


@check_function("batch_norm in training mode: the output Y", points=3)
def batchnorm_training(fn: Callable, report: Report) -> None:
    """Training mode: normalise with the batch's mean and (biased) variance, then scale and shift."""
    for seed, shape in enumerate(_SHAPES):
        args = _batch(shape, seed)
        expected = _expected(*args, 1e-5, 0.1, True)[0]
        report.check(f"X {shape}", lambda args=args, e=expected: close(_run(fn, *args, 1e-5, 0.1, True)[0], e))
    args = _batch((6, 4), 7)
    report.check("eps is used (eps=0.5)",
                 lambda: close(_run(fn, *args, 0.5, 0.1, True)[0], _expected(*args, 0.5, 0.1, True)[0]))


@check_function("batch_norm: running statistics", points=2)
def batchnorm_running_statistics(fn: Callable, report: Report) -> None:
    """Training mode moves the running statistics: new = (1 - momentum) * old + momentum * batch (unbiased var)."""
    for seed, (shape, momentum) in enumerate([((8, 5), 0.1), ((4, 3, 5, 6), 0.1), ((10, 2), 0.3)]):
        args = _batch(shape, 20 + seed)
        _, mean, var = _expected(*args, 1e-5, momentum, True)

        def case(args=args, momentum=momentum, mean=mean, var=var):
            _, new_mean, new_var = _run(fn, *args, 1e-5, momentum, True)
            ok_mean, why_mean = close(torch.as_tensor(new_mean).reshape(-1), mean)
            ok_var, why_var = close(torch.as_tensor(new_var).reshape(-1), var)
            return ok_mean and ok_var, f"mean: {why_mean or 'ok'}; variance: {why_var or 'ok'}"
        report.check(f"X {shape}, momentum {momentum}", case)


@check_function("batch_norm in evaluation mode", points=1)
def batchnorm_evaluation(fn: Callable, report: Report) -> None:
    """Evaluation mode: normalise with the running statistics and leave them unchanged."""
    for seed, shape in enumerate([(8, 5), (4, 3, 5, 6)]):
        args = _batch(shape, 40 + seed)
        expected, mean, var = _expected(*args, 1e-5, 0.1, False)

        def case(args=args, expected=expected, mean=mean, var=var):
            Y, new_mean, new_var = _run(fn, *args, 1e-5, 0.1, False)
            ok, why = close(Y, expected)
            kept = close(torch.as_tensor(new_mean).reshape(-1), mean)[0] and \
                close(torch.as_tensor(new_var).reshape(-1), var)[0]
            return ok and kept, why or "the running statistics must not change in evaluation mode"
        report.check(f"X {shape}", case)
    X = torch.randn(1, 3, generator=generator(50))
    args = (X, torch.ones(3), torch.zeros(3), torch.zeros(3), torch.ones(3))
    report.check("a batch of one sample works in evaluation mode",
                 lambda: close(_run(fn, *args, 1e-5, 0.1, False)[0], X / (1 + 1e-5) ** 0.5))


@check_function("dropout", points=3)
def dropout(fn: Callable, report: Report) -> None:
    """Inverted dropout: zero with probability p, scale survivors by 1/(1-p); the identity when not training."""
    X = torch.rand(200, 500, generator=generator(60)) + 0.5  # strictly positive, so zeros come from dropout

    def statistics(p):
        before = X.clone()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            Y = fn(X, p, True)
        if not torch.equal(X, before):
            return False, "dropout must not change its input in place"
        if not isinstance(Y, torch.Tensor) or Y.shape != X.shape:
            return False, "dropout must return a tensor of the input's shape"
        dropped = (Y == 0).double().mean().item()
        kept = Y != 0
        scaled = close(Y[kept], X[kept] / (1 - p), tolerance=1e-5)[0]
        return abs(dropped - p) < 0.01 and scaled, \
            f"dropped share {dropped:.3f} (expected {p}), survivors scaled by 1/(1-p): {scaled}"

    for p in (0.2, 0.5, 0.8):
        report.check(f"p={p}: about p of the elements dropped, the rest scaled by 1/(1-p)", lambda p=p: statistics(p))
    report.check("p=0 keeps the input", lambda: close(fn(X, 0.0, True), X))
    report.check("p=1 drops everything", lambda: close(fn(X, 1.0, True), torch.zeros_like(X)))
    report.check("evaluation (training=False) is the identity", lambda: close(fn(X, 0.5, False), X))

    def fresh_masks():
        a, b = fn(X, 0.5, True), fn(X, 0.5, True)
        return not torch.equal(a, b), "two calls gave the same mask: draw a new one every call"
    report.check("a new random mask every call", fresh_masks)
