"""Print parameters and multiply-adds of every reference model at its natural input size.

Usage: python bench/model_table.py [--device meta|cpu|cuda] [MODEL ...]
"meta" (the default) traces shapes without weights: exact counts in about two seconds.
"""

from __future__ import annotations

import argparse
import time

from course_lib.summary import REFERENCE_MODELS, model_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help=f"models to list (default: all of {', '.join(REFERENCE_MODELS)})")
    parser.add_argument("--device", default="meta", help="meta (shapes only), cpu or cuda")
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        table = model_table(args.models or None, device=args.device)
    except ValueError as error:
        parser.error(str(error))
    print(table)
    print(f"\n{len(table)} models on {args.device} in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
