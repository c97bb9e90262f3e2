"""What a configuration costs, measured without contention from the other runs: CPU seconds per training
image, each configuration timed one at a time on one thread, interleaved over rounds, the median kept.

Why not the runs' own seconds: the stored runs shared the machine with other work (and with each other), so
their wall seconds say as much about the load as about the network (the lab once printed that width ×2 costs
0.4× the baseline's time while its multiply-adds grow about 4×). CPU seconds on one thread count the work
of this process only; interleaving the configurations spreads whatever load remains over all of them.

Every measured ratio is printed beside the multiply-add ratio (torchinfo, through `course_lib.summary`);
where the two differ by more than `AGREEMENT` the experiment must say why (its ``COST_NOTES``), and the
tests check that it does.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from course_lib.summary import summarize

AGREEMENT = 2.0  # a measured ratio within a factor 2 of the multiply-add ratio needs no explanation
Config = tuple[Callable[[], nn.Module], torch.Tensor, torch.Tensor]  # (make_model, real images, labels)


def multiply_adds(model: nn.Module, image_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one image (torchinfo's count) for `image_shape` = (C, H, W)."""
    return int(summarize(model, (1, *image_shape)).total_mult_adds)


def _cpu() -> float:
    return time.process_time()


def _steps(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, n: int) -> None:
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(n):
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()


MAC_KERNELS = ("conv", "mkldnn", "addmm", "aten::mm")  # the operators whose work torchinfo's multiply-adds count


def kernel_share(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                 steps: int = 2) -> float:
    """Share of self CPU time spent in convolution and matrix-multiply operators over `steps` training steps
    (torch.profiler): how much of the time multiply-adds can explain at all."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _steps(model, optimizer, x, y, steps)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    macs = sum(e.self_cpu_time_total for e in events if any(k in e.key.lower() for k in MAC_KERNELS))
    return macs / total if total else float("nan")


def measure(configs: dict[str, Config], *, rounds: int = 3, seconds: float = 1.5, warmup: int = 2,
            threads: int = 1) -> dict[str, dict[str, float]]:
    """Per configuration: median CPU ms per training image (forward, backward, SGD step) over `rounds`.

    Each round times every configuration in turn for about `seconds` of CPU time, on `threads` threads.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        state = {}
        for name, (make_model, x, y) in configs.items():
            torch.manual_seed(0)
            model = make_model().train()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            _steps(model, optimizer, x, y, warmup)
            state[name] = (model, optimizer, x, y)
        per_image: dict[str, list[float]] = {name: [] for name in configs}
        wall_rate: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(rounds):
            for name, (model, optimizer, x, y) in state.items():
                steps, cpu0, wall0 = 0, _cpu(), time.perf_counter()
                while steps < 3 or _cpu() - cpu0 < seconds:
                    _steps(model, optimizer, x, y, 1)
                    steps += 1
                cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
                per_image[name].append(1000 * cpu / (steps * len(y)))
                wall_rate[name].append(steps * len(y) / wall)
        share = {name: kernel_share(*state[name]) for name in state}
        return {name: {"cpu_ms_per_image": round(statistics.median(per_image[name]), 4),
                       "mac_kernel_share": round(share[name], 3),
                       "cpu_ms_per_image_rounds": [round(v, 4) for v in per_image[name]],
                       "wall_images_per_second": round(statistics.median(wall_rate[name]), 1)}
                for name in configs}
    finally:
        torch.set_num_threads(previous)


def section(configs: dict[str, Config], reference: str, notes: dict[str, str] | None = None,
            **options: Any) -> dict[str, Any]:
    """The results file's ``measured_cost``: method, machine, per-arm cost and multiply-adds, and the notes
    (kept only for the arms whose measured ratio disagrees with the multiply-add ratio)."""
    load = [round(v, 2) for v in os.getloadavg()]
    started = time.time()
    measured = measure(configs, **options)
    arms = {}
    for name, (make_model, x, _) in configs.items():
        model = make_model()
        arms[name] = {**measured[name], "macs": multiply_adds(model, tuple(x.shape[1:])),
                      "params": sum(p.numel() for p in model.parameters()), "batch": len(x)}
    out = {"method": f"CPU seconds per training image (forward, backward, SGD step), one configuration at a time on "
                     f"{options.get('threads', 1)} thread, {options.get('rounds', 3)} interleaved rounds, median",
           "reference": reference, "arms": arms,
           "provenance": {"torch": torch.__version__, "load_average_at_start": load,
                          "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
                          "seconds": round(time.time() - started, 1)}}
    out["notes"] = {arm: (notes or {}).get(arm, "") for arm in arms if arm != reference and disagrees(out, arm)}
    return out


def ratios(cost: dict[str, Any], arm: str) -> tuple[float, float]:
    """(measured CPU-time ratio, multiply-add ratio) of `arm` against the section's reference."""
    ref, this = cost["arms"][cost["reference"]], cost["arms"][arm]
    return this["cpu_ms_per_image"] / ref["cpu_ms_per_image"], this["macs"] / ref["macs"]


def disagrees(cost: dict[str, Any], arm: str, factor: float = AGREEMENT) -> bool:
    measured, macs = ratios(cost, arm)
    return max(measured / macs, macs / measured) > factor


def line(cost: dict[str, Any], arm: str) -> str:
    """'width x2: 2.9x the CPU time per training image of baseline (multiply-adds 3.9x)', plus the why."""
    measured, macs = ratios(cost, arm)
    text = (f"{arm}: {measured:.2f}x the CPU time per training image of {cost['reference']} "
            f"(multiply-adds {macs:.2f}x)")
    note = cost.get("notes", {}).get(arm)
    if not note:
        return text + "."
    shares = (f" Measured share of CPU time in convolution and matrix-multiply kernels: "
              f"{100 * cost['arms'][arm]['mac_kernel_share']:.0f} % against "
              f"{100 * cost['arms'][cost['reference']]['mac_kernel_share']:.0f} % for {cost['reference']}.")
    return f"{text}. Why they differ: {note}{shares}"


def lines(cost: dict[str, Any]) -> list[str]:
    """One line per arm against the reference, then how it was measured."""
    out = [line(cost, arm) for arm in cost["arms"] if arm != cost["reference"]]
    return out + [f"(Measured: {cost['method']}; load average {cost['provenance']['load_average_at_start'][0]:.1f} "
                  f"at the start.)"]
