"""``pfa batch``: many images into one case (forensics/batch, docs/batch.md)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.console import Console

from forensics.batch.cli import add_batch_arguments, run_batch_command
from forensics.commands.base import Command

EPILOG = """\
exit codes: 0 no residual data on any image; 1 residual or sensitive data on an image;
            2 usage or input error, or an image that could not be scanned (listed on stderr).
examples:
  pfa batch images/ -o case/
  pfa batch manifest.csv -o case/ --workers 8
  pfa batch images/ -o case/ --scheduler tcp://scheduler.lab:8786
"""


class BatchCommand(Command):
    name = "batch"
    order = 80  # after the single-image commands (tests/commands/test_layout.py)
    help = "scan a folder or manifest of images into one case (resumable; local or Dask)"
    description = (
        "Scan every image under a folder (raw files, split sets, E01 sets) or named by a "
        "manifest CSV into one case OUT/case.sqlite, and write OUT/fleet.csv and OUT/fleet.json "
        "(one row per device). A rerun skips complete images and resumes an interrupted batch."
    )
    epilog = EPILOG

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_batch_arguments(parser)

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        return run_batch_command(args, console)
