"""Small VGG and GoogLeNet for 32×32 grey images: the classic designs at a width a CPU trains in seconds.

Both keep their family's recipe and are compared on the same data in chapters 5 and 6:
``reduced_vgg11`` is VGG-11 (configuration A) with a eighth of the channels and BatchNorm, its five
poolings taking 32×32 to 1×1, followed by VGG's three linear layers read from that 1×1 map (the full
VGG's ``AdaptiveAvgPool2d((7, 7))`` would copy it 49 times) and initialised as PyTorch does by default
(VGG's N(0, 0.01²) would slow the first few hundred steps, which chapter 7 measures); ``small_googlenet`` is GoogLeNet's stem,
Inception blocks 3a, 3b and 4a at an eighth of their channels, global average pooling and one linear
layer. The blocks are the course's torchvision-exact ``Inception`` (BatchNorm after every convolution,
a 3×3 kernel in the "5×5" branch).
"""

from __future__ import annotations

from torch import Tensor, nn

from .googlenet import ConvBNReLU, Inception
from .vgg import VGG

__all__ = ["REDUCED_VGG11_CFG", "reduced_vgg11", "SmallGoogLeNet", "small_googlenet"]

# VGG-11 (configuration A: 64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M) with channels / 8
REDUCED_VGG11_CFG = [8, "M", 16, "M", 32, 32, "M", 64, 64, "M", 64, 64, "M"]


def reduced_vgg11(num_classes: int = 10, in_channels: int = 1, hidden: int = 256) -> VGG:
    """VGG-11 with BatchNorm at an eighth of its width, for 32×32 inputs (five poolings leave 1×1)."""
    model = VGG(REDUCED_VGG11_CFG, batch_norm=True, in_channels=in_channels, num_classes=num_classes, hidden=hidden)
    model.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    model.classifier[0] = nn.Linear(REDUCED_VGG11_CFG[-2], hidden)
    for layer in model.classifier:
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()   # PyTorch's default init, not VGG's N(0, 0.01²): see chapter 7
    return model


class SmallGoogLeNet(nn.Module):
    """GoogLeNet's layout at an eighth of its width for 32×32 inputs: stem, Inception 3a, 3b, pool, 4a, global pool.

    Shapes: stem 32 -> 16 -> 8 (16 then 32 channels), 3a 32 channels, 3b 60, pool to 4×4, 4a 64, then 1×1.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            ConvBNReLU(in_channels, 16, kernel_size=3, padding=1),
            nn.MaxPool2d(2, 2),                                    # 32 -> 16
            ConvBNReLU(16, 32, kernel_size=3, padding=1),
            nn.MaxPool2d(2, 2),                                    # 16 -> 8
        )
        self.inception3a = Inception(32, 8, 12, 16, 2, 4, 4)       # GoogLeNet 3a / 8: 32 channels out
        self.inception3b = Inception(32, 16, 16, 24, 4, 12, 8)     # 3b / 8: 60
        self.pool3 = nn.MaxPool2d(2, 2)                            # 8 -> 4
        self.inception4a = Inception(60, 24, 12, 26, 2, 6, 8)      # 4a / 8: 64
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.inception4a(self.pool3(self.inception3b(self.inception3a(self.stem(x)))))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def small_googlenet(num_classes: int = 10, in_channels: int = 1) -> SmallGoogLeNet:
    """An eighth-width GoogLeNet (three Inception blocks) for 32×32 inputs."""
    return SmallGoogLeNet(num_classes=num_classes, in_channels=in_channels)
