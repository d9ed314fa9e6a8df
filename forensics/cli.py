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
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as rich_escape
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
from forensics.detect.scanner import Detector
from forensics.diskmap import CLASSES
from forensics.errors import InputError
from forensics.evidence.disk import read_layout
from forensics.evidence.filesystem import open_filesystem
from forensics.evidence.image import (
    TskImage,
    format_size,
    is_container,
    iter_chunks,
    open_image,
    read_runs,
)
from forensics.formats.base import MAX_PARSE_BYTES
from forensics.jobs import PageOptions
from forensics.loose import LooseResult, looks_like_disk, looks_like_job_file, scan_loose
from forensics.records import ByteRun
from forensics.render.ocr import DEFAULT_LANGUAGE, OcrUnavailable
from forensics.render.ocr import check_available as check_ocr
from forensics.report.json_report import write_report
from forensics.scan import Progress as ProgressSink
from forensics.scan import ScanOptions, ScanResult, open_evidence, run_record, scan_image, utc_now
from forensics.store import CaseStore
from forensics.verdict import DEFAULT_SENSITIVE_AT, FAIL_ON, VerdictPolicy
from forensics.wipe import WipeResult, draw_map, parse_percent, verify_wipe

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


WIPE_EPILOG = """\
exit codes: 0 wiped or encrypted; 1 residual data; 2 usage or input error.
examples:
  pfa verify-wipe printer.dd
  pfa verify-wipe printer.E01 --sample 10 --seed 42 --map printer.png
  pfa verify-wipe printer.dd --json > wipe.json
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


def add_page_options(command: argparse.ArgumentParser) -> None:
    """Rendering, OCR and parallelism options shared by the commands that parse jobs."""
    ocr = command.add_mutually_exclusive_group()
    ocr.add_argument(
        "--ocr",
        dest="ocr",
        action="store_true",
        default=True,
        help="OCR rendered page images with Tesseract and search the text (default, when "
        "tesseract is installed)",
    )
    ocr.add_argument("--no-ocr", dest="ocr", action="store_false", help="do not OCR pages")
    command.add_argument(
        "--ocr-lang",
        default=DEFAULT_LANGUAGE,
        metavar="LANG",
        help="Tesseract language(s), e.g. eng or deu+eng (default eng)",
    )
    command.add_argument(
        "--no-pages",
        action="store_true",
        help="do not render job pages (no page previews, no OCR)",
    )
    command.add_argument(
        "--jobs",
        dest="workers",
        type=int,
        default=max(1, os.cpu_count() or 1),
        metavar="N",
        help="worker processes for parsing jobs and OCR (default: one per CPU)",
    )


def add_policy_options(command: argparse.ArgumentParser) -> None:
    """The verdict policy (docs/verdict-policy.md): what is sensitive, what fails a script."""
    command.add_argument(
        "--sensitive-at",
        choices=("low", "medium", "high", "critical"),
        default=DEFAULT_SENSITIVE_AT,
        metavar="SEVERITY",
        help="lowest finding severity that makes the verdict 'sensitive': low, medium, high or "
        "critical (default high: telephone numbers and e-mail addresses alone give "
        "residual-data)",
    )
    command.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="residual",
        help="which verdicts exit 1: 'residual' (default: residual-data and sensitive, as a "
        "pre-disposal check needs) or 'sensitive' (only sensitive)",
    )


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
    scan.add_argument(
        "--no-jobs",
        action="store_true",
        help="do not parse print jobs (raw-byte scan only: faster triage, but text that is encoded "
        "in print languages or spool files is not searched)",
    )
    add_page_options(scan)
    add_policy_options(scan)
    scan.add_argument("-q", "--quiet", action="store_true", help="no summary table")

    def case_target(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "target",
            type=Path,
            help="an image (scanned now, into a temporary case) or the output folder / "
            "case.sqlite of an earlier pfa scan",
        )
        command.add_argument(
            "--rules",
            type=Path,
            action="append",
            default=[],
            metavar="DIR",
            help="extra YARA rules when TARGET is an image (as for scan)",
        )
        command.add_argument(
            "--reveal", action="store_true", help="unmasked PINs and values (for the examiner only)"
        )
        add_page_options(command)

    jobs = sub.add_parser(
        "jobs",
        help="list the print/scan/fax jobs recovered from an image",
        description="A table of recovered jobs: id, time, user, host, document, format chain, "
        "pages, location class and findings in the job.",
    )
    case_target(jobs)
    jobs.add_argument("--json", action="store_true", help="print the job records as JSON")

    extract = sub.add_parser(
        "extract",
        help="write one job's raw bytes, decoded text, metadata and page images to a folder",
        description="Write a job's raw bytes (.bin), its decoded text (.txt), its metadata "
        "(.json) and, for raster, fax and scan jobs, its pages as PNG to DIR; file names are "
        "made safe whatever the evidence calls the job.",
    )
    case_target(extract)
    extract.add_argument("--job", required=True, metavar="ID", help="job id, as listed by pfa jobs")
    extract.add_argument("-o", "--output", type=Path, required=True, help="output folder")

    pages = sub.add_parser(
        "pages",
        help="write one job's pages as PNG images",
        description="Render a job's pages (raster, fax and scan images; PCL 5 raster; PCL XL; "
        "PostScript and PDF through Ghostscript when it is installed) and write them as PNG to "
        "DIR, at the job's resolution or at most --dpi.",
    )
    case_target(pages)
    pages.add_argument("--job", required=True, metavar="ID", help="job id, as listed by pfa jobs")
    pages.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    pages.add_argument(
        "--dpi",
        type=int,
        default=None,
        metavar="N",
        help="scale pages down to at most N dpi (default: the job's own resolution)",
    )

    wipe = sub.add_parser(
        "verify-wipe",
        help="verify that a medium was sanitised (wiped, encrypted, or residual data left)",
        description="Read the medium (all of it, or a seeded random sample of its sectors that "
        "always includes the first and the last: NIST SP 800-88 Rev. 1 §4.7.1) and classify "
        "every 512-byte sector read: zero, constant, pattern, random (high entropy) or "
        "structured. Verdict: wiped, encrypted or residual-data, with the regions that still "
        "hold structure (masked previews unless --reveal). See docs/verify-wipe.md.",
        epilog=WIPE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wipe.add_argument("image", type=Path, help="image file: raw/dd, first split segment, or .E01")
    wipe.add_argument(
        "--sample",
        metavar="PERCENT",
        help="read a random sample of this share of the sectors (e.g. 10) instead of all",
    )
    wipe.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seed of the sample (with --sample; default: a random seed, reported)",
    )
    wipe.add_argument(
        "--map", type=Path, metavar="PNG", help="draw the medium, coloured by class, as a PNG"
    )
    wipe.add_argument("--json", action="store_true", help="print the result as JSON")
    wipe.add_argument(
        "--reveal",
        action="store_true",
        help="unmasked previews of residual regions (for the examiner only)",
    )
    wipe.add_argument("-q", "--quiet", action="store_true", help="print nothing; exit code only")
    return parser


def _configure_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pfa: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    if not debug:
        # Parsing libraries warn about every odd file they meet; on a printer drive those are
        # evidence, reported by the parsers as notes, not noise for the terminal.
        for name in ("pypdf", "PIL", "fontTools"):
            logging.getLogger(name).setLevel(logging.ERROR)


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


def _run_scan(
    image_path: Path,
    output: Path,
    rules_dirs: list[Path],
    reveal: bool,
    hashes: bool,
    argv: Sequence[str],
    parse_jobs: bool = True,
    page_args: argparse.Namespace | None = None,
    previews: bool = False,
    policy: VerdictPolicy | None = None,
) -> tuple[CaseStore, dict[str, Any], ScanResult | LooseResult]:
    """Scan one image into ``output``/case.sqlite; the caller closes the returned store."""
    # Absolute, so that pfa extract finds the evidence again from any working folder.
    image_path = image_path.absolute()
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")
    rules = load_rules(rules_dirs)
    # A disk image is recognised by its partition table or file system before any job format
    # is tried (which also spares a disk scan loading every format module).
    loose = image_path.is_dir() or (
        image_path.is_file()
        and not is_container(image_path)
        and not looks_like_disk(image_path)
        and looks_like_job_file(image_path)
    )
    image = None if loose else open_evidence(image_path)
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
    run = run_record(shlex.join(["pfa", *argv]), rules, utc_now())
    pages = _page_options(page_args, output / "pages" if previews else None)
    workers = page_args.workers if page_args is not None else max(1, os.cpu_count() or 1)
    run["options"] = {
        "reveal": reveal,
        "hashes": hashes,
        "jobs": parse_jobs,
        "pages": pages is not None,
        "ocr": pages.language if pages is not None and pages.ocr else None,
        "policy": (policy or VerdictPolicy()).to_dict(),
    }
    store = CaseStore(db_path)
    try:
        run_id = store.start_run(run)
        result: ScanResult | LooseResult
        if image is None:
            result = scan_loose(
                image_path,
                Detector(rules),
                store,
                run_id,
                reveal,
                hashes=hashes,
                parse_jobs=parse_jobs,
                exclude=output,
                pages=pages,
                policy=policy,
            )
        else:
            with image:
                result = scan_image(
                    image,
                    ScanOptions(
                        rules=rules,
                        reveal=reveal,
                        compute_hashes=hashes,
                        parse_jobs=parse_jobs,
                        workers=max(1, workers),
                        pages=pages,
                        policy=policy or VerdictPolicy(),
                    ),
                    store,
                    run_id,
                    _RichProgress(Console(stderr=True)),
                )
        store.finish_run(run_id, result.finished)
    except BaseException:
        store.close()
        raise
    return store, run, result


def _page_options(args: argparse.Namespace | None, previews: Path | None) -> PageOptions | None:
    """Rendering/OCR settings from the command line; says once when OCR cannot run."""
    if args is None or args.no_pages:
        return None
    if args.workers < 1:
        raise InputError("--jobs must be at least 1")
    ocr = bool(args.ocr)
    if ocr:
        try:
            check_ocr(args.ocr_lang)
        except OcrUnavailable as exc:
            Console(stderr=True).print(f"[yellow]note[/] {exc}", markup=True, highlight=False)
            ocr = False
    if previews is not None:
        previews.mkdir(parents=True, exist_ok=True)
    return PageOptions(ocr=ocr, language=args.ocr_lang, previews=previews, workers=args.workers)


def cmd_scan(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    policy = VerdictPolicy(sensitive_at=args.sensitive_at, fail_on=args.fail_on)
    store, run, result = _run_scan(
        args.image,
        args.output,
        list(args.rules),
        args.reveal,
        not args.no_hash,
        argv,
        parse_jobs=not args.no_jobs,
        page_args=args,
        previews=True,
        policy=policy,
    )
    with store:
        report_path = args.output / "report.json"
        summary = write_report(store, run, result.image_id, report_path, args.reveal)
        if not args.quiet:
            _print_summary(console, store.image(result.image_id), summary, report_path)
    return policy.exit_code(result.verdict)


def _open_case(args: argparse.Namespace, argv: Sequence[str], work: Path) -> tuple[CaseStore, int]:
    """A case store for ``args.target``: an existing scan (folder or case.sqlite) or a new scan
    of an image into ``work``. Returns the store and the image id (the latest scanned)."""
    target: Path = args.target
    db = target / "case.sqlite" if target.is_dir() else target
    if db.suffix == ".sqlite" and db.is_file():
        store = CaseStore.open_existing(db)
    elif target.is_dir():
        raise InputError(f"{target} is a folder without a case.sqlite (scan it first: pfa scan)")
    else:
        store, _, _ = _run_scan(
            target, work, list(args.rules), args.reveal, False, argv, page_args=args
        )
    row = store.db.execute("SELECT MAX(image_id) FROM images WHERE verdict IS NOT NULL").fetchone()
    if row is None or row[0] is None:
        store.close()
        raise InputError(f"{db} holds no finished scan")
    return store, int(row[0])


def cmd_jobs(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="pfa-jobs-") as work:
        store, image_id = _open_case(args, argv, Path(work))
        with store:
            jobs = list(store.jobs(image_id))
    if args.json:
        print(json.dumps(jobs, indent=2, sort_keys=True, ensure_ascii=False))
        return 0
    if not console.is_terminal:
        console = Console(width=160)  # piped to a file or a pager: no terminal to fit
    table = Table(title=f"jobs ({len(jobs)})")
    # Ids, times and counts stay whole; names fold when the terminal is narrow.
    for col in ("id", "time (UTC)", "format", "pages", "class", "findings"):
        table.add_column(col, no_wrap=True)
    for col in ("user", "host", "document"):
        table.add_column(col, overflow="fold")
    for job in jobs:
        meta = job["metadata"]
        when = meta.get("submitted") or meta.get("created") or meta.get("completed") or ""
        document = meta.get("document_name") or meta.get("job_name") or ""
        table.add_row(
            job["job_id"],
            when.replace("T", " ").removesuffix("Z")[:19],
            ">".join(job["format_chain"]),
            "" if job["pages"] is None else str(job["pages"]),
            job["location_class"] + (" (carved)" if job.get("carved") else ""),
            str(job["findings"]),
            meta.get("user") or "",
            meta.get("host") or "",
            document,
        )
    console.print(table)
    return 0


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")


def safe_name(name: str, limit: int = 100) -> str:
    """A file name from evidence made harmless: no separators, no '..', no controls, bounded."""
    cleaned = _DOTS.sub(".", _UNSAFE_NAME.sub("_", name)).strip("._") or "unnamed"
    return cleaned[:limit]


def cmd_extract(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    output: Path = args.output
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")
    job, texts, raw = _read_job(args, argv)
    stem = _job_stem(job)
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if raw is not None:
        written.append(output / f"{stem}.{safe_name(job['format'], 16)}.bin")
        written[-1].write_bytes(raw)
    text_path = output / f"{stem}.txt"
    text_path.write_text(
        "".join(f"=== {name} ===\n{text}\n" for name, text in texts), encoding="utf-8"
    )
    written.append(text_path)
    if raw is not None and not args.no_pages:
        written += _write_pages(console, job["format"], raw, output, stem, None)
    meta_path = output / f"{stem}.json"
    meta_path.write_text(
        json.dumps(job, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8"
    )
    written.append(meta_path)
    for path in written:
        console.print(f"wrote {path}")
    return 0


def _write_pages(
    console: Console, fmt: str, raw: bytes, output: Path, stem: str, dpi: int | None
) -> list[Path]:
    """Render a job's pages and write them as PNG; notes on what did not render."""
    from forensics.render.base import preview, render_pages  # Pillow: only when writing pages

    pages, notes = render_pages(fmt, raw)
    written: list[Path] = []
    for page in pages:
        if page.image.width <= 1:
            continue  # a page that did not decode (its note says why)
        path = output / f"{stem}-page-{page.number:03d}.png"
        (preview(page, dpi) if dpi else page.image).save(path, "PNG")
        written.append(path)
    for note in notes + [n for page in pages for n in page.notes]:
        console.print(f"[yellow]note[/] {note}", markup=True, highlight=False)
    return written


def _read_job(
    args: argparse.Namespace, argv: Sequence[str]
) -> tuple[dict[str, Any], list[tuple[str, str]], bytes | None]:
    """The job record, its stored texts and its raw bytes (None: decoded content only)."""
    with tempfile.TemporaryDirectory(prefix="pfa-job-") as work:
        store, image_id = _open_case(args, argv, Path(work))
        with store:
            job = store.job(image_id, args.job)
            if job is None:
                raise InputError(f"no job {args.job} in this case (list them with: pfa jobs)")
            texts = store.job_texts(image_id, args.job)
            evidence = store.image(image_id)
            file_row = store.db.execute(
                "SELECT files.data FROM jobs JOIN files ON files.file_id = jobs.file_id"
                " WHERE jobs.image_id = ? AND jobs.job_id = ?",
                (image_id, args.job),
            ).fetchone()
    try:
        raw = _job_bytes(evidence, job, json.loads(file_row[0]) if file_row else None)
    except OSError as exc:
        raise InputError(f"cannot read the job's evidence again: {exc}") from None
    return job, texts, raw


def _job_stem(job: dict[str, Any]) -> str:
    meta = job["metadata"]
    return safe_name(
        f"{job['job_id']}-{meta.get('document_name') or meta.get('job_name') or job['format']}"
    )


def cmd_pages(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
    output: Path = args.output
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")
    if args.dpi is not None and args.dpi < 10:
        raise InputError("--dpi must be at least 10")
    job, _, raw = _read_job(args, argv)
    if raw is None:
        raise InputError(f"job {args.job} has no bytes of its own in the evidence to render")
    output.mkdir(parents=True, exist_ok=True)
    written = _write_pages(console, job["format"], raw, output, _job_stem(job), args.dpi)
    for path in written:
        console.print(f"wrote {path}")
    if not written:
        console.print(f"no pages rendered for {job['format']} job {job['job_id']}")
    return 0


def _job_bytes(
    evidence: dict[str, Any], job: dict[str, Any], file_entry: dict[str, Any] | None
) -> bytes | None:
    """The job's own bytes: the slice of its file (in the image, or loose) it was parsed from;
    for a carved job, its bytes in the image."""
    if file_entry is None:
        if job.get("carved") and job.get("image_offset") is not None and job.get("length"):
            with open_image(Path(evidence["paths"][0])) as image:
                size = min(int(job["length"]), MAX_PARSE_BYTES)
                return image.read(int(job["image_offset"]), size)
        return None
    size = min(int(file_entry["size"]), MAX_PARSE_BYTES)
    root = Path(evidence["paths"][0])
    runs = [
        ByteRun(r["image_offset"], r["length"], r["file_offset"])
        for r in file_entry.get("runs", [])
    ]
    if evidence.get("format") in ("file", "folder"):
        path = root if evidence["format"] == "file" else root / file_entry["path"].lstrip("/")
        with path.open("rb") as handle:
            data = handle.read(size)
    elif runs:
        with open_image(root) as image:
            data = read_runs(image, runs, 0, size)
    else:
        return None
    if job.get("parent_job_id") is None:
        return data
    # An embedded job that is a plain slice of its file (a PJL payload): cut it out.
    if job.get("file_offset") is not None and job.get("length"):
        start = int(job["file_offset"])
        return data[start : start + int(job["length"])]
    return None  # decoded content (a decompressed stream): no bytes of its own in the file


def _print_summary(
    console: Console, image: dict[str, Any], summary: dict[str, Any], report_path: Path
) -> None:
    table = Table(title=f"findings in {image['paths'][0]}")
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
    if summary["jobs_by_format_and_location"]:
        jobs_table = Table(title=f"jobs ({summary['jobs']})")
        jobs_table.add_column("format")
        for cls in classes:
            jobs_table.add_column(cls, justify="right")
        for fmt, per_class in sorted(summary["jobs_by_format_and_location"].items()):
            jobs_table.add_row(fmt, *[str(per_class.get(c, 0) or "") for c in classes])
        console.print(jobs_table)
    console.print(
        f"files: {summary['files']} ({summary['files_deleted']} deleted)   "
        f"problems: {summary['problems']}   report: {report_path}"
    )
    for name, value in image["hashes"].items():
        console.print(f"{name:7s} {value}")
    verdict, reasons = image["verdict"], image["verdict_reasons"]
    colour = {"sensitive": "red", "residual-data": "yellow"}.get(verdict, "green")
    console.print(f"verdict: [bold {colour}]{verdict}[/]  ({'; '.join(reasons)})")
    policy = image.get("verdict_policy")
    if policy:
        console.print(f"policy: {policy['description']}", highlight=False)


def cmd_verify_wipe(args: argparse.Namespace, console: Console) -> int:
    percent = None if args.sample is None else parse_percent(args.sample)
    if args.seed is not None and percent is None:
        raise InputError("--seed chooses the sample: use it with --sample")
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must not be negative, not {args.seed}")
    map_path: Path | None = args.map
    if map_path is not None and (map_path.is_dir() or not map_path.parent.is_dir()):
        raise InputError(f"cannot write the map to {map_path}: not a file in an existing folder")
    with open_evidence(args.image) as image:
        result = verify_wipe(
            image,
            sample_percent=percent,
            seed=args.seed,
            reveal=args.reveal,
            progress=_RichProgress(Console(stderr=True)),
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
        _print_wipe(console, result, map_path)
    return result.verdict.exit_code


def _print_wipe(console: Console, result: WipeResult, map_path: Path | None) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug)
    console = Console()
    try:
        if args.command == "info":
            return cmd_info(args, console)
        if args.command == "jobs":
            return cmd_jobs(args, console, argv)
        if args.command == "extract":
            return cmd_extract(args, console, argv)
        if args.command == "pages":
            return cmd_pages(args, console, argv)
        if args.command == "verify-wipe":
            return cmd_verify_wipe(args, console)
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
