"""Command line: train a course model on a course dataset, alone or data-parallel under torchrun.

    python -m course_lib.train --model lenet5 --data fashion_mnist --epochs 3
    torchrun --nproc_per_node=2 -m course_lib.train --model lenet5 --data fashion_mnist --epochs 1

Only rank 0 prints and saves; the report is the same in both cases plus one line about the ranks.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence

from torch import nn

from course_lib.data import DATASETS, canonical_name, get_loaders
from course_lib.data.transforms import output_channels
from course_lib.train import distributed as dist_utils
from course_lib.train.callbacks import PrintMetrics
from course_lib.device import seed_everything
from course_lib.train.schedules import SCHEDULES
from course_lib.train.trainer import OPTIMIZERS, Trainer, fit_or_load


def find_model_factory(name: str) -> Callable[..., nn.Module]:
    """A model class or function from course_lib.models by name ("lenet5", "resnet18_cifar"), or "module:attribute"."""
    if ":" in name:
        module_name, attribute = name.split(":", 1)
        return getattr(importlib.import_module(module_name), attribute)
    models = importlib.import_module("course_lib.models")
    wanted = name.lower().replace("_", "").replace("-", "")
    public = getattr(models, "__all__", [n for n in dir(models) if not n.startswith("_")])
    matches = [n for n in public if n.lower().replace("_", "") == wanted and callable(getattr(models, n))]
    if not matches:
        raise SystemExit(f"unknown model {name!r}; course_lib.models offers: {', '.join(sorted(public))}")
    return getattr(models, matches[0])


def build_model(name: str, *, num_classes: int, in_channels: int, input_size: int) -> nn.Module:
    """Call the model's factory with whichever of num_classes / in_channels / input_size it accepts."""
    factory = find_model_factory(name)
    offered = {"num_classes": num_classes, "in_channels": in_channels, "input_size": input_size}
    accepted = inspect.signature(factory).parameters
    return factory(**{k: v for k, v in offered.items() if k in accepted})


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m course_lib.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model name in course_lib.models (lenet5, resnet18_cifar, ...) or module:attribute")
    parser.add_argument("--data", default="fashion_mnist", help="fashion_mnist, mnist or cifar10")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128, help="per process")
    parser.add_argument("--train-subset", type=int, default=None, help="class-balanced subset of the training set")
    parser.add_argument("--test-subset", type=int, default=None)
    parser.add_argument("--resize", type=int, default=None, help="side length, e.g. 32 or 224")
    parser.add_argument("--channels", type=int, default=None, help="3 copies grey images to three channels")
    parser.add_argument("--loader", choices=("tensor", "dataloader"), default="tensor", help="device-resident tensors (fast) or torch DataLoader")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--nesterov", action="store_true")
    parser.add_argument("--schedule", choices=sorted(SCHEDULES), default="constant")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps; default: the best available")
    parser.add_argument("--no-amp", action="store_true", help="train in fp32 on CUDA too")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=None, help="resume from / save to this file")
    parser.add_argument("--progress", action="store_true", help="show progress bars (rank 0)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rank_device = dist_utils.init_from_torchrun()
    try:
        device = rank_device or args.device
        name = canonical_name(args.data)
        info = DATASETS[name]
        train_loader, test_loader = get_loaders(
            name,
            args.batch_size,
            resize=args.resize,
            channels=args.channels,
            train_subset=args.train_subset,
            test_subset=args.test_subset,
            device=(device or "auto") if args.loader == "tensor" else None,
            seed=args.seed,
        )
        seed_everything(args.seed)  # the same initial weights on every run and every rank
        model = build_model(
            args.model, num_classes=len(info.classes), in_channels=output_channels(info, args.channels), input_size=args.resize or info.size
        )
        trainer = Trainer(
            model,
            optimizer=args.optimizer,
            lr=args.lr,
            momentum=args.momentum,
            weight_decay=args.weight_decay,
            nesterov=args.nesterov,
            schedule=args.schedule,
            device=device,
            amp=not args.no_amp,
            channels_last=args.channels_last,
            compile=args.compile,
            seed=args.seed,
            progress=args.progress,
            callbacks=[PrintMetrics()],
        )
        world = dist_utils.world_size()
        if trainer.is_main_process:
            params = sum(p.numel() for p in model.parameters())
            print(f"training {args.model} ({params:,} parameters) on {name} with {world} process(es) on {trainer.device}", flush=True)
        if args.checkpoint:
            history = fit_or_load(trainer, args.checkpoint, train_loader, test_loader, args.epochs)
        else:
            history = trainer.fit(train_loader, test_loader, args.epochs)
        per_rank = dist_utils.all_gather_int(_samples_per_epoch(train_loader))
        if trainer.is_main_process:
            backend = "single process" if world == 1 else f"{world} ranks ({'nccl' if trainer.device.type == 'cuda' else 'gloo'})"
            print(f"ranks: {backend}; training images per epoch by rank: {per_rank}", flush=True)
            last = history.last
            print(
                f"final: epochs {len(history)} test_acc {last['test_acc']:.4f} test_loss {last['test_loss']:.4f} "
                f"train_acc {last['train_acc']:.4f} images_per_second {last['images_per_second']:,.0f}",
                flush=True,
            )
        return 0
    finally:
        dist_utils.shutdown()


def _samples_per_epoch(loader: object) -> int:
    if hasattr(loader, "num_samples"):
        return int(loader.num_samples)
    sampler = getattr(loader, "sampler", None)
    return len(sampler) if sampler is not None else len(loader.dataset)


if __name__ == "__main__":
    sys.exit(main())
