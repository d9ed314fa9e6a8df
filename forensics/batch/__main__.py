"""``python -m forensics.batch``: the batch command on its own (same as ``pfa batch``)."""

from __future__ import annotations

import argparse
import logging
import sys

from rich.console import Console

from forensics.batch.cli import EXIT_INPUT_ERROR, add_batch_arguments, run_batch_command
from forensics.errors import InputError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pfa batch", description="scan many images into one case")
    add_batch_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        return run_batch_command(args, Console())
    except InputError as exc:
        print(f"pfa: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt as exc:
        print(f"pfa: interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
