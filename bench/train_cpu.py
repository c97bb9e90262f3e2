"""CPU benchmark: one epoch of LeNet-5 on Fashion-MNIST, a plain PyTorch loop against the course Trainer.

The plain loop is what a tutorial writes: torchvision dataset with ToTensor + Normalize, a DataLoader,
fp32, no extras. The Trainer uses its fast path: the dataset decoded once into a uint8 tensor, batches
cut and normalised with tensor operations. Same model initialisation, optimizer and batch size for both.
A second part trains LeNet-5 for a few epochs on the full set to show it passes 85% test accuracy.

`--speed` instead measures the networks the stored experiments train (the lab's ResNet-18 at width 8 on
3×32×32 with crop and flip, chapter 7's small VGG, chapter 8's dropout VGG, LeNet-5), each in the setting the
experiments used before and in the faster one, side by side in one run: the settings interleaved over rounds,
the median kept, training images per second (wall) and CPU milliseconds per image.

    .venv/bin/python bench/train_cpu.py                 # both parts
    .venv/bin/python bench/train_cpu.py --threads 1     # one intra-op thread (busy machines)
    .venv/bin/python bench/train_cpu.py --speed         # before/after for the experiments' networks
    .venv/bin/python bench/train_cpu.py --speed --levers  # also each lever alone (channels_last, batch, compile)
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

from course_lib.data import get_dataset, get_loaders
from course_lib.models import LeNet5
from course_lib.train import Trainer, seed_everything


def plain_epoch(batch_size: int, lr: float, workers: int, seed: int) -> tuple[float, float]:
    """A tutorial-style loop: returns (training images/s, test accuracy)."""
    train_set, test_set = get_dataset("fashion_mnist", True), get_dataset("fashion_mnist", False)  # ToTensor + Normalize per image
    torch.manual_seed(seed)
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, num_workers=workers)
    test_loader = DataLoader(test_set, batch_size=2 * batch_size, num_workers=workers)
    seed_everything(seed)
    model = LeNet5(input_size=28)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start, seen = time.perf_counter(), 0
    for x, y in train_loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        seen += len(y)
    speed = seen / (time.perf_counter() - start)
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in test_loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    return speed, correct / total


def trainer_run(batch_size: int, lr: float, epochs: int, seed: int, schedule: str | None = None):
    """The Trainer on device-resident uint8 tensors: returns its History."""
    train_loader, test_loader = get_loaders("fashion_mnist", batch_size, device="cpu", seed=seed)
    seed_everything(seed)
    model = LeNet5(input_size=28)
    trainer = Trainer(model, lr=lr, momentum=0.9, schedule=schedule, device="cpu", seed=seed, progress=False)
    return trainer.fit(train_loader, test_loader, epochs=epochs)


def _speed_setting(make_model, *, augment, threads: int, batch: int, images: int, side: int | None,
                   channels_last: bool = False, compile: bool = False) -> tuple[float, float]:
    """(training images/s, CPU ms per image) of one epoch of `images` real Fashion-MNIST images, after one
    warm-up epoch (which also compiles, with compile=True). Only training is timed: no evaluation."""
    from course_lib.data import split_loaders

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        splits = split_loaders("fashion_mnist", batch_size=batch, val_size=500, train_subset=images, resize=side,
                               channels=3 if side else None, augment=augment, seed=0)
        trainer = Trainer(make_model(), lr=0.05, momentum=0.9, device="cpu", progress=False,
                          channels_last=channels_last, compile=compile)
        trainer.fit(splits.train, epochs=1)
        cpu = time.process_time()
        history = trainer.fit(splits.train, epochs=2)
        cpu = time.process_time() - cpu
        return history.images_per_second[-1], 1000 * cpu / splits.train.num_samples
    finally:
        torch.set_num_threads(previous)


def speed(rounds: int, levers: bool) -> None:
    """Before/after images/s of the experiments' networks, measured side by side (interleaved rounds, median)."""
    import os
    import statistics

    from course_lib.data import BatchCropFlip, crop_flip
    from course_lib.experiments import batchnorm, dropout
    from course_lib.models import resnet18_cifar

    default_threads = torch.get_num_threads()
    nets = {
        "lab ResNet-18, width 8, 3x32x32, crop+flip, batch 64": dict(
            make=lambda: resnet18_cifar(width=8, in_channels=3), side=32, batch=64, images=512,
            before=crop_flip(32, padding=4), after=BatchCropFlip(32, padding=4)),
        "ch07 small VGG with BN, 28x28, batch 128": dict(
            make=lambda: batchnorm.small_vgg("BN"), side=None, batch=128, images=2048, before=None, after=None),
        "ch08 dropout VGG, 28x28, batch 64": dict(
            make=lambda: dropout.dropout_vgg(0.5), side=None, batch=64, images=1024, before=None, after=None),
        "LeNet-5, 28x28, batch 128": dict(
            make=lambda: LeNet5(input_size=28), side=None, batch=128, images=8192, before=None, after=None),
    }
    print(f"before: torch's default {default_threads} threads, augmentation per image (torchvision transforms); "
          f"after: 1 thread, augmentation on the whole batch (BatchCropFlip), channels_last (what the experiment runner "
          f"uses); {rounds} interleaved rounds, median; "
          f"load average at start {os.getloadavg()[0]:.1f}")
    for name, net in nets.items():
        settings = {"before": dict(augment=net["before"], threads=default_threads, batch=net["batch"]),
                    "after": dict(augment=net["after"], threads=1, batch=net["batch"], channels_last=True)}
        if levers:
            settings["after without channels_last"] = {**settings["after"], "channels_last": False}
            settings["after, batch x2"] = {**settings["after"], "batch": 2 * net["batch"]}
            settings["after + torch.compile"] = {**settings["after"], "compile": True}
            if net["before"] is not None:
                settings["before on 1 thread (per-image augmentation)"] = {**settings["before"], "threads": 1}
        measured: dict[str, list[tuple[float, float]]] = {k: [] for k in settings}
        for _ in range(rounds):
            for key, options in settings.items():
                measured[key].append(_speed_setting(net["make"], images=net["images"], side=net["side"], **options))
        print(f"{name}:")
        median = {k: (statistics.median(v[0] for v in vs), statistics.median(v[1] for v in vs)) for k, vs in measured.items()}
        for key, (rate, cpu_ms) in median.items():
            print(f"  {key:40s} {rate:8,.0f} images/s  {cpu_ms:7.3f} CPU ms/image")
        print(f"  ratio after / before: {median['after'][0] / median['before'][0]:.2f}x images/s "
              f"(load average now {os.getloadavg()[0]:.1f})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the plain loop")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--accuracy-epochs", type=int, default=3, help="epochs for the 85%% run; 0 skips it")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", action="store_true", help="before/after images/s of the experiments' networks")
    parser.add_argument("--levers", action="store_true", help="with --speed: also each lever alone")
    parser.add_argument("--rounds", type=int, default=3, help="with --speed: interleaved rounds (median kept)")
    args = parser.parse_args()
    if args.speed:
        if args.threads:
            torch.set_num_threads(args.threads)
        speed(args.rounds, args.levers)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"LeNet-5 ({sum(p.numel() for p in LeNet5(input_size=28).parameters()):,} parameters), Fashion-MNIST 60,000/10,000, batch {args.batch_size}, SGD lr {args.lr} momentum 0.9, fp32, 1 epoch")

    plain_speed, plain_acc = plain_epoch(args.batch_size, args.lr, args.workers, args.seed)
    print(f"plain loop (DataLoader, {args.workers} workers): {plain_speed:8,.0f} images/s   test accuracy {plain_acc:.4f}")
    history = trainer_run(args.batch_size, args.lr, 1, args.seed)
    print(f"Trainer (uint8 tensors):            {history.images_per_second[0]:8,.0f} images/s   test accuracy {history.test_acc[0]:.4f}")
    print(f"ratio Trainer / plain: {history.images_per_second[0] / plain_speed:.2f}x")

    if args.accuracy_epochs:
        start = time.perf_counter()
        long_run = trainer_run(args.batch_size, args.lr, args.accuracy_epochs, args.seed, schedule="cosine")
        total = time.perf_counter() - start
        per_epoch = ", ".join(f"{a:.4f}" for a in long_run.test_acc)
        verdict = "reaches" if long_run.test_acc[-1] >= 0.85 else "does NOT reach"
        print(
            f"LeNet-5, {args.accuracy_epochs} epochs, cosine schedule: test accuracy per epoch {per_epoch}; "
            f"{verdict} 85% in {sum(long_run.seconds):.1f} s of training ({total:.1f} s with evaluation and set-up)"
        )


if __name__ == "__main__":
    main()
