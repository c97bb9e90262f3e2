"""Behavioural checks of a student's residual block against ``course_lib.models.ResBlk``.

Each function takes the student's class (called as ``cls(ch_in, ch_out, stride)``), prints what passed
and returns the points earned, for the last line of an nbgrader test cell. Everything known about the
student's block is its module evidence (``modules``): layer kinds and shapes, outputs, gradients and
statistics for seed-derived weights. Nothing looks at attribute names: layers are paired by role.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .. import modules as mod
from ..checks import Report, check_function, generator, reference_model, salted_seed
from ..sandboxed import evidence

# (ch_in, ch_out, stride): kept shape, more channels, halving with a projection, the notes' faulty
# case (stride 2 with equal channels) and the notes' stride 4.
SHAPE_CASES = [(8, 8, 1), (8, 16, 1), (8, 16, 2), (8, 8, 2), (8, 16, 4), (16, 8, 2)]
FUNCTION_CASES = [(8, 8, 1), (8, 16, 1), (8, 16, 2), (8, 8, 2), (8, 16, 4)]
TOLERANCE = 1e-4


def _reference(ch_in: int, ch_out: int, stride: int) -> nn.Module:
    return reference_model("ResBlk")(ch_in, ch_out, stride)


def _inputs(ch_in: int, seed: int = 0, batch: int = 4, size: tuple[int, int] = (12, 10)) -> torch.Tensor:
    return torch.randn(batch, ch_in, *size, generator=generator(seed))


def _out_size(n: int, stride: int) -> int:
    return (n + 2 - 3) // stride + 1


@check_function("ResBlk output shapes", points=2)
def shapes(cls: Callable[..., nn.Module], report: Report) -> None:
    """Output shape (N, ch_out, H', W') for kept shape, more channels, stride 2 (also with equal channels) and 4."""
    for ch_in, ch_out, stride in SHAPE_CASES:
        x = _inputs(ch_in, batch=2)
        ev = mod.module_evidence(cls, (ch_in, ch_out, stride), [x], salted_seed(1))

        def case(ev=ev, x=x, ch_out=ch_out, stride=stride):
            expected = (2, ch_out, _out_size(x.shape[2], stride), _out_size(x.shape[3], stride))
            out = mod.require(ev, "train")["train"]
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return shape == expected, f"expected {expected}, got {shape}"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride}) on (2, {ch_in}, 12, 10)", case)


def _conv_biases(block: nn.Module) -> list[int]:
    return [m.out_channels for m in block.modules() if isinstance(m, nn.modules.conv._ConvNd)]


def allowed_parameter_counts(ch_in: int, ch_out: int, stride: int) -> set[int]:
    """Parameter counts of a correct block: the reference's, with any subset of its convolutions biased."""
    reference = _reference(ch_in, ch_out, stride)
    base = sum(p.numel() for p in reference.parameters())
    base -= sum(m.bias.numel() for m in reference.modules()
                if isinstance(m, nn.modules.conv._ConvNd) and m.bias is not None)
    counts = {0}
    for out_channels in _conv_biases(reference):
        counts |= {c + out_channels for c in counts}
    return {base + c for c in counts}


@check_function("ResBlk parameter count", points=1)
def parameter_count(cls: Callable[..., nn.Module], report: Report) -> None:
    """Number of learnable parameters equals the reference's (convolution biases allowed or not)."""
    for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 1), (8, 8, 2), (16, 8, 2)]:
        ev = mod.module_evidence(cls, (ch_in, ch_out, stride), [_inputs(ch_in, batch=2)], salted_seed(1))

        def case(ev=ev, ch_in=ch_in, ch_out=ch_out, stride=stride):
            count = mod.parameter_count(mod.require(ev, "structure")["structure"])
            allowed = sorted(allowed_parameter_counts(ch_in, ch_out, stride))
            return count in allowed, f"got {count:,}, expected {allowed[0]:,} (or with conv biases {allowed[-1]:,})"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride})", case)


def _function_inputs(ch_in: int, seed: int = 0) -> list[torch.Tensor]:
    return [_inputs(ch_in, seed=seed), _inputs(ch_in, seed=seed + 7, size=(9, 9))]


@check_function("ResBlk computes the reference's function", points=3)
def same_function(cls: Callable[..., nn.Module], report: Report) -> None:
    """With the student's weights loaded into the reference's layers, both blocks compute the same outputs."""
    for ch_in, ch_out, stride in FUNCTION_CASES:
        inputs = _function_inputs(ch_in)
        ev = mod.module_evidence(cls, (ch_in, ch_out, stride), inputs, salted_seed(2))

        def case(ev=ev, inputs=inputs, ch_in=ch_in, ch_out=ch_out, stride=stride):
            mod.require(ev)
            match = mod.match_reference(ev, lambda: _reference(ch_in, ch_out, stride), inputs, salted_seed(2))
            if match is None:
                return False, "its layers (convolutions, batch norms) do not match the specification"
            error = mod.worst_error(ev, match.evidence)
            return error < TOLERANCE, f"outputs differ (relative error {error:.2g}) in train or eval mode"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride}) in train and eval mode", case)


def _residual_branch_end(reference: nn.Module, x: torch.Tensor) -> nn.Module:
    """The reference's batch norm after the second 3x3 convolution, found by following the data."""
    producers: dict[int, nn.Module] = {}
    found: list[nn.Module] = []
    inputs_of: dict[nn.Module, torch.Tensor] = {}
    keep: list[torch.Tensor] = []

    def hook(module, inputs, output):
        keep.append(output)
        source = producers.get(id(inputs[0]))
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and isinstance(source, nn.Conv2d):
            if source.kernel_size == (3, 3) and inputs_of[source] is not x:
                found.append(module)
        producers[id(output)] = module
        inputs_of[module] = inputs[0]

    layers = [m for m in reference.modules() if isinstance(m, (nn.Conv2d, nn.modules.batchnorm._BatchNorm))]
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.no_grad():
            reference.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    if len(found) != 1:
        raise RuntimeError("could not locate the reference block's second batch norm")
    return found[0]


def _shortcut_matches(ev: dict, make_reference: Callable[[], nn.Module], x: torch.Tensor, seed: int) -> bool:
    """True if, for some pairing of layers, the student's output with one batch norm silenced equals the
    reference's with its residual branch's last batch norm silenced: ReLU(projection(x)) in eval mode."""
    import copy

    outputs = [entry.get("out") for entry in ev.get("ablations", [])]
    base = evidence.build(make_reference, [], {})
    reference = evidence.describe(base)
    paths = {m: p for p, m in base.named_modules()}
    end_path = paths[_residual_branch_end(base, x)]
    for pairing in mod.pairings(reference, ev["structure"]):
        model = copy.deepcopy(base)
        mod.load_student_values(model, reference, ev["structure"], pairing, seed)
        with torch.no_grad():
            layer = dict(model.named_modules())[end_path]
            layer.weight.zero_()
            layer.bias.zero_()
            expected = model.eval()(x.clone())
        if any(mod.relative_error(out, expected) < TOLERANCE for out in outputs):
            return True
    return False


@check_function("ResBlk uses its shortcut", points=2)
def residual(cls: Callable[..., nn.Module], report: Report) -> None:
    """The shortcut is really added: with the residual branch's last BN zeroed, output = ReLU(shortcut(x))."""
    x = _inputs(8)
    identity_ev = mod.module_evidence(cls, (8, 8, 1), [x], salted_seed(3))

    def identity_case():
        for entry in mod.require(identity_ev, "ablations")["ablations"]:
            if mod.relative_error(entry.get("out"), torch.relu(x)) < TOLERANCE:
                return True
        return False, "no batch norm, once zeroed, leaves ReLU(x): is x added and ReLU applied after the sum?"

    report.check("ResBlk(8, 8, stride=1): zeroed residual branch gives ReLU(x)", identity_case)
    for ch_in, ch_out, stride in [(8, 16, 2), (8, 8, 2)]:
        inputs = _function_inputs(ch_in)
        ev = mod.module_evidence(cls, (ch_in, ch_out, stride), inputs, salted_seed(4))

        def projection_case(ev=ev, inputs=inputs, ch_in=ch_in, ch_out=ch_out, stride=stride):
            mod.require(ev)
            ok = _shortcut_matches(ev, lambda: _reference(ch_in, ch_out, stride), inputs[0], salted_seed(4))
            return ok, "with the residual branch zeroed the output is not ReLU(projection(x))"
        report.check(f"ResBlk({ch_in}, {ch_out}, stride={stride}): zeroed residual branch gives "
                     "ReLU(projection shortcut)", projection_case)


@check_function("ResBlk batch norm in train and eval mode", points=1)
def batchnorm_modes(cls: Callable[..., nn.Module], report: Report) -> None:
    """Batch norm behaves as such: batch statistics in train mode, running statistics in eval mode."""
    for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 2)]:
        x = _inputs(ch_in)
        other = x.clone()
        other[1:] = 3.0 * _inputs(ch_in, seed=5)[1:] + 1.0
        seed = salted_seed(5)
        ev = mod.module_evidence(cls, (ch_in, ch_out, stride), [x, other], seed)

        def batch_dependent(ev=ev):
            ev = mod.require(ev, "train_more")
            return mod.relative_error(ev["train_more"][0][0], mod.as_tensor(ev["train"])[0]) > 1e-3, \
                "in train mode a sample's output should depend on the rest of the batch"

        def batch_independent(ev=ev):
            ev = mod.require(ev, "eval")
            return mod.relative_error(ev["eval"][1][0], mod.as_tensor(ev["eval"][0])[0]) < TOLERANCE, \
                "in eval mode a sample's output should not depend on the rest of the batch"

        def statistics_tracked(ev=ev, seed=seed):
            ev = mod.require(ev, "buffers_after_train")
            start = [{n: evidence.fill_values(seed, i, e["kind"], n, shape) for n, shape in e["buffers"].items()}
                     for i, e in enumerate(ev["structure"])]
            pairs = [(start[i][n], after[n]) for i, after in enumerate(ev["buffers_after_eval"]) for n in after]
            moved = [(start[i][n], after[n]) for i, after in enumerate(ev["buffers_after_train"]) for n in after]
            unchanged = all(torch.equal(a.to(b.dtype), b) for a, b in pairs)
            changed = any(not torch.allclose(a.to(b.dtype), b) for a, b in moved)
            return bool(pairs) and unchanged and changed, \
                "running statistics should move in train mode and stay put in eval mode"

        name = f"ResBlk({ch_in}, {ch_out}, stride={stride})"
        report.check(f"{name}: train mode uses batch statistics", batch_dependent)
        report.check(f"{name}: eval mode uses running statistics", batch_independent)
        report.check(f"{name}: running statistics update only in train mode", statistics_tracked)


@check_function("ResBlk gradients", points=1)
def gradients(cls: Callable[..., nn.Module], report: Report) -> None:
    """Gradients of the output reach the input and every parameter, and are finite."""
    for ch_in, ch_out, stride in [(8, 8, 1), (8, 16, 2)]:
        ev = mod.module_evidence(cls, (ch_in, ch_out, stride), [_inputs(ch_in)], salted_seed(6))

        def to_input(ev=ev):
            mod.require(ev, "grad_params")
            grad = ev["grad_input"]
            ok = isinstance(grad, torch.Tensor) and bool(torch.isfinite(grad).all()) and grad.abs().sum().item() > 0
            return ok, "no finite, non-zero gradient reaches the input"

        def to_parameters(ev=ev):
            mod.require(ev, "grad_params")
            grads = [(ev["structure"][i]["params"][n], g) for i, entry in enumerate(ev["grad_params"])
                     for n, g in entry.items()]
            missing = [tuple(shape) for shape, g in grads
                       if not isinstance(g, torch.Tensor) or not torch.isfinite(g).all()]
            return bool(grads) and not missing, f"parameters of shapes {missing[:3]} get no gradient (unused layers?)"

        name = f"ResBlk({ch_in}, {ch_out}, stride={stride})"
        report.check(f"{name}: gradient reaches the input", to_input)
        report.check(f"{name}: every parameter gets a gradient", to_parameters)


def all_checks(cls: Callable[..., nn.Module]) -> dict[str, float]:
    """Every check with its default points, for a quick self-assessment outside nbgrader."""
    return {check.__name__: check(cls) for check in (shapes, parameter_count, same_function, residual,
                                                      batchnorm_modes, gradients)}


__all__ = ["shapes", "parameter_count", "same_function", "residual", "batchnorm_modes", "gradients",
           "allowed_parameter_counts", "all_checks"]
