"""GoogLeNet / Inception v1 (Szegedy et al., 2014); torchvision-exact, auxiliary heads included.

Two quirks are kept on purpose so that torchvision's weights load: every convolution is
followed by batch norm (eps 0.001), which the 2014 paper did not have, and the "5x5" branch of
each Inception block uses a 3x3 kernel (torchvision issue #906).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvBNReLU", "Inception", "InceptionAux", "GoogLeNet", "GoogLeNetOutputs", "googlenet"]


class GoogLeNetOutputs(NamedTuple):
    """What a GoogLeNet with auxiliary heads returns in training mode (torchvision's field order)."""

    logits: Tensor
    aux_logits2: Tensor | None
    aux_logits1: Tensor | None


class ConvBNReLU(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU: the unit every GoogLeNet layer uses."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Inception(nn.Module):
    """Four parallel branches concatenated along channels: 1x1; 1x1 -> 3x3; 1x1 -> "5x5"; pool -> 1x1.

    Output channels: ``ch1x1 + ch3x3 + ch5x5 + pool_proj``; height and width are unchanged.
    """

    def __init__(
        self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int
    ) -> None:
        super().__init__()
        self.branch1 = ConvBNReLU(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            ConvBNReLU(in_channels, ch3x3red, kernel_size=1),
            ConvBNReLU(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            ConvBNReLU(in_channels, ch5x5red, kernel_size=1),
            ConvBNReLU(ch5x5red, ch5x5, kernel_size=3, padding=1),  # 3x3, as in torchvision
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            ConvBNReLU(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on an intermediate map: pool to 4x4, 1x1 conv to 128, two linear layers."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        x = self.dropout(F.relu(self.fc1(x), inplace=True))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """Stem, nine Inception blocks in three groups, global average pool, dropout, linear.

    Shapes for (N, 3, 224, 224): stem -> (N, 192, 28, 28); 3a, 3b -> (N, 480, 28, 28), pool -> 14;
    4a..4e -> (N, 832, 14, 14), pool -> 7; 5a, 5b -> (N, 1024, 7, 7); pool and fc -> (N, num_classes).
    In training mode with ``aux_logits=True`` the forward returns :class:`GoogLeNetOutputs`
    (heads on 4a's and 4d's outputs); otherwise plain logits.
    ``transform_input=True`` converts inputs normalised with ImageNet statistics to the
    (x - 0.5) / 0.5 scaling the original weights were trained with.
    """

    IMAGENET_MEAN = (0.485, 0.456, 0.406)
    IMAGENET_STD = (0.229, 0.224, 0.225)

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        self.conv1 = ConvBNReLU(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = ConvBNReLU(64, 64, kernel_size=1)
        self.conv3 = ConvBNReLU(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux) if aux_logits else None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def _rescale_input(self, x: Tensor) -> Tensor:
        """Map ImageNet-normalised input to the (x - 0.5) / 0.5 scale, channel by channel."""
        if x.shape[1] != 3:
            raise ValueError(f"transform_input expects 3-channel RGB input, got {x.shape[1]} channels")
        scale = x.new_tensor([s / 0.5 for s in self.IMAGENET_STD]).view(1, 3, 1, 1)
        shift = x.new_tensor([(m - 0.5) / 0.5 for m in self.IMAGENET_MEAN]).view(1, 3, 1, 1)
        return x * scale + shift

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = self._rescale_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux1 is not None and self.aux2 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(num_classes: int = 1000, **kwargs) -> GoogLeNet:
    """GoogLeNet as torchvision builds it without weights (6,624,904 parameters at 1000 classes
    without the auxiliary heads, 13,004,888 with them)."""
    return GoogLeNet(num_classes=num_classes, **kwargs)
