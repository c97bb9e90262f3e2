"""Evidence a submission produces for the trusted side: what its functions return, what its modules compute.

Two requests exist. ``call``: the student's function applied to given arguments (its return value, and any
tensor argument it changed in place). ``module``: the student's class (or factory) built with given
arguments, its layers' shapes, its parameters and buffers set to values derived from a seed the trusted
side chose, then its outputs in eval and train mode, the gradients of ``mean(output**2)`` with respect to
the input and every parameter, its buffers after each pass, and its eval output with each normalisation
layer silenced in turn. The same functions run in the student's own process for the visible tests.
Nothing here judges: the trusted side recomputes what the reference gives and compares.
"""

from __future__ import annotations

import signal
from typing import Any, Callable

ERROR_CHARS = 300


def describe_error(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:ERROR_CHARS]


# ----------------------------------------------------------------------------------------------------
# call
# ----------------------------------------------------------------------------------------------------

def call_evidence(fn: Callable, args: list, kwargs: dict) -> dict:
    """``{"value": fn(*args, **kwargs), "mutated": {index: new value}}``, or ``{"error": "..."}``."""
    import torch

    before = [a.clone() if isinstance(a, torch.Tensor) else None for a in args]
    try:
        value = fn(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        return {"error": describe_error(error)}
    mutated = {str(i): a.detach().clone() for i, (a, b) in enumerate(zip(args, before))
               if b is not None and (a.shape != b.shape or not torch.equal(a, b))}
    return {"value": value, "mutated": mutated}


# ----------------------------------------------------------------------------------------------------
# module
# ----------------------------------------------------------------------------------------------------

def build(factory: Callable, args: list, kwargs: dict) -> Any:
    """``factory(*args, **kwargs)`` under a fixed seed; a TypeError unless it is a ``torch.nn.Module``."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = factory(*args, **kwargs)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"it made a {type(model).__name__}, not a torch.nn.Module")
    return model


def layer_kind(module: Any) -> str:
    """The torch.nn class a layer is (``Conv2d``, ``BatchNorm2d``, ``Linear``...), whatever it is called."""
    for klass in type(module).__mro__:
        if (klass.__module__ or "").startswith("torch.nn"):
            return klass.__name__
    return "Module"


def describe(model: Any) -> list[dict]:
    """Every module that holds parameters or floating-point buffers itself, in ``named_modules`` order."""
    entries = []
    for path, module in model.named_modules():
        params = {n: list(p.shape) for n, p in module._parameters.items() if p is not None}
        buffers = {n: list(b.shape) for n, b in module._buffers.items()
                   if b is not None and b.is_floating_point()}
        if params or buffers:
            entries.append({"path": path, "kind": layer_kind(module), "params": params, "buffers": buffers})
    return entries


def _code(text: str) -> int:
    value = 0
    for ch in text:
        value = (value * 131 + ord(ch)) % (1 << 61)
    return value


def fill_values(seed: int, index: int, kind: str, name: str, shape: list[int]) -> Any:
    """The value the trusted side assigns to one parameter or buffer: reproducible from these five facts."""
    import torch

    g = torch.Generator().manual_seed((seed * 1_000_003 + index * 7919 + _code(kind + "." + name)) % (1 << 62))
    size = tuple(shape)
    norm = "Norm" in kind
    if name == "running_var":
        return 0.5 + torch.rand(size, generator=g)
    if name == "running_mean":
        return 0.3 * torch.randn(size, generator=g)
    if name == "weight" and norm:
        return 1.0 + 0.3 * torch.randn(size, generator=g)
    if name == "bias":
        return 0.2 * torch.randn(size, generator=g)
    fan_in = 1
    for n in size[1:]:
        fan_in *= n
    return torch.randn(size, generator=g) * (1.0 / max(1, fan_in)) ** 0.5 * 1.5


def _modules_by_path(model: Any) -> dict[str, Any]:
    return dict(model.named_modules())


def fill(model: Any, structure: list[dict], seed: int) -> None:
    """Set every described parameter and buffer to ``fill_values`` (the trusted side can recompute them)."""
    import torch

    modules = _modules_by_path(model)
    with torch.no_grad():
        for index, entry in enumerate(structure):
            module = modules[entry["path"]]
            for name, shape in {**entry["params"], **entry["buffers"]}.items():
                tensor = module._parameters.get(name)
                if tensor is None:
                    tensor = module._buffers[name]
                tensor.copy_(fill_values(seed, index, entry["kind"], name, shape).to(tensor.dtype))


def _buffers(model: Any, structure: list[dict]) -> list[dict]:
    modules = _modules_by_path(model)
    return [{n: modules[e["path"]]._buffers[n].detach().clone() for n in e["buffers"]} for e in structure]


def _silence(module: Any) -> None:
    """Make a normalisation layer output zero (its affine part zeroed, or a huge variance without one)."""
    if getattr(module, "weight", None) is not None:
        module.weight.zero_()
        if getattr(module, "bias", None) is not None:
            module.bias.zero_()
    elif getattr(module, "running_var", None) is not None:
        module.running_var.fill_(1e30)


def run_module(model: Any, structure: list[dict], inputs: list, reset: Callable[[Any], None]) -> dict:
    """The evidence sequence on a model whose weights ``reset(model)`` sets; stops at the first failure."""
    import torch

    evidence: dict[str, Any] = {"structure": structure}
    stage = "eval"
    try:
        reset(model)
        model.eval()
        with torch.no_grad():
            evidence["eval"] = [model(x.clone()) for x in inputs]
        evidence["buffers_after_eval"] = _buffers(model, structure)
        stage = "train"
        model.train()
        x = inputs[0].clone().requires_grad_(True)
        out = model(x)
        evidence["train"] = out.detach().clone() if isinstance(out, torch.Tensor) else out
        stage = "backward"
        out.float().square().mean().backward()
        evidence["grad_input"] = None if x.grad is None else x.grad.detach().clone()
        modules = _modules_by_path(model)
        evidence["grad_params"] = [
            {n: (None if modules[e["path"]]._parameters[n].grad is None
                 else modules[e["path"]]._parameters[n].grad.detach().clone()) for n in e["params"]}
            for e in structure]
        evidence["buffers_after_train"] = _buffers(model, structure)
        stage = "train on the other inputs"
        with torch.no_grad():
            evidence["train_more"] = [model(x.clone()) for x in inputs[1:]]
        stage = "ablations"
        model.eval()
        ablations = []
        for index, entry in enumerate(structure):
            if "Norm" not in entry["kind"]:
                continue
            reset(model)
            with torch.no_grad():
                _silence(modules[entry["path"]])
                ablations.append({"index": index, "out": model(inputs[0].clone())})
        evidence["ablations"] = ablations
    except Exception as error:  # noqa: BLE001 - the student's code may raise anything
        evidence["error"] = f"{stage}: {describe_error(error)}"
    return evidence


def module_evidence(factory: Callable, args: list, kwargs: dict, inputs: list, seed: int) -> dict:
    """Build the student's module and run the evidence sequence with seed-derived weights."""
    try:
        model = build(factory, args, kwargs)
        structure = describe(model)
    except Exception as error:  # noqa: BLE001
        return {"error": f"build: {describe_error(error)}"}
    return run_module(model, structure, inputs, lambda m: fill(m, structure, seed))


# ----------------------------------------------------------------------------------------------------
# In the sandbox: answer a list of requests
# ----------------------------------------------------------------------------------------------------

class RequestTimeout(BaseException):
    """One request ran past its time (a BaseException, so ``except Exception`` in student code can't eat it)."""


def to_torch(value: Any) -> Any:
    """Arrays (from the channel) as torch tensors, in lists, tuples and dicts alike."""
    import numpy as np
    import torch

    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, list):
        return [to_torch(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_torch(v) for v in value)
    if isinstance(value, dict):
        return {k: to_torch(v) for k, v in value.items()}
    return value


def tensor_to_array(value: Any) -> Any:
    """A torch tensor as a numpy array (bfloat16 and the like as float32); None for anything else."""
    import torch

    if not isinstance(value, torch.Tensor):
        return None
    value = value.detach().cpu()
    if value.is_complex() or value.dtype not in (torch.float16, torch.float32, torch.float64, torch.int8,
                                                 torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool):
        value = value.float() if not value.is_complex() else value.abs().float()
    return value.numpy()


def answer(namespace: dict, requests: list, seconds: float | None) -> list[dict]:
    """Evidence for each request, looked up by name in the notebook's namespace, each within ``seconds``."""
    def on_alarm(signum, frame):
        raise RequestTimeout(f"took longer than {seconds} s")

    signal.signal(signal.SIGALRM, on_alarm)
    results = []
    for request in requests:
        if not isinstance(request, dict):
            results.append({"error": "malformed request"})
            continue
        target = namespace.get(str(request.get("target")))
        if target is None:
            results.append({"error": f"NameError: name {request.get('target')!r} is not defined"})
            continue
        args, kwargs = to_torch(list(request.get("args", []))), to_torch(dict(request.get("kwargs", {})))
        if seconds:
            signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            if request.get("op") == "call":
                results.append(call_evidence(target, args, kwargs))
            elif request.get("op") == "module":
                results.append(module_evidence(target, args, kwargs, to_torch(list(request["inputs"])),
                                               int(request["seed"])))
            else:
                results.append({"error": "unknown request"})
        except BaseException as error:  # noqa: BLE001 - a timeout or a student's BaseException
            results.append({"error": describe_error(error)})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    return results


# ----------------------------------------------------------------------------------------------------
# In the sandbox: a session of single operations for ordinary test cells run on the trusted side
# ----------------------------------------------------------------------------------------------------

class Session:
    """The student's objects the trusted side holds handles to, and the operations it asks for one at a time.

    Operations: ``ref`` (a name of the notebook), ``getattr``, ``setattr``, ``getitem``, ``call``, ``list``
    (iterate), ``len``, ``bool``, ``repr``, ``str``; handles travel as ``{"$h": id}``. A result goes back by value
    when it is plain data of exact types (tensors, numbers, str, bool, None, and tuples, lists and dicts of
    those), else as a new handle ``{"$h": id, "$type": name}``; a raised exception as ``{"error": ...}``.
    A module's parameters are handles, not copies: a test that reads ``p.requires_grad`` or changes one in
    place (``p.requires_grad_(False).zero_()``) reaches the student's module, as it does in plain nbgrader.
    """

    PLAIN = (bool, int, float, str, type(None))

    def __init__(self, namespace: dict) -> None:
        self.namespace = namespace
        self.objects: list[Any] = []

    def _export(self, value: Any, depth: int = 0) -> Any:
        import collections

        import torch

        kind = type(value)
        if kind in self.PLAIN:
            return value
        if kind is torch.Tensor:
            return value.detach().clone()
        if depth < 8 and kind in (tuple, list, torch.Size):
            items = [self._export(v, depth + 1) for v in value]
            return items if kind is list else tuple(items)
        if depth < 8 and kind in (dict, collections.OrderedDict) and all(type(k) is str for k in value):
            return {k: self._export(v, depth + 1) for k, v in value.items()}
        self.objects.append(value)
        return {"$h": len(self.objects) - 1, "$type": type(value).__name__[:100]}

    def _import(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"$h"}:
                return self.objects[int(value["$h"])]
            return {k: self._import(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._import(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._import(v) for v in value)
        return to_torch(value)

    def do(self, op: dict) -> dict:
        kind = op.get("op")
        if kind == "ref":
            name = str(op.get("name"))
            if name not in self.namespace:
                return {"error": f"NameError: name {name!r} is not defined"}
            return {"value": self._export(self.namespace[name])}
        target = self.objects[int(op["of"])]
        if kind == "getattr":
            value = getattr(target, str(op["name"]))
        elif kind == "setattr":
            setattr(target, str(op["name"]), self._import(op["value"]))
            value = None
        elif kind == "getitem":
            value = target[self._import(op["key"])]
        elif kind == "call":
            value = target(*self._import(list(op.get("args", []))), **self._import(dict(op.get("kwargs", {}))))
        elif kind == "list":
            value = list(target)
        elif kind == "len":
            value = len(target)
            value = value if type(value) is int else None
        elif kind == "bool":
            value = bool(target)
        elif kind in ("repr", "str"):
            value = (repr if kind == "repr" else str)(target)
            value = value[:4000] if type(value) is str else None
        else:
            return {"error": "unknown operation"}
        return {"value": self._export(value)}

    def answer(self, op: Any, seconds: float | None) -> dict:
        """One operation within ``seconds``; the student's exception (or a timeout) as an error."""
        def on_alarm(signum, frame):
            raise RequestTimeout(f"took longer than {seconds} s")

        if not isinstance(op, dict):
            return {"error": "malformed operation"}
        signal.signal(signal.SIGALRM, on_alarm)
        if seconds:
            signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return self.do(op)
        except BaseException as error:  # noqa: BLE001 - the student's code may raise anything, a timeout too
            return {"error": describe_error(error)}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
