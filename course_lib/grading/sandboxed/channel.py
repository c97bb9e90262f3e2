"""The one channel between the sandbox and the trusted side: JSON frames, and values with tensors as npz.

A value tree is JSON made of None, bool, int, float, str, lists, dicts with str keys, and three tagged
forms: ``{"$t": key}`` (an array stored in the npz archive), ``{"$tuple": [...]}`` and ``{"$obj": name}``
(something that is neither, by its type's name). ``decode`` is what the trusted side uses: it reads the
archive with ``allow_pickle=False``, accepts only plain numeric dtypes, and bounds sizes and depth.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import select
import struct
import time
from typing import Any, Callable

import numpy as np

MAX_FRAME = 32 << 20        # one frame (one cell's outputs, or the job)
MAX_EVIDENCE = 64 << 20     # all arrays of one evidence answer
MAX_DEPTH = 12
MAX_STRING = 4000
ALLOWED_DTYPES = {np.dtype(t) for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64",
                                        "uint8", "bool")}
_HEADER = struct.Struct("!I")


class ChannelError(ValueError):
    """A message from the sandbox that breaks the format: the evidence it carried counts as missing."""


# ----------------------------------------------------------------------------------------------------
# Frames
# ----------------------------------------------------------------------------------------------------

def write_frame(fd: int, message: dict) -> None:
    data = json.dumps(message, default=str).encode()
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks, need = [], size
    while need:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(need, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None, limit: int = MAX_FRAME) -> dict | None:
    """Read one length-prefixed JSON frame; None at end of file. Raises TimeoutError, ValueError (too big)."""
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise ValueError(f"output of {size} bytes exceeds the {limit}-byte limit")
    body = _read_exact(fd, size, deadline)
    if body is None:
        return None
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("malformed message")
    return message


# ----------------------------------------------------------------------------------------------------
# Values with arrays
# ----------------------------------------------------------------------------------------------------

def encode(value: Any, to_array: Callable[[Any], np.ndarray | None] | None = None) -> dict:
    """A JSON-able message holding ``value``: the tree and a base64 npz archive of its arrays.

    ``to_array`` turns library objects (torch tensors) into numpy arrays, or returns None for others.
    """
    arrays: dict[str, np.ndarray] = {}

    def walk(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return {"$obj": "too deeply nested"}
        if v is None or isinstance(v, (bool, str)):
            return v[:MAX_STRING] if isinstance(v, str) else v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and not math.isfinite(v):
                return {"$float": repr(v)}
            return v
        if isinstance(v, np.ndarray) or (to_array is not None and (arr := to_array(v)) is not None):
            arr = v if isinstance(v, np.ndarray) else arr
            key = f"a{len(arrays)}"
            arrays[key] = np.array(arr, order="C", copy=True)  # keeps 0-d arrays 0-d
            return {"$t": key}
        if isinstance(v, tuple):
            return {"$tuple": [walk(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {k: walk(x, depth + 1) for k, x in v.items()}
        return {"$obj": type(v).__name__[:100]}

    tree = walk(value, 0)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return {"tree": tree, "npz": base64.b64encode(buffer.getvalue()).decode()}


def decode(message: Any, limit: int = MAX_EVIDENCE) -> Any:
    """The value tree of an ``encode`` message with arrays in place of ``{"$t": key}``; strict, no pickle."""
    if not isinstance(message, dict) or not isinstance(message.get("npz"), str):
        raise ChannelError("not an evidence message")
    raw = base64.b64decode(message["npz"], validate=True)
    if len(raw) > limit:
        raise ChannelError(f"evidence of {len(raw)} bytes exceeds the {limit}-byte limit")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            arrays = {}
            for key in archive.files:
                arr = archive[key]
                if arr.dtype not in ALLOWED_DTYPES:
                    raise ChannelError(f"array of dtype {arr.dtype} is not accepted")
                arrays[key] = arr
    except ChannelError:
        raise
    except Exception as exc:  # noqa: BLE001 - anything malformed is the sandbox's fault
        raise ChannelError(f"unreadable arrays: {type(exc).__name__}") from None

    def walk(v: Any, depth: int) -> Any:
        if depth > MAX_DEPTH + 2:
            raise ChannelError("too deeply nested")
        if v is None or isinstance(v, (bool, int, float)):
            return v
        if isinstance(v, str):
            return v[:MAX_STRING]
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict):
            if set(v) == {"$t"}:
                if v["$t"] not in arrays:
                    raise ChannelError("reference to a missing array")
                return arrays[v["$t"]]
            if set(v) == {"$tuple"} and isinstance(v["$tuple"], list):
                return tuple(walk(x, depth + 1) for x in v["$tuple"])
            if set(v) == {"$obj"}:
                return Opaque(str(v["$obj"])[:100])
            if set(v) == {"$float"}:
                return float(v["$float"]) if v["$float"] in ("nan", "inf", "-inf") else float("nan")
            return {str(k): walk(x, depth + 1) for k, x in v.items()}
        raise ChannelError("unexpected value in evidence")

    return walk(message.get("tree"), 0)


class Opaque:
    """Stands for an object that came back from the sandbox as neither number, string, array nor container."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"
