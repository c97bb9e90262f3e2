"""Per-scale settings of an experiment, with the "tiny" scale derived from "fast" where a module gives none:
the same code path at a toy size (a few hundred images, one epoch, two seeds), which is what the test suite
runs end to end (``python -m course_lib.experiments all --scale tiny``)."""

from __future__ import annotations

from typing import Any

TINY = {"train": 200, "val": 100, "test": 100, "epochs": 1}
TINY_STEPS = 30


def shrink(fast: dict[str, Any]) -> dict[str, Any]:
    """The tiny version of a "fast" setting: data, epochs, steps and seeds cut to toy size, the rest kept."""
    out = dict(fast)
    for key, value in TINY.items():
        if key in out and out[key] is not None:
            out[key] = min(out[key], value)
    if "steps" in out:
        out["steps"] = {arm: min(steps, TINY_STEPS) for arm, steps in out["steps"].items()}
    if "seeds" in out:
        out["seeds"] = type(out["seeds"])(list(out["seeds"])[:2])
    return out


class Settings(dict):
    """A module's SETTINGS: {scale: settings}; "tiny" is derived from "fast" unless the module sets it."""

    def __missing__(self, scale: str) -> dict[str, Any]:
        if scale == "tiny" and "fast" in self:
            return shrink(self["fast"])
        raise KeyError(scale)

    def __contains__(self, scale: object) -> bool:
        return super().__contains__(scale) or (scale == "tiny" and super().__contains__("fast"))
