"""Loose evidence: a single spool/job file, or a folder of them (a logical acquisition such as a
copied ``spool/PRINTERS`` or ``/var/spool/cups``).

Each file is identified and parsed exactly like a file inside an image, and its raw bytes are
scanned like an image's; the evidence address is the folder and the file's relative path, and
offsets are offsets in that file (``stream_offset``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from forensics.detect.scanner import DetectionError, Detector
from forensics.errors import InputError
from forensics.evidence.address import EvidenceAddress, step
from forensics.formats.base import MAX_PARSE_BYTES, candidates
from forensics.jobs import (
    SNIFF_BYTES,
    JobExtractor,
    JobSource,
    PageOptions,
    ocr_stage,
    pair_jobs,
    record_extracted,
)
from forensics.printjobs import consolidate_or_problem
from forensics.records import FileEntry, Finding, LocationClass, Problem, utc_now
from forensics.render.ocrqueue import OcrRequest, OcrSpool
from forensics.store import CaseStore
from forensics.verdict import Evidence, Verdict, VerdictPolicy, decide

MAX_FILES = 100_000
CHUNK = 16 * 1024 * 1024
LEAD = OVERLAP = 4096


_DISK_SIGNATURES = (
    (510, b"\x55\xaa"),  # MBR / boot sector signature
    (512, b"EFI PART"),  # GPT header at LBA 1 (UEFI 2.x §5.3.2)
    (1080, b"\x53\xef"),  # ext2/3/4 superblock magic
    (3, b"NTFS    "),
    (3, b"EXFAT   "),
    (32769, b"CD001"),  # ISO 9660 primary volume descriptor
)


def looks_like_disk(path: Path) -> bool:
    """True when a file starts like a disk or volume image (partition table or file system):
    such a file is an image even if it also happens to start with a job signature."""
    try:
        with path.open("rb") as handle:
            head = handle.read(32774)
    except OSError:
        return False
    return any(head[at : at + len(magic)] == magic for at, magic in _DISK_SIGNATURES)


def looks_like_job_file(path: Path) -> bool:
    """True when a single file starts like a job or spool format rather than a disk image."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    return bool(head) and bool(candidates(head, path.name))


@dataclass
class LooseResult:
    image_id: int
    verdict: Verdict
    verdict_reasons: list[str]
    findings: int
    jobs: int
    files: int
    hashes: dict[str, str]
    finished: str


def _files(root: Path, problems: list[Problem], exclude: Path | None = None) -> list[Path]:
    """Regular files under ``root`` (not following links), in a stable order, bounded;
    ``exclude`` (the output folder, when it lies inside the evidence folder) is skipped."""
    if root.is_file():
        return [root]
    found: list[Path] = []
    skip = exclude.resolve() if exclude is not None else None
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if (Path(dirpath) / d).resolve() != skip)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            try:
                mode = path.lstat().st_mode
            except OSError as exc:
                problems.append(Problem("unreadable-file", f"{path}: {exc}"))
                continue
            if stat.S_ISREG(mode):
                found.append(path)
            if len(found) >= MAX_FILES:
                problems.append(Problem("too-many-files", f"stopped after {MAX_FILES} files"))
                return found
    return found


def scan_loose(
    root: Path,
    detector: Detector,
    store: CaseStore,
    run_id: int,
    reveal: bool,
    *,
    hashes: bool = True,
    parse_jobs: bool = True,
    exclude: Path | None = None,
    pages: PageOptions | None = None,
    policy: VerdictPolicy | None = None,
) -> LooseResult:
    """Scan a loose file or a folder of files into the case store."""
    policy = policy or VerdictPolicy()
    if not root.exists():
        raise InputError(f"{root}: no such file or folder")
    started = utc_now()
    problems: list[Problem] = []
    files = _files(root, problems, exclude)
    total = 0
    for path in files:
        try:
            total += path.stat().st_size
        except OSError:
            continue
    image_id = store.add_image(run_id, str(root), total)
    spool = None
    if pages is not None and pages.ocr:
        spool = OcrSpool(pages.previews.parent if pages.previews else None)
        pages = dataclasses.replace(pages, spool=spool)
    try:
        return _scan_files(
            root, files, total, detector, store, image_id, reveal, hashes, parse_jobs,
            pages, policy, problems, started,
        )  # fmt: skip
    finally:
        if spool is not None:
            spool.close()


def _scan_files(
    root: Path,
    files: list[Path],
    total: int,
    detector: Detector,
    store: CaseStore,
    image_id: int,
    reveal: bool,
    hashes: bool,
    parse_jobs: bool,
    pages: PageOptions | None,
    policy: VerdictPolicy,
    problems: list[Problem],
    started: str,
) -> LooseResult:
    base = EvidenceAddress(
        (step("folder" if root.is_dir() else "file", root.name, path=str(root), size=total),)
    )
    extractor = JobExtractor(detector, reveal, pages)
    ocr_requests: list[OcrRequest] = []
    pair_keys: dict[str, str] = {}
    findings = jobs = with_content = 0
    single_hashes: dict[str, str] = {}
    for path in files:
        relative = "/" + (path.relative_to(root).as_posix() if root.is_dir() else path.name)
        address = base if root.is_file() else base.then(step("file", relative, path=relative))
        try:
            info = path.stat()
            entry = FileEntry(
                volume_index=0,
                path=relative,
                inode=None,
                size=info.st_size,
                allocated=True,
                kind="file",
                mtime=datetime.fromtimestamp(info.st_mtime, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                has_content=info.st_size > 0,
            )
            file_id = store.add_file(image_id, entry)
            with_content += int(info.st_size > 0)
            file_hashes, raw_findings = _scan_file(
                path, address, relative, detector, reveal, hashes, problems
            )
        except OSError as exc:
            problems.append(Problem("unreadable-file", f"{path}: {exc}"))
            continue
        if root.is_file():
            single_hashes = file_hashes
        raw_values: set[str] = set()
        for finding in raw_findings:
            store.add_finding(image_id, finding, file_id)
            raw_values.add(finding.value_sha256)
        findings += len(raw_findings)
        if not parse_jobs:
            continue
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_PARSE_BYTES)
        except OSError as exc:
            problems.append(Problem("unreadable-file", f"{path}: {exc}"))
            continue
        source = JobSource(
            data=data,
            address=address,
            location_class=LocationClass.ALLOCATED,
            name=path.name,
            path=relative,
            file_id=file_id,
            truncated=entry.size > MAX_PARSE_BYTES,
        )
        extracted = extractor.extract(source)
        added, added_jobs = record_extracted(
            store, image_id, extracted, file_id, raw_values, len(raw_findings)
        )
        findings += added
        jobs += added_jobs
        pair_keys.update(extracted.pair_keys)
        ocr_requests.extend(extracted.ocr_requests)
    store.set_job_pairs(image_id, pair_jobs(pair_keys))
    ocr_summary: dict[str, object] | None = None
    if ocr_requests:
        staged = ocr_stage(extractor, store, image_id, ocr_requests)
        ocr_summary = staged.to_dict(pages.budget if pages is not None else None)
        findings += staged.findings
        skipped = staged.problem(pages.budget if pages is not None else None)
        if skipped is not None:
            problems.append(skipped)
    failed = consolidate_or_problem(store, image_id)
    if failed is not None:
        problems.append(failed)
    for problem in problems:
        store.add_problem(image_id, problem)
    verdict, reasons = decide(
        Evidence(
            findings=findings,
            user_files_with_content=with_content,
            residual_units=0,
            random_units=0,
            structured_units=0,
            constant_units=0,
            zero_units=0,
            unit_bytes=0,
            findings_by_severity=store.finding_counts(image_id),
        ),
        policy,
    )
    finished = utc_now()
    record = {
        "paths": [str(root)],
        "format": "folder" if root.is_dir() else "file",
        "size": total,
        "sector_size": None,
        "hashes": single_hashes,
        "stored_hashes": {},
        "hash_verified": None,
        "partition_scheme": None,
        "verdict": str(verdict),
        "verdict_reasons": reasons,
        "verdict_policy": policy.to_dict(),
        "disk_map": {},
        "ocr": ocr_summary,
        "started": started,
        "finished": finished,
    }
    store.finish_image(image_id, record, str(verdict))
    return LooseResult(
        image_id, verdict, reasons, findings, jobs, len(files), single_hashes, finished
    )


def _scan_file(
    path: Path,
    address: EvidenceAddress,
    relative: str,
    detector: Detector,
    reveal: bool,
    hashes: bool,
    problems: list[Problem],
) -> tuple[dict[str, str], list[Finding]]:
    """Hashes and raw-byte findings of one file, read in overlapping chunks."""
    hashers = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()] if hashes else []
    found: list[Finding] = []
    size = path.stat().st_size
    with path.open("rb") as handle:
        pos = 0
        while pos < size:
            start = max(0, pos - LEAD)
            handle.seek(start)
            buf = handle.read(pos - start + CHUNK + OVERLAP)
            if not buf:
                break
            lead = pos - start
            core = buf[lead : lead + CHUNK]
            for hasher in hashers:
                hasher.update(core)
            last = pos + CHUNK >= size
            try:
                detections = detector.scan(buf, start, lead, None if last else lead + len(core))
            except DetectionError as exc:
                problems.append(Problem("detection-error", f"{relative}: {exc}", "error"))
                detections = []
            for d in detections:
                found.append(
                    d.to_finding(
                        LocationClass.ALLOCATED,
                        address,
                        reveal=reveal,
                        stream_offset=d.offset,
                        path=relative,
                    )
                )
            pos += CHUNK
    return {h.name: h.hexdigest() for h in hashers}, found
