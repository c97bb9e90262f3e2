"""AlexNet (Krizhevsky et al., 2012) in torchvision's single-GPU form; torchvision-exact.

torchvision follows the "one weird trick" variant (64/192/384/256/256 channels, no local
response normalisation) rather than the paper's two-GPU 96/256/384/384/256.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """Five convolutions with three max-pools, adaptive average pool to 6x6, three linear layers.

    Shapes for (N, 3, 224, 224): conv1 11x11/4 -> (N, 64, 55, 55), pool -> 27, conv2 -> (N, 192, 27, 27),
    pool -> 13, conv3-5 -> (N, 256, 13, 13), pool -> (N, 256, 6, 6), then 9216 -> 4096 -> 4096 -> classes.
    """

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, in_channels: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000, **kwargs) -> AlexNet:
    """AlexNet as in torchvision (61,100,840 parameters at 1000 classes)."""
    return AlexNet(num_classes=num_classes, **kwargs)
