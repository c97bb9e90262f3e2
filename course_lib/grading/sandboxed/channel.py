"""The one channel between the sandbox and the trusted side: JSON frames, and values with tensors as raw bytes.

A value tree is JSON made of None, bool, int, float, str, lists, dicts with str keys, and three tagged
forms: ``{"$t": i}`` (the i-th array), ``{"$tuple": [...]}`` and ``{"$obj": name}`` (something that is
neither, by its type's name). The arrays travel as one base64 buffer of their C-ordered bytes, with a list of
(dtype, shape, offset) entries. ``decode`` is what the trusted side uses: no pickle and no archive format to
parse, only the plain little-endian numeric dtypes of ``ALLOWED_DTYPES``, every entry checked against the
buffer, sizes and depth bounded. (An ``.npz`` archive did the same job at ten times the cost: its zip
members and ``.npy`` headers took about 60 ms per submission's evidence.)
"""

from __future__ import annotations

import base64
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
ALLOWED_DTYPES = {np.dtype(t).newbyteorder("<").str: np.dtype(t).newbyteorder("<")
                  for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")}
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
    """A JSON-able message holding ``value``: the tree, the arrays' entries and their bytes in base64.

    ``to_array`` turns library objects (torch tensors) into numpy arrays, or returns None for others.
    """
    entries: list[list] = []
    chunks: list[bytes] = []
    offset = 0

    def add(arr: np.ndarray) -> dict:
        nonlocal offset
        arr = np.asarray(arr, dtype=arr.dtype.newbyteorder("<"))  # keeps 0-d arrays 0-d
        data = arr.tobytes(order="C")
        entries.append([arr.dtype.str, list(arr.shape), offset])
        chunks.append(data)
        offset += len(data)
        return {"$t": len(entries) - 1}

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
            return add(v if isinstance(v, np.ndarray) else arr)
        if isinstance(v, tuple):
            return {"$tuple": [walk(x, depth + 1) for x in v]}
        if isinstance(v, list):
            return [walk(x, depth + 1) for x in v]
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {k: walk(x, depth + 1) for k, x in v.items()}
        return {"$obj": type(v).__name__[:100]}

    tree = walk(value, 0)
    return {"tree": tree, "arrays": entries, "data": base64.b64encode(b"".join(chunks)).decode()}


def _arrays(entries: Any, raw: bytes) -> list[np.ndarray]:
    """The arrays an ``encode`` message lists, each a copy of its checked slice of ``raw``."""
    if not isinstance(entries, list):
        raise ChannelError("the array list is missing")
    arrays = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], list) and len(entry[1]) <= 32 and isinstance(entry[2], int)):
            raise ChannelError("malformed array entry")
        dtype = ALLOWED_DTYPES.get(entry[0])
        if dtype is None:
            raise ChannelError(f"array of dtype {entry[0][:20]!r} is not accepted")
        shape, offset = entry[1], entry[2]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise ChannelError("malformed array shape")
        count = math.prod(shape)
        end = offset + count * dtype.itemsize
        if offset < 0 or end > len(raw):
            raise ChannelError("an array lies outside the data")
        arrays.append(np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(shape).copy())
    return arrays


def decode(message: Any, limit: int = MAX_EVIDENCE) -> Any:
    """The value tree of an ``encode`` message with arrays in place of ``{"$t": i}``; strict, no pickle."""
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise ChannelError("not an evidence message")
    if len(message["data"]) > limit * 4 // 3 + 4:
        raise ChannelError(f"evidence of more than {limit} bytes exceeds the limit")
    try:
        raw = base64.b64decode(message["data"], validate=True)
    except ValueError:
        raise ChannelError("the data is not base64") from None
    if len(raw) > limit:
        raise ChannelError(f"evidence of {len(raw)} bytes exceeds the {limit}-byte limit")
    arrays = _arrays(message.get("arrays"), raw)

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
                index = v["$t"]
                if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(arrays):
                    raise ChannelError("reference to a missing array")
                return arrays[index]
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
