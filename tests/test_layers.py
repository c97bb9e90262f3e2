"""The from-scratch teaching layers agree with torch.nn.functional and fail clearly on bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib import layers
from course_lib.layers import (
    BatchNorm,
    Conv2D,
    Dropout,
    batch_norm,
    conv1x1_as_matmul,
    conv_output_size,
    corr2d,
    corr2d_multi_in,
    corr2d_multi_in_out,
    dropout,
    pool2d,
    receptive_field,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---- cross-correlation ---------------------------------------------------------------------------


def test_corr2d_textbook_example() -> None:
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert torch.equal(corr2d(X, K), torch.tensor([[19.0, 25.0], [37.0, 43.0]]))


@pytest.mark.parametrize("padding, stride", [(0, 1), (1, 1), (2, 3), ((1, 0), (3, 2))])
def test_corr2d_matches_conv2d(padding, stride) -> None:
    X, K = torch.randn(7, 8), torch.randn(3, 2)
    ours = corr2d(X, K, padding=padding, stride=stride)
    ref = F.conv2d(X[None, None], K[None, None], padding=padding, stride=stride)[0, 0]
    torch.testing.assert_close(ours, ref)


def test_corr2d_multi_in_matches_conv2d() -> None:
    X, K = torch.randn(3, 6, 5), torch.randn(3, 2, 2)
    torch.testing.assert_close(corr2d_multi_in(X, K), F.conv2d(X[None], K[None])[0, 0])


def test_corr2d_multi_in_out_matches_conv2d() -> None:
    X, K = torch.randn(3, 6, 5), torch.randn(4, 3, 3, 3)
    ours = corr2d_multi_in_out(X, K, padding=1, stride=2)
    torch.testing.assert_close(ours, F.conv2d(X[None], K, padding=1, stride=2)[0])


@pytest.mark.parametrize("kernel_shape", [(2, 3, 1, 1), (2, 3)])
def test_conv1x1_as_matmul_matches_conv2d(kernel_shape) -> None:
    X, K = torch.randn(3, 4, 5), torch.randn(*kernel_shape)
    ref = F.conv2d(X[None], K.reshape(2, 3, 1, 1))[0]
    torch.testing.assert_close(conv1x1_as_matmul(X, K), ref)
    torch.testing.assert_close(conv1x1_as_matmul(X, K), corr2d_multi_in_out(X, K.reshape(2, 3, 1, 1)))


def test_corr2d_errors() -> None:
    with pytest.raises(ValueError, match="shape"):
        corr2d(torch.zeros(1, 3, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="does not fit"):
        corr2d(torch.zeros(2, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="channels"):
        corr2d_multi_in(torch.zeros(2, 4, 4), torch.zeros(3, 2, 2))
    with pytest.raises(ValueError, match="channels"):
        conv1x1_as_matmul(torch.zeros(2, 4, 4), torch.zeros(5, 3))
    with pytest.raises(TypeError, match="pair"):
        corr2d(torch.zeros(4, 4), torch.zeros(2, 2), stride=1.5)


def test_conv2d_module_learns_an_edge_kernel() -> None:
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    Y = corr2d(X, torch.tensor([[1.0, -1.0]]))
    conv = Conv2D((1, 2))
    optimizer = torch.optim.SGD(conv.parameters(), lr=0.01)  # the summed loss of 42 outputs needs a small step
    for _ in range(100):
        optimizer.zero_grad()
        loss = ((conv(X) - Y) ** 2).sum()
        loss.backward()
        optimizer.step()
    assert loss.item() < 1e-3
    torch.testing.assert_close(conv.weight.detach(), torch.tensor([[1.0, -1.0]]), atol=0.02, rtol=0)


# ---- sizes -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n, k, p, s", [(8, 3, 0, 1), (8, 3, 1, 1), (224, 11, 2, 4), (7, 2, 0, 2), (5, 5, 0, 3), (3, 5, 1, 1)])
def test_conv_output_size_matches_conv2d(n, k, p, s) -> None:
    out = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s)
    assert conv_output_size(n, k, p, s) == out.shape[-1]


def test_conv_output_size_errors() -> None:
    with pytest.raises(ValueError, match="at least 1 padding"):
        conv_output_size(3, 5)
    with pytest.raises(ValueError, match="s must be at least 1"):
        conv_output_size(8, 3, 0, 0)
    with pytest.raises(ValueError, match="p must be at least 0"):
        conv_output_size(8, 3, -1, 1)
    with pytest.raises(TypeError, match="int"):
        conv_output_size(8.0, 3)


def _measured_receptive_field(kernel_sizes, strides) -> int:
    """Width of the input region that changes the centre output of a stack of all-ones convolutions."""
    n = 64
    x = torch.zeros(1, 1, n, n, requires_grad=True)
    y = x
    for k, s in zip(kernel_sizes, strides):
        y = F.conv2d(y, torch.ones(1, 1, k, k), stride=s)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    columns = x.grad[0, 0].abs().sum(dim=0).nonzero()
    return int(columns.max() - columns.min() + 1)


@pytest.mark.parametrize("kernels, strides", [([3, 3], [1, 1]), ([3, 3, 3], [1, 1, 1]), ([5, 2, 3], [1, 2, 1]), ([3, 3, 3], [2, 2, 1])])
def test_receptive_field_matches_gradient_footprint(kernels, strides) -> None:
    assert receptive_field(kernels, strides) == _measured_receptive_field(kernels, strides)


def test_receptive_field_of_stacked_3x3_equals_one_larger_kernel() -> None:
    assert receptive_field([3, 3]) == 5
    assert receptive_field([3, 3, 3]) == 7
    with pytest.raises(ValueError, match="one stride per kernel"):
        receptive_field([3, 3], [1])


# ---- pooling ---------------------------------------------------------------------------------------


def test_pool2d_textbook_example() -> None:
    X = torch.arange(9.0).reshape(3, 3)
    assert torch.equal(pool2d(X, 2, stride=1), torch.tensor([[4.0, 5.0], [7.0, 8.0]]))
    assert torch.equal(pool2d(X, 2, "avg", stride=1), torch.tensor([[2.0, 3.0], [5.0, 6.0]]))


@pytest.mark.parametrize("mode, torch_pool", [("max", F.max_pool2d), ("avg", F.avg_pool2d)])
@pytest.mark.parametrize(
    "size, padding, stride",
    [(2, 0, None), (3, 1, 2), (3, 1, 1), ((2, 3), (1, 1), (2, 1)), (4, 2, 3)],
)
def test_pool2d_matches_torch(mode, torch_pool, size, padding, stride) -> None:
    X = torch.randn(2, 3, 7, 9)
    ours = pool2d(X, size, mode, padding=padding, stride=stride)
    ref = torch_pool(X, size, stride=stride, padding=padding)  # avg: count_include_pad=True, torch's default
    torch.testing.assert_close(ours, ref)
    # (C, H, W) and (H, W) inputs pool each channel on its own
    torch.testing.assert_close(pool2d(X[0], size, mode, padding=padding, stride=stride), ref[0])
    torch.testing.assert_close(pool2d(X[0, 1], size, mode, padding=padding, stride=stride), ref[0, 1])


def test_max_pool_padding_never_wins_on_negative_input() -> None:
    X = -1 - torch.rand(1, 4, 4)
    out = pool2d(X, 2, padding=1)
    assert (out < 0).all()
    torch.testing.assert_close(out, F.max_pool2d(X, 2, padding=1))


def test_avg_pool_of_integer_input_gives_floats() -> None:
    X = torch.arange(16).reshape(4, 4)
    torch.testing.assert_close(pool2d(X, 2, "avg"), F.avg_pool2d(X[None].float(), 2)[0])


def test_pool2d_errors() -> None:
    with pytest.raises(ValueError, match="mode"):
        pool2d(torch.zeros(4, 4), 2, mode="min")
    with pytest.raises(ValueError, match="half the window"):
        pool2d(torch.zeros(4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="does not fit"):
        pool2d(torch.zeros(2, 2), 3)
    with pytest.raises(ValueError, match="last two axes"):
        pool2d(torch.zeros(4), 2)


# ---- batch normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 4, 4)])
def test_batch_norm_matches_torch_over_several_steps(shape) -> None:
    channels = shape[1]
    gamma, beta = torch.rand(channels) + 0.5, torch.randn(channels)
    mean, var = torch.zeros(channels), torch.ones(channels)
    ref_mean, ref_var = mean.clone(), var.clone()
    for step in range(4):
        X = torch.randn(*shape) * (step + 1) + step
        Y, mean, var = batch_norm(X, gamma, beta, mean, var, eps=1e-5, momentum=0.2, training=True)
        ref = F.batch_norm(X, ref_mean, ref_var, gamma, beta, training=True, momentum=0.2, eps=1e-5)
        torch.testing.assert_close(Y, ref)
        torch.testing.assert_close(mean, ref_mean)
        torch.testing.assert_close(var, ref_var)
    X = torch.randn(*shape)
    Y, eval_mean, eval_var = batch_norm(X, gamma, beta, mean, var, training=False)
    torch.testing.assert_close(Y, F.batch_norm(X, ref_mean, ref_var, gamma, beta, training=False))
    assert torch.equal(eval_mean, mean) and torch.equal(eval_var, var)


def test_batch_norm_training_output_is_standardised() -> None:
    X = torch.randn(64, 3, 5, 5) * 4 + 7
    Y, _, _ = batch_norm(X, torch.ones(3), torch.zeros(3), torch.zeros(3), torch.ones(3))
    torch.testing.assert_close(Y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(Y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


@pytest.mark.parametrize("num_dims, shape", [(2, (10, 4)), (4, (6, 4, 3, 3))])
def test_batchnorm_module_matches_torch_module(num_dims, shape) -> None:
    ours = BatchNorm(4, num_dims)
    ref = torch.nn.BatchNorm1d(4) if num_dims == 2 else torch.nn.BatchNorm2d(4)
    for _ in range(3):
        X = torch.randn(*shape) * 3 + 1
        torch.testing.assert_close(ours(X), ref(X))
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval(), ref.eval()
    X = torch.randn(*shape)
    torch.testing.assert_close(ours(X), ref(X))
    before = ours.running_mean.clone()
    ours(X)
    assert torch.equal(ours.running_mean, before), "eval mode must not update running statistics"


def test_batchnorm_gradients_match_torch() -> None:
    X = torch.randn(8, 3, 4, 4, requires_grad=True)
    ours, ref = BatchNorm(3), torch.nn.BatchNorm2d(3)
    (ours(X) ** 2 * torch.arange(4.0)).sum().backward()
    ours_grad = X.grad.clone()
    X.grad = None
    (ref(X) ** 2 * torch.arange(4.0)).sum().backward()
    torch.testing.assert_close(ours_grad, X.grad)
    torch.testing.assert_close(ours.gamma.grad, ref.weight.grad)


def test_batch_norm_errors() -> None:
    ones, zeros = torch.ones(3), torch.zeros(3)
    with pytest.raises(ValueError, match="batch, features"):
        batch_norm(torch.zeros(2, 3, 4), ones, zeros, zeros, ones)
    with pytest.raises(ValueError, match="one value per channel"):
        batch_norm(torch.zeros(2, 4), ones, zeros, zeros, ones)
    with pytest.raises(ValueError, match="larger batch"):
        batch_norm(torch.zeros(1, 3), ones, zeros, zeros, ones)
    with pytest.raises(ValueError, match="num_dims"):
        BatchNorm(3, num_dims=3)
    with pytest.raises(ValueError, match="expects 2-D"):
        BatchNorm(3, num_dims=2)(torch.zeros(2, 3, 4, 4))


# ---- dropout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics_match_torch(p) -> None:
    X = torch.ones(200_000)
    ours, ref = dropout(X, p), F.dropout(X, p, training=True)
    for out in (ours, ref):
        assert abs((out == 0).float().mean().item() - p) < 0.01
        assert abs(out.mean().item() - 1.0) < 0.02
    survivors = ours[ours != 0]
    torch.testing.assert_close(survivors, torch.full_like(survivors, 1 / (1 - p)))


def test_dropout_edge_cases() -> None:
    X = torch.randn(4, 5)
    assert torch.equal(dropout(X, 0.5, training=False), X)
    assert torch.equal(dropout(X, 0.0), X)
    assert torch.equal(dropout(X, 1.0), torch.zeros_like(X))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            dropout(X, p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Dropout(2.0)


def test_dropout_generator_makes_masks_reproducible() -> None:
    X = torch.ones(100)
    first = dropout(X, 0.5, generator=torch.Generator().manual_seed(3))
    second = dropout(X, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, second)


def test_dropout_module_train_and_eval() -> None:
    layer = Dropout(0.5)
    X = torch.ones(10_000)
    assert (layer(X) == 0).any()
    layer.eval()
    assert torch.equal(layer(X), X)


def test_public_names_are_exported() -> None:
    for name in layers.__all__:
        assert hasattr(layers, name)
