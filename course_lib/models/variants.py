"""Model variants for the book's controlled experiments; the reference models stay torchvision-exact.

- `cifar_net(n, residual=...)`: He et al.'s CIFAR networks (§4.2): a 3×3 stem, three stages of n blocks
  at widths w, 2w, 4w, 6n+2 weight layers; with `residual=False` the same layers without shortcuts.
- `resnet18_stem(stem)`: ResNet-18 with the ImageNet stem, the CIFAR stem, or the max-pool moved or removed.
- `kaiming_linear_(model)`: re-initialise every linear layer with He's rule (for VGG's N(0, 0.01²) heads).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from .resnet import BasicBlock, ResNet, conv1x1, conv3x3

StemKind = Literal["imagenet", "imagenet_late_pool", "imagenet_no_pool", "cifar"]
STEMS: tuple[str, ...] = ("imagenet", "imagenet_late_pool", "imagenet_no_pool", "cifar")


class CifarBlock(nn.Module):
    """Two 3×3 conv-BN layers with a ReLU between; with `residual`, the input is added back before the last ReLU.

    The shortcut is the identity when the shape is kept, else a 1×1 conv + BN with the block's stride
    (the paper's option B). Without `residual` the block is the same stack with no addition: a plain net.
    """

    def __init__(self, ch_in: int, ch_out: int, stride: int = 1, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        self.conv1, self.bn1 = conv3x3(ch_in, ch_out, stride), nn.BatchNorm2d(ch_out)
        self.conv2, self.bn2 = conv3x3(ch_out, ch_out), nn.BatchNorm2d(ch_out)
        self.shortcut: nn.Module = nn.Identity()
        if residual and (stride != 1 or ch_in != ch_out):
            self.shortcut = nn.Sequential(conv1x1(ch_in, ch_out, stride), nn.BatchNorm2d(ch_out))

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + self.shortcut(x) if self.residual else out)


class CifarNet(nn.Module):
    """Stem conv 3×3 (w channels), three stages of `n` blocks (w, 2w, 4w; stride 2 between stages), pool, linear."""

    def __init__(self, n: int, *, residual: bool = True, width: int = 16, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        if n < 1 or width < 1:
            raise ValueError(f"n (blocks per stage) and width must be positive, got n={n}, width={width}")
        self.stem = nn.Sequential(conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        blocks, ch = [], width
        for stage, out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                blocks.append(CifarBlock(ch, out, stride=2 if stage > 0 and i == 0 else 1, residual=residual))
                ch = out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def depth(self) -> int:
        """Weight layers on the main path: stem + 2 per block + classifier (6n + 2)."""
        return 2 + 2 * len(self.blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def cifar_net(n: int, *, residual: bool = True, width: int = 16, in_channels: int = 1, num_classes: int = 10) -> CifarNet:
    """He et al.'s 6n+2-layer CIFAR network (n=3: 20 layers, n=9: 56), residual or plain."""
    return CifarNet(n, residual=residual, width=width, in_channels=in_channels, num_classes=num_classes)


def resnet18_stem(stem: StemKind, *, width: int = 64, in_channels: int = 3, num_classes: int = 10) -> ResNet:
    """ResNet-18 with one of four stems, everything else equal.

    imagenet: 7×7/2 conv + 3×3/2 max-pool (32 px → stages at 8, 4, 2, 1); imagenet_late_pool: the same
    layers with the max-pool moved after stage 1 (stage 1 runs at 16); imagenet_no_pool: 7×7/2 conv only
    (16, 8, 4, 2); cifar: 3×3/1 conv, no pool (32, 16, 8, 4).
    """
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {', '.join(STEMS)}; got {stem!r}")
    model = ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels=in_channels, width=width,
                   stem="cifar" if stem == "cifar" else "imagenet")
    if stem == "imagenet_late_pool":
        model.layer1 = nn.Sequential(model.layer1, model.maxpool)
        model.maxpool = nn.Identity()
    elif stem == "imagenet_no_pool":
        model.maxpool = nn.Identity()
    return model


def kaiming_linear_(model: nn.Module) -> nn.Module:
    """Re-initialise every nn.Linear with He's rule (fan-in, ReLU gain) and zero bias; returns the model."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model
