"""Device choice, seeding and mixed precision: the three settings every training run starts from."""

from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch


def select_device(preferred: str | torch.device | None = None) -> torch.device:
    """The given device, else CUDA, then Apple's MPS, then the CPU."""
    if preferred is not None and str(preferred) != "auto":
        device = torch.device(preferred)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device='cuda' was asked for but no CUDA GPU is visible; use device=None to pick what exists")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_for_scale(scale: str) -> torch.device:
    """Where an experiment of `scale` trains: "full" on the best device there is (a GPU where one exists),
    every smaller scale on the CPU, so the fast and medium numbers stay comparable from machine to machine."""
    return select_device() if scale == "full" else torch.device("cpu")


def seed_everything(seed: int = 0, *, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all GPUs); `deterministic=True` also picks deterministic GPU kernels (slower)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when enabled; full fp32 everywhere else (CPU autocast rarely pays off for these nets)."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def rng_state() -> dict:
    """Every random generator's state, in types `torch.load(weights_only=True)` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos, "has_gauss": has_gauss, "cached": cached},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` captured."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
