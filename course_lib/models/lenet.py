"""LeNet-5 and the small MNIST ConvNet: the first networks the course trains.

Both are ``nn.Sequential`` subclasses with named layers, so ``model.conv1`` and ``model[0]``
reach the same module, ``model[:6]`` is the feature extractor, and a summary lists every step.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

__all__ = ["LeNet5", "ConvNet"]

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
POOLS: dict[str, type[nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def _choose(kind: str, value: str, options: dict[str, type[nn.Module]]) -> type[nn.Module]:
    """Look ``value`` up in ``options`` or say which values are allowed."""
    if value not in options:
        raise ValueError(f"{kind} must be one of {sorted(options)}, got {value!r}")
    return options[value]


class NamedSequential(nn.Sequential):
    """``nn.Sequential`` whose slices are plain Sequentials, so ``model[:6]`` works despite a custom __init__."""

    def __getitem__(self, index: int | slice) -> nn.Module:
        if isinstance(index, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)


class LeNet5(NamedSequential):
    """LeNet-5 (LeCun et al., 1998) with linear layers for C5/F6, as in PyTorch's tutorial.

    Shapes for a (N, 1, 32, 32) batch: conv1 (N, 6, 28, 28), pool1 (N, 6, 14, 14),
    conv2 (N, 16, 10, 10), pool2 (N, 16, 5, 5), fc1 120, fc2 84, fc3 ``num_classes``.
    With ``input_size=28`` (MNIST, Fashion-MNIST) conv1 pads by 2, so the shapes from conv1 on
    and the 61,706 parameters (1 channel, 10 classes) are the same as for 32x32 input.
    The 1998 paper used sigmoid-like activations and average ("subsampling") pooling:
    ``activation="sigmoid", pool="avg"`` comes close; the defaults are the modern ReLU/max.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 32,
        activation: str = "relu",
        pool: str = "max",
    ) -> None:
        if input_size not in (28, 32):
            raise ValueError(f"input_size must be 28 or 32 (pixels per side), got {input_size}; resize other images")
        act = _choose("activation", activation, ACTIVATIONS)
        pooling = _choose("pool", pool, POOLS)
        padding = (32 - input_size) // 2
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding),
                act1=act(),
                pool1=pooling(kernel_size=2, stride=2),
                conv2=nn.Conv2d(6, 16, kernel_size=5),
                act2=act(),
                pool2=pooling(kernel_size=2, stride=2),
                flatten=nn.Flatten(),
                fc1=nn.Linear(16 * 5 * 5, 120),
                act3=act(),
                fc2=nn.Linear(120, 84),
                act4=act(),
                fc3=nn.Linear(84, num_classes),
            )
        )


class ConvNet(NamedSequential):
    """The small MNIST network: two 3x3 'same' convolutions with 2x2 max-pooling, one linear layer.

    Shapes for a (N, 1, 28, 28) batch: conv1 (N, 8, 28, 28), pool1 (N, 8, 14, 14),
    conv2 (N, 16, 14, 14), pool2 (N, 16, 7, 7), fc ``num_classes`` (7 * 7 * 16 = 784 inputs).
    It returns logits (softmax belongs to the loss). ``init_std`` reproduces the notes'
    N(0, std) weights with zero biases (they used 0.01); None keeps PyTorch's default init.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, init_std: float | None = None) -> None:
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, 8, kernel_size=3, padding=1),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(kernel_size=2, stride=2),
                conv2=nn.Conv2d(8, 16, kernel_size=3, padding=1),
                relu2=nn.ReLU(),
                pool2=nn.MaxPool2d(kernel_size=2, stride=2),
                flatten=nn.Flatten(),
                fc=nn.Linear(7 * 7 * 16, num_classes),
            )
        )
        if init_std is not None:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.normal_(m.weight, 0.0, init_std)
                    nn.init.zeros_(m.bias)
