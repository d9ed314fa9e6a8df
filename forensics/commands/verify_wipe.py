"""``pfa verify-wipe``: was a medium sanitised? Wiped, encrypted, or residual data left."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from forensics.commands.base import Command
from forensics.commands.options import add_image_argument
from forensics.diskmap import CLASSES
from forensics.errors import InputError
from forensics.evidence.image import format_size
from forensics.progress import RichProgress
from forensics.scan import open_evidence
from forensics.wipe import WipeResult, draw_map, parse_percent, verify_wipe

WIPE_EPILOG = """\
exit codes: 0 wiped or encrypted; 1 residual data; 2 usage or input error.
examples:
  pfa verify-wipe printer.dd
  pfa verify-wipe printer.E01 --sample 10 --seed 42 --map printer.png
  pfa verify-wipe printer.dd --json > wipe.json
"""


class VerifyWipeCommand(Command):
    name = "verify-wipe"
    order = 60
    help = "verify that a medium was sanitised (wiped, encrypted, or residual data left)"
    description = (
        "Read the medium (all of it, or a seeded random sample of its sectors that "
        "always includes the first and the last: NIST SP 800-88 Rev. 1 §4.7.1) and classify "
        "every 512-byte sector read: zero, constant, pattern, random (high entropy) or "
        "structured. Verdict: wiped, encrypted or residual-data, with the regions that still "
        "hold structure (masked previews unless --reveal). See docs/verify-wipe.md."
    )
    epilog = WIPE_EPILOG

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_image_argument(parser)
        parser.add_argument(
            "--sample",
            metavar="PERCENT",
            help="read a random sample of this share of the sectors (e.g. 10) instead of all",
        )
        parser.add_argument(
            "--seed",
            type=int,
            metavar="N",
            help="seed of the sample (with --sample; default: a random seed, reported)",
        )
        parser.add_argument(
            "--map", type=Path, metavar="PNG", help="draw the medium, coloured by class, as a PNG"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--reveal",
            action="store_true",
            help="unmasked previews of residual regions (for the examiner only)",
        )
        parser.add_argument(
            "-q", "--quiet", action="store_true", help="print nothing; exit code only"
        )

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        percent = None if args.sample is None else parse_percent(args.sample)
        if args.seed is not None and percent is None:
            raise InputError("--seed chooses the sample: use it with --sample")
        if args.seed is not None and args.seed < 0:
            raise InputError(f"--seed must not be negative, not {args.seed}")
        map_path: Path | None = args.map
        if map_path is not None and (map_path.is_dir() or not map_path.parent.is_dir()):
            raise InputError(
                f"cannot write the map to {map_path}: not a file in an existing folder"
            )
        with open_evidence(args.image) as image:
            result = verify_wipe(
                image,
                sample_percent=percent,
                seed=args.seed,
                reveal=args.reveal,
                progress=RichProgress(Console(stderr=True)),
            )
        if map_path is not None:
            draw_map(result, map_path)
        if args.json:
            document = result.to_dict()
            document["map"] = None if map_path is None else str(map_path)
            print(json.dumps(document, indent=2, ensure_ascii=False))
        elif not args.quiet:
            if not console.is_terminal:
                console = Console(width=160)  # piped to a file or a pager: no terminal to fit
            print_wipe(console, result, map_path)
        return result.verdict.exit_code


def print_wipe(console: Console, result: WipeResult, map_path: Path | None) -> None:
    """The result of pfa verify-wipe as tables."""
    console.print(
        f"[bold]{result.path}[/]  {result.image_format}  {format_size(result.size)} "
        f"({result.size} bytes)  partition scheme: {result.layout.scheme}"
    )
    if result.mode == "full":
        console.print(f"read: every sector ({result.sectors_read} of {result.sectors_total})")
    else:
        console.print(
            f"read: {result.percent:g} % sample, seed {result.seed}: {result.sectors_read} of "
            f"{result.sectors_total} sectors (first and last included: "
            f"{'yes' if result.first_and_last_read else 'NO'})"
        )
    counts = Table(title="sectors by class")
    counts.add_column("class")
    counts.add_column("sectors", justify="right")
    counts.add_column("share", justify="right")
    for name in CLASSES:
        share = 100 * result.counts[name] / result.sectors_read if result.sectors_read else 0
        counts.add_row(name, str(result.counts[name]), f"{share:.1f} %")
    if result.unreadable_sectors:
        counts.add_row("[bold]unreadable[/]", str(result.unreadable_sectors), "")
    console.print(counts)
    kinds = {k: v for k, v in result.kinds.items() if v}
    if kinds:
        console.print("structured: " + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    if result.fills:
        console.print("fills: " + "; ".join(f"{f.label()} × {f.sectors}" for f in result.fills[:6]))
    volumes = Table(title="volumes")
    for col in ("#", "kind", "offset", "length", "description", *CLASSES):
        volumes.add_column(col, justify="right" if col in CLASSES or col == "offset" else "left")
    for volume, per_class in zip(result.layout.volumes, result.volume_counts, strict=True):
        volumes.add_row(
            str(volume.index),
            volume.kind if volume.slot is None else f"{volume.kind} {volume.slot}",
            str(volume.offset),
            format_size(volume.length),
            volume.description or "",
            *[str(per_class[name] or "") for name in CLASSES],
        )
    console.print(volumes)
    if result.regions:
        shown = result.regions[:20]
        regions = Table(title=f"structured regions ({result.regions_total})")
        for col in ("offset", "length", "sectors", "where", "kinds", "first bytes"):
            regions.add_column(
                col, justify="right" if col in ("offset", "length", "sectors") else "left"
            )
        for region in shown:
            where = region.area or region.where()
            kinds_text = ", ".join(f"{k} {v}" for k, v in region.kinds.items())
            if region.signatures:
                kinds_text += f" ({', '.join(region.signatures)})"
            regions.add_row(
                str(region.offset),
                str(region.length),
                str(region.sectors),
                where,
                kinds_text,
                rich_escape(region.preview),
            )
        console.print(regions)
        if result.regions_total > len(shown):
            console.print(f"... {result.regions_total - len(shown)} more (pfa verify-wipe --json)")
    for problem in result.problems:
        console.print(f"[yellow]problem[/] {rich_escape(problem)}")
    console.print(
        f"read {format_size(result.bytes_read)} in {result.seconds:.2f} s "
        f"({result.mb_per_s:.0f} MB/s)" + (f"   map: {map_path}" if map_path else "")
    )
    colour = "yellow" if result.verdict.exit_code else "green"
    console.print(f"verdict: [bold {colour}]{result.verdict}[/]  ({'; '.join(result.reasons)})")
