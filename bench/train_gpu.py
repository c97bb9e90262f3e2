"""GPU benchmark: resnet18_cifar on 3×32×32 images, batch 512, a plain fp32 loop against the Trainer's best setting.

Plain: torchvision dataset with per-image transforms, DataLoader (workers, pinned memory), fp32, no extras.
Trainer: whole dataset as uint8 tensors on the GPU, bf16 autocast, channels_last, torch.compile.
Data: CIFAR-10 when it is in the data root (or downloadable); otherwise real Fashion-MNIST resized to 32×32 and
copied to 3 channels, which gives the same tensor shapes and the same work per image (the script says which).
Both are timed over the same number of steps after warm-up steps (compilation happens during warm-up).

    .venv/bin/python bench/train_gpu.py                      # on a CUDA machine
    .venv/bin/python bench/train_gpu.py --smoke-cpu          # tiny run on the CPU: checks the script, measures nothing
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_lib.data import DataUnavailable, get_dataset, get_loaders
from course_lib.models import resnet18_cifar
from course_lib.train import Trainer, seed_everything


def pick_data(download: bool) -> tuple[str, dict]:
    """CIFAR-10 if available, else Fashion-MNIST as 3×32×32."""
    try:
        get_dataset("cifar10", True, download=download)
        return "cifar10", {}
    except DataUnavailable:
        return "fashion_mnist", {"resize": 32, "channels": 3}


def cycle_batches(loader, steps: int):
    """`steps` batches, starting the loader over as often as needed."""
    return itertools.islice(itertools.chain.from_iterable(itertools.repeat(loader)), steps)


def plain_loop(name: str, options: dict, device: torch.device, batch_size: int, warmup: int, steps: int, workers: int) -> float:
    """Images/s of a tutorial-style fp32 loop fed by a DataLoader."""
    dataset = get_dataset(name, True, **options)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, pin_memory=device.type == "cuda",
                        persistent_workers=workers > 0, drop_last=True)
    seed_everything(0)
    model = resnet18_cifar().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = None
    for index, (x, y) in enumerate(cycle_batches(loader, warmup + steps)):
        if index == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def trainer_best(name: str, options: dict, device: torch.device, batch_size: int, warmup: int, steps: int, compile: bool | str) -> float:
    """Images/s of the Trainer with GPU-resident data, bf16, channels_last and (optionally) compile."""
    train_loader, _ = get_loaders(name, batch_size, device=device, **options)
    train_loader.drop_last = True  # full batches only, like the plain loop (and no recompilation for a short last batch)
    seed_everything(0)
    trainer = Trainer(resnet18_cifar(), lr=0.05, weight_decay=5e-4, device=device, amp=True, channels_last=True,
                      compile=compile, progress=False)
    warm = list(itertools.islice(iter(train_loader), 1))
    trainer.fit(warm * warmup, epochs=1)  # compile and autotune on real batches

    class Steps:  # exactly `steps` batches from the loader, for one timed epoch
        def __len__(self):
            return steps

        def __iter__(self):
            return cycle_batches(train_loader, steps)

    history = trainer.fit(Steps(), epochs=2)
    return history.images_per_second[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="DataLoader workers of the plain loop")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--compile-mode", default=None, help='torch.compile mode, e.g. "max-autotune" (default: torch\'s default)')
    parser.add_argument("--download", action="store_true", help="allow downloading CIFAR-10")
    parser.add_argument("--smoke-cpu", action="store_true", help="run a tiny version on the CPU to check the script")
    args = parser.parse_args()

    if args.smoke_cpu:
        device = torch.device("cpu")
        args.batch_size, args.warmup, args.steps, args.workers, args.no_compile = 8, 1, 2, 0, True
        print("smoke run on the CPU: checks that the script works; the figures are not a benchmark")
    elif not torch.cuda.is_available():
        print("no CUDA GPU on this machine: the GPU benchmark needs one (see bench/README.md); nothing measured.")
        return 0
    else:
        device = torch.device("cuda")
        torch.backends.cudnn.benchmark = True
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")

    name, options = pick_data(args.download)
    shape = "CIFAR-10" if name == "cifar10" else "Fashion-MNIST resized to 32×32, grey copied to 3 channels (CIFAR-10 not available)"
    print(f"resnet18_cifar, batch {args.batch_size}, data: {shape}; {args.warmup} warm-up steps, {args.steps} timed steps")
    plain = plain_loop(name, options, device, args.batch_size, args.warmup, args.steps, args.workers)
    print(f"plain fp32 loop (DataLoader, {args.workers} workers): {plain:10,.0f} images/s")
    best = trainer_best(name, options, device, args.batch_size, args.warmup, args.steps, compile=False if args.no_compile else (args.compile_mode or True))
    compiled = "" if args.no_compile else f" + compile ({args.compile_mode or 'default'})"
    extras = f"bf16 + channels_last{compiled}, uint8 data resident on the {device.type.upper()}"
    print(f"Trainer ({extras}): {best:10,.0f} images/s")
    print(f"ratio Trainer / plain: {best / plain:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
