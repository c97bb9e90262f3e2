"""Results files of the longer runs: the numbers plus where they came from (command, commit, device, time)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO / "book" / "results"


def current_commit() -> str:
    """The checked-out commit, with '+changes' when tracked files differ from it (the code that ran)."""
    return _commit()


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "") if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device() -> str:
    """The machine the numbers come from: the GPU's name, or the CPU and torch's thread count."""
    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def provenance(started: float, argv: list[str] | None = None, commit: str | None = None) -> dict[str, Any]:
    """Who made these numbers: command, commit (as the run started), device, versions, start and wall time."""
    command = "python -m course_lib.experiments " + " ".join(shlex.quote(a) for a in (argv or [])[1:])
    return {
        "command": command.strip(),
        "commit": commit or _commit(),
        "device": device(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "started": _dt.datetime.fromtimestamp(started, _dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(time.time() - started, 1),
    }


def path_for(name: str, scale: str) -> Path:
    return RESULTS_DIR / f"{name}-{scale}.json"


def save(name: str, scale: str, results: dict[str, Any], *, started: float, argv: list[str] | None = None,
         out: str | Path | None = None, commit: str | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Write ``results`` (JSON-able: numbers per seed, seeds, epochs, data) with provenance; return the path.

    ``extra`` goes into the provenance too (the resumable runner: its runs folder, runs loaded and trained).
    The per-run provenance stays in each record; here the commits of all runs and their CPU seconds are summed up.
    """
    path = Path(out) if out else path_for(name, scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    prov = {**provenance(started, argv, commit), **(extra or {})}
    records = [r for arm in results.get("arms", {}).values() if isinstance(arm, list) for r in arm if isinstance(r, dict)]
    per_run = [r["provenance"] for r in records if "provenance" in r]
    if per_run:
        prov["run_commits"] = sorted({p["commit"] for p in per_run})
        measured = [p for p in per_run if p.get("cpu_seconds") is not None]
        prov["cpu_seconds_of_runs"] = round(sum(p["cpu_seconds"] for p in measured), 1)
        prov["wall_seconds_of_runs"] = round(sum(p["wall_seconds"] or 0 for p in per_run), 1)
        imported = [p for p in per_run if p.get("imported_from")]
        if imported:
            prov["runs_imported"] = {"count": len(imported), "from": sorted({p["imported_from"] for p in imported}),
                                     "note": "their CPU seconds were not measured; cpu_seconds_of_runs counts the others"}
    payload = {"experiment": name, "scale": scale, "provenance": prov, "results": results}
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    os.replace(partial, path)
    return path


def add_section(name: str, scale: str, key: str, value: Any, *, out: str | Path | None = None,
                commit: str | None = None) -> Path:
    """Put ``value`` under ``results[key]`` of a stored file (a measurement made later, e.g. the cost),
    with when and at which commit it was added; the runs and their provenance stay as they were."""
    path = Path(out) if out else path_for(name, scale)
    payload = json.loads(path.read_text())
    value = {**value, "added": {"commit": commit or _commit(),
                                "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}}
    payload["results"][key] = value
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    os.replace(partial, path)
    return path


def load(name: str, scale: str = "medium") -> dict[str, Any]:
    """The stored results of ``name`` at ``scale``; FileNotFoundError says how to make them."""
    path = path_for(name, scale)
    if not path.exists():
        raise FileNotFoundError(f"no stored results {path.relative_to(REPO)}: run "
                                f"`python -m course_lib.experiments {name} --scale {scale}`")
    return json.loads(path.read_text())


def provenance_line(stored: dict[str, Any]) -> str:
    """One line for the page: scale, device, commit, date, wall time and the command that reproduces it."""
    p = stored["provenance"]
    # a file rebuilt from stored runs took seconds itself: the runs' own time is what reproducing it costs
    seconds = max(p["wall_seconds"], p.get("wall_seconds_of_runs") or 0.0)
    return (f"Stored {stored['scale']}-scale results: {p['device']}, torch {p['torch']}, commit {p['commit']}, "
            f"{p['started'][:10]}, {seconds / 60:.1f} min. Reproduce: `{p['command']}`")
