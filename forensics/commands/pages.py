"""``pfa pages``: one job's pages rendered and written as PNG images."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from forensics.commands.base import Command
from forensics.commands.extract import (
    add_job_option,
    check_output_folder,
    job_stem,
    read_job,
    write_pages,
)
from forensics.commands.options import add_case_target, add_output_folder
from forensics.errors import InputError


class PagesCommand(Command):
    name = "pages"
    order = 50
    help = "write one job's pages as PNG images"
    description = (
        "Render a job's pages (raster, fax and scan images; PCL 5 raster; PCL XL; "
        "PostScript and PDF through Ghostscript when it is installed) and write them as PNG to "
        "DIR, at the job's resolution or at most --dpi."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_case_target(parser)
        add_job_option(parser)
        add_output_folder(parser)
        parser.add_argument(
            "--dpi",
            type=int,
            default=None,
            metavar="N",
            help="scale pages down to at most N dpi (default: the job's own resolution)",
        )

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        output: Path = args.output
        check_output_folder(output)
        if args.dpi is not None and args.dpi < 10:
            raise InputError("--dpi must be at least 10")
        job, _, raw = read_job(args, argv)
        if raw is None:
            raise InputError(f"job {args.job} has no bytes of its own in the evidence to render")
        output.mkdir(parents=True, exist_ok=True)
        written = write_pages(console, job["format"], raw, output, job_stem(job), args.dpi)
        for path in written:
            console.print(f"wrote {path}")
        if not written:
            console.print(f"no pages rendered for {job['format']} job {job['job_id']}")
        return 0
