"""``python -m course_lib.experiments NAME [--scale fast|medium|full]``: run one experiment, store its results."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time

from . import SCALES, available, store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.experiments", description=__doc__)
    parser.add_argument("name", nargs="?", help="experiment to run (omit to list them)")
    parser.add_argument("--scale", choices=SCALES, default=None,
                        help="fast (the chapter's live run), medium (CPU, minutes) or full (GPU); "
                             "default: full when COURSE_FULL=1, else medium")
    parser.add_argument("--out", default=None, help="results file (default: book/results/NAME-SCALE.json)")
    args = parser.parse_args(argv)
    names = available()
    if not args.name:
        print("experiments:", ", ".join(names))
        return 0
    if args.name not in names:
        parser.error(f"unknown experiment {args.name!r}; choose one of: {', '.join(names)}")
    scale = args.scale or ("full" if os.environ.get("COURSE_FULL") == "1" else "medium")
    module = importlib.import_module(f"{__package__}.{args.name}")
    started, commit = time.time(), store.current_commit()
    results = module.run(scale)
    path = store.save(args.name, scale, results, started=started, argv=sys.argv, out=args.out, commit=commit)
    print(f"{args.name} ({scale}): {time.time() - started:.0f} s, results in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
