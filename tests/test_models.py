"""Reference models: torchvision parity, the course's parameter counts, ResBlk shapes, device readiness."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.testing import assert_close

from course_lib import models

TORCHVISION_EXACT = [
    "alexnet",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "googlenet",
    "resnet18", "resnet34", "resnet50",
]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


BIG = 1 << 20  # entries; VGG's and AlexNet's classifier matrices are far above this


def random_tensor(key: str, shape: torch.Size, dtype: torch.dtype, generator: torch.Generator) -> torch.Tensor:
    """Seeded values on a scale that keeps activations finite (and clear of denormals) through 50 layers."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=dtype)
    value = torch.empty(shape, dtype=dtype)
    if len(shape) > 1:  # He-uniform for convolution and linear weights
        bound = (6.0 / value[0].numel()) ** 0.5
        return value.uniform_(-bound, bound, generator=generator)
    if key.endswith(("running_var", "weight")):  # batch-norm variances and scales near 1
        return value.uniform_(0.5, 1.5, generator=generator)
    return value.uniform_(-0.2, 0.2, generator=generator)  # biases and running means


@pytest.fixture(scope="module")
def big_tensors() -> dict:
    """Large random matrices shared by the models that have the same one (all eight VGG classifiers).

    Fresh 100M-entry matrices for every VGG would cost seconds each in allocation alone.
    """
    return {}


def torchvision_pair(name: str, big_tensors: dict, **kwargs) -> tuple[nn.Module, nn.Module]:
    """(ours, torchvision's) for the same constructor name and options, holding the same random tensors.

    Both are built on the meta device (no weights, no slow init), then receive one seeded state
    dict through ``load_state_dict(strict=True, assign=True)``, which checks every name and shape.
    """
    with torch.device("meta"):
        reference = getattr(torchvision.models, name)(weights=None, **kwargs)
        ours = getattr(models, name)(**kwargs)
    assert count_params(ours) == count_params(reference)
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, tensor in reference.state_dict().items():
        cache_key = (key, tuple(tensor.shape))
        if cache_key in big_tensors:
            state[key] = big_tensors[cache_key]
            continue
        state[key] = random_tensor(key, tensor.shape, tensor.dtype, generator)
        if tensor.numel() > BIG:
            big_tensors[cache_key] = state[key]
    reference.load_state_dict(state, strict=True, assign=True)
    ours.load_state_dict(state, strict=True, assign=True)
    return ours, reference


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize("name", TORCHVISION_EXACT)
def test_same_parameters_and_logits_as_torchvision(name: str, big_tensors: dict) -> None:
    extra = {"init_weights": True} if name == "googlenet" else {}
    ours, reference = torchvision_pair(name, big_tensors, **extra)
    ours.eval()
    reference.eval()
    side = 64 if name == "alexnet" else 32  # every net's pooling head accepts small images; AlexNet needs 63+
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        assert_close(ours(x), reference(x))


def test_resnet18_parity_at_imagenet_size_with_real_constructors() -> None:
    reference = torchvision.models.resnet18(weights=None).eval()
    ours = models.resnet18().eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert_close(ours(x), reference(x))


def test_googlenet_auxiliary_outputs_match_torchvision_in_training(big_tensors: dict) -> None:
    ours, reference = torchvision_pair("googlenet", big_tensors, init_weights=True)
    ours.train()
    reference.train()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.manual_seed(1)
        expected = reference(x)
        torch.manual_seed(1)  # same seed: the dropout masks are drawn in the same order
        got = ours(x)
    assert isinstance(got, models.GoogLeNetOutputs)
    for field in ("logits", "aux_logits2", "aux_logits1"):
        assert_close(getattr(got, field), getattr(expected, field))


def test_googlenet_without_aux_heads_and_with_input_transform_matches_torchvision(big_tensors: dict) -> None:
    ours, reference = torchvision_pair("googlenet", big_tensors, aux_logits=False, transform_input=True, init_weights=True)
    ours.eval()
    reference.eval()
    assert count_params(ours) == 6_624_904
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert_close(ours(x), reference(x))


def test_resnet_init_and_zero_init_residual() -> None:
    model = models.resnet18(zero_init_residual=True)
    first = model.layer1[0]
    fan_out = first.conv1.out_channels * 9
    assert first.conv1.weight.std().item() == pytest.approx((2.0 / fan_out) ** 0.5, rel=0.1)
    assert torch.all(model.bn1.weight == 1)
    assert all(torch.all(block.bn2.weight == 0) for stage in (model.layer1, model.layer4) for block in stage)


def test_lenet5_has_the_classic_parameter_count_at_28_and_32() -> None:
    for size in (32, 28):
        model = models.LeNet5(input_size=size).eval()
        assert count_params(model) == 61_706
        x = torch.randn(2, 1, size, size)
        assert model[:6](x).shape == (2, 16, 5, 5)  # up to pool2, whatever the input size
        assert model(x).shape == (2, 10)


def test_lenet5_options_and_bad_input() -> None:
    model = models.LeNet5(activation="sigmoid", pool="avg")
    assert isinstance(model.act1, nn.Sigmoid) and isinstance(model.pool2, nn.AvgPool2d)
    assert isinstance(models.LeNet5(activation="tanh").act4, nn.Tanh)
    with pytest.raises(ValueError, match="28 or 32"):
        models.LeNet5(input_size=64)
    with pytest.raises(ValueError, match="activation"):
        models.LeNet5(activation="gelu")


def test_convnet_shapes_and_gaussian_init() -> None:
    model = models.ConvNet(init_std=0.01)
    expected = (1 * 8 * 9 + 8) + (8 * 16 * 9 + 16) + (7 * 7 * 16 * 10 + 10)
    assert count_params(model) == expected
    assert model[:6](torch.randn(2, 1, 28, 28)).shape == (2, 16, 7, 7)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert model.fc.weight.std().item() == pytest.approx(0.01, rel=0.1)
    assert torch.all(model.conv1.bias == 0)


def test_nin_works_from_28_to_224_pixels() -> None:
    model = models.NiN().eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
        assert model(torch.randn(1, 1, 224, 224)).shape == (1, 10)
    with pytest.raises(ValueError, match="at least 11x11"):
        model(torch.randn(1, 1, 8, 8))


def test_small_vgg_from_a_custom_config() -> None:
    model = models.VGG([8, "M", 16, "M"], in_channels=1, num_classes=10, hidden=32, batch_norm=True)
    assert isinstance(model.features[1], nn.BatchNorm2d)
    assert model.classifier[0].in_features == 16 * 7 * 7
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="unknown VGG configuration"):
        models.VGG("vgg12")


@pytest.mark.parametrize(
    ("ch_in", "ch_out", "stride", "side"),
    [(64, 64, 1, 32), (64, 128, 2, 16), (64, 64, 2, 16), (32, 64, 4, 8)],
)
def test_resblk_shapes(ch_in: int, ch_out: int, stride: int, side: int) -> None:
    block = models.ResBlk(ch_in, ch_out, stride)
    out = block(torch.randn(2, ch_in, 32, 32))
    assert out.shape == (2, ch_out, side, side)
    assert out.min().item() >= 0  # ReLU comes after the addition
    assert block.conv1.stride == (stride, stride) and block.conv2.stride == (1, 1)
    assert isinstance(block.bn1, nn.BatchNorm2d) and isinstance(block.bn2, nn.BatchNorm2d)
    projects = stride != 1 or ch_in != ch_out
    assert isinstance(block.shortcut, nn.Sequential) == projects
    if projects:
        assert block.shortcut[0].kernel_size == (1, 1) and block.shortcut[0].stride == (stride, stride)


def test_resblk_identity_shortcut_has_no_parameters_and_adds_the_input() -> None:
    block = models.ResBlk(16, 16).eval()
    assert isinstance(block.shortcut, nn.Identity)
    assert count_params(block.shortcut) == 0
    nn.init.zeros_(block.bn2.weight)  # residual branch now outputs zeros: the block is relu(x)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert_close(block(x), torch.relu(x))


def test_four_block_resnet_traces_the_documented_shapes() -> None:
    model = models.FourBlockResNet().eval()
    x = torch.randn(2, 3, 32, 32)
    expected = {"stem": (2, 64, 10, 10), "blk1": (2, 128, 5, 5), "blk2": (2, 256, 3, 3),
                "blk3": (2, 512, 2, 2), "blk4": (2, 512, 1, 1)}
    with torch.no_grad():
        for name, shape in expected.items():
            x = getattr(model, name)(x)
            assert x.shape == shape, name
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet18_cifar_count_and_variants() -> None:
    assert count_params(models.resnet18_cifar()) == 11_173_962
    small = models.resnet18_cifar(width=32, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in small.modules())
    assert small.fc.in_features == 8 * 32
    assert small(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    gray = models.resnet18_cifar(num_classes=5, in_channels=1, width=8)
    assert gray(torch.randn(2, 1, 32, 32)).shape == (2, 5)


SMALL_MODELS = {
    "LeNet5": (lambda: models.LeNet5(input_size=28), (2, 1, 28, 28)),
    "ConvNet": (models.ConvNet, (2, 1, 28, 28)),
    "NiN": (models.NiN, (2, 1, 28, 28)),
    "resnet18_cifar": (lambda: models.resnet18_cifar(width=8), (2, 3, 32, 32)),
    "FourBlockResNet": (models.FourBlockResNet, (2, 3, 32, 32)),
}


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_channels_last_and_bf16_autocast(name: str) -> None:
    build, shape = SMALL_MODELS[name]
    model = build().eval()
    x = torch.randn(shape)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        x_last = x.to(memory_format=torch.channels_last)
        assert_close(model(x_last), expected, rtol=1e-4, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x_last)
    assert low.dtype == torch.bfloat16
    relative_error = ((low.float() - expected).norm() / expected.norm()).item()
    assert relative_error < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_runs_on_cuda_with_amp() -> None:
    model = models.resnet18_cifar(width=16).cuda().to(memory_format=torch.channels_last).eval()
    x = torch.randn(4, 3, 32, 32, device="cuda").to(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.float16):
        out = model(x)
    assert out.shape == (4, 10) and out.device.type == "cuda" and out.dtype == torch.float16
