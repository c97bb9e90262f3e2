"""VGG (Simonyan & Zisserman, 2014), built from a configuration list; torchvision-exact.

A configuration lists output channels of 3x3 convolutions, with "M" for a 2x2 max-pool.
Five pools take 224x224 to 7x7; the ``AdaptiveAvgPool2d((7, 7))`` head makes the classifier
accept other sizes too (a 32x32 image reaches 1x1 and is spread back to 7x7).
"""

from __future__ import annotations

from typing import Callable, Union

import torch
from torch import Tensor, nn

__all__ = [
    "VGG_CONFIGS", "make_vgg_features", "VGG",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
]

VGGConfig = list[Union[int, str]]

# The paper's columns A, B, D and E: 8, 10, 13 and 16 convolutions, plus three linear layers.
VGG_CONFIGS: dict[str, VGGConfig] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_vgg_features(cfg: VGGConfig, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """Turn a configuration into the convolutional trunk: conv3x3 (+ BN) + ReLU per number, pool per "M"."""
    layers: list[nn.Module] = []
    for item in cfg:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        if not isinstance(item, int):
            raise ValueError(f"a VGG configuration holds channel counts and 'M'; got {item!r}")
        layers.append(nn.Conv2d(in_channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        in_channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """Convolutional trunk from ``cfg``, adaptive average pool to 7x7, three linear layers.

    ``cfg`` is a name from :data:`VGG_CONFIGS` or a list. ``hidden`` sets the width of the two
    hidden linear layers (4096 in the paper), so smaller VGGs for Fashion-MNIST fit on a CPU.
    """

    def __init__(
        self,
        cfg: str | VGGConfig = "vgg16",
        *,
        batch_norm: bool = False,
        in_channels: int = 3,
        num_classes: int = 1000,
        hidden: int = 4096,
        dropout: float = 0.5,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(cfg, str):
            if cfg not in VGG_CONFIGS:
                raise ValueError(f"unknown VGG configuration {cfg!r}; choose from {sorted(VGG_CONFIGS)} or pass a list")
            cfg = VGG_CONFIGS[cfg]
        last_channels = [c for c in cfg if c != "M"][-1]
        self.features = make_vgg_features(cfg, batch_norm, in_channels)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(last_channels * 7 * 7, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def _named_vgg(cfg: str, batch_norm: bool, params: int) -> Callable[..., VGG]:
    """Make a torchvision-style constructor such as ``vgg16_bn(num_classes=1000, **kwargs)``."""
    name = cfg + ("_bn" if batch_norm else "")

    def build(num_classes: int = 1000, **kwargs) -> VGG:
        return VGG(cfg, batch_norm=batch_norm, num_classes=num_classes, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (
        f"{name.upper().replace('_BN', ' with batch norm')} as in torchvision "
        f"({params:,} parameters at 1000 classes); keywords go to :class:`VGG`."
    )
    return build


vgg11 = _named_vgg("vgg11", False, 132_863_336)
vgg11_bn = _named_vgg("vgg11", True, 132_868_840)
vgg13 = _named_vgg("vgg13", False, 133_047_848)
vgg13_bn = _named_vgg("vgg13", True, 133_053_736)
vgg16 = _named_vgg("vgg16", False, 138_357_544)
vgg16_bn = _named_vgg("vgg16", True, 138_365_992)
vgg19 = _named_vgg("vgg19", False, 143_667_240)
vgg19_bn = _named_vgg("vgg19", True, 143_678_248)
