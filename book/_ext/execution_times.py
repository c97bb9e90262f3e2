"""Print how long each chapter took to execute, read from the book's jupyter-cache.

`make book` calls it after the build: `python book/_ext/execution_times.py _build/.jupyter_cache`.
The times are those of each notebook's last real execution (a cached rebuild executes nothing,
so its times are the earlier run's, and the line says when that was).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def execution_times(cache_dir: Path) -> list[tuple[str, float, str]]:
    """(notebook path, seconds, when executed) of the newest record of each notebook in the cache.

    Where book/_ext/execute_chapters.py left every chapter up to date, its notes beside the cache say
    the same without opening the cache (which takes a second or two of imports); else the cache is read.
    """
    notes = cache_dir / "course-executions.json"
    if notes.is_file():
        state = json.loads(notes.read_text())
        if state.get("clean") and state.get("executed"):
            return [(uri, float(seconds), state["executed"].get(uri, "?"))
                    for uri, seconds in sorted(state["seconds"].items()) if uri in state["executed"]]
    from jupyter_cache import get_cache

    if not (cache_dir / "global.db").is_file():
        raise FileNotFoundError(f"no jupyter-cache in {cache_dir}: build the book first (make book)")
    newest: dict[str, tuple[float, str]] = {}
    for record in sorted(get_cache(str(cache_dir)).list_cache_records(), key=lambda r: r.created):
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            newest[record.uri] = (float(seconds), record.created.strftime("%Y-%m-%d %H:%M"))
    return [(uri, seconds, when) for uri, (seconds, when) in sorted(newest.items())]


def report(cache_dir: Path, root: Path = Path.cwd()) -> str:
    """A table of execution times, one notebook a line, and their total."""
    rows = execution_times(cache_dir)
    lines = ["execution time per notebook (jupyter-cache):"]
    for uri, seconds, when in rows:
        path = Path(uri)
        name = path.relative_to(root) if path.is_relative_to(root) else path
        lines.append(f"  {seconds:7.1f} s  {name}  (executed {when})")
    lines.append(f"  {sum(seconds for _, seconds, _ in rows):7.1f} s  in all, {len(rows)} notebooks")
    return "\n".join(lines)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "_build/.jupyter_cache")
    try:
        print(report(folder.resolve()))
    except FileNotFoundError as error:
        sys.exit(f"execution_times: {error}")
