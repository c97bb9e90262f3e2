"""Network in Network (Lin et al., 2013): 'mlpconv' blocks and a global-average-pool classifier.

Each block is a spatial convolution followed by two 1x1 convolutions (a small per-pixel MLP).
The last block outputs one channel per class, and global average pooling turns each channel
into a logit, so there is no fully connected layer at all.
"""

from __future__ import annotations

from torch import Tensor, nn

from .lenet import NamedSequential

__all__ = ["NiN", "nin_block"]


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> nn.Sequential:
    """One mlpconv block: k x k convolution then two 1x1 convolutions, each followed by ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=1),
        nn.ReLU(inplace=True),
    )


class NiN(NamedSequential):
    """NiN with the AlexNet-like widths (96, 256, 384), for 28x28 up to 224x224 inputs.

    The 3x3/2 max-pools pad by 1 so that a 28x28 image still fits: shapes 28 -> 5 -> 3 -> 2 -> 1
    (224 -> 54 -> 27 -> 14 -> 7). The adaptive average pool then reduces any size to 1x1.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5) -> None:
        super().__init__(
            nin_block(in_channels, 96, kernel_size=11, stride=4, padding=0),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nin_block(96, 256, kernel_size=5, stride=1, padding=2),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nin_block(256, 384, kernel_size=3, stride=1, padding=1),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nn.Dropout(p=dropout),
            nin_block(384, num_classes, kernel_size=3, stride=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)),
            nn.Flatten(),
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] < 11 or x.shape[-2] < 11:
            raise ValueError(f"NiN needs images of at least 11x11 pixels, got {tuple(x.shape[-2:])}")
        return super().forward(x)
