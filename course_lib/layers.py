"""From-scratch teaching versions of the layers a CNN is made of.

Each function is written to be read: plain loops over output positions, no tricks. They agree with
``torch.nn.functional`` (the tests check it), but are far slower: use ``torch.nn`` for real training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "conv1x1_as_matmul",
    "Conv2D",
    "pool2d",
    "conv_output_size",
    "receptive_field",
    "batch_norm",
    "BatchNorm",
    "dropout",
    "Dropout",
]

IntPair = int | tuple[int, int]


def _pair(value: IntPair, name: str) -> tuple[int, int]:
    """Turn an int or a (height, width) pair into a pair of ints, with a clear error otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")


def _require_ndim(tensor: torch.Tensor, ndim: int, name: str, layout: str) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dim() != ndim:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(tensor.shape)}")


# --------------------------------------------------------------------------------------------------
# Output sizes and receptive fields
# --------------------------------------------------------------------------------------------------


def conv_output_size(n: int, k: int, p: int = 0, s: int = 1) -> int:
    """Output length of a convolution or pooling window: floor((n + 2p - k + s) / s).

    ``n`` input size, ``k`` kernel size, ``p`` padding on each side, ``s`` stride.
    """
    for name, value, smallest in (("n", n, 1), ("k", k, 1), ("p", p, 0), ("s", s, 1)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {value!r}")
        if value < smallest:
            raise ValueError(f"{name} must be at least {smallest}, got {value}")
    if n + 2 * p < k:
        raise ValueError(
            f"a kernel of size {k} does not fit in an input of size {n} padded by {p} on each side "
            f"({n + 2 * p} in all): use a smaller kernel or at least {math.ceil((k - n) / 2)} padding"
        )
    return (n + 2 * p - k + s) // s


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None) -> int:
    """Side of the input region one output element of a stack of conv/pool layers can see.

    Each layer widens the field by (k - 1) times the product of the strides before it.
    """
    kernel_sizes = list(kernel_sizes)
    strides = [1] * len(kernel_sizes) if strides is None else list(strides)
    if len(strides) != len(kernel_sizes):
        raise ValueError(
            f"give one stride per kernel: {len(kernel_sizes)} kernel sizes but {len(strides)} strides"
        )
    if any(k < 1 for k in kernel_sizes) or any(s < 1 for s in strides):
        raise ValueError("kernel sizes and strides must all be at least 1")
    field, jump = 1, 1
    for k, s in zip(kernel_sizes, strides):
        field += (k - 1) * jump
        jump *= s
    return field


# --------------------------------------------------------------------------------------------------
# Convolution (cross-correlation)
# --------------------------------------------------------------------------------------------------


def corr2d(X: torch.Tensor, K: torch.Tensor, *, padding: IntPair = 0, stride: IntPair = 1) -> torch.Tensor:
    """2-D cross-correlation of one input channel X (H, W) with one kernel K (kh, kw).

    Slide K over X (zero-padded by ``padding``, moving ``stride`` steps), multiply element-wise, sum.
    """
    _require_ndim(X, 2, "X", "(height, width)")
    _require_ndim(K, 2, "K", "(kernel_height, kernel_width)")
    (ph, pw), (sh, sw) = _pair(padding, "padding"), _pair(stride, "stride")
    kh, kw = K.shape
    out_h = conv_output_size(X.shape[0], kh, ph, sh)
    out_w = conv_output_size(X.shape[1], kw, pw, sw)
    if ph or pw:
        X = nn.functional.pad(X, (pw, pw, ph, ph))
    rows = []
    for i in range(out_h):
        row = [(X[i * sh : i * sh + kh, j * sw : j * sw + kw] * K).sum() for j in range(out_w)]
        rows.append(torch.stack(row))
    return torch.stack(rows)


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor, **window) -> torch.Tensor:
    """Cross-correlation of a multi-channel input X (C, H, W) with a kernel K (C, kh, kw).

    Each channel is correlated with its own kernel slice; the C results are summed into one map.
    """
    _require_ndim(X, 3, "X", "(channels, height, width)")
    _require_ndim(K, 3, "K", "(channels, kernel_height, kernel_width)")
    if X.shape[0] != K.shape[0]:
        raise ValueError(f"X has {X.shape[0]} channels but K has {K.shape[0]}: they must match")
    return sum(corr2d(x, k, **window) for x, k in zip(X, K))


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor, **window) -> torch.Tensor:
    """Cross-correlation of X (C_in, H, W) with a kernel bank K (C_out, C_in, kh, kw) -> (C_out, H', W').

    One multi-input correlation per output channel, stacked along a new channel axis.
    """
    _require_ndim(K, 4, "K", "(out_channels, in_channels, kernel_height, kernel_width)")
    return torch.stack([corr2d_multi_in(X, k, **window) for k in K])


def conv1x1_as_matmul(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution of X (C_in, H, W) with K (C_out, C_in[, 1, 1]) written as one matrix product.

    Every pixel is a sample and the channels are its features: a 1x1 conv is a fully connected layer
    applied at each position.
    """
    _require_ndim(X, 3, "X", "(channels, height, width)")
    if K.dim() == 4 and K.shape[2:] != (1, 1):
        raise ValueError(f"K must be a 1x1 kernel bank (C_out, C_in, 1, 1), got shape {tuple(K.shape)}")
    if K.dim() not in (2, 4):
        raise ValueError(f"K must have shape (C_out, C_in) or (C_out, C_in, 1, 1), got {tuple(K.shape)}")
    c_in, h, w = X.shape
    weights = K.reshape(K.shape[0], -1)
    if weights.shape[1] != c_in:
        raise ValueError(f"X has {c_in} channels but K expects {weights.shape[1]}: they must match")
    return (weights @ X.reshape(c_in, h * w)).reshape(-1, h, w)


class Conv2D(nn.Module):
    """A single-channel convolution layer built on ``corr2d``, with a learnable kernel and bias."""

    def __init__(self, kernel_size: IntPair) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.rand(_pair(kernel_size, "kernel_size")))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return corr2d(x, self.weight) + self.bias


# --------------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------------


def pool2d(
    X: torch.Tensor,
    size: IntPair,
    mode: str = "max",
    padding: IntPair = 0,
    stride: IntPair | None = None,
) -> torch.Tensor:
    """Max or average pooling over the last two axes of X: (H, W), (C, H, W) or (N, C, H, W).

    Every channel is pooled on its own. ``stride`` defaults to the window size, as in PyTorch. Max
    pooling pads with -inf (padding never wins); average pooling pads with zeros and divides by the
    full window size, which is PyTorch's default ``count_include_pad=True``.
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', got {mode!r}")
    if not isinstance(X, torch.Tensor) or X.dim() < 2:
        raise ValueError("X must be a tensor whose last two axes are (height, width)")
    kh, kw = _pair(size, "size")
    ph, pw = _pair(padding, "padding")
    sh, sw = _pair(size if stride is None else stride, "stride")
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(
            f"padding {padding} is more than half the window {size}: some windows would hold only "
            "padding; use padding <= size // 2"
        )
    out_h = conv_output_size(X.shape[-2], kh, ph, sh)
    out_w = conv_output_size(X.shape[-1], kw, pw, sw)
    if mode == "avg" and not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    if ph or pw:
        if mode == "max":
            fill = -math.inf if X.is_floating_point() else torch.iinfo(X.dtype).min
        else:
            fill = 0
        X = nn.functional.pad(X, (pw, pw, ph, ph), value=fill)
    rows = []
    for i in range(out_h):
        row = []
        for j in range(out_w):
            window = X[..., i * sh : i * sh + kh, j * sw : j * sw + kw]
            row.append(window.amax(dim=(-2, -1)) if mode == "max" else window.mean(dim=(-2, -1)))
        rows.append(torch.stack(row, dim=-1))
    return torch.stack(rows, dim=-2)


# --------------------------------------------------------------------------------------------------
# Batch normalisation
# --------------------------------------------------------------------------------------------------


def batch_norm(
    X: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    eps: float = 1e-5,
    momentum: float = 0.1,
    training: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch normalisation of X (N, F) or (N, C, H, W) per feature/channel; returns (Y, new_mean, new_var).

    Training normalises with the batch's statistics and moves the running ones towards them,
    ``new = (1 - momentum) * old + momentum * batch`` (PyTorch's convention; the running variance uses
    the unbiased batch variance like PyTorch). Evaluation normalises with the running statistics.
    """
    if X.dim() == 2:
        axes, shape = (0,), (1, X.shape[1])
    elif X.dim() == 4:
        axes, shape = (0, 2, 3), (1, X.shape[1], 1, 1)
    else:
        raise ValueError(
            f"X must be (batch, features) or (batch, channels, height, width), got shape {tuple(X.shape)}"
        )
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
    for name, t in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if t.numel() != X.shape[1]:
            raise ValueError(f"{name} must hold one value per channel ({X.shape[1]}), got {t.numel()}")
    gamma, beta = gamma.reshape(shape), beta.reshape(shape)
    if not training:
        mean, var = running_mean.reshape(shape), running_var.reshape(shape)
        Y = gamma * (X - mean) / torch.sqrt(var + eps) + beta
        return Y, running_mean, running_var
    count = X.numel() // X.shape[1]
    if count < 2:
        raise ValueError("training batch norm needs more than one value per channel: use a larger batch")
    mean = X.mean(dim=axes, keepdim=True)
    var = ((X - mean) ** 2).mean(dim=axes, keepdim=True)
    Y = gamma * (X - mean) / torch.sqrt(var + eps) + beta
    with torch.no_grad():
        unbiased_var = var * count / (count - 1)
        new_mean = (1 - momentum) * running_mean + momentum * mean.reshape(running_mean.shape)
        new_var = (1 - momentum) * running_var + momentum * unbiased_var.reshape(running_var.shape)
    return Y, new_mean, new_var


class BatchNorm(nn.Module):
    """Batch normalisation layer built on ``batch_norm``: learnable scale ``gamma`` and shift ``beta``.

    ``num_dims`` is 2 after a fully connected layer and 4 after a convolution.
    """

    def __init__(self, num_features: int, num_dims: int = 4, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        if num_dims not in (2, 4):
            raise ValueError(f"num_dims must be 2 (after a linear layer) or 4 (after a conv), got {num_dims}")
        self.num_dims, self.eps, self.momentum = num_dims, eps, momentum
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.num_dims:
            raise ValueError(f"this BatchNorm expects {self.num_dims}-D input, got shape {tuple(x.shape)}")
        y, mean, var = batch_norm(
            x, self.gamma, self.beta, self.running_mean, self.running_var,
            eps=self.eps, momentum=self.momentum, training=self.training,
        )
        if self.training:
            self.running_mean.copy_(mean)
            self.running_var.copy_(var)
        return y

    def extra_repr(self) -> str:
        return f"{self.gamma.numel()}, num_dims={self.num_dims}, eps={self.eps}, momentum={self.momentum}"


# --------------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------------


def dropout(
    X: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Inverted dropout: zero each element with probability p and scale the survivors by 1 / (1 - p).

    The scaling keeps the expected value unchanged, so evaluation (``training=False``) is the identity.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p must lie in [0, 1], got {p}")
    if not training or p == 0.0:
        return X
    if p == 1.0:
        return torch.zeros_like(X)
    keep = torch.rand(X.shape, generator=generator, device=X.device) >= p
    return X * keep / (1.0 - p)


class Dropout(nn.Module):
    """Dropout layer built on ``dropout``: active in ``train()`` mode, the identity in ``eval()`` mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability p must lie in [0, 1], got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"
