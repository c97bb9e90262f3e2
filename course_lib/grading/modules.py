"""Module evidence on the trusted side: ask for it, and compute what the reference gives for the same weights.

The student's module reports its layers (kind and shapes) and ran with weights derived from a seed
(``sandboxed.evidence.fill_values``). Here the reference's layers are paired with the student's by role
(kind and weight shape, never by name), the same seed-derived values are loaded into the reference under
each pairing, and the pairing whose output matches best gives the reference's evidence to compare with.
Convolution and linear biases may exist on one side only (a missing bias counts as zero).
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .checks import relative_error
from .replay import Pending, Target
from .sandboxed import evidence

MAX_PAIRINGS = 720


def module_evidence(factory: Any, args: Sequence, inputs: Sequence[torch.Tensor], seed: int,
                    kwargs: dict | None = None) -> Any:
    """Evidence of the student's module: from the sandbox (a :class:`Target`) or computed here in-process."""
    if isinstance(factory, Target):
        return factory.module(list(args), dict(kwargs or {}), list(inputs), seed)
    return evidence.module_evidence(factory, list(args), dict(kwargs or {}), [x.clone() for x in inputs], seed)


def failure(ev: Any) -> str | None:
    """Why this evidence cannot be used (the student's module failed to build or run), or None."""
    if isinstance(ev, Pending):
        return "no evidence"
    if not isinstance(ev, dict):
        return "malformed evidence"
    return ev.get("error")


def require(ev: Any, key: str | None = None) -> dict:
    """``ev`` if it can be used (and holds ``key``), else a RuntimeError saying what the student's module did."""
    if isinstance(ev, dict) and (key in ev if key else not ev.get("error")):
        return ev
    raise RuntimeError(failure(ev) or "no evidence")


def as_tensor(value: Any, what: str = "the output") -> torch.Tensor:
    """``value`` if it is a tensor; else a TypeError that says what came instead."""
    if isinstance(value, torch.Tensor):
        return value
    raise TypeError(f"{what} is a {type(value).__name__}, not a tensor")


def parameter_count(structure: list[dict]) -> int:
    return sum(math.prod(shape) for entry in structure for shape in entry["params"].values())


def _role(entry: dict) -> tuple:
    shapes = {**entry["buffers"], **entry["params"]}
    if "Norm" in entry["kind"]:
        size = shapes.get("running_mean") or shapes.get("weight")
        return (entry["kind"], tuple(size or ()))
    return (entry["kind"], tuple(shapes.get("weight", ())))


def pairings(reference: list[dict], student: list[dict]) -> Iterator[dict[int, int]]:
    """Every pairing {reference layer index: student layer index} of layers with the same role."""
    groups: dict[tuple, tuple[list[int], list[int]]] = {}
    for i, entry in enumerate(reference):
        groups.setdefault(_role(entry), ([], []))[0].append(i)
    for j, entry in enumerate(student):
        groups.setdefault(_role(entry), ([], []))[1].append(j)
    if any(len(refs) != len(stus) for refs, stus in groups.values()):
        return
    orders = [list(itertools.permutations(stus)) for _, stus in groups.values()]
    refs_in_groups = [refs for refs, _ in groups.values()]
    for count, choice in enumerate(itertools.product(*orders)):
        if count >= MAX_PAIRINGS:
            return
        yield {r: s for refs, stus in zip(refs_in_groups, choice) for r, s in zip(refs, stus)}


@torch.no_grad()
def load_student_values(model: nn.Module, reference: list[dict], student: list[dict], pairing: dict[int, int],
                        seed: int) -> None:
    """Give the reference's layers the values the student's paired layers had (missing bias: zero)."""
    modules = dict(model.named_modules())
    for r, s in pairing.items():
        layer, entry = modules[reference[r]["path"]], student[s]
        values = {name: evidence.fill_values(seed, s, entry["kind"], name, shape)
                  for name, shape in {**entry["params"], **entry["buffers"]}.items()}
        for name, tensor in list(layer._parameters.items()):
            if tensor is None:
                if name in values:  # the student's layer has a bias the reference's lacks
                    layer._parameters[name] = nn.Parameter(values[name].clone())
                continue
            if name in values and tuple(values[name].shape) == tuple(tensor.shape):
                tensor.copy_(values[name])
            else:
                tensor.fill_(1.0 if name == "weight" else 0.0)
        for name, tensor in layer._buffers.items():
            if tensor is not None and tensor.is_floating_point() and name in values:
                tensor.copy_(values[name])


@dataclass
class Match:
    """The reference under the best pairing, and its evidence for the same inputs."""

    pairing: dict[int, int]
    reference_structure: list[dict]
    evidence: dict
    model: nn.Module


def match_reference(ev: dict, make_reference: Callable[[], nn.Module], inputs: Sequence[torch.Tensor],
                    seed: int) -> Match | None:
    """The reference with the student's weights under the pairing that fits best; None if none exists."""
    student = ev["structure"]
    first = ev.get("eval", [None])[0]
    base = evidence.build(make_reference, [], {})
    reference = evidence.describe(base)
    best: tuple[float, dict[int, int]] | None = None
    for pairing in pairings(reference, student):
        model = copy.deepcopy(base)
        load_student_values(model, reference, student, pairing, seed)
        try:
            with torch.no_grad():
                error = relative_error(first, model.eval()(inputs[0].clone()))
        except Exception:  # noqa: BLE001 - a pairing that does not fit the reference's shapes
            error = math.inf
        if best is None or error < best[0]:
            best = (error, pairing)
        if error < 1e-6:
            break
    if best is None:
        return None
    pairing = best[1]
    model = copy.deepcopy(base)
    load_student_values(model, reference, student, pairing, seed)
    structure = evidence.describe(model)
    reset = lambda m: load_student_values(m, reference, student, pairing, seed)  # noqa: E731
    return Match(pairing, reference, evidence.run_module(model, structure, [x.clone() for x in inputs], reset), model)


def worst_error(ev: dict, ref: dict) -> float:
    """Largest relative error over the eval outputs (every input) and the train-mode output."""
    pairs = list(zip(ev.get("eval", []), ref["eval"])) + [(ev.get("train"), ref["train"])]
    return max((relative_error(a, b) for a, b in pairs), default=math.inf)
