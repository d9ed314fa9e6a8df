"""Typed records that flow from the evidence and detection layers to the store and reports.

Records are frozen dataclasses; ``to_dict`` gives the JSON form used in ``report.json``
(documented in docs/report-schema.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from forensics.evidence.address import EvidenceAddress


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (run and image start/end)."""
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LocationClass(StrEnum):
    """Where on the medium a byte lives, from the examiner's point of view."""

    ALLOCATED = "allocated"  # data of an allocated file, or file-system metadata
    DELETED = "deleted"  # blocks still referenced by a deleted file's metadata
    SLACK = "slack"  # past a file's end inside its last allocated block/cluster
    UNALLOCATED = "unallocated"  # free blocks of a recognised file system
    UNPARTITIONED = "unpartitioned"  # outside every partition (gaps, tail, partition tables)
    RAW = "raw"  # a volume whose file system could not be opened


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


_SCALARS = (str, int, float, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass → its field names (fields() is slow)


def field_names(record: Any) -> tuple[str, ...]:
    """The field names of a dataclass instance, in order (kept per class: fields() is slow)."""
    cls = type(record)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(record))
    return names


def _plain(value: Any) -> Any:
    cls = type(value)
    if cls in _SCALARS:  # most leaves: tested first, by exact type
        return value
    names = _FIELD_NAMES.get(cls)
    if names is None:
        if isinstance(value, EvidenceAddress):
            return {"chain": value.to_list(), "text": str(value)}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            names = field_names(value)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Record:
    """Mixin: JSON-ready dict of a frozen dataclass record."""

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)


@dataclass(frozen=True)
class Problem(Record):
    """Something wrong with the evidence or the run; the run goes on.

    ``code`` is a stable kebab-case identifier (e.g. ``image-truncated``,
    ``partition-beyond-image-end``, ``corrupt-superblock``); ``message`` is one human line.
    """

    code: str
    message: str
    severity: str = "warning"  # "info" | "warning" | "error"
    image_offset: int | None = None
    address: str | None = None


@dataclass(frozen=True)
class ByteRun(Record):
    """A contiguous run of bytes in the image (DFXML byte_run: img_offset/file_offset/len)."""

    image_offset: int
    length: int
    file_offset: int = 0


@dataclass(frozen=True)
class ImageRecord(Record):
    paths: tuple[str, ...]
    format: str  # "raw" | "split-raw" | "ewf"
    size: int
    sector_size: int = 512
    hashes: dict[str, str] = field(default_factory=dict)  # computed while streaming
    stored_hashes: dict[str, str] = field(default_factory=dict)  # from the container (E01)
    hash_verified: bool | None = None  # None: nothing to compare


@dataclass(frozen=True)
class VolumeRecord(Record):
    index: int
    kind: str  # "partition" | "gap" | "whole"
    scheme: str  # "mbr" | "gpt" | "none"
    offset: int
    length: int
    declared_length: int
    slot: str | None = None
    type_code: str | None = None
    description: str | None = None
    name: str | None = None
    filesystem: str | None = None  # set when a file system was opened on it


@dataclass(frozen=True)
class FileSystemRecord(Record):
    volume_index: int
    offset: int
    type: str
    block_size: int
    block_count: int
    # Where free space came from: "ext-block-bitmap", "fat12"/"fat16"/"fat32", "ntfs-$Bitmap",
    # "exfat-bitmap", "hfs-$AllocationFile", or "file-runs" (no bitmap: every byte no file
    # claims is treated as unallocated).
    allocation_map: str
    files_allocated: int = 0
    files_deleted: int = 0
    deleted_with_content: int = 0
    unallocated_bytes: int | None = None
    unallocated_runs: int | None = None  # listed one by one in the case store (byte_runs)
    slack_bytes: int = 0


@dataclass(frozen=True)
class FileEntry(Record):
    volume_index: int
    path: str
    inode: int | None
    size: int
    allocated: bool
    kind: str  # "file" | "dir" | "other"
    mtime: str | None = None
    atime: str | None = None
    ctime: str | None = None
    crtime: str | None = None
    runs: tuple[ByteRun, ...] = ()
    has_content: bool = False


@dataclass(frozen=True)
class Finding(Record):
    rule: str
    category: str
    severity: str
    description: str
    value_masked: str
    value_sha256: str
    context_masked: str
    location_class: LocationClass
    image_offset: int | None
    length: int
    encoding: str  # "ascii" | "utf-16le"
    address: EvidenceAddress
    path: str | None = None
    inode: int | None = None
    value: str | None = None  # only kept with --reveal
    context: str | None = None  # only kept with --reveal
    job_id: str | None = None  # set when the hit is in a job's decoded content
    stream_offset: int | None = None  # offset in the decoded stream (or loose file)
    ocr_confidence: float | None = None  # set when the text came from OCR of a page image
    ocr_corrected: bool = False  # read after mapping OCR look-alikes (O→0, l→1…) to digits
    # "validated" (checksum/structure) > "keyword-anchored" (a labelled slot) > "pattern".
    confidence: str = "pattern"
    service: str | None = None  # credentials: the service the secret belongs to, when known

    def to_dict(self) -> dict[str, Any]:
        # Written out rather than derived: findings are the one record made by the thousand.
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity,
            "description": self.description,
            "value_masked": self.value_masked,
            "value_sha256": self.value_sha256,
            "context_masked": self.context_masked,
            "location_class": str(self.location_class),
            "image_offset": self.image_offset,
            "length": self.length,
            "encoding": self.encoding,
            "address": {"chain": self.address.to_list(), "text": str(self.address)},
            "path": self.path,
            "inode": self.inode,
            "value": self.value,
            "context": self.context,
            "job_id": self.job_id,
            "stream_offset": self.stream_offset,
            "ocr_confidence": self.ocr_confidence,
            "ocr_corrected": self.ocr_corrected,
            "confidence": self.confidence,
            "service": self.service,
        }


@dataclass(frozen=True)
class Job(Record):
    """A print, scan or fax job (or device artefact) recovered from the evidence."""

    job_id: str  # stable: derived from the evidence address
    format: str  # this object's format (registry name)
    format_chain: tuple[str, ...]  # outermost first, e.g. ("pjl", "pclxl")
    location_class: LocationClass
    address: EvidenceAddress
    path: str | None
    inode: int | None
    image_offset: int | None  # first byte of the job in the image, where contiguous
    length: int | None
    file_offset: int | None  # first byte of the job in its file, when a plain slice of it
    sha256: str | None  # of the job's bytes as parsed
    metadata: dict[str, Any]
    pages: int | None
    page_refs: tuple[dict[str, Any], ...]
    texts: tuple[
        dict[str, Any], ...
    ]  # name, characters, heuristic (the text itself is in the store)
    complete: bool
    notes: tuple[str, ...]
    parent_job_id: str | None = None
    paired_with: tuple[str, ...] = ()
    findings: int = 0
    carved: bool = False  # recovered by carving free space, slack, gaps or raw volumes
    # The deleted file whose former content this carved job is (matched by name or size).
    deleted_file: dict[str, Any] | None = None
    # Byte-identical carved copies of this job elsewhere on the medium (not reported twice).
    carved_copies: tuple[dict[str, Any], ...] = ()
    # Where the job's bytes lie in the image (top-level jobs with data runs; carved jobs: one run).
    byte_runs: tuple[ByteRun, ...] = ()
    # Pages rendered from the job (number, size, dpi, renderer, preview path, OCR use/confidence).
    rendered_pages: tuple[dict[str, Any], ...] = ()
    # Jobs a log names (page_log, device job logs): forensics/formats/base.py LogEntry.
    log_entries: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class FieldSource(Record):
    """Where a consolidated print-job value came from: the artefact (a parsed job or a log
    entry in one) and the field in it, e.g. ``metadata.user`` or ``page_log line 12``."""

    artefact_id: str
    format: str
    field: str
    address: str | None = None


@dataclass(frozen=True)
class FieldValue(Record):
    """One value of a print-job field, with its source; ``time_zone`` for times ("UTC", an
    offset, or "unknown" for a client's local time)."""

    value: Any
    source: FieldSource
    time_zone: str | None = None


@dataclass(frozen=True)
class JobLink(Record):
    """One artefact of a print job and why it was linked (``reason``).

    ``role``: "control" (CUPS c-file, LPD cf-file, .SHD), "wrapper" (PJL), "content" (a PDL,
    raster or document), "log" (a log entry), "carved copy", "deleted file".
    """

    artefact_id: str
    role: str
    reason: str
    format: str
    format_chain: tuple[str, ...] = ()
    location_class: str | None = None
    path: str | None = None
    inode: int | None = None
    image_offset: int | None = None
    length: int | None = None
    address: str | None = None
    complete: bool | None = None
    carved: bool = False


@dataclass(frozen=True)
class PrintJob(Record):
    """A print job as an examiner counts it: every artefact of the job, consolidated.

    The summary fields hold the preferred value of each field; ``fields`` keeps every value
    with its source, and ``conflicts`` names the fields whose sources disagree.
    """

    print_job_id: str
    time: str | None  # the job's first known time (submitted, else printed, else completed)
    user: str | None
    host: str | None
    document: str | None
    printer: str | None
    pages: int | None
    copies: int | None
    state: str  # printed / held / cancelled / aborted / pending / processing / deleted / spooled
    recoverable: str  # complete / partial / metadata only
    location: str  # the location classes of its content, e.g. "allocated", "unallocated (carved)"
    artefacts: tuple[JobLink, ...]
    fields: dict[str, tuple[FieldValue, ...]]
    conflicts: tuple[str, ...] = ()
    findings: dict[str, int] = field(default_factory=dict)  # severity → count
    finding_categories: dict[str, int] = field(default_factory=dict)
    pin_masked: str | None = None
    hold: str | None = None
    rendered_pages: tuple[dict[str, Any], ...] = ()
    address: str | None = None  # evidence address of the job's main artefact

    def to_dict(self) -> dict[str, Any]:
        # Written out: the generic walk costs more than consolidating (bench/bench_report.py).
        out = dict(self.__dict__)
        out["artefacts"] = [dict(link.__dict__) for link in self.artefacts]
        for link in out["artefacts"]:
            link["format_chain"] = list(link["format_chain"])
        out["fields"] = {
            name: [
                {"value": v.value, "source": dict(v.source.__dict__), "time_zone": v.time_zone}
                for v in values
            ]
            for name, values in self.fields.items()
        }
        out["conflicts"] = list(self.conflicts)
        out["rendered_pages"] = list(self.rendered_pages)
        return out


@dataclass(frozen=True)
class Artefact(Record):
    """A device record that is not a print job: an address book, configuration, a job log."""

    artefact_id: str
    kind: str  # "address book", "configuration", "job log", "page log"
    format: str
    path: str | None
    location_class: str
    address: str
    image_offset: int | None
    length: int | None
    holds: dict[str, int]  # what it holds: contacts, credentials, log entries, ...
    summary: str
    findings: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    print_jobs: tuple[str, ...] = ()  # print jobs its entries describe
    carved: bool = False


@dataclass(frozen=True)
class TimelineEvent(Record):
    """One timestamp recovered from the evidence (Timesketch fields plus the evidence address).

    ``kind``: "print-job", "file", "log", "document".
    """

    datetime: str  # ISO 8601 UTC
    timestamp: int  # microseconds since the Unix epoch
    timestamp_desc: str
    message: str
    kind: str
    address: str | None = None
    image_offset: int | None = None
    path: str | None = None
    inode: int | None = None
    print_job_id: str | None = None
    artefact_id: str | None = None
    source: str | None = None  # "shd metadata.submitted", "files.mtime"
    time_zone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)  # flat: every field is a plain value
