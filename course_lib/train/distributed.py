"""The few torch.distributed calls the Trainer needs; torchrun starts the processes and sets their environment."""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Only this process prints and saves."""
    return rank() == 0


def init_from_torchrun() -> torch.device | None:
    """Join the process group torchrun describes (gloo on CPU, nccl on CUDA); returns this rank's device, None when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "RANK" not in os.environ:
        return None
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not is_distributed():
        dist.init_process_group(backend=backend, timeout=timedelta(minutes=10))
    return device


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all ranks (a no-op in a single process)."""
    if is_distributed():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_gather_int(value: int) -> list[int]:
    """One integer from each rank, in rank order."""
    if not is_distributed():
        return [value]
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    mine = torch.tensor([value], device=device)
    everyone = [torch.zeros_like(mine) for _ in range(world_size())]
    dist.all_gather(everyone, mine)
    return [int(t.item()) for t in everyone]


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shutdown() -> None:
    if is_distributed():
        dist.destroy_process_group()
