"""`python -m course_lib.grading.report ASSIGNMENT [options]`: the report alone (same as `... grading report`)."""

import argparse
import sys

from .cli import add_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading")
    add_parser(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["report", *(sys.argv[1:] if argv is None else argv)])
    return parsed.handler(parsed)


if __name__ == "__main__":
    sys.exit(main())
