"""Stand-ins for a student's function or class on the trusted side, so the checks never touch student code.

A check is written once, against a callable. In the student's own notebook it gets the real function or
class. When the class grader scores a hand-in it gets a :class:`Target` instead, used twice: first to
*record* the requests the check makes (each call of a function, each module probe), which travel to the
sandbox; then to *replay* the sandbox's answers to the same check, which then decides as it always does.
The sandbox's answers are plain values and arrays (``sandboxed.channel``); nothing of the student's runs here.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .sandboxed import evidence

_salt: contextvars.ContextVar[int] = contextvars.ContextVar("grading_salt", default=0)  # per thread


@contextlib.contextmanager
def salted(value: int) -> Iterator[None]:
    """Mix ``value`` into every seed the checks draw (``checks.generator``), for one grading run's inputs."""
    token = _salt.set(value)
    try:
        yield
    finally:
        _salt.reset(token)


def salt() -> int:
    """The salt in force: 0 in the student's own notebook, a secret per submission when the class grader runs."""
    return _salt.get()


def submission_salt(secret: bytes, student: str) -> int:
    """A per-submission salt from the run's secret: unpredictable, yet the same for record and replay."""
    return int.from_bytes(hashlib.blake2b(student.encode(), key=secret, digest_size=7).digest(), "big")


def new_secret() -> bytes:
    return secrets.token_bytes(32)


class NotAnswered(RuntimeError):
    """The replay needs an answer the sandbox was never asked for: the check took a path it did not record."""


class Pending:
    """What a call returns while requests are recorded: any use of it fails the case (nobody looks)."""

    def __getattr__(self, name: str) -> Any:
        raise NotAnswered("recording")

    def __iter__(self):
        raise NotAnswered("recording")

    def __getitem__(self, item):
        raise NotAnswered("recording")

    def __bool__(self) -> bool:
        raise NotAnswered("recording")


def _digest(value: Any, h: Any) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        h.update(f"A{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"L{len(value)}".encode())
        for item in value:
            _digest(item, h)
    elif isinstance(value, dict):
        h.update(f"D{len(value)}".encode())
        for key in sorted(value):
            h.update(str(key).encode())
            _digest(value[key], h)
    else:
        h.update(repr(value).encode())


def digest(request: dict) -> str:
    h = hashlib.sha256()
    _digest(request, h)
    return h.hexdigest()


def to_torch(value: Any) -> Any:
    """Arrays from the sandbox as torch tensors (copies: the trusted side owns them)."""
    return evidence.to_torch(value)


class Target:
    """The student's object named ``name``, as the trusted side sees it: requests out, recorded answers in.

    ``code_names`` are the names the student's definition of ``name`` uses, read from the notebook's source
    (checks that ask which functions a hand-in calls use them instead of the code object).
    """

    def __init__(self, name: str, code_names: frozenset[str] = frozenset()) -> None:
        self.name = self.__name__ = self.__qualname__ = name
        self.code_names = code_names
        self.requests: list[dict] = []
        self._answers: dict[str, list[Any]] | None = None

    # -- the two phases ---------------------------------------------------------------------------
    def answer_with(self, results: list[Any]) -> None:
        """Switch to replay: ``results[i]`` answers ``self.requests[i]`` (decoded from the sandbox)."""
        answers: dict[str, list[Any]] = defaultdict(list)
        for request, result in zip(self.requests, results):
            answers[digest(request)].append(result)
        self._answers = answers

    def _exchange(self, request: dict) -> Any:
        if self._answers is None:
            self.requests.append(request)
            return Pending()
        queue = self._answers.get(digest(request))
        if not queue:
            raise NotAnswered(f"no evidence for this {request['op']} of {self.name}")
        return to_torch(queue.pop(0))

    # -- what checks do with the stand-in -----------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """A call of the student's function: its return value, with in-place changes replayed on the arguments."""
        import torch

        answer = self._exchange({"op": "call", "target": self.name, "args": list(args), "kwargs": dict(kwargs)})
        if isinstance(answer, Pending):
            return answer
        if "error" in answer:
            raise StudentError(answer["error"])
        for index, value in (answer.get("mutated") or {}).items():
            arg = args[int(index)] if str(index).isdigit() and int(index) < len(args) else None
            if isinstance(arg, torch.Tensor) and isinstance(value, torch.Tensor):
                with torch.no_grad():
                    if arg.shape == value.shape:
                        arg.copy_(value.to(arg.dtype))
                    else:
                        arg.add_(float("nan"))  # changed shape in place: mark it changed
        return answer.get("value")

    def module(self, args: list, kwargs: dict, inputs: list, seed: int) -> Any:
        """The module evidence (``sandboxed.evidence.module_evidence``) of the student's class or factory."""
        return self._exchange({"op": "module", "target": self.name, "args": list(args), "kwargs": dict(kwargs),
                               "inputs": list(inputs), "seed": int(seed)})

    def __repr__(self) -> str:
        return f"<hand-in {self.name}>"


class StudentError(Exception):
    """The student's code raised this (message as the sandbox reported it)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        kind, _, message = self.text.partition(": ")
        return message or kind
