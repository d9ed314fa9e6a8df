"""``pfa batch`` arguments and command (wired into the pfa parser by the CLI)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from forensics.batch.coordinator import (
    DEFAULT_REGION_BYTES,
    BatchConfig,
    BatchProgress,
    command_line,
    run_batch,
)
from forensics.batch.discover import Unit, discover
from forensics.batch.unit import UnitSpec
from forensics.errors import InputError
from forensics.store import CaseStore
from forensics.verdict import DEFAULT_SENSITIVE_AT, FAIL_ON, Verdict, VerdictPolicy

EXIT_INPUT_ERROR = 2
_SIZE_SUFFIXES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_byte_size(text: str) -> int:
    """``SIZE`` of an option: bytes, or a number with K, M, G or T (powers of 1024)."""
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = value[-1:] if value[-1:] in _SIZE_SUFFIXES else ""
    number = value[: len(value) - len(suffix)]
    try:
        amount = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 32G, 512M, 0)") from None
    if amount < 0 or amount != amount or amount == float("inf"):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 32G, 512M, 0)")
    return int(amount * _SIZE_SUFFIXES[suffix])


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``pfa batch`` (docs/user-guide.md, "Batches")."""
    parser.add_argument(
        "target", type=Path, help="folder of images (searched recursively) or a manifest .csv"
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="case folder (case.sqlite, fleet.csv)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, os.cpu_count() or 1),
        metavar="N",
        help="images scanned at once on this machine (default: one per CPU)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the images on a Dask cluster, e.g. tcp://scheduler:8786 (needs the "
        "'cluster' extra)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up on an image after this long (it is retried once, then marked failed)",
    )
    parser.add_argument(
        "--region-size",
        type=parse_byte_size,
        default=DEFAULT_REGION_BYTES,
        metavar="SIZE",
        help="scan an image larger than SIZE in regions of SIZE, each its own work unit, so "
        "that one large drive keeps several workers busy (default 32G; 0: never split)",
    )
    parser.add_argument("--force", action="store_true", help="rescan images already complete")
    parser.add_argument(
        "--rules", type=Path, action="append", default=[], metavar="DIR", help="extra YARA rules"
    )
    parser.add_argument("--reveal", action="store_true", help="keep unmasked values in the case")
    parser.add_argument("--no-jobs", action="store_true", help="do not parse or carve jobs")
    parser.add_argument(
        "--pages",
        action="store_true",
        help="render job pages and OCR them (slow: about a second a page); no previews kept",
    )
    parser.add_argument("--ocr-lang", default="eng", metavar="LANG", help="Tesseract language")
    parser.add_argument(
        "--sensitive-at",
        choices=("low", "medium", "high", "critical"),
        default=DEFAULT_SENSITIVE_AT,
        metavar="SEVERITY",
        help="lowest finding severity that makes an image 'sensitive' (default high)",
    )
    parser.add_argument("--fail-on", choices=FAIL_ON, default="residual")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")


class _StatusLines:
    """One line per worker slot, rendered under the overall bar."""

    def __init__(self) -> None:
        self.lines: dict[int, str] = {}

    def __rich__(self) -> Text:
        return Text("\n".join(self.lines[slot] for slot in sorted(self.lines)))


class RichBatchProgress(BatchProgress):
    """Overall bar (images, bytes, ETA) and one status line per worker slot (terminals only)."""

    def __init__(self, console: Console):
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TimeRemainingColumn(),
            console=console,
        )
        self._status = _StatusLines()
        self._live = (
            Live(Group(self._bar, self._status), console=console, transient=True)
            if console.is_terminal
            else None
        )
        self._overall: TaskID | None = None
        self._images = 0
        self._done = 0
        self._failed = 0
        self._started: dict[int, float] = {}

    def start(self, images: int, total_bytes: int) -> None:
        self._images = images
        self._overall = self._bar.add_task(f"images 0/{images}", total=max(1, total_bytes))
        if self._live is not None:
            self._live.start()

    def unit_started(self, slot: int, unit: Unit, attempt: int, part: str = "") -> None:
        self._started[slot] = time.monotonic()
        again = f" (attempt {attempt})" if attempt > 1 else ""
        region = f" {part}" if part else ""
        self._status.lines[slot] = f"  worker {slot + 1}: {unit.name}{region}{again}"

    def unit_finished(self, slot: int, unit: Unit, size: int, status: str) -> None:
        seconds = time.monotonic() - self._started.get(slot, time.monotonic())
        self._status.lines[slot] = (
            f"  worker {slot + 1}: idle ({unit.name} {status}, {seconds:.0f} s)"
        )
        if status == "retry" or self._overall is None:
            return
        if status == "part":
            self._bar.update(self._overall, advance=size)
            return
        self._done += 1
        self._failed += status == "failed"
        failed = f", {self._failed} failed" if self._failed else ""
        self._bar.update(
            self._overall, advance=size, description=f"images {self._done}/{self._images}{failed}"
        )

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()


def run_batch_command(
    args: argparse.Namespace, console: Console, err: Console | None = None
) -> int:
    """``pfa batch``: 0 nothing residual, 1 residual/sensitive, 2 input error or failed images.

    ``console`` gets the summary; ``err`` (default: stderr) the progress and the failures.
    """
    if args.workers < 1:
        raise InputError("--workers must be at least 1")
    units = discover(args.target)
    template = UnitSpec(
        key="",
        paths=(),
        rules_dirs=tuple(str(p.absolute()) for p in args.rules),  # workers may run elsewhere
        reveal=args.reveal,
        parse_jobs=not args.no_jobs,
        pages=args.pages,
        ocr=args.pages,
        ocr_lang=args.ocr_lang,
        sensitive_at=args.sensitive_at,
        fail_on=args.fail_on,
        timeout=args.timeout,
    )
    argv = [str(args.target), "-o", str(args.output)]
    config = BatchConfig(
        output=args.output,
        units=tuple(units),
        template=template,
        workers=args.workers,
        scheduler=args.scheduler,
        force=args.force,
        command_line=command_line(argv),
        region_bytes=args.region_size,
    )
    err = err or Console(stderr=True)
    progress = BatchProgress() if args.quiet else RichBatchProgress(err)
    summary = run_batch(config, progress)
    policy = VerdictPolicy(sensitive_at=args.sensitive_at, fail_on=args.fail_on)
    with CaseStore.open_existing(args.output / "case.sqlite") as store:
        verdicts = [
            (int(i), str(v), str(p))
            for i, v, p in store.db.execute(
                "SELECT image_id, verdict, path FROM images ORDER BY image_id"
            )
        ]
    code = max((policy.exit_code(Verdict(v)) for _, v, _ in verdicts if v), default=0)
    if not args.quiet:
        console.print(
            f"batch: {summary.scanned} scanned, {summary.skipped} skipped (complete), "
            f"{summary.duplicates} duplicate(s), {len(summary.failed)} failed; "
            f"{len(verdicts)} image(s) in {escape(str(args.output / 'case.sqlite'))}",
            highlight=False,
            soft_wrap=True,
        )
        for _, verdict, path in verdicts:
            console.print(f"  {verdict:<14} {escape(path)}", highlight=False, soft_wrap=True)
        console.print(
            f"fleet: {escape(str(args.output / 'fleet.csv'))}", highlight=False, soft_wrap=True
        )
    if summary.failed:
        # Failures are always listed, even with -q: the exit code alone does not say which.
        err.print(
            f"pfa batch: {len(summary.failed)} image(s) failed:", highlight=False, soft_wrap=True
        )
        for key, error in summary.failed:
            err.print(
                f"  {escape(key.splitlines()[0])}: {escape(error)}", highlight=False, soft_wrap=True
            )
        return EXIT_INPUT_ERROR
    return code
