"""Residual networks: torchvision-exact ResNet-18/34/50, the CIFAR ResNet-18 and the course's ResBlk.

The layout follows torchvision's ``resnet.py`` so its state dicts load into ours unchanged:
two tiny convolution factories, two block types that declare how much they widen their
output (``expansion``), one generic :class:`ResNet` whose ``_make_layer`` is the single place
that decides when a shortcut needs a projection, and thin named constructors.

Bottleneck stride: torchvision (and therefore this module) puts the stride of a down-sampling
bottleneck on its 3x3 convolution ("ResNet v1.5"); the original paper (He et al., 2015) puts it
on the first 1x1 convolution, which skips three quarters of the input positions unseen.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
from torch import Tensor, nn

NormLayer = Callable[[int], nn.Module]

__all__ = [
    "conv3x3",
    "conv1x1",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet18_cifar",
    "ResBlk",
    "FourBlockResNet",
]


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution that keeps the size at stride 1 (padding 1); no bias, a norm layer follows."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution: mixes channels at each position; used for projections and bottlenecks."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)


def no_norm(channels: int) -> nn.Module:
    """Stand-in for a norm layer when batch norm is switched off (keeps the module tree's shape)."""
    return nn.Identity()


class BasicBlock(nn.Module):
    """Two 3x3 convolutions plus a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``.

    ``downsample`` is the projection for the shortcut (None means identity); the caller decides.
    """

    expansion: int = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = norm_layer(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = norm_layer(channels)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (by ``expansion`` = 4), plus a shortcut.

    The stride sits on the 3x3 convolution (torchvision's v1.5); the paper strides the first 1x1.
    """

    expansion: int = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        norm_layer: NormLayer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = norm_layer(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = norm_layer(channels)
        self.conv3 = conv1x1(channels, out_channels)
        self.bn3 = norm_layer(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


Block = type[BasicBlock] | type[Bottleneck]


class ResNet(nn.Module):
    """Stem, four stages of residual blocks, global average pool, linear classifier.

    ``stem="imagenet"`` is torchvision's 7x7/2 convolution plus 3x3/2 max-pool (224 -> 56);
    ``stem="cifar"`` is a 3x3/1 convolution and no pooling, so 32x32 images keep their
    resolution in the first stage. Stage widths are ``width * (1, 2, 4, 8)``.
    """

    def __init__(
        self,
        block: Block,
        layers: list[int],
        num_classes: int = 1000,
        *,
        in_channels: int = 3,
        width: int = 64,
        stem: Literal["imagenet", "cifar"] = "imagenet",
        norm_layer: NormLayer = nn.BatchNorm2d,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"layers needs four block counts, one per stage; got {layers}")
        self._norm_layer = norm_layer
        self.inplanes = width  # input width of the next stage, as in torchvision
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        elif stem == "cifar":
            self.conv1 = conv3x3(in_channels, width)
            self.maxpool = nn.Identity()
        else:
            raise ValueError(f"stem must be 'imagenet' or 'cifar', got {stem!r}")
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:  # each residual branch starts at zero: every block is an identity
            for m in self.modules():
                last_norm = m.bn3 if isinstance(m, Bottleneck) else m.bn2 if isinstance(m, BasicBlock) else None
                if isinstance(last_norm, nn.BatchNorm2d):
                    nn.init.zeros_(last_norm.weight)

    def _make_layer(self, block: Block, channels: int, blocks: int, stride: int = 1) -> nn.Sequential:
        """One stage: the first block may change size and width, so only it may need a projection."""
        out_channels = channels * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out_channels:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, out_channels, stride),
                self._norm_layer(out_channels),
            )
        stage = [block(self.inplanes, channels, stride, downsample, self._norm_layer)]
        self.inplanes = out_channels
        stage += [block(out_channels, channels, norm_layer=self._norm_layer) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def resnet18(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-18 as in torchvision (11,689,512 parameters at 1000 classes)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, **kwargs)


def resnet34(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-34 as in torchvision (21,797,672 parameters at 1000 classes)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, **kwargs)


def resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-50 as in torchvision, v1.5 bottlenecks (25,557,032 parameters at 1000 classes)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, **kwargs)


def resnet18_cifar(
    num_classes: int = 10, in_channels: int = 3, width: int = 64, batch_norm: bool = True
) -> ResNet:
    """ResNet-18 for 32x32 images: 3x3 stem, no max-pool (11,173,962 parameters at the defaults).

    On a (128, 3, 32, 32) batch the stages give (128, 64, 32, 32), (128, 128, 16, 16),
    (128, 256, 8, 8) and (128, 512, 4, 4). ``width`` scales all stage widths;
    ``batch_norm=False`` replaces every BatchNorm with Identity (for the "remove BN" experiment).
    """
    norm_layer = nn.BatchNorm2d if batch_norm else no_norm
    return ResNet(
        BasicBlock, [2, 2, 2, 2], num_classes,
        in_channels=in_channels, width=width, stem="cifar", norm_layer=norm_layer,
    )


class ResBlk(nn.Module):
    """The course's residual block: the reference the graded exercise compares against.

    ``out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`` where

    - ``conv1``: 3x3, ``ch_in -> ch_out``, stride ``stride``, padding 1, no bias;
    - ``bn1``: BatchNorm2d(ch_out);
    - ``conv2``: 3x3, ``ch_out -> ch_out``, stride 1, padding 1, no bias;
    - ``bn2``: BatchNorm2d(ch_out);
    - ``shortcut``: ``nn.Identity()`` (no parameters) when ``stride == 1 and ch_in == ch_out``,
      otherwise ``nn.Sequential(1x1 conv ch_in -> ch_out with stride, BatchNorm2d(ch_out))``.

    These attribute names are part of the exercise's contract: keep them stable.
    The block in the source notes had two faults fixed here: it left out the ReLU after the
    addition, and it projected the shortcut only when the channels changed, so with stride 2 and
    equal channels the sum mixes a halved branch with the full-size input: an error for most
    sizes, and a silent broadcast (a wrong result of the wrong shape) when the branch is 1x1, as in
    the notes' own four-block network.
    """

    def __init__(self, ch_in: int, ch_out: int, stride: int = 1) -> None:
        super().__init__()
        if min(ch_in, ch_out, stride) < 1:
            raise ValueError(f"ch_in, ch_out and stride must be positive; got {ch_in}, {ch_out}, {stride}")
        self.conv1 = conv3x3(ch_in, ch_out, stride)
        self.bn1 = nn.BatchNorm2d(ch_out)
        self.conv2 = conv3x3(ch_out, ch_out)
        self.bn2 = nn.BatchNorm2d(ch_out)
        if stride == 1 and ch_in == ch_out:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(conv1x1(ch_in, ch_out, stride), nn.BatchNorm2d(ch_out))

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class FourBlockResNet(nn.Module):
    """The four-block residual net of the source notes, built from the corrected :class:`ResBlk`.

    Shapes for a (N, 3, 32, 32) batch::

        stem   conv 3x3, stride 3, padding 0 + BN + ReLU  -> (N, 64, 10, 10)   (32 - 3) // 3 + 1 = 10
        blk1   ResBlk(64, 128, stride 2)                  -> (N, 128, 5, 5)
        blk2   ResBlk(128, 256, stride 2)                 -> (N, 256, 3, 3)
        blk3   ResBlk(256, 512, stride 2)                 -> (N, 512, 2, 2)
        blk4   ResBlk(512, 512, stride 2)                 -> (N, 512, 1, 1)
        avgpool adaptive average pool to 1x1              -> (N, 512, 1, 1)
        fc     flatten + linear 512 -> num_classes        -> (N, num_classes)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=3, stride=3, padding=0, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
        self.blk1 = ResBlk(64, 128, stride=2)
        self.blk2 = ResBlk(128, 256, stride=2)
        self.blk3 = ResBlk(256, 512, stride=2)
        self.blk4 = ResBlk(512, 512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.blk4(self.blk3(self.blk2(self.blk1(self.stem(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
