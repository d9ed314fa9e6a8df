"""``pfa report``: render reports from an earlier scan's case store (never the image)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from forensics.commands.base import Command
from forensics.commands.case import open_existing_case
from forensics.errors import InputError
from forensics.report.base import ReportOptions, ReportWriter, load_writers, write_all, writer

EPILOG = """\
formats (--format, repeatable or comma-separated):
{formats}
examples:
  pfa report out/ --format html -o printer.html --banner "CASE 2026-117 — CONFIDENTIAL"
  pfa report out/case.sqlite --format csv -o sheets/ --bom
  pfa report out/ --format json,jsonl -o exports/
"""


class ReportCommand(Command):
    name = "report"
    order = 70
    help = "write reports (json, jsonl, csv, html, …) from an earlier scan's case"
    description = (
        "Render reports from the case store of an earlier pfa scan (its output folder or its "
        "case.sqlite); the image is not read again. With one --format, -o is the file (a "
        "folder for csv); with several, -o is a folder that gets each under its default name. "
        "Without -o, reports go beside case.sqlite. Values are masked unless the case was "
        "scanned with --reveal."
    )

    epilog = EPILOG  # completed with the registered formats in add_arguments

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.epilog = _epilog()  # the writers known at run time, plug-ins included
        parser.add_argument(
            "target", type=Path, help="the output folder or case.sqlite of an earlier pfa scan"
        )
        parser.add_argument(
            "-f",
            "--format",
            dest="formats",
            action="append",
            metavar="FORMAT",
            help="report format(s): " + ", ".join(sorted(load_writers())) + " (default json)",
        )
        parser.add_argument(
            "-o",
            "--output",
            type=Path,
            help="the report file (a folder for csv, or for several formats); default: beside "
            "case.sqlite, under each format's default name",
        )
        parser.add_argument(
            "--banner",
            metavar="TEXT",
            help="a classification or case-number line shown at the top and bottom (html)",
        )
        parser.add_argument(
            "--bom", action="store_true", help="CSV: start each file with a UTF-8 BOM (Excel)"
        )
        parser.add_argument(
            "--image",
            dest="image_ids",
            type=int,
            action="append",
            metavar="ID",
            help="only this image of the case (repeatable; default: every image)",
        )

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        formats: list[str] = []
        for value in args.formats or ["json"]:
            formats += [f.strip() for f in value.split(",") if f.strip()]
        plugins = [writer(name) for name in dict.fromkeys(formats)]
        options = ReportOptions(
            image_ids=tuple(args.image_ids) if args.image_ids else None,
            banner=args.banner,
            bom=args.bom,
        )
        output: Path | None = args.output
        with open_existing_case(args.target) as case:
            folder = case.path.parent
            if output is not None and len(plugins) > 1:
                if output.exists() and not output.is_dir():
                    raise InputError(f"output {output} exists and is not a folder")
                output.mkdir(parents=True, exist_ok=True)
                folder = output
            targets: list[tuple[ReportWriter, Path]] = []
            for plugin in plugins:
                dest = folder / plugin.default_name
                if output is not None and len(plugins) == 1:
                    dest = output
                    if dest.is_dir() and plugin.name != "csv":
                        dest = dest / plugin.default_name
                    elif not dest.parent.is_dir():
                        raise InputError(f"cannot write {dest}: no folder {dest.parent}")
                targets.append((plugin, dest))
            written = write_all(case, targets, options, workers=os.cpu_count() or 1)
        for path in written:
            console.print(f"wrote {path}", markup=False, highlight=False)
        return 0


def _epilog() -> str:
    lines = [f"  {cls.name:10s} {cls.description}" for _, cls in sorted(load_writers().items())]
    return EPILOG.format(formats="\n".join(lines))
