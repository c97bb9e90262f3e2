"""Transforms the chapters need: normalisation with each dataset's statistics, resizing, grey→3 channels,
and the conversions between PIL images, tensors and OpenCV's BGR arrays.

Two equivalent pipelines: `image_transform` works on one PIL image at a time (torchvision style, what a
`Dataset` applies); `BatchTransform` does the same on a whole uint8 batch at once, on any device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class DatasetInfo:
    """Shape and per-channel statistics of a dataset's training images (pixels scaled to [0, 1])."""

    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]


# Statistics of the full training splits; tests/test_data.py recomputes the Fashion-MNIST ones from the files.
DATASETS = {
    "fashion_mnist": DatasetInfo(1, 28, (0.2860,), (0.3530,), FASHION_MNIST_CLASSES),
    "mnist": DatasetInfo(1, 28, (0.1307,), (0.3081,), MNIST_CLASSES),
    "cifar10": DatasetInfo(3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), CIFAR10_CLASSES),
}


def output_channels(info: DatasetInfo, channels: int | None) -> int:
    """Channels after conversion; only grey→3 is offered (colour→grey would need its own statistics)."""
    if channels is None or channels == info.channels:
        return info.channels
    if info.channels == 1 and channels == 3:
        return 3
    raise ValueError(f"channels={channels} is not offered for a {info.channels}-channel dataset; use None or 3 for grey images")


def normalization(info: DatasetInfo, channels: int | None = None) -> T.Normalize:
    """`Normalize` with the dataset's mean and std, repeated when grey images are copied to 3 channels."""
    out = output_channels(info, channels)
    repeat = out // info.channels
    return T.Normalize(info.mean * repeat, info.std * repeat)


def crop_flip(size: int, padding: int = 4) -> T.Compose:
    """The standard CIFAR augmentation (He et al. 2016, §4.2): pad by `padding` zeros, take a random
    `size`×`size` crop, flip left-right with probability 1/2. Works on PIL images and C×H×W tensors."""
    if size < 1 or padding < 0:
        raise ValueError(f"crop_flip needs size >= 1 and padding >= 0, got size={size}, padding={padding}")
    return T.Compose([T.RandomCrop(size, padding=padding), T.RandomHorizontalFlip()])


class BatchCropFlip:
    """`crop_flip` for a whole N×C×H×W float batch at once: every image draws its own crop offset and flip
    (torch's global generator, like the per-image transforms), done with one pad, one gather and one `where`.

    The same augmentation as `crop_flip(size, padding)` (zero padding, crop, flip with probability 1/2), not the
    same random numbers: a run with it is a different draw from the same distribution. Pass it as
    `split_loaders(..., augment=BatchCropFlip(32))`; `BatchTransform` calls it once per batch.
    """

    batched = True

    def __init__(self, size: int, padding: int = 4):
        if size < 1 or padding < 0:
            raise ValueError(f"BatchCropFlip needs size >= 1 and padding >= 0, got size={size}, padding={padding}")
        self.size, self.padding = size, padding

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        n, _, h, w = batch.shape
        if (h, w) != (self.size, self.size):
            raise ValueError(f"BatchCropFlip({self.size}) got {h}×{w} images; resize them to {self.size} first")
        p, device = self.padding, batch.device
        padded = F.pad(batch, (p, p, p, p)) if p else batch
        oy = torch.randint(0, 2 * p + 1, (n, 1), device=device)
        ox = torch.randint(0, 2 * p + 1, (n, 1), device=device)
        flip = torch.rand(n, device=device) < 0.5
        cols = torch.arange(w, device=device).expand(n, w)
        cols = torch.where(flip[:, None], cols.flip(1), cols) + ox          # a flip is a reversed column order
        rows = torch.arange(h, device=device).expand(n, h) + oy
        index = torch.arange(n, device=device)[:, None, None]
        out = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]  # N×H×W×C
        return out.permute(0, 3, 1, 2).contiguous()

    def __repr__(self) -> str:
        return f"BatchCropFlip(size={self.size}, padding={self.padding})"


def image_transform(
    info: DatasetInfo, *, resize: int | None = None, channels: int | None = None, normalize: bool = True, augment=None
) -> T.Compose:
    """Per-image pipeline for PIL images: resize, augment (e.g. `crop_flip`), grey→3 channels, to tensor, normalise."""
    steps: list = []
    if resize is not None:
        steps.append(T.Resize((resize, resize), antialias=True))
    if augment is not None:
        steps.append(augment)
    if output_channels(info, channels) != info.channels:
        steps.append(T.Grayscale(num_output_channels=3))
    steps.append(T.ToTensor())
    if normalize:
        steps.append(normalization(info, channels))
    return T.Compose(steps)


class BatchTransform:
    """Turn a uint8 batch (N, C, H, W) into normalised floats on the batch's device, resized and channel-converted.

    Resizing and normalising happen before the grey→3 copy, which keeps the work on one channel. `augment`
    (e.g. `crop_flip(32)`) is a per-image torchvision transform applied after resizing and before
    normalising, as in the PIL pipeline, so crops pad with black; each image draws its own crop and flip.
    """

    def __init__(
        self, info: DatasetInfo, *, resize: int | None = None, channels: int | None = None, normalize: bool = True, augment=None
    ):
        self.info = info
        self.resize = resize
        self.out_channels = output_channels(info, channels)
        self.normalize = normalize
        self.augment = augment
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    def _mean_std(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device not in self._stats:
            mean = torch.tensor(self.info.mean, device=device).view(1, -1, 1, 1)
            std = torch.tensor(self.info.std, device=device).view(1, -1, 1, 1)
            self._stats[device] = (mean, 1.0 / std)
        return self._stats[device]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.float().div_(255.0)
        if self.resize is not None and x.shape[-1] != self.resize:
            x = F.interpolate(x, size=(self.resize, self.resize), mode="bilinear", align_corners=False, antialias=True)
        if self.augment is not None:
            batched = getattr(self.augment, "batched", False)
            x = self.augment(x) if batched else torch.stack([self.augment(image) for image in x])
        if self.normalize:
            mean, inv_std = self._mean_std(x.device)
            x = x.sub_(mean).mul_(inv_std)
        if self.out_channels != x.shape[1]:
            x = x.expand(-1, self.out_channels, -1, -1).contiguous()
        return x

    def __repr__(self) -> str:
        augment = "" if self.augment is None else f", augment={self.augment!r}"
        return f"BatchTransform(resize={self.resize}, channels={self.out_channels}, normalize={self.normalize}{augment})"


# --- Conversions between the three image conventions --------------------------------------------
# PIL: an Image object, H×W (grey "L") or H×W×3 RGB, uint8.
# torch: a float tensor C×H×W in [0, 1] (what ToTensor returns), channels in RGB order.
# OpenCV: a numpy uint8 array H×W×3 in *BGR* order (cv2.imread returns BGR).


def to_tensor_from_pil(image: Image.Image) -> torch.Tensor:
    """PIL image → float tensor C×H×W in [0, 1] (the same as torchvision's ToTensor)."""
    return TF.to_tensor(image)


def to_tensor_from_bgr(array: np.ndarray) -> torch.Tensor:
    """OpenCV array (H×W×3 BGR uint8, or H×W grey) → float RGB tensor C×H×W in [0, 1]."""
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 array as cv2.imread returns, got {array.dtype}")
    if array.ndim == 2:
        return torch.from_numpy(array.copy()).unsqueeze(0).float().div(255.0)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected H×W×3 (BGR) or H×W, got shape {array.shape}")
    rgb = np.ascontiguousarray(array[:, :, ::-1])  # BGR → RGB; the copy drops the negative stride
    return torch.from_numpy(rgb).permute(2, 0, 1).float().div(255.0)


def to_bgr_from_tensor(tensor: torch.Tensor) -> np.ndarray:
    """Float RGB tensor C×H×W in [0, 1] → OpenCV array H×W×3 BGR uint8 (H×W for one channel)."""
    pixels = (tensor.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    if pixels.shape[0] == 1:
        return pixels[0].numpy()
    return np.ascontiguousarray(pixels.permute(1, 2, 0).numpy()[:, :, ::-1])


def to_pil_from_tensor(tensor: torch.Tensor) -> Image.Image:
    """Float tensor C×H×W in [0, 1] → PIL image (the same as torchvision's ToPILImage)."""
    return TF.to_pil_image(tensor.detach().cpu().clamp(0, 1))


def denormalize(batch: torch.Tensor, name: str = "fashion_mnist") -> torch.Tensor:
    """Undo `Normalize` with dataset `name`'s statistics, for showing normalised images."""
    from course_lib.data.sources import canonical_name

    info = DATASETS[canonical_name(name)]
    channels = batch.shape[-3]
    repeat = max(1, channels // info.channels)
    mean = torch.tensor(info.mean * repeat, device=batch.device).view(-1, 1, 1)
    std = torch.tensor(info.std * repeat, device=batch.device).view(-1, 1, 1)
    return batch * std + mean
