"""CPU benchmark: one epoch of LeNet-5 on Fashion-MNIST, a plain PyTorch loop against the course Trainer.

The plain loop is what a tutorial writes: torchvision dataset with ToTensor + Normalize, a DataLoader,
fp32, no extras. The Trainer uses its fast path: the dataset decoded once into a uint8 tensor, batches
cut and normalised with tensor operations. Same model initialisation, optimizer and batch size for both.
A second part trains LeNet-5 for a few epochs on the full set to show it passes 85% test accuracy.

    .venv/bin/python bench/train_cpu.py                 # both parts
    .venv/bin/python bench/train_cpu.py --threads 1     # one intra-op thread (busy machines)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the plain loop")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--accuracy-epochs", type=int, default=3, help="epochs for the 85%% run; 0 skips it")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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
