"""``pfa extract``: one job's raw bytes, decoded text, metadata and pages, written to a folder.

Also the helpers ``pfa pages`` shares: reading a job's bytes back from the evidence and
writing its pages, under file names made safe whatever the evidence calls the job.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from forensics.commands.base import Command
from forensics.commands.case import open_case
from forensics.commands.options import add_case_target, add_output_folder
from forensics.errors import InputError
from forensics.evidence.image import open_image, read_runs
from forensics.formats.base import MAX_PARSE_BYTES
from forensics.records import ByteRun

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")


def safe_name(name: str, limit: int = 100) -> str:
    """A file name from evidence made harmless: no separators, no '..', no controls, bounded."""
    cleaned = _DOTS.sub(".", _UNSAFE_NAME.sub("_", name)).strip("._") or "unnamed"
    return cleaned[:limit]


class ExtractCommand(Command):
    name = "extract"
    order = 40
    help = "write one job's raw bytes, decoded text, metadata and page images to a folder"
    description = (
        "Write a job's raw bytes (.bin), its decoded text (.txt), its metadata "
        "(.json) and, for raster, fax and scan jobs, its pages as PNG to DIR; file names are "
        "made safe whatever the evidence calls the job."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_case_target(parser)
        add_job_option(parser)
        add_output_folder(parser)

    def run(self, args: argparse.Namespace, console: Console, argv: Sequence[str]) -> int:
        output: Path = args.output
        check_output_folder(output)
        job, texts, raw = read_job(args, argv)
        stem = job_stem(job)
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
            written += write_pages(console, job["format"], raw, output, stem, None)
        meta_path = output / f"{stem}.json"
        meta_path.write_text(
            json.dumps(job, indent=2, sort_keys=True, ensure_ascii=False), encoding="utf-8"
        )
        written.append(meta_path)
        for path in written:
            console.print(f"wrote {path}")
        return 0


def add_job_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--job", required=True, metavar="ID", help="job id, as listed by pfa jobs")


def check_output_folder(output: Path) -> None:
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} exists and is not a folder")


def write_pages(
    console: Console, fmt: str, raw: bytes, output: Path, stem: str, dpi: int | None
) -> list[Path]:
    """Render a job's pages and write them as PNG (a page at a time: a job's pages are not
    held at once); notes on what did not render."""
    from forensics.render.base import iter_pages, preview  # Pillow: only when writing pages

    notes: list[str] = []
    page_notes: list[str] = []
    written: list[Path] = []
    for page in iter_pages(fmt, raw, notes):
        page_notes += page.notes
        if page.size[0] <= 1:
            continue  # a page that did not decode (its note says why)
        path = output / f"{stem}-page-{page.number:03d}.png"
        (preview(page, dpi) if dpi else page.image).save(path, "PNG")
        written.append(path)
    for note in notes + page_notes:
        console.print(f"[yellow]note[/] {note}", markup=True, highlight=False)
    return written


def read_job(
    args: argparse.Namespace, argv: Sequence[str]
) -> tuple[dict[str, Any], list[tuple[str, str]], bytes | None]:
    """The job record, its stored texts and its raw bytes (None: decoded content only)."""
    with tempfile.TemporaryDirectory(prefix="pfa-job-") as work:
        store, image_id = open_case(args, argv, Path(work))
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
        raw = job_bytes(evidence, job, json.loads(file_row[0]) if file_row else None)
    except OSError as exc:
        raise InputError(f"cannot read the job's evidence again: {exc}") from None
    return job, texts, raw


def job_stem(job: dict[str, Any]) -> str:
    meta = job["metadata"]
    return safe_name(
        f"{job['job_id']}-{meta.get('document_name') or meta.get('job_name') or job['format']}"
    )


def job_bytes(
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
