"""The channel between sandbox and trusted side, and what the sandbox cannot reach.

The channel must refuse anything but plain arrays and JSON (no pickle, bounded sizes, known dtypes); the
sandbox must not be able to import or read the course's reference code and checks, whatever it tries.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from course_lib.grading.sandboxed import channel, evidence

import sandbox_prereqs

REPO = Path(__file__).resolve().parents[1]


def test_values_and_tensors_round_trip() -> None:
    value = {"a": [1, 2.5, None, "text"], "t": torch.arange(6.0).reshape(2, 3), "pair": (torch.ones(2), 3),
             "nan": float("nan"), "other": object()}
    decoded = channel.decode(channel.encode(value, evidence.tensor_to_array))
    assert decoded["a"] == [1, 2.5, None, "text"]
    assert channel.decode(channel.encode(torch.tensor(2.0), evidence.tensor_to_array)).shape == ()
    assert np.array_equal(decoded["t"], np.arange(6.0).reshape(2, 3))
    assert isinstance(decoded["pair"], tuple) and decoded["pair"][1] == 3
    assert np.isnan(decoded["nan"])
    assert isinstance(decoded["other"], channel.Opaque) and decoded["other"].type_name == "object"


def _message(entries: list, data: bytes, tree: object) -> dict:
    return {"tree": tree, "arrays": entries, "data": base64.b64encode(data).decode()}


def test_pickled_objects_are_refused() -> None:
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    pickled = io.BytesIO()
    np.save(pickled, np.array([Boom()], dtype=object), allow_pickle=True)
    message = _message([["|O", [1], 0]], pickled.getvalue(), {"$t": 0})
    with pytest.raises(channel.ChannelError, match="not accepted"):
        channel.decode(message)


@pytest.mark.parametrize("message", [
    _message([], b"", {"$t": 0}),                                    # a reference to no array
    _message([["<f4", [4], 0]], b"\0" * 8, {"$t": 0}),               # 16 bytes asked, 8 there
    _message([["<f4", [1], -4]], b"\0" * 8, {"$t": 0}),              # before the buffer
    _message([["<f4", [-1, 2], 0]], b"\0" * 8, {"$t": 0}),           # a negative dimension
    _message([[">f4", [2], 0]], b"\0" * 8, {"$t": 0}),               # big-endian is not produced here
    _message([["<f4", [2], 0]], b"\0" * 8, {"$t": True}),            # a bool is not an index
    _message([["<f4", [2]]], b"\0" * 8, {"$t": 0}),                  # an entry without its offset
    {"tree": 1, "arrays": [], "data": "not base64!"},
    {"tree": 1},
    "not a dict",
])
def test_malformed_messages_are_refused(message) -> None:
    with pytest.raises(channel.ChannelError):
        channel.decode(message)


def test_arrays_come_back_exact_and_writable() -> None:
    values = {"f": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([True, False]),
              "i": np.array(7, dtype=np.int64), "empty": np.zeros((0, 3))}
    decoded = channel.decode(channel.encode(values))
    for key, value in values.items():
        assert decoded[key].dtype == value.dtype and decoded[key].shape == value.shape
        assert np.array_equal(decoded[key], value)
        assert decoded[key].flags.writeable


def test_oversized_evidence_is_refused() -> None:
    message = channel.encode(np.zeros(1 << 20), None)
    with pytest.raises(channel.ChannelError, match="exceeds"):
        channel.decode(message, limit=1 << 10)


def test_deep_nesting_is_cut() -> None:
    value: list = []
    for _ in range(50):
        value = [value]
    with pytest.raises(channel.ChannelError):
        channel.decode({**channel.encode(0), "tree": value})


needs_sandbox = sandbox_prereqs.needs()  # skipped without unshare; failed instead under COURSE_REQUIRE_SANDBOX=1

ATTEMPTS = r'''
import importlib, os, sys
found = {}
for name in ("course_lib", "course_lib.models", "course_lib.grading.assignments.resblk"):
    try:
        importlib.import_module(name)
        found[name] = "IMPORTED"
    except Exception as exc:
        found[name] = type(exc).__name__
found["sys.modules"] = sorted(m for m in sys.modules if "course" in m or m.startswith("sandboxed"))
found["files"] = [p for p in PATHS if os.path.exists(p)]
print("ATTEMPTS", found)
'''
PATHS = [str(REPO / "course_lib" / "models" / "resnet.py"), str(REPO / "course_lib" / "grading" / "assignments" / "resblk.py"),
         str(REPO / "solutions" / "resblk" / "resblk.ipynb"), str(REPO / "gradebook.db")]


@needs_sandbox
def test_the_sandbox_cannot_import_or_read_the_reference_or_the_checks() -> None:
    from course_lib.grading.autograde.sandbox import Limits, Sandbox

    with Sandbox(hide=[str(REPO)]) as sandbox:
        result = sandbox.run([f"PATHS = {PATHS!r}\n" + ATTEMPTS], {}, Limits(timeout=120, cell_timeout=100,
                                                                                memory_mb=4096))
    text = "".join(o.get("text", "") for o in result.cells[0]["outputs"])
    found = eval(text.split("ATTEMPTS ", 1)[1])  # our own print of plain literals
    assert all(found[name] == "ModuleNotFoundError" for name in ("course_lib", "course_lib.models",
                                                                  "course_lib.grading.assignments.resblk")), found
    assert not any(m.startswith("course_lib") for m in found["sys.modules"]), found
    assert found["files"] == [], found


@needs_sandbox
def test_evidence_comes_back_for_the_students_objects_only() -> None:
    from course_lib.grading.autograde.sandbox import Limits, Sandbox

    cell = "import torch\ndef double(x):\n    x.mul_(2)\n    return x.sum()\n"
    requests = channel.encode([{"op": "call", "target": "double", "args": [torch.ones(3)], "kwargs": {}},
                               {"op": "call", "target": "undefined", "args": [], "kwargs": {}}],
                              evidence.tensor_to_array)
    with Sandbox(hide=[str(REPO)]) as sandbox:
        result = sandbox.run([cell], {}, Limits(timeout=120, cell_timeout=100, memory_mb=4096), requests)
    first, second = channel.decode(result.evidence)
    assert float(first["value"]) == 6.0 and np.array_equal(first["mutated"]["0"], np.full(3, 2.0, np.float32))
    assert "NameError" in second["error"]
