"""Scan one disk image end to end: layout, file systems, one streaming pass, logical pass, verdict.

The image is read once, front to back, in large chunks: the same bytes feed the media hashes (one
thread per hash; hashlib releases the GIL), YARA (which releases the GIL too), and the disk map.
Hits in raw bytes are then attributed to files, slack, deleted files, free space or gaps by the
Locator. Fragmented files are read a second time logically, only to catch hits that straddle
their fragments. A part of a split image (``ScanPart``, ``pfa batch --region-size``) examines
one byte region of the medium; forensics.batch.parts merges the parts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import os
import platform
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yara

from forensics import __version__
from forensics.carve import (
    CARVE_NAMESPACE,
    MAX_CARVE_BYTES,
    Candidate,
    CarvedRegion,
    Carver,
    candidates_in,
    carve_rules,
    find_candidates,
)
from forensics.detect.rules import RuleSet
from forensics.detect.scanner import Detection, DetectionError, Detector, match_rules
from forensics.diskmap import CLASSES, UNIT, DiskMap, classify_units
from forensics.errors import ImageReadError, InputError
from forensics.evidence.address import step
from forensics.evidence.disk import DiskLayout, Volume, read_layout, whole_image_layout
from forensics.evidence.filesystem import FileSystem, WalkedFile, open_filesystem
from forensics.evidence.image import Image, TskImage, open_image, read_runs, read_tolerant
from forensics.evidence.locate import Location, Locator
from forensics.formats.base import MAX_PARSE_BYTES, candidates
from forensics.jobs import (
    SNIFF_BYTES,
    Extracted,
    JobExtractor,
    JobSource,
    OcrStageResult,
    PageOptions,
    extract_all,
    image_offset_of,
    ocr_stage,
    pair_jobs,
    record_extracted,
)
from forensics.printjobs import FileEventStager, consolidate_or_problem
from forensics.progress import Progress
from forensics.records import (
    ByteRun,
    FileEntry,
    FileSystemRecord,
    ImageRecord,
    LocationClass,
    Problem,
    utc_now,
)
from forensics.render.ocrqueue import OcrRequest, OcrSpool
from forensics.store import CaseStore
from forensics.verdict import Evidence, Verdict, VerdictPolicy, decide

log = logging.getLogger(__name__)

# 8 MiB: up to ~6 buffers are alive at once (read ahead, matched on two threads, awaiting hashes,
# held by the carver); 16 MiB cost ~20-35 MiB more peak RSS on the benchmark at the same speed.
CHUNK = 8 * 1024 * 1024
# Longer than any shipped rule's match plus its context. YARA itself hands over at most 512 bytes
# of a match (YR_MAX_MATCH_DATA), so shipped rules keep every match within 512 bytes as ASCII;
# a UTF-16 match longer than 512 bytes reaches its validator cut short.
OVERLAP = 4096
# Bytes read before each chunk so that no match can begin at an artificial start of data.
LEAD = 4096
READ_RETRY_PIECE = 64 * 1024
MAX_CHUNKS_AWAITING_HASH = 2  # bounds memory when hashing is slower than scanning
CHUNKS_AHEAD = 3  # chunks matched while the file systems are walked, before attribution starts
SNIFF_BATCH = 16  # files sniffed for job formats at a time while the main thread waits on YARA
MAX_UNSNIFFED = 50_000  # files queued for sniffing at most; past it the walk sniffs them itself
MATCHERS = 2  # YARA threads: rules.match releases the GIL, so two chunks are matched at once
# How far before a fragment seam a match may start: YARA hands over at most 512 bytes of a
# match, so 1 KiB covers every match plus its UTF-16 form.
SEAM_REACH = 1024
MIN_IMAGE_BYTES = 512
# TSK's virtual entries and file-system internals: their bytes are metadata, not user content.
_SYSTEM_PATHS = ("/$", "/lost+found")
_ORPHANS = "/$OrphanFiles/"  # deleted files TSK found by inode: user content despite the "$"


# What matching one buffer gives: detections, carve candidates, candidates over the cap.
_Matched = tuple[list[Detection], list[Candidate], int]


@dataclass(frozen=True)
class _Examined:
    """What a YARA thread made of one chunk: its matches, and the disk-map class of each unit
    (None where the chunk is not examined)."""

    matched: _Matched
    unit_classes: np.ndarray | None


@dataclass(frozen=True)
class ScanPart:
    """One part of an image split into byte regions that scan in parallel (``pfa batch``).

    Every part examines the raw bytes of ``[start, end)``: YARA, the disk map and carving (a
    carved instance belongs to the part it starts in). The ``primary`` part also does what is
    done once per image: it hashes the whole medium, records the partitions and file systems,
    parses file jobs and re-reads fragmented files. A ``region`` part walks the file systems
    only to attribute its hits and records nothing else about them. The batch coordinator
    merges the parts, consolidates the jobs and draws the verdict (forensics.batch.parts).
    """

    role: str  # "primary" or "region"
    start: int
    end: int

    @property
    def primary(self) -> bool:
        return self.role == "primary"


@dataclass
class ScanOptions:
    rules: RuleSet
    reveal: bool = False
    compute_hashes: bool = True
    chunk_size: int = CHUNK
    parse_jobs: bool = True
    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    pages: PageOptions | None = None  # render (and OCR) job pages; None: no rendering
    policy: VerdictPolicy = field(default_factory=VerdictPolicy)  # what makes it "sensitive"
    part: ScanPart | None = None  # None: the whole image in one scan


@dataclass
class ScanResult:
    image_id: int
    image: ImageRecord
    verdict: Verdict
    verdict_reasons: list[str]
    started: str
    finished: str
    findings: int
    problems: int
    disk_map: dict[str, Any]
    layout_scheme: str
    stats: dict[str, Any] = field(default_factory=dict)


def open_evidence(path: Path) -> Image:
    """Open an image for scanning, refusing what cannot be a disk image (InputError)."""
    if path.is_dir():
        raise InputError(f"{path} is a directory, not a disk image")
    image = open_image(path)
    if image.size < MIN_IMAGE_BYTES:
        image.close()
        raise InputError(
            f"{path} is {image.size} bytes: too small to be a disk image (less than one sector)"
        )
    return image


def _is_user_file(path: str) -> bool:
    return path.startswith(_ORPHANS) or not any(path.startswith(p) for p in _SYSTEM_PATHS)


_TABLE_SIGNATURE = b"\x55\xaa"  # MBR/EBR boot signature at sector offset 510
GPT_ENTRY = 128  # UEFI 2.x §5.3.3: 128-byte partition entries


def _is_gpt_entries(sector: bytes) -> bool:
    """A sector of GPT partition entries: each 128-byte slot empty or a plausible entry."""
    for i in range(0, len(sector), GPT_ENTRY):
        entry = sector[i : i + GPT_ENTRY]
        if not any(entry):
            continue
        first = int.from_bytes(entry[32:40], "little")
        last = int.from_bytes(entry[40:48], "little")
        name = entry[56:128]
        if not any(entry[:16]) or first > last or last >= 1 << 48 or any(name[1::2]):
            return False
    return True


def _beyond_tables(data: bytes) -> bool:
    """True if a unit holds more than partition-table sectors (MBR/EBR/GPT): residual data."""
    for i in range(0, len(data), 512):
        sector = data[i : i + 512]
        if not any(sector):
            continue
        if sector[510:512] == _TABLE_SIGNATURE or sector.startswith(b"EFI PART"):
            continue
        if _is_gpt_entries(sector):
            continue
        return True
    return False


_NOTHING_MATCHED: Future[_Examined] = Future()
_NOTHING_MATCHED.set_result(_Examined(([], [], 0), None))


@dataclass(frozen=True)
class _ChunkUse:
    """What the streaming pass does with the chunk at one position."""

    detect: bool  # hits recorded, blocks classified: the chunk is in the examined region
    lookahead: bool  # hits looked for, not recorded (just past a part's region)
    candidates: bool  # carving signatures looked for
    carve: bool  # fed to the carver
    carve_to: int  # where carving stops needing bytes


@dataclass(frozen=True)
class _StreamSpans:
    """The ranges of the streaming pass: examined, carved, read (see ``_ImageScan.stream``)."""

    size: int
    examine_from: int
    examine_to: int
    carve_from: int
    carve_to: int
    carving: bool
    split: bool

    @classmethod
    def of(cls, size: int, part: ScanPart | None, carving: bool) -> _StreamSpans:
        if part is None:
            return cls(size, 0, size, 0, size, carving, False)
        start, end = max(0, min(part.start, size)), max(0, min(part.end, size))
        # Carving state converges within one longest instance (MAX_CARVE_BYTES), on UNIT
        # boundaries so that every chunk's offset stays a multiple of the disk map's unit.
        before = max(0, start - MAX_CARVE_BYTES) // UNIT * UNIT
        after = min(size, -(-(end + MAX_CARVE_BYTES) // UNIT) * UNIT)
        return cls(size, start, end, before, after, carving, True)

    @property
    def read_from(self) -> int:
        return self.carve_from if self.carving else self.examine_from

    @property
    def read_to(self) -> int:
        return self.carve_to if self.carving else self.examine_to

    def examines(self, offset: int) -> bool:
        return self.examine_from <= offset < self.examine_to

    def positions(self, start: int, end: int, chunk: int) -> Iterator[tuple[int, int]]:
        """(start, end) of each chunk: ``chunk`` bytes, cut at the ranges' bounds."""
        cuts = sorted(
            {
                end,
                *(
                    b
                    for b in (self.examine_from, self.examine_to, self.carve_from, self.carve_to)
                    if start < b < end
                ),
            }
        )
        pos = start
        for cut in cuts:
            while pos < cut:
                nxt = min(cut, pos + chunk)
                yield pos, nxt
                pos = nxt

    def use(self, pos: int) -> _ChunkUse:
        examined = self.examines(pos)
        carved = self.carving and self.carve_from <= pos < self.carve_to
        return _ChunkUse(
            detect=examined,
            lookahead=carved and self.split and pos >= self.examine_to,
            candidates=carved and pos < self.examine_to,
            carve=carved,
            carve_to=self.carve_to,
        )


class _ImageScan:
    """State of one image's scan."""

    def __init__(
        self,
        image: Image,
        options: ScanOptions,
        store: CaseStore,
        image_id: int,
        progress: Progress,
    ):
        self.image = image
        self.options = options
        self.store = store
        self.image_id = image_id
        self.progress = progress
        self.detector = Detector(options.rules)
        self.locator = Locator(image.paths[0].name, image.size)
        self.problems: list[Problem] = []
        self.findings = 0
        self.seen: set[tuple[int, str]] = set()
        self.reread: list[_Reread] = []
        self.job_files: list[tuple[FileSystem, WalkedFile, int]] = []
        # User files whose first bytes are still to be sniffed for a job format: the walk only
        # queues them, so the YARA threads are not idle while their heads are read (see
        # _sniff_until); job_files keeps the walk's order either way.
        self._unsniffed: deque[tuple[FileSystem, WalkedFile, int]] = deque()
        # The file timeline events, staged while the main thread waits on YARA once the file
        # systems are walked (consolidation then only adds the job events); a part of a split
        # image is consolidated after the merge, from the merged files.
        self.file_events: FileEventStager | None = None
        self.jobs = 0
        self.user_files_with_content = 0
        self.hash_complete = True
        self._unreadable_pieces: set[int] = set()
        self._problem_lock = threading.Lock()
        self._unstored_problems: list[Problem] = []
        self.residual_units = 0
        self.carver = Carver(image.size, self.locator.locate) if options.parse_jobs else None
        self.joined_rules: yara.Rules | None = None  # detection + carve rules (stream)
        self.carved_jobs = 0
        self.carved_copies = 0
        self.ocr_requests: list[OcrRequest] = []  # pages the job passes left for the OCR stage
        self.ocr: OcrStageResult | None = None
        # The per-stage profile (image.profile): wall seconds of each stage of this scan, and
        # the seconds job workers spent per step, summed over jobs (both cores: up to 2× wall).
        self.stage_seconds: dict[str, float] = {}
        self.job_step_seconds: dict[str, float] = defaultdict(float)
        # Deleted files whose metadata no longer maps their content (ext3/ext4 wipe the block
        # map): (file-system start, end, entry), to match against carved jobs by name or size.
        self.contentless_deleted: list[tuple[int, int, FileEntry]] = []
        self.part = options.part
        # What the raw pass found just past this part's end (offset, value SHA-256): not this
        # part's findings, but a carved job that runs on into the next part must not report
        # them again from its decoded text.
        self.lookahead_raw: list[tuple[int, str]] = []
        self.carved_digests: dict[int, str] = {}  # image offset → SHA-256 of a whole carved region

    @property
    def once_per_image(self) -> bool:
        """Whether this scan does what is done once per image (a whole scan, or the primary
        part of a split one): the layout, file jobs, fragmented re-reads, unreadable ranges."""
        return self.part is None or self.part.primary

    def structure_problem(self, problem: Problem) -> None:
        """A Problem of the layout or a file system: recorded once per image, by the part that
        records the layout (every part walks the file systems)."""
        if self.once_per_image:
            self.problem(problem)

    # --- structure --------------------------------------------------------------------------

    def map_structure(self) -> DiskLayout:
        try:
            layout = read_layout(self.image)
        except ImageReadError as exc:
            self.structure_problem(
                Problem(
                    "unreadable-partition-table",
                    f"{exc}; the image is scanned whole",
                    "error",
                    image_offset=0,
                )
            )
            layout = whole_image_layout(self.image)
        for problem in layout.problems:
            self.structure_problem(problem)
        tsk_image = TskImage(self.image)
        for volume in layout.volumes:
            record = volume.to_record()
            if volume.kind == "gap":
                self.locator.add_volume(volume, "gap")
                self.store.add_volume(self.image_id, record.to_dict())
                continue
            fs, problems = open_filesystem(self.image, tsk_image, volume)
            for problem in problems:
                self.structure_problem(problem)
            if fs is None:
                self.locator.add_volume(volume, "raw")
                self.store.add_volume(self.image_id, record.to_dict())
                continue
            self.locator.add_volume(volume, "fs")
            self.locator.add_filesystem(volume, fs.type)
            data = record.to_dict()
            data["filesystem"] = fs.type
            self.store.add_volume(self.image_id, data)
            self._walk(fs, volume)
        self.locator.freeze()
        self.flush_problems()
        self.store.commit()
        return layout

    def _walk(self, fs: FileSystem, volume: Volume) -> None:
        allocated = deleted = deleted_content = 0
        slack_bytes = 0
        for walked in fs.walk():
            entry = walked.entry
            file_id = self.store.add_file(self.image_id, entry)
            if entry.allocated:
                allocated += 1
                slack_bytes += sum(r.length for r in walked.slack)
            else:
                deleted += 1
                deleted_content += int(walked.deleted_content)
                if entry.kind == "file" and not entry.has_content and _is_user_file(entry.path):
                    self.contentless_deleted.append((fs.volume.offset, fs.end, entry))
            self.locator.add_file(
                volume,
                entry.path,
                entry.inode,
                entry.allocated,
                entry.runs,
                walked.slack,
                file_id,
                resident=walked.resident,
            )
            if (
                entry.kind == "file"
                and entry.size > 0
                and entry.has_content
                and _is_user_file(entry.path)
            ):
                self.user_files_with_content += 1
                if self.options.parse_jobs and self.once_per_image:
                    self._queue_sniff(fs, walked, file_id)
            # Re-read logically: fragmented files (hits across fragments) and resident NTFS
            # values (the raw MFT record has update-sequence fixups in place of two bytes/sector).
            if (
                (walked.fragmented or walked.resident)
                and entry.kind == "file"
                and entry.inode is not None
            ):
                self.reread.append(
                    _Reread(
                        fs,
                        entry.inode,
                        entry.path,
                        entry.allocated,
                        entry.runs,
                        file_id,
                        entry.size,
                        walked.resident,
                    )
                )
        allocation = fs.allocation_map()
        self.locator.set_allocation(volume, allocation)
        unallocated: int | None = None  # unknown without an allocation bitmap
        unallocated_runs: int | None = None
        if allocation is not None:
            # Clipped at the image end: a truncated volume's lost blocks are not "free space".
            unallocated = unallocated_runs = 0
            for run in allocation.unallocated_runs(clip_end=fs.end):
                if run.length:
                    self.store.add_byte_run(self.image_id, volume.index, "unallocated", run)
                    unallocated += run.length
                    unallocated_runs += 1
        for problem in fs.problems:
            self.structure_problem(problem)
        fs_record = FileSystemRecord(
            volume_index=volume.index,
            offset=volume.offset,
            type=fs.type,
            block_size=fs.block_size,
            block_count=fs.block_count,
            allocation_map=allocation.source if allocation is not None else "file-runs",
            files_allocated=allocated,
            files_deleted=deleted,
            deleted_with_content=deleted_content,
            unallocated_bytes=unallocated,
            unallocated_runs=unallocated_runs,
            slack_bytes=slack_bytes,
        )
        self.store.add_filesystem(self.image_id, fs_record.to_dict())

    # --- jobs ---------------------------------------------------------------------------------

    def _queue_sniff(self, fs: FileSystem, walked: WalkedFile, file_id: int) -> None:
        self._unsniffed.append((fs, walked, file_id))
        if len(self._unsniffed) > MAX_UNSNIFFED:  # memory stays bounded on huge file systems
            self._sniff(*self._unsniffed.popleft())

    def _sniff_some(self, count: int = SNIFF_BATCH) -> bool:
        """Sniff up to ``count`` queued files, in walk order; whether any are left."""
        queue = self._unsniffed
        for _ in range(min(count, len(queue))):
            self._sniff(*queue.popleft())
        return bool(queue)

    def _sniff_all(self) -> None:
        while self._sniff_some():
            pass  # each call sniffs a batch

    def _sniff(self, fs: FileSystem, walked: WalkedFile, file_id: int) -> None:
        """Remember files whose first bytes look like a job format (read once, here)."""
        entry = walked.entry
        try:
            head = self._read_file(fs, walked, 0, SNIFF_BYTES)
        except OSError:
            return
        name = entry.path.rsplit("/", 1)[-1]
        if head and candidates(head, name):
            self.job_files.append((fs, walked, file_id))

    def _read_file(self, fs: FileSystem, walked: WalkedFile, offset: int, size: int) -> bytes:
        """File content through its runs (deleted files too), or through TSK for resident data."""
        entry = walked.entry
        size = max(0, min(size, entry.size - offset))
        if not entry.runs or walked.resident:
            if entry.inode is None:
                return b""
            return fs.read_file(entry.inode, offset, size)
        return read_runs(self.image, entry.runs, offset, size)

    def job_pass(self) -> None:
        """Parse every file that looks like a job and what carving found; scan the decoded
        text (in parallel); then OCR the distinct pages the jobs left for OCR."""
        pages = self.options.pages
        spool = (
            OcrSpool(pages.previews.parent if pages.previews else None)
            if (pages is not None and pages.ocr)
            else None
        )
        try:
            if pages is not None and spool is not None:
                pages = dataclasses.replace(pages, spool=spool)
            extractor = JobExtractor(self.detector, self.options.reveal, pages)
            pair_keys: dict[str, str] = {}
            started = time.perf_counter()
            self.progress.start(len(self.job_files), "jobs", unit="files")
            results = extract_all(
                extractor,
                self._job_sources(),
                len(self.job_files),
                self.options.workers,
                self.image,
            )
            for source, extracted in results:
                if extracted.unreadable is not None:
                    self.problem(Problem("unreadable-file", extracted.unreadable))
                else:
                    self._store_extracted(extracted, source.file_id, pair_keys)
                self.progress.advance(1)
            self.progress.stop()
            self.store.commit()
            started = self.stage_done("job files", started)
            if self.carver is not None and self.carver.regions:
                self._carved_pass(extractor, pair_keys)
            self.store.set_job_pairs(self.image_id, pair_jobs(pair_keys))
            started = self.stage_done("carved jobs", started)
            if spool is not None and self.ocr_requests:
                staged = ocr_stage(
                    extractor, self.store, self.image_id, self.ocr_requests, self.progress
                )
                self.findings += staged.findings
                self.ocr = staged
                skipped = staged.problem(pages.budget if pages is not None else None)
                if skipped is not None:
                    self.problem(skipped)
                self.store.commit()
                self.stage_done("ocr", started)
        finally:
            if spool is not None:
                spool.close()
        self.flush_problems()

    def stage_done(self, name: str, started: float) -> float:
        """Record a stage's wall time; the time the next stage starts."""
        now = time.perf_counter()
        self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + now - started
        return now

    def profile(self) -> dict[str, dict[str, float]]:
        """image.profile: wall seconds per stage and job workers' seconds per step."""
        return {
            "stage_wall_seconds": {k: round(v, 3) for k, v in self.stage_seconds.items()},
            "job_step_seconds": {k: round(v, 3) for k, v in sorted(self.job_step_seconds.items())},
        }

    def _carved_pass(self, extractor: JobExtractor, pair_keys: dict[str, str]) -> None:
        """Parse what carving found; link byte-identical copies of jobs already recovered."""
        assert self.carver is not None
        if self.carver.candidates_unexamined:
            self.problem(
                Problem(
                    "carve-cap",
                    f"{self.carver.candidates_unexamined} of {self.carver.candidates_seen} "
                    "carving signature hits were not examined (per-chunk cap)",
                )
            )
        known = self.store.top_level_job_hashes(self.image_id)
        regions = self.carver.regions
        results = extract_all(
            extractor, self._carved_sources(regions, known), len(regions), self.options.workers
        )
        self.progress.start(len(regions), "carved", unit="regions")
        for source, extracted in results:
            self.progress.advance(1)
            region = source.carved
            assert region is not None
            self._link_deleted_file(region, extracted)
            before = self.jobs
            self._store_extracted(extracted, None, pair_keys, (region.image_offset, region.length))
            self.carved_jobs += int(self.jobs > before)
            if not self.once_per_image and extracted.jobs:
                # Only the primary part knows the file jobs: the coordinator turns a carved job
                # that repeats one byte for byte into a copy of it, as a whole scan does here.
                self.store.add_part_carved(
                    self.image_id,
                    region.image_offset,
                    region.length,
                    self.carved_digests.get(region.image_offset),
                    {
                        "image_offset": region.image_offset,
                        "length": region.length,
                        "location_class": str(region.location_class),
                        "address": str(region.carve_address()),
                    },
                    [job.job_id for job in extracted.jobs],
                )
        self.progress.stop()

    def _carved_sources(
        self, regions: list[CarvedRegion], known: dict[str, str]
    ) -> Iterator[JobSource]:
        for region in regions:
            size = min(region.length, MAX_PARSE_BYTES)
            try:
                data = self.image.read(region.image_offset, size)
            except ImageReadError as exc:
                self.problem(
                    Problem(
                        "unreadable-range",
                        f"carved {region.format}: {exc}",
                        "error",
                        image_offset=region.image_offset,
                    )
                )
                continue
            digest = hashlib.sha256(data).hexdigest()
            if size == region.length:
                self.carved_digests[region.image_offset] = digest
            original = known.get(digest) if size == region.length else None
            if original is not None:
                self.carved_copies += 1
                self.store.add_job_copy(
                    self.image_id,
                    original,
                    {
                        "image_offset": region.image_offset,
                        "length": region.length,
                        "location_class": str(region.location_class),
                        "address": str(region.carve_address()),
                    },
                )
                continue
            yield JobSource(
                data=data,
                address=region.carve_address(),
                location_class=region.location_class,
                runs=(ByteRun(image_offset=region.image_offset, length=size),),
                truncated=region.length > size,
                carved=region,
            )

    def _link_deleted_file(self, region: CarvedRegion, extracted: Extracted) -> None:
        """Name the deleted file a carved job was, where its directory entry survives: by the
        job's own name (job/document name = the file's name) or by the size the inode kept."""
        top = next((j for j in extracted.jobs if j.parent_job_id is None), None)
        if top is None:
            return
        here = [
            (index, entry)
            for index, (start, end, entry) in enumerate(self.contentless_deleted)
            if start <= region.image_offset < end
        ]
        names = {
            str(top.metadata.get(key) or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].casefold()
            for key in ("job_name", "document_name")
        } - {""}
        by_name = [(index, entry) for index, entry in here if _name_forms(entry.path) & names]
        by_size = [
            (index, entry)
            for index, entry in here
            if region.complete and entry.size > 0 and entry.size == region.length
        ]
        matched, how = (by_name, "name") if len(by_name) == 1 else (by_size, "size")
        if len(matched) != 1:
            return
        index, entry = matched[0]
        del self.contentless_deleted[index]
        reason = (
            f"deleted file {entry.path!r} (inode {entry.inode}) recovered by carving, "
            f"matched by its {'name' if how == 'name' else f'size ({entry.size} bytes)'}"
        )
        extracted.jobs[extracted.jobs.index(top)] = dataclasses.replace(
            top,
            path=entry.path,
            inode=entry.inode,
            deleted_file={
                "path": entry.path,
                "inode": entry.inode,
                "size": entry.size,
                "matched_by": how,
            },
            notes=(*top.notes, reason),
        )

    def _job_sources(self) -> Iterator[JobSource]:
        for fs, walked, file_id in self.job_files:
            entry = walked.entry
            data, unread = b"", 0
            if self.image.forks_share and entry.runs and not walked.resident:
                # Read by the worker that parses it: not here, and not sent to it.
                unread = max(0, min(MAX_PARSE_BYTES, entry.size))
            else:
                try:
                    data = self._read_file(fs, walked, 0, MAX_PARSE_BYTES)
                except OSError as exc:
                    self.problem(Problem("unreadable-file", f"{entry.path}: {exc}"))
                    continue
            cls = LocationClass.ALLOCATED if entry.allocated else LocationClass.DELETED
            yield JobSource(
                data=data,
                unread=unread,
                address=self.locator.file_address(
                    fs.volume, entry.path, entry.inode, entry.allocated
                ),
                location_class=cls,
                name=entry.path.rsplit("/", 1)[-1],
                path=entry.path,
                inode=entry.inode,
                file_id=file_id,
                runs=entry.runs,
                truncated=entry.size > MAX_PARSE_BYTES,
            )

    def _store_extracted(
        self,
        extracted: Extracted,
        file_id: int | None,
        pair_keys: dict[str, str],
        image_range: tuple[int, int] | None = None,
    ) -> None:
        """Store a source's jobs; findings in decoded text that the raw pass already reported in
        the same file (or, for carved bytes, the same image range) are not counted twice."""
        raw: list[str] = []
        rows: Iterable[tuple[object]] = ()
        if file_id is not None:
            rows = self.store.db.execute(
                "SELECT value_sha256 FROM findings WHERE image_id = ? AND file_id = ? AND job_id IS NULL",
                (self.image_id, file_id),
            )
        elif image_range is not None:
            rows = self.store.db.execute(
                "SELECT value_sha256 FROM findings WHERE image_id = ? AND job_id IS NULL"
                " AND image_offset >= ? AND image_offset < ?",
                (self.image_id, image_range[0], image_range[0] + image_range[1]),
            )
        raw = [str(value) for (value,) in rows]
        if image_range is not None and self.lookahead_raw:
            end = image_range[0] + image_range[1]
            raw += [v for offset, v in self.lookahead_raw if image_range[0] <= offset < end]
        findings, jobs = record_extracted(
            self.store, self.image_id, extracted, file_id, set(raw), len(raw)
        )
        self.findings += findings
        self.jobs += jobs
        pair_keys.update(extracted.pair_keys)
        self.ocr_requests.extend(extracted.ocr_requests)
        for name, seconds in extracted.seconds.items():
            self.job_step_seconds[name] += seconds

    # --- the streaming pass -----------------------------------------------------------------

    def stream(
        self, disk_map: DiskMap, prepare: Callable[[], object] | None = None
    ) -> dict[str, str]:
        """The one sequential pass: hashes, YARA and the disk map from the same bytes.

        ``prepare`` (mapping partitions and file systems) runs on the main thread while the
        first chunks are read, hashed and matched; hits are attributed only after it.

        Each buffer starts LEAD bytes before its chunk and runs OVERLAP bytes past it; only
        matches that start inside the chunk itself are kept. The lead stops a rule's
        start-of-data anchor (``^``) from matching in the middle of the medium, the overlap
        lets a match that starts at the chunk's end finish.

        A part of a split image (``options.part``) examines only its region, but reads on
        each side of it what carving needs to decide as a whole scan would: from one longest
        instance before the region (an instance started there covers what follows it) to one
        longest instance past it (an instance started in the region runs on). The primary
        part reads the rest for the hashes only.
        """
        size = self.image.size
        chunk = self.options.chunk_size
        hashers = (
            [hashlib.md5(), hashlib.sha1(), hashlib.sha256()] if self.options.compute_hashes else []
        )
        spans = _StreamSpans.of(size, self.options.part, carving=self.carver is not None)
        read_from, read_to = (0, size) if hashers else (spans.read_from, spans.read_to)
        self.hash_complete = True
        self.progress.start(read_to - read_from, "scanning")
        # Beside the main thread run reading ahead, one thread per hash (FIFO, so each digest
        # sees the bytes in order; hashlib releases the GIL, so MD5, the slowest, sets the
        # pace rather than the sum of all three) and MATCHERS YARA threads, which also classify
        # each chunk's units (rules.match and numpy release the GIL too, so two chunks are
        # examined at once; their results are taken in chunk order). The main thread
        # attributes earlier chunks' hits and adds their unit classes to the disk map.
        if self.carver is not None and self.joined_rules is None:
            # Compiled once here, not by two YARA threads at once. Where a chunk is both
            # searched and carved, one YARA pass with both sets does both (see RuleSet.joined).
            try:
                self.joined_rules = self.detector.ruleset.joined(
                    CARVE_NAMESPACE, carve_rules().source
                )
            except (yara.Error, ValueError):  # each set compiled alone: two passes then
                log.debug("detection and carve rules not joined", exc_info=True)
        reader = ThreadPoolExecutor(1, thread_name_prefix="pfa-read")
        hash_threads = [ThreadPoolExecutor(1, thread_name_prefix="pfa-hash") for _ in hashers]
        matcher = ThreadPoolExecutor(MATCHERS, thread_name_prefix="pfa-yara")
        hashing: deque[list[Future[None]]] = deque()
        carver_open = self.carver is not None
        try:
            positions = spans.positions(read_from, read_to, chunk)

            def fetch(pos: int, end: int) -> Future[tuple[int, bytes]]:
                start = max(0, pos - LEAD)
                return reader.submit(self._read_tolerant, start, end - start + OVERLAP)

            spans_iter = iter(positions)
            current = next(spans_iter, None)
            pending_read = fetch(*current) if current is not None else None
            in_flight: deque[tuple[Future[_Examined], memoryview, int, _ChunkUse]] = deque()
            prepared = prepare is None
            while current is not None and pending_read is not None:
                pos, end = current
                start, buf = pending_read.result()
                current = next(spans_iter, None)
                pending_read = fetch(*current) if current is not None else None
                lead = pos - start
                core = memoryview(buf)[lead : lead + (end - pos)]
                if hashers:
                    while len(hashing) >= MAX_CHUNKS_AWAITING_HASH:
                        for done in hashing.popleft():
                            done.result()
                    hashing.append(
                        [
                            pool.submit(h.update, core)
                            for pool, h in zip(hash_threads, hashers, strict=True)
                        ]
                    )
                use = spans.use(pos)
                accept_end = None if end >= size else lead + len(core)
                if use.detect or use.lookahead or use.candidates:
                    matching = matcher.submit(
                        self._examine, buf, start, lead, accept_end, core, use
                    )
                else:
                    matching = _NOTHING_MATCHED
                in_flight.append((matching, core, pos, use))
                ready = len(in_flight) >= CHUNKS_AHEAD or pending_read is None
                if prepare is not None and not prepared and ready:
                    prepare()
                    prepared = True
                while prepared and len(in_flight) > MATCHERS:
                    self._sniff_until(in_flight[0][0])
                    carver_open = self._finish_chunk(disk_map, *in_flight.popleft(), carver_open)
            if not prepared and prepare is not None:
                prepare()
            while in_flight:
                self._sniff_until(in_flight[0][0])
                carver_open = self._finish_chunk(disk_map, *in_flight.popleft(), carver_open)
            self._sniff_all()
            if self.carver is not None:
                if carver_open:
                    self.carver.finish()
                # A carved instance belongs to the part it starts in.
                self.carver.regions = [
                    r for r in self.carver.regions if spans.examines(r.image_offset)
                ]
            while hashing:
                for done in hashing.popleft():
                    done.result()
        finally:
            for pool in (reader, matcher, *hash_threads):
                pool.shutdown(wait=True, cancel_futures=True)
        self.progress.stop()
        if not hashers or not self.hash_complete:
            return {}
        return {h.name: h.hexdigest() for h in hashers}

    def _sniff_until(self, matching: Future[_Examined]) -> None:
        """Sniff queued files for job formats while YARA still works on ``matching``: the main
        thread would only wait, and the walk did not read the files' heads itself so that
        YARA could run on while it walked. Then, while it still works, stage file timeline
        events (FileEventStager)."""
        while self._unsniffed and not matching.done():
            self._sniff_some()
        events = self.file_events
        if events is not None:
            while not matching.done() and events.stage_some():
                pass  # one batch of files at a time

    def _finish_chunk(
        self,
        disk_map: DiskMap,
        matching: Future[_Examined],
        core: memoryview,
        pos: int,
        use: _ChunkUse,
        carver_open: bool,
    ) -> bool:
        """Attribute one chunk's hits, classify it, feed the carver; whether it still feeds."""
        examined = matching.result()
        if examined.unit_classes is not None:
            self._classify(disk_map, examined.unit_classes, core, pos)
        detections, candidates, unexamined = examined.matched
        if use.detect:
            for detection in detections:
                self._record(detection, self.locator.locate(detection.offset))
        else:
            self.lookahead_raw.extend((d.offset, d.value_sha256) for d in detections)
        if self.carver is not None and carver_open:
            if use.carve:
                self.carver.feed(pos, core, candidates, unexamined)
            elif pos >= use.carve_to:
                # Past the bytes carving needs: decide what waits and let go of the chunks.
                self.carver.finish()
                carver_open = False
        self.flush_problems()
        self.progress.advance(len(core))
        return carver_open

    def _read_tolerant(self, offset: int, size: int) -> tuple[int, bytes]:
        """Read a buffer; where the medium can't be read, substitute zeros piece by piece and
        record each unreadable range as a Problem (the hashes then can't be trusted)."""
        data, bad = read_tolerant(self.image, offset, size, READ_RETRY_PIECE, READ_RETRY_PIECE)
        for start in bad:
            self._unreadable(start // READ_RETRY_PIECE)
        return offset, data

    def _unreadable(self, piece_index: int) -> None:
        if not self.once_per_image:
            return  # the primary part reads every byte (for the hashes) and records it once
        with self._problem_lock:
            if piece_index in self._unreadable_pieces:
                return
            self._unreadable_pieces.add(piece_index)
        self.hash_complete = False
        start = piece_index * READ_RETRY_PIECE
        end = min(self.image.size, start + READ_RETRY_PIECE)
        self.problem(
            Problem(
                "unreadable-range",
                f"bytes {start}-{end} could not be read; scanned as zeros",
                "error",
                image_offset=start,
            )
        )

    def _examine(
        self,
        buf: bytes,
        base: int,
        accept_start: int,
        accept_end: int | None,
        core: memoryview,
        use: _ChunkUse,
    ) -> _Examined:
        """Match one buffer and classify the units of its chunk (on a YARA thread)."""
        matched = self._match(
            buf, base, accept_start, accept_end, use.detect or use.lookahead, use.candidates
        )
        return _Examined(matched, classify_units(core) if use.detect else None)

    def _match(
        self,
        buf: bytes,
        base: int,
        accept_start: int,
        accept_end: int | None,
        detect: bool,
        carve: bool,
    ) -> _Matched:
        """Detections and carve candidates of one buffer (on the YARA thread)."""
        carve = carve and self.carver is not None
        if detect and carve and self.joined_rules is not None:
            return self._match_joined(self.joined_rules, buf, base, accept_start, accept_end)
        detections = self._detect(buf, base, accept_start, accept_end) if detect else []
        if not carve:
            return detections, [], 0
        try:
            candidates, unexamined = find_candidates(buf, base, accept_start, accept_end)
        except yara.Error as exc:
            self.problem(
                Problem("carve-error", f"carving signatures not searched: {exc}", "error", base)
            )
            return detections, [], 0
        return detections, candidates, unexamined

    def _match_joined(
        self, rules: yara.Rules, buf: bytes, base: int, accept_start: int, accept_end: int | None
    ) -> _Matched:
        """``_match`` in one YARA pass of the detection and carve rules joined."""
        try:
            matches = match_rules(rules, buf, base)
        except DetectionError as exc:
            message = f"{exc}; neither the rules nor the carving signatures were searched"
            self.problem(Problem("detection-error", message, "error", image_offset=base))
            return [], [], 0
        carving = [m for m in matches if m.namespace == CARVE_NAMESPACE]
        searched = [m for m in matches if m.namespace != CARVE_NAMESPACE]
        detections = self._detect(buf, base, accept_start, accept_end, matches=searched)
        candidates, unexamined = candidates_in(carving, buf, base, accept_start, accept_end)
        return detections, candidates, unexamined

    def _detect(
        self,
        buf: bytes,
        base: int,
        accept_start: int,
        accept_end: int | None,
        where: str | None = None,
        matches: list[yara.Match] | None = None,
    ) -> list[Detection]:
        """YARA + validators on one buffer; a failure becomes a Problem.

        ``where`` names a file for buffers of logical file content (``base`` is then a file
        offset, not an image offset); ``matches`` are the detection rules' matches when the
        caller ran YARA.
        """
        try:
            return self.detector.scan(
                buf, base, accept_start=accept_start, accept_end=accept_end, matches=matches
            )
        except DetectionError as exc:
            if where is None:
                problem = Problem("detection-error", str(exc), "error", image_offset=base)
            else:
                problem = Problem("detection-error", f"{where}: {exc}", "error")
            self.problem(problem)
            return []

    def _classify(self, disk_map: DiskMap, classes: np.ndarray, core: memoryview, pos: int) -> None:
        disk_map.add(classes, pos)
        # Structured units outside file-system metadata are residual data (random fill is judged
        # by the verdict: encryption or wiping with random data).
        for index in np.flatnonzero(classes == CLASSES.index("structured")).tolist():
            unit_offset = pos + index * UNIT
            location = self.locator.locate(unit_offset)
            cls = location.location_class
            if cls is LocationClass.ALLOCATED:
                continue
            if cls is LocationClass.UNPARTITIONED:
                unit = bytes(core[index * UNIT : (index + 1) * UNIT])
                if not _beyond_tables(unit):
                    continue
            self.residual_units += 1

    # --- the logical pass over fragmented files ---------------------------------------------

    def logical_pass(self) -> None:
        """Re-read, through the file system, only what the raw pass could not see whole.

        A hit inside one fragment was found by the raw pass; a hit that spans two fragments
        starts within SEAM_REACH bytes before a seam, so only those windows are read again.
        Resident NTFS values are small and read whole.
        """
        for item in self.reread:
            if item.resident:
                windows = [(0, item.size)]
            else:
                windows = [(max(0, seam - SEAM_REACH), seam) for seam in item.seams()]
            for accept_from, accept_to in windows:
                start = max(0, accept_from - LEAD)
                try:
                    buf = item.fs.read_file(
                        item.inode, start, accept_to + SEAM_REACH + OVERLAP - start
                    )
                except OSError as exc:
                    self.problem(Problem("unreadable-file", f"{item.path}: {exc}"))
                    break
                accept_end = min(len(buf), accept_to - start)
                detections = self._detect(buf, start, accept_from - start, accept_end, item.path)
                for detection in detections:
                    self._record_logical(item, detection)
        self.flush_problems()

    def _record_logical(self, item: _Reread, detection: Detection) -> None:
        image_offset = image_offset_of(item.runs, detection.offset)
        if image_offset is None or (image_offset, detection.value_sha256) in self.seen:
            return
        base = self.locator.file_address(item.fs.volume, item.path, item.inode, item.allocated)
        label = "resident value (MFT record)" if item.resident else "file content across fragments"
        address = base.then(step("decoder", label, file_offset=detection.offset))
        cls = LocationClass.ALLOCATED if item.allocated else LocationClass.DELETED
        location = Location(cls, address, item.path, item.inode, item.file_id, detection.offset)
        self._record(detection, location, image_offset=image_offset)

    # --- records ----------------------------------------------------------------------------

    def _record(
        self, detection: Detection, location: Location, image_offset: int | None = None
    ) -> None:
        offset = detection.offset if image_offset is None else image_offset
        key = (offset, detection.value_sha256)
        if key in self.seen:
            return
        self.seen.add(key)
        finding = detection.to_finding(
            location.location_class,
            location.address,
            reveal=self.options.reveal,
            image_offset=offset,
            path=location.path,
            inode=location.inode,
        )
        self.store.add_finding(self.image_id, finding, location.file_id)
        self.findings += 1

    def problem(self, problem: Problem) -> None:
        """Record a Problem; safe from the reader and YARA threads (the store is written only
        from the main thread, by ``flush_problems``)."""
        with self._problem_lock:
            self.problems.append(problem)
            self._unstored_problems.append(problem)

    def flush_problems(self) -> None:
        with self._problem_lock:
            pending, self._unstored_problems = self._unstored_problems, []
        for problem in pending:
            self.store.add_problem(self.image_id, problem)


@dataclass(frozen=True)
class _Reread:
    """A file the logical pass reads again: fragmented, or resident in its MFT record."""

    fs: FileSystem
    inode: int
    path: str
    allocated: bool
    runs: tuple[ByteRun, ...]
    file_id: int
    size: int
    resident: bool

    def seams(self) -> list[int]:
        """File offsets where the next byte is not adjacent on the medium."""
        return [
            b.file_offset
            for a, b in itertools.pairwise(self.runs)
            if a.image_offset + a.length != b.image_offset
        ]


def _name_forms(path: str) -> set[str]:
    """A file's name as a job might give it: with and without its extension, any case."""
    name = path.rsplit("/", 1)[-1].casefold()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return {name, stem} - {""}


def image_evidence(
    store: CaseStore,
    image_id: int,
    findings: int,
    user_files_with_content: int,
    residual_units: int,
    disk_map: DiskMap,
) -> Evidence:
    """What the verdict of one image is drawn from (its findings by severity from the case)."""
    counts = disk_map.counts
    return Evidence(
        findings=findings,
        user_files_with_content=user_files_with_content,
        residual_units=residual_units,
        random_units=counts["random"],
        structured_units=counts["structured"],
        constant_units=counts["constant"],
        pattern_units=counts["pattern"],
        zero_units=counts["zero"],
        unit_bytes=UNIT,
        findings_by_severity=store.finding_counts(image_id),
    )


def run_record(command_line: str, rules: RuleSet, started: str) -> dict[str, Any]:
    return {
        "tool": "printer-forensics",
        "tool_version": __version__,
        "command_line": command_line,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "rules_sha256": rules.sha256,
        "rule_files": [str(p) for p in rules.files],
        "started": started,
    }


def scan_image(
    image: Image,
    options: ScanOptions,
    store: CaseStore,
    run_id: int,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan one opened image into the case store and return its summary."""
    started = utc_now()
    image_id = store.add_image(run_id, str(image.paths[0]), image.size)
    scan = _ImageScan(image, options, store, image_id, progress or Progress())
    for problem in image.problems:
        scan.structure_problem(problem)
    disk_map = DiskMap(image.size)
    layouts: list[DiskLayout] = []
    stage_started = time.perf_counter()

    def prepare() -> None:  # on the main thread while the first buffers are read and matched
        walk_started = time.perf_counter()
        layouts.append(scan.map_structure())
        if options.part is None:  # the files are all known: their events can be staged
            scan.file_events = FileEventStager(store, image_id)
        scan.stage_done("file-system walk (within stream)", walk_started)

    hashes = scan.stream(disk_map, prepare=prepare)
    layout = layouts[0]
    stage_started = scan.stage_done("stream", stage_started)
    if scan.once_per_image:
        scan.logical_pass()
        stage_started = scan.stage_done("logical re-read", stage_started)
    if options.parse_jobs:
        scan.job_pass()
    stage_started = time.perf_counter()
    verified: bool | None = None
    stored = dict(image.stored_hashes)
    if hashes and stored:
        verified = all(hashes.get(k) == v for k, v in stored.items() if k in hashes)
        if not verified:
            scan.problem(
                Problem(
                    "hash-mismatch",
                    "hash computed from the media differs from the hash stored in the container: "
                    + ", ".join(
                        f"{k} stored {v} computed {hashes.get(k)}" for k, v in stored.items()
                    ),
                    "error",
                )
            )
    # A split image is consolidated once its parts are merged (forensics.batch.parts).
    failed = (
        consolidate_or_problem(store, image_id, scan.file_events) if options.part is None else None
    )
    if failed is not None:
        scan.problem(failed)
    scan.flush_problems()
    scan.stage_done("consolidate", stage_started)
    record = ImageRecord(
        paths=tuple(str(p) for p in image.paths),
        format=image.format,
        size=image.size,
        sector_size=image.sector_size,
        hashes=hashes,
        stored_hashes=stored,
        hash_verified=verified,
    )
    verdict, reasons = decide(
        image_evidence(
            store,
            image_id,
            scan.findings,
            scan.user_files_with_content,
            scan.residual_units,
            disk_map,
        ),
        options.policy,
    )
    finished = utc_now()
    image_dict = record.to_dict()
    image_dict.update(
        {
            "partition_scheme": layout.scheme,
            "verdict": str(verdict),
            "verdict_reasons": reasons,
            "verdict_policy": options.policy.to_dict(),
            "disk_map": disk_map.to_dict(),
            "ocr": scan.ocr.to_dict(options.pages.budget if options.pages else None)
            if scan.ocr is not None
            else None,
            "profile": scan.profile(),
            "started": started,
            "finished": finished,
        }
    )
    if options.part is not None:
        image_dict["part"] = {
            "role": options.part.role,
            "start": options.part.start,
            "end": options.part.end,
            "user_files_with_content": scan.user_files_with_content,
            "residual_units": scan.residual_units,
        }
    store.finish_image(image_id, image_dict, str(verdict))
    return ScanResult(
        image_id=image_id,
        image=record,
        verdict=verdict,
        verdict_reasons=reasons,
        started=started,
        finished=finished,
        findings=scan.findings,
        problems=len(scan.problems),
        disk_map=disk_map.to_dict(),
        layout_scheme=layout.scheme,
        stats={
            "user_files_with_content": scan.user_files_with_content,
            "residual_units": scan.residual_units,
            "reread_files": len(scan.reread),
            "jobs": scan.jobs,
            "carved_jobs": scan.carved_jobs,
            "carved_copies_linked": scan.carved_copies,
        },
    )
