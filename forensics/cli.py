"""The ``pfa`` command line.

Exit codes (DESIGN.md): 0 no residual data; 1 residual or sensitive data; 2 usage or input error
(one clear line, never a traceback). 3 is reserved for an internal error, reported in one line
with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from forensics import __version__
from forensics.detect.rules import load_rules
from forensics.errors import InputError
from forensics.evidence.disk import read_layout
from forensics.evidence.filesystem import open_filesystem
from forensics.evidence.image import TskImage, format_size, iter_chunks, open_image
from forensics.report.json_report import write_report
from forensics.scan import Progress as ProgressSink
from forensics.scan import ScanOptions, ScanResult, open_evidence, run_record, scan_image, utc_now
from forensics.store import CaseStore

log = logging.getLogger("forensics")

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 3

DESCRIPTION = """\
printer-forensics: show what documents and secrets linger on a printer's or copier's drive.

Reads raw/dd, split raw (.001/.002…, .aa/.ab…) and E01 images read-only; walks MBR/GPT
partitions and file systems (allocated and deleted files, slack, free space, gaps); finds
sensitive data with YARA rules confirmed by validators; writes report.json.
"""

EPILOG = """\
exit codes: 0 no residual data (wiped or encrypted); 1 residual or sensitive data;
            2 usage or input error.
examples:
  pfa info printer.E01
  pfa scan printer.dd -o out/
  pfa scan disk.001 -o out/ --rules my_rules/
  pfa scan printer.dd -o out/ --reveal
"""


class _RichProgress(ProgressSink):
    """A byte progress bar with rate and ETA on stderr (only when stderr is a terminal)."""

    def __init__(self, console: Console):
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task: TaskID | None = None

    def start(self, total: int, label: str) -> None:
        self._bar.start()
        self._task = self._bar.add_task(label, total=total)

    def advance(self, done: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, done)

    def stop(self) -> None:
        self._bar.stop()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pfa",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pfa {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="log debug messages and show tracebacks of internal errors",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    info = sub.add_parser(
        "info",
        help="show partitions, file systems, sizes, hashes and problems of an image",
        description="Show the image format and size, partitions and gaps, file systems, the media "
        "hashes (MD5/SHA-1/SHA-256, compared with the E01's stored hashes) and any problems.",
    )
    info.add_argument("image", type=Path, help="image file: raw/dd, first split segment, or .E01")
    info.add_argument(
        "--no-hash", action="store_true", help="skip hashing (no full read of the image)"
    )
    info.add_argument("--json", action="store_true", help="print the information as JSON")

    scan = sub.add_parser(
        "scan",
        help="scan an image and write report.json",
        description="Scan an image end to end: every partition, gap, file system (allocated and "
        "deleted files, slack, unallocated space) and raw volume is searched with the shipped YARA "
        "rules (and yours), hits are confirmed by validators, and OUT/report.json and the case "
        "database OUT/case.sqlite are written. Values are masked unless --reveal is given.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("image", type=Path, help="image file: raw/dd, first split segment, or .E01")
    scan.add_argument(
        "-o", "--output", type=Path, required=True, help="output folder (created if missing)"
    )
    scan.add_argument(
        "--rules",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="extra YARA rules (a folder of .yar/.yara files, or one file); repeatable; "
        "used beside the shipped rules",
    )
    scan.add_argument(
        "--reveal",
        action="store_true",
        help="keep unmasked values and context in the report (for the examiner only)",
    )
    scan.add_argument(
        "--no-hash", action="store_true", help="do not compute MD5/SHA-1/SHA-256 of the media"
    )
    scan.add_argument("-q", "--quiet", action="store_true", help="no summary table")
    return parser


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pfa: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


def cmd_info(args: argparse.Namespace, console: Console) -> int:
    with open_image(args.image) as image:
        layout = read_layout(image)
        tsk_image = TskImage(image)
        problems = [*image.problems, *layout.problems]
        volumes = []
        for volume in layout.volumes:
            row = volume.to_record().to_dict()
            if volume.kind != "gap":
                fs, fs_problems = open_filesystem(image, tsk_image, volume)
                problems.extend(fs_problems)
                if fs is not None:
                    row["filesystem"] = fs.type
                    row["block_size"] = fs.block_size
                    row["block_count"] = fs.block_count
            volumes.append(row)
        hashes: dict[str, str] = {}
        if not args.no_hash:
            hashers = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
            bar = _RichProgress(Console(stderr=True))
            bar.start(image.size, "hashing")
            for _, data in iter_chunks(image, 16 * 1024 * 1024):
                for hasher in hashers:
                    hasher.update(data)
                bar.advance(len(data))
            bar.stop()
            hashes = {h.name: h.hexdigest() for h in hashers}
        info: dict[str, Any] = {
            "paths": [str(p) for p in image.paths],
            "format": image.format,
            "size": image.size,
            "sector_size": image.sector_size,
            "partition_scheme": layout.scheme,
            "hashes": hashes,
            "stored_hashes": image.stored_hashes,
            "volumes": volumes,
            "problems": [p.to_dict() for p in problems],
        }
    if hashes and info["stored_hashes"]:
        info["hash_verified"] = all(hashes.get(k) == v for k, v in image.stored_hashes.items())
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    console.print(
        f"[bold]{info['paths'][0]}[/]  {image.format}  {format_size(image.size)} ({image.size} bytes)"
    )
    console.print(f"partition scheme: {layout.scheme}")
    table = Table(title="volumes")
    for col in ("#", "kind", "slot", "offset", "length", "type", "file system"):
        table.add_column(col)
    for row in volumes:
        table.add_row(
            str(row["index"]),
            row["kind"],
            row.get("slot") or "",
            str(row["offset"]),
            format_size(row["length"]),
            row.get("description") or row.get("type_code") or "",
            row.get("filesystem") or "",
        )
    console.print(table)
    for name, value in hashes.items():
        stored = image.stored_hashes.get(name)
        note = (
            ""
            if stored is None
            else (" (matches E01)" if stored == value else f" (E01 says {stored}!)")
        )
        console.print(f"{name:7s} {value}{note}")
    for problem in problems:
        console.print(f"[yellow]problem[/] {problem.code}: {problem.message}")
    return 0


def cmd_scan(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    output: Path = args.output
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")
    rules = load_rules(list(args.rules))
    image = open_evidence(args.image)
    output.mkdir(parents=True, exist_ok=True)
    db_path = output / "case.sqlite"
    # A previous run's outputs must not survive next to this run's (e.g. after an interruption).
    for stale in (
        db_path,
        output / "case.sqlite-wal",
        output / "case.sqlite-shm",
        output / "report.json",
    ):
        stale.unlink(missing_ok=True)
    command_line = shlex.join(["pfa", *argv])
    started = utc_now()
    run = run_record(command_line, rules, started)
    run["options"] = {"reveal": args.reveal, "hashes": not args.no_hash}
    with CaseStore(db_path) as store:
        run_id = store.start_run(run)
        progress = _RichProgress(Console(stderr=True))
        with image:
            result = scan_image(
                image,
                ScanOptions(rules=rules, reveal=args.reveal, compute_hashes=not args.no_hash),
                store,
                run_id,
                progress,
            )
        store.finish_run(run_id, result.finished)
        report_path = output / "report.json"
        summary = write_report(store, run, result.image_id, report_path, args.reveal)
        if not args.quiet:
            _print_summary(console, result, summary, report_path)
    return result.verdict.exit_code


def _print_summary(
    console: Console, result: ScanResult, summary: dict[str, Any], report_path: Path
) -> None:
    table = Table(title=f"findings in {result.image.paths[0]}")
    classes = ["allocated", "deleted", "slack", "unallocated", "unpartitioned", "raw"]
    table.add_column("category")
    for cls in classes:
        table.add_column(cls, justify="right")
    table.add_column("total", justify="right")
    for category, per_class in sorted(summary["findings_by_category_and_location"].items()):
        cells = [str(per_class.get(c, 0) or "") for c in classes]
        table.add_row(category, *cells, str(sum(per_class.values())))
    if not summary["findings_by_category_and_location"]:
        table.add_row("(none)", *[""] * len(classes), "0")
    console.print(table)
    console.print(
        f"files: {summary['files']} ({summary['files_deleted']} deleted)   "
        f"problems: {summary['problems']}   report: {report_path}"
    )
    for name, value in result.image.hashes.items():
        console.print(f"{name:7s} {value}")
    colour = {"sensitive": "red", "residual-data": "yellow"}.get(str(result.verdict), "green")
    console.print(
        f"verdict: [bold {colour}]{result.verdict}[/]  ({'; '.join(result.verdict_reasons)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    console = Console()
    try:
        if args.command == "info":
            return cmd_info(args, console)
        return cmd_scan(args, console, argv)
    except InputError as exc:
        print(f"pfa: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        print("pfa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        log.debug("internal error", exc_info=True)
        print(
            f"pfa: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
