"""Sanitisation verification (``pfa verify-wipe``): was this medium really wiped?

Every 512-byte sector read is classified (forensics/diskmap.py): zero, constant, pattern,
random (high entropy) or structured; structured sectors get a kind (partition table, file-system
metadata, print-job signature, text, other binary). The whole medium is read front to back in
large sequential reads, or a seeded random sample of its sectors that always includes the first
and the last (NIST SP 800-88 Rev. 1, §4.7.1: verification by sampling). Structured sectors are
merged into regions, each placed in the partition layout and shown by a masked preview of its
first bytes. ``forensics.verdict.decide_wipe`` then says ``wiped``, ``encrypted`` or
``residual-data``. docs/verify-wipe.md is the user guide.

The medium is only read; unreadable sectors are counted and listed, never guessed.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics import __version__
from forensics.diskmap import (
    CLASSES,
    CONSTANT,
    PATTERN,
    RANDOM,
    STRUCTURED,
    ZERO,
    classify_rows,
)
from forensics.errors import ImageReadError, InputError
from forensics.evidence.disk import DiskLayout, Volume, read_layout, whole_image_layout
from forensics.evidence.image import Image, format_size, read_tolerant
from forensics.progress import Progress
from forensics.records import LocationClass
from forensics.verdict import Verdict, WipeEvidence, decide_wipe

log = logging.getLogger(__name__)

SECTOR = 512
READ_CHUNK = 8 * 1024 * 1024  # one sequential read; also the unit the sample is drawn in
READ_RETRY_PIECE = 64 * 1024  # a failed read is retried in pieces this big, then per sector
# A chunk whose sample holds at least this share of its sectors is read whole: one large read
# costs less than many small ones (and on a disk, seeks cost more than the bytes between them).
DENSE_SAMPLE_SHARE = 1 / 32
SPAN_GAP_SECTORS = 8  # sparse samples closer than this are read in one span
# Structured sectors this close are one region: 4 KiB is a file-system block or a page.
MERGE_GAP_SECTORS = 8
BOOT_AREA_BYTES = 1024 * 1024  # MBR/GPT, boot loader and alignment gap before the 1st partition
VOLUME_HEADER_BYTES = 1024 * 1024  # a partition's first MiB: LUKS/BitLocker headers, superblocks
MAX_REGIONS = 1000  # regions described in full; more are counted
MAX_UNREADABLE_RANGES = 100
MAX_SIGNATURE_MARKS = 1000
MAX_FILLS = 32  # distinct fills listed
PREVIEW_BYTES = 48

KINDS = ("partition-table", "fs-metadata", "job", "text", "binary")
TABLE, FS_METADATA, JOB, TEXT, BINARY = range(len(KINDS))
NO_KIND = 255

UNREADABLE = len(CLASSES) + 1  # map code above every class: an unreadable stretch always shows


@dataclass(frozen=True)
class Signature:
    """Bytes that open a print job or spool file, wherever they sit in a sector."""

    name: str
    magic: bytes
    # Long signatures (7+ bytes: a chance match is < 2^-56 per position) make even a
    # high-entropy sector structured: a job header in front of compressed data is plaintext.
    promotes: bool


SIGNATURES = (
    Signature("PJL UEL", b"\x1b%-12345X", True),  # PJL Technical Reference: Universal Exit Language
    Signature("PJL", b"@PJL", False),
    Signature("PostScript", b"%!PS-Adobe-", True),  # DSC 3.0 §2.4 header comment
    Signature("PostScript", b"%!PS", False),
    Signature("PDF", b"%PDF-", False),  # ISO 32000-1 §7.5.2 file header
    # PCL XL Feature Reference §5.1: stream header, binding byte ")" (LE) or "(" (BE).
    Signature("PCL XL", b") HP-PCL XL", True),
    Signature("PCL XL", b"( HP-PCL XL", True),
    Signature("PWG raster", b"RaS2PwgRaster", True),  # PWG 5102.4 §4.3: sync word + header
    Signature("Apple URF", b"UNIRAST\x00", True),
)


@dataclass(frozen=True)
class _Magic:
    name: str
    offset: int  # in the sector
    magic: bytes


# File-system and volume metadata recognised at a fixed place in a sector.
FS_MAGICS = (
    _Magic("NTFS boot sector", 3, b"NTFS    "),  # OEM ID of the NTFS boot sector
    _Magic("exFAT boot sector", 3, b"EXFAT   "),  # exFAT spec §3.1.2 FileSystemName
    _Magic("BitLocker volume header", 3, b"-FVE-FS-"),
    _Magic("FAT boot sector", 54, b"FAT1"),  # FAT spec: BS_FilSysType "FAT12   "/"FAT16   "
    _Magic("FAT32 boot sector", 82, b"FAT32   "),  # FAT spec: BS_FilSysType, FAT32 layout
    _Magic("NTFS MFT record", 0, b"FILE0"),  # "FILE" + update-sequence offset 0x30
    _Magic("NTFS index record", 0, b"INDX("),  # "INDX" + update-sequence offset 0x28
    _Magic("LUKS header", 0, b"LUKS\xba\xbe"),  # LUKS1 on-disk format §2.4 magic
    _Magic("XFS superblock", 0, b"XFSB"),
    _Magic("SquashFS superblock", 0, b"hsqs"),
    _Magic("JBD2 journal block", 0, b"\xc0\x3b\x39\x98"),  # big-endian h_magic
    _Magic("Btrfs superblock", 64, b"_BHRfS_M"),
)
# ext2/3/4 superblock (kernel.org ext4 "Super Block"): s_magic 0xEF53 at 0x38, with
# s_log_block_size (0x18) <= 6 and s_rev_level (0x4C) <= 1 to make a 2-byte magic specific.
_EXT_MAGIC_AT = 0x38
_EXT_LOG_BLOCK_AT = 0x18
_EXT_REV_AT = 0x4C
# MBR/EBR (UEFI 2.10 §5.2.1): four 16-byte entries at 446, signature 55 AA at 510.
_MBR_ENTRIES_AT = 446
_MBR_SIGNATURE_AT = 510
_GPT_ENTRY = 128  # UEFI 2.10 §5.3.3
_GPT_MAX_LBA = 1 << 48
_GPT_ARRAY_SECTORS = 32  # 128 entries x 128 bytes: the usual entry array (UEFI 2.10 §5.3.2)

_PRINTABLE = np.zeros(256, dtype=bool)
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True
TEXT_SHARE = 0.85  # share of printable bytes among a sector's non-zero bytes for "text"
TEXT_MIN_BYTES = 16

# Overwrite fills named in the report. Keys are the repeated unit in its smallest rotation.
_NAMED_FILLS: dict[bytes, str] = {
    b"\x00": "zeros",
    b"\xff": "ones (DoD 5220.22-M complement pass, Schneier, VSITR)",
    b"\x35": "Xerox Image Overwrite pass",
    b"\xca": "Xerox Image Overwrite pass",
    b"\x97": "Xerox Image Overwrite pass",
    b"\x55": "Gutmann pass 5, DoD 5220.22-M character pass",
    b"\xaa": "Gutmann pass 6, VSITR last pass",
    b"\x24\x92\x49": "Gutmann passes 7-9 and 26-28",
    b"\x6d\xb6\xdb": "Gutmann passes 29-31",
    b"\x55\xaa": "alternating 0x55 0xAA",
}
for _value in range(0x11, 0xFF, 0x11):  # Gutmann passes 10-25: 0x00, 0x11, ... 0xFF
    _NAMED_FILLS.setdefault(bytes([_value]), "Gutmann passes 10-25")


def _smallest_rotation(unit: bytes) -> bytes:
    return min(unit[i:] + unit[:i] for i in range(len(unit)))


def fill_name(unit: bytes) -> str | None:
    """The published overwrite scheme a repeated unit belongs to, if any."""
    return _NAMED_FILLS.get(_smallest_rotation(unit))


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Area:
    """A boot or metadata area: plaintext structure here does not contradict ``encrypted``."""

    name: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "offset": self.offset, "length": self.length}


@dataclass(frozen=True)
class Region:
    """Structured sectors merged into one stretch of the medium."""

    offset: int
    length: int
    sectors: int  # structured sectors read in it (with sampling, fewer than length / 512)
    kinds: dict[str, int]
    signatures: tuple[str, ...]
    volume: Volume | None
    area: str | None
    preview_offset: int
    preview: str

    @property
    def location_class(self) -> str | None:
        """``unpartitioned`` in a gap; None inside a partition (only a file-system walk, as in
        pfa scan, tells allocated from unallocated there)."""
        if self.volume is not None and self.volume.kind == "gap":
            return LocationClass.UNPARTITIONED.value
        return None

    def where(self) -> str:
        return _volume_label(self.volume) if self.volume is not None else "the medium"

    def to_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "length": self.length,
            "sectors": self.sectors,
            "kinds": dict(self.kinds),
            "signatures": list(self.signatures),
            "volume": None if self.volume is None else _volume_dict(self.volume),
            "location_class": self.location_class,
            "area": self.area,
            "preview_offset": self.preview_offset,
            "preview": self.preview,
        }


@dataclass(frozen=True)
class Fill:
    """One overwrite fill seen: the repeated unit as it lies at offsets 0 mod its length."""

    cls: str  # "zero", "constant" or "pattern"
    unit: bytes
    sectors: int

    @property
    def name(self) -> str | None:
        return fill_name(self.unit)

    def label(self) -> str:
        hexed = " ".join(f"0x{b:02X}" for b in self.unit)
        return f"{hexed}: {self.name}" if self.name else hexed

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": self.cls,
            "unit": self.unit.hex(),
            "name": self.name,
            "sectors": self.sectors,
        }


@dataclass(frozen=True)
class MapData:
    """Class per pixel of each strip (0: nothing read there; 1+code; UNREADABLE)."""

    width: int
    disk: np.ndarray
    volumes: tuple[np.ndarray, ...]
    signature_offsets: tuple[int, ...]


@dataclass(frozen=True)
class WipeResult:
    path: str
    image_format: str
    size: int
    layout: DiskLayout
    mode: str  # "full" | "sample"
    percent: float
    seed: int | None
    sectors_total: int
    sectors_read: int
    first_and_last_read: bool
    bytes_read: int
    seconds: float
    counts: dict[str, int]
    kinds: dict[str, int]
    volume_counts: tuple[dict[str, int], ...]
    fills: tuple[Fill, ...]
    areas: tuple[Area, ...]
    regions: tuple[Region, ...]
    regions_total: int
    unreadable_sectors: int
    unreadable_ranges: tuple[tuple[int, int], ...]
    verdict: Verdict
    reasons: tuple[str, ...]
    problems: tuple[str, ...]
    revealed: bool
    map: MapData = field(repr=False)

    @property
    def mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "printer-forensics/verify-wipe",
            "schema_version": 1,
            "tool": {"name": "printer-forensics", "version": __version__},
            "image": {
                "path": self.path,
                "format": self.image_format,
                "size": self.size,
                "sector_size": SECTOR,
                "partition_scheme": self.layout.scheme,
            },
            "verdict": {
                "verdict": str(self.verdict),
                "exit_code": self.verdict.exit_code,
                "reasons": list(self.reasons),
            },
            "sampling": {
                "mode": self.mode,
                "percent": self.percent,
                "seed": self.seed,
                "sectors_total": self.sectors_total,
                "sectors_read": self.sectors_read,
                "first_and_last_read": self.first_and_last_read,
            },
            "read": {
                "bytes_read": self.bytes_read,
                "seconds": round(self.seconds, 3),
                "mb_per_s": round(self.mb_per_s, 1),
                "unreadable_sectors": self.unreadable_sectors,
                "unreadable_ranges": [
                    {"offset": o, "length": n} for o, n in self.unreadable_ranges
                ],
            },
            "counts": dict(self.counts),
            "structured_kinds": dict(self.kinds),
            "fills": [f.to_dict() for f in self.fills],
            "areas": [a.to_dict() for a in self.areas],
            "volumes": [
                {**_volume_dict(v), "counts": dict(c)}
                for v, c in zip(self.layout.volumes, self.volume_counts, strict=True)
            ],
            "regions": [r.to_dict() for r in self.regions],
            "regions_total": self.regions_total,
            "revealed": self.revealed,
            "problems": list(self.problems),
        }


def _volume_dict(volume: Volume) -> dict[str, Any]:
    return {
        "index": volume.index,
        "kind": volume.kind,
        "slot": volume.slot,
        "offset": volume.offset,
        "length": volume.length,
        "description": volume.description,
    }


def _volume_label(volume: Volume) -> str:
    if volume.kind == "partition":
        what = f" ({volume.description})" if volume.description else ""
        return f"partition {volume.slot}{what}"
    if volume.kind == "gap":
        return "unpartitioned space"
    return "the whole disk (no partition table)"


# --- masking -------------------------------------------------------------------------------


def preview_text(data: bytes, reveal: bool) -> str:
    """Printable rendering of ``data``: '.' for bytes that are not printable ASCII and, unless
    ``reveal``, every digit as '#' and every letter as 'x' (a value cannot leak). Job
    signatures, public constants, stay readable."""
    keep = bytearray(len(data))
    if not reveal:
        for signature in SIGNATURES:
            at = data.find(signature.magic)
            while at >= 0:
                keep[at : at + len(signature.magic)] = b"\x01" * len(signature.magic)
                at = data.find(signature.magic, at + 1)
    out = []
    for byte, kept in zip(data, keep, strict=True):
        char = chr(byte)
        if not 0x20 <= byte < 0x7F:
            out.append(".")
        elif reveal or kept:
            out.append(char)
        elif char.isdigit():
            out.append("#")
        elif char.isalpha():
            out.append("x")
        else:
            out.append(char)
    return "".join(out)


# --- sampling ------------------------------------------------------------------------------


def parse_percent(text: str) -> float:
    """``--sample`` value: a percentage in (0, 100], with or without a trailing '%'."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise InputError(f"--sample wants a percentage such as 10, not {text!r}") from None
    if not 0 < value <= 100 or math.isnan(value):
        raise InputError(f"--sample must be more than 0 and at most 100, not {text!r}")
    return value


@dataclass
class _Batch:
    """Sectors read from one chunk: their indices (sorted), bytes and what could not be read."""

    sectors: np.ndarray  # int64 absolute sector numbers of the rows
    rows: np.ndarray  # (n, 512) uint8
    tail: tuple[int, np.ndarray] | None  # a partial last sector: (sector number, its bytes)
    unreadable: np.ndarray  # int64 absolute sector numbers that could not be read
    bytes_read: int
    span: int  # bytes of the medium the chunk covers


class _Reader:
    """Reads the medium in chunks (whole, or the sampled sectors of each), tolerating errors."""

    def __init__(self, image: Image, fraction: float | None, seed: int | None) -> None:
        self.image = image
        self.size = image.size
        self.sectors_total = -(-self.size // SECTOR)
        self.fraction = fraction
        self.rng = np.random.default_rng(seed) if fraction is not None else None

    def chunks(self) -> Iterator[int]:
        return iter(range(0, self.size, READ_CHUNK))

    def read(self, offset: int) -> _Batch:
        """The batch of the chunk at ``offset`` (runs in the reader thread, in chunk order, so
        the sample drawn from the seeded generator is the same on every run)."""
        end = min(self.size, offset + READ_CHUNK)
        first = offset // SECTOR
        count = -(-(end - offset) // SECTOR)
        if self.rng is None or self.fraction is None:
            data, bad = self._read_tolerant(offset, end - offset)
            return self._batch(offset, data, np.arange(first, first + count), bad, len(data))
        chosen = np.flatnonzero(self.rng.random(count) < self.fraction)
        # The first and the last sector of the medium are always verified (SP 800-88 §4.7.1
        # leaves the choice of sample to the organisation; these two catch a header or a
        # backup table that a random draw would skip).
        extra = [i for i in (-first, self.sectors_total - 1 - first) if 0 <= i < count]
        if extra:
            chosen = np.union1d(chosen, np.asarray(extra, dtype=np.int64))
        if chosen.size == 0:
            return self._batch(offset, b"", np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
        if chosen.size >= DENSE_SAMPLE_SHARE * count:
            data, bad = self._read_tolerant(offset, end - offset)
            return self._batch(offset, data, first + chosen, bad, len(data))
        # Sparse: one read per span of nearby samples.
        breaks = np.flatnonzero(np.diff(chosen) > SPAN_GAP_SECTORS) + 1
        pieces: list[tuple[int, bytes]] = []
        bad_all: list[np.ndarray] = []
        read = 0
        for span in np.split(chosen, breaks):
            start = offset + int(span[0]) * SECTOR
            stop = min(end, offset + (int(span[-1]) + 1) * SECTOR)
            data, bad = self._read_tolerant(start, stop - start)
            pieces.append((start, data))
            bad_all.append(bad)
            read += len(data)
        # Lay the spans out in a chunk-sized buffer (np.zeros maps untouched pages lazily; the
        # bytes between spans are never classified: only the chosen sectors are).
        buffer = np.zeros(end - offset, dtype=np.uint8)
        for start, data in pieces:
            buffer[start - offset : start - offset + len(data)] = np.frombuffer(data, np.uint8)
        bad = np.concatenate(bad_all) if bad_all else np.zeros(0, np.int64)
        return self._batch(offset, buffer, first + chosen, bad, read)

    def _batch(
        self,
        offset: int,
        data: bytes | np.ndarray,
        sectors: np.ndarray,
        bad: np.ndarray,
        bytes_read: int,
    ) -> _Batch:
        first = offset // SECTOR
        bytes_read -= min(bytes_read, int(bad.size) * SECTOR)  # zeros stood in for those
        if bad.size:
            unreadable = sectors[np.isin(sectors, bad)]
            sectors = sectors[~np.isin(sectors, bad)]
        else:
            unreadable = np.zeros(0, np.int64)
        arr = data if isinstance(data, np.ndarray) else np.frombuffer(data, dtype=np.uint8)
        full = arr.size // SECTOR
        tail: tuple[int, np.ndarray] | None = None
        if arr.size % SECTOR and sectors.size and sectors[-1] == first + full:
            tail = (int(sectors[-1]), arr[full * SECTOR :].reshape(1, arr.size - full * SECTOR))
            sectors = sectors[:-1]
        grid = arr[: full * SECTOR].reshape(full, SECTOR)
        local = sectors - first
        if local.size == full and (full == 0 or (local[0] == 0 and local[-1] == full - 1)):
            rows = grid  # every sector of the chunk: a view, nothing copied
        else:
            rows = grid[local]
        return _Batch(
            sectors.astype(np.int64),
            rows,
            tail,
            unreadable.astype(np.int64),
            bytes_read,
            min(READ_CHUNK, self.size - offset),
        )

    def _read_tolerant(self, offset: int, size: int) -> tuple[bytes, np.ndarray]:
        """Bytes at ``offset``; sectors that cannot be read come back as zeros and are listed
        (absolute sector numbers) so that they are reported, not classified."""
        data, bad = read_tolerant(self.image, offset, size, READ_RETRY_PIECE, SECTOR)
        return data, np.asarray([start // SECTOR for start in bad], dtype=np.int64)


# --- per-sector details --------------------------------------------------------------------


def _at(rows: np.ndarray, offset: int, magic: bytes) -> np.ndarray:
    if rows.shape[1] < offset + len(magic):
        return np.zeros(rows.shape[0], dtype=bool)
    want = np.frombuffer(magic, dtype=np.uint8)
    return np.asarray((rows[:, offset : offset + len(magic)] == want).all(axis=1))


def _le(rows: np.ndarray, offset: int, width: int) -> np.ndarray:
    """Little-endian unsigned field of every row."""
    value = np.zeros(rows.shape[0], dtype=np.uint64)
    for i in range(width):
        value |= rows[:, offset + i].astype(np.uint64) << np.uint64(8 * i)
    return value


def _partition_tables(rows: np.ndarray, sectors: np.ndarray, sectors_total: int) -> np.ndarray:
    """MBR/EBR sectors, GPT headers and sectors of GPT entries (not user data)."""
    n = rows.shape[0]
    if rows.shape[1] < SECTOR:
        return np.zeros(n, dtype=bool)
    # MBR/EBR (UEFI 2.10 Table 5-2): every entry's status 0x00 or 0x80; a used entry (type not
    # 0) starts past sector 0 and has sectors; an unused one is all zero.
    signed = (rows[:, _MBR_SIGNATURE_AT] == 0x55) & (rows[:, _MBR_SIGNATURE_AT + 1] == 0xAA)
    entries = rows[:, _MBR_ENTRIES_AT:_MBR_SIGNATURE_AT].reshape(n * 4, 16)
    used = entries[:, 4] != 0
    entry_ok = np.where(
        used,
        np.isin(entries[:, 0], (0x00, 0x80)) & (_le(entries, 8, 4) > 0) & (_le(entries, 12, 4) > 0),
        ~entries.any(axis=1),
    )
    mbr = signed & np.all(entry_ok.reshape(n, 4), axis=1) & np.any(used.reshape(n, 4), axis=1)
    # GPT (UEFI 2.10 §5.3.2-5.3.3): the header, and entry sectors where the primary (from LBA 2)
    # and the backup (before the last LBA) array lie; every 128-byte entry unused (all zero) or
    # with type and unique GUIDs set, 2 <= first LBA <= last LBA < 2^48 and a UTF-16 name whose
    # high bytes are zero.
    gpt_header = _at(rows, 0, b"EFI PART")
    near_end = (sectors < _GPT_ARRAY_SECTORS + 2) | (
        sectors >= sectors_total - _GPT_ARRAY_SECTORS - 1
    )
    slots = rows.reshape(n * (SECTOR // _GPT_ENTRY), _GPT_ENTRY)
    empty = ~slots.any(axis=1)
    first = _le(slots, 32, 8)
    last = _le(slots, 40, 8)
    plausible = (
        slots[:, :16].any(axis=1)
        & slots[:, 16:32].any(axis=1)
        & (first >= 2)
        & (first <= last)
        & (last < _GPT_MAX_LBA)
        & ~slots[:, 57:128:2].any(axis=1)
    )
    per_sector = SECTOR // _GPT_ENTRY
    gpt_entries = (
        near_end
        & np.all((empty | plausible).reshape(n, per_sector), axis=1)
        & ~np.all(empty.reshape(n, per_sector), axis=1)
    )
    return np.asarray(mbr | gpt_header | gpt_entries)


def _fs_metadata(rows: np.ndarray) -> np.ndarray:
    found = np.zeros(rows.shape[0], dtype=bool)
    for magic in FS_MAGICS:
        hit = _at(rows, magic.offset, magic.magic)
        if magic.offset in (54, 82):  # FAT names only count in a boot sector
            hit &= _at(rows, _MBR_SIGNATURE_AT, b"\x55\xaa")
        found |= hit
    if rows.shape[1] >= _EXT_REV_AT + 4:
        ext = _at(rows, _EXT_MAGIC_AT, b"\x53\xef")
        ext &= _le(rows, _EXT_LOG_BLOCK_AT, 4) <= 6
        ext &= _le(rows, _EXT_REV_AT, 4) <= 1
        found |= ext
    return found


def _text(rows: np.ndarray) -> np.ndarray:
    nonzero = np.count_nonzero(rows, axis=1)
    printable = _PRINTABLE[rows].sum(axis=1)
    return np.asarray((nonzero >= TEXT_MIN_BYTES) & (printable >= TEXT_SHARE * nonzero))


def _kinds(
    rows: np.ndarray, job: np.ndarray, sectors: np.ndarray, sectors_total: int
) -> np.ndarray:
    """Kind of each structured row (precedence: file-system metadata, partition table, job,
    text, binary)."""
    kinds = np.full(rows.shape[0], BINARY, dtype=np.uint8)
    if rows.shape[0] == 0:
        return kinds
    text = _text(rows)
    kinds[text] = TEXT
    kinds[job] = JOB
    kinds[_partition_tables(rows, sectors, sectors_total)] = TABLE
    kinds[_fs_metadata(rows)] = FS_METADATA
    return kinds


@functools.cache
def _signature_rules() -> Any:
    """One YARA rule with every signature: Aho-Corasick in C, several times faster than a
    bytes.find per signature (and the GIL is released while it runs)."""
    import yara

    strings = "\n".join(
        f"$s{i} = {{ {signature.magic.hex(' ')} }}" for i, signature in enumerate(SIGNATURES)
    )
    return yara.compile(
        source=f"rule job_signatures {{ strings: {strings} condition: any of them }}"
    )


def _signature_hits(rows: np.ndarray, sectors: np.ndarray) -> list[tuple[int, int, str, bool]]:
    """(row, offset in row, name, promotes) of every job signature in ``rows``; a signature
    may run into the next row only if that row is the next sector of the medium."""
    if rows.shape[0] == 0:
        return []
    width = rows.shape[1]
    found: dict[int, tuple[str, bool, int]] = {}  # position -> (name, promotes, length)
    for match in _signature_rules().match(data=rows.tobytes()):
        for string in match.strings:
            signature = SIGNATURES[int(string.identifier[2:])]
            for instance in string.instances:
                known = found.get(instance.offset)
                if known is None or known[2] < len(signature.magic):
                    found[instance.offset] = (
                        signature.name,
                        signature.promotes,
                        len(signature.magic),
                    )
    hits = []
    for position, (name, promotes, length) in sorted(found.items()):
        row, in_row = divmod(position, width)
        if in_row + length > width and (
            row + 1 >= sectors.size or sectors[row + 1] != sectors[row] + 1
        ):
            continue
        hits.append((row, in_row, name, promotes))
    return hits


# --- the pass ------------------------------------------------------------------------------


@dataclass
class _OpenRegion:
    offset: int
    end: int
    sectors: int
    kinds: np.ndarray
    signatures: list[str]
    volume: int
    area: int
    preview_offset: int
    preview: str


class _Tally:
    """Everything counted while the sectors stream past."""

    def __init__(
        self,
        size: int,
        layout: DiskLayout,
        areas: tuple[Area, ...],
        reveal: bool,
        map_width: int,
    ) -> None:
        self.size = size
        self.sectors_total = -(-size // SECTOR)
        self.layout = layout
        self.volumes = layout.volumes
        self.volume_starts = np.asarray([v.offset for v in self.volumes], dtype=np.int64)
        self.areas = areas
        self.reveal = reveal
        self.counts = np.zeros(len(CLASSES), dtype=np.int64)
        self.kinds = np.zeros(len(KINDS), dtype=np.int64)
        self.volume_counts = np.zeros((max(1, len(self.volumes)), len(CLASSES)), np.int64)
        self.constant_bytes = np.zeros(256, dtype=np.int64)
        self.patterns: dict[bytes, int] = {}
        self.read_sequence = 0
        self.sectors_read = 0
        self.outside = 0
        self.inside_by_area = np.zeros(max(1, len(areas)), dtype=np.int64)
        self.regions: list[_OpenRegion] = []
        self.regions_total = 0
        self.outside_regions = 0
        self._last: tuple[int, int, int, int] | None = None  # sector, sequence, volume, area
        self.unreadable: list[tuple[int, int]] = []
        self.unreadable_sectors = 0
        self.first_read = False
        self.last_read = False
        self.map_width = map_width
        self.disk_bins = np.zeros(map_width, dtype=np.uint8)
        self.volume_bins = [np.zeros(map_width, dtype=np.uint8) for _ in self.volumes]
        self.signature_offsets: list[int] = []

    # -- one batch --

    def add(self, batch: _Batch) -> None:
        if batch.unreadable.size:
            self._unreadable(batch.unreadable)
        if batch.rows.shape[0]:
            self._rows(batch.sectors, batch.rows)
        if batch.tail is not None:
            sector, row = batch.tail
            self._rows(np.asarray([sector], dtype=np.int64), row)

    def _rows(self, sectors: np.ndarray, rows: np.ndarray) -> None:
        n = sectors.size
        if sectors[0] == 0:
            self.first_read = True
        if sectors[-1] == self.sectors_total - 1:
            self.last_read = True
        codes, periods = classify_rows(rows)
        sequence = self.read_sequence + np.arange(n, dtype=np.int64)
        self.read_sequence += n
        self.sectors_read += n
        kinds = np.full(n, NO_KIND, dtype=np.uint8)
        varied = np.flatnonzero(codes >= RANDOM)
        hits: list[tuple[int, int, str, bool]] = []
        if varied.size:
            sub_rows = rows[varied]
            hits = [
                (int(varied[row]), at, name, promotes)
                for row, at, name, promotes in _signature_hits(sub_rows, sectors[varied])
            ]
            job = np.zeros(n, dtype=bool)
            for row, _at, _name, promotes in hits:
                job[row] = True
                if promotes:
                    codes[row] = STRUCTURED
            structured = np.flatnonzero(codes == STRUCTURED)
            kinds[structured] = _kinds(
                rows[structured], job[structured], sectors[structured], self.sectors_total
            )
            self.kinds += np.bincount(kinds[structured], minlength=len(KINDS))
        self.counts += np.bincount(codes, minlength=len(CLASSES))
        volume = self._volume_of(sectors)
        self.volume_counts += np.bincount(
            volume * len(CLASSES) + codes, minlength=self.volume_counts.size
        ).reshape(self.volume_counts.shape)
        self._fills(sectors, rows, codes, periods)
        self._map(sectors, codes.astype(np.uint8) + 1)
        for row, at, _name, _promotes in hits:
            if codes[row] == STRUCTURED and len(self.signature_offsets) < MAX_SIGNATURE_MARKS:
                self.signature_offsets.append(int(sectors[row]) * SECTOR + at)
        residual = np.flatnonzero((codes == STRUCTURED) & (kinds != TABLE))
        if residual.size:
            self._regions(residual, sectors, sequence, volume, rows, kinds, hits)

    def _volume_of(self, sectors: np.ndarray) -> np.ndarray:
        if not self.volumes:
            return np.zeros(sectors.size, dtype=np.int64)
        index = np.searchsorted(self.volume_starts, sectors * SECTOR, side="right") - 1
        return np.asarray(np.clip(index, 0, len(self.volumes) - 1), dtype=np.int64)

    def _area_of(self, sectors: np.ndarray) -> np.ndarray:
        area = np.full(sectors.size, -1, dtype=np.int64)
        offsets = sectors * SECTOR
        for index in range(len(self.areas) - 1, -1, -1):
            a = self.areas[index]
            area[(offsets >= a.offset) & (offsets < a.end)] = index
        return area

    def _fills(
        self, sectors: np.ndarray, rows: np.ndarray, codes: np.ndarray, periods: np.ndarray
    ) -> None:
        constant = codes == CONSTANT
        if constant.any():
            self.constant_bytes += np.bincount(rows[constant, 0], minlength=256)
        for p in np.unique(periods[codes == PATTERN]).tolist():
            index = np.flatnonzero((codes == PATTERN) & (periods == p))
            # The unit as it lies at image offsets that are multiples of p.
            shift = (sectors[index] * SECTOR) % p
            columns = (np.arange(p)[None, :] - shift[:, None]) % p
            units = np.take_along_axis(rows[index, :p], columns, axis=1)
            values, counts = np.unique(units, axis=0, return_counts=True)
            for value, count in zip(values, counts, strict=True):
                key = value.tobytes()
                if key in self.patterns or len(self.patterns) < MAX_FILLS:
                    self.patterns[key] = self.patterns.get(key, 0) + int(count)

    def _map(self, sectors: np.ndarray, values: np.ndarray) -> None:
        width = self.map_width
        bins = sectors * width // max(1, self.sectors_total)
        np.maximum.at(self.disk_bins, bins, values)
        offsets = sectors * SECTOR
        for volume, target in zip(self.volumes, self.volume_bins, strict=True):
            lo, hi = np.searchsorted(offsets, (volume.offset, volume.end))
            if lo >= hi:
                continue
            where = (offsets[lo:hi] - volume.offset) * width // max(1, volume.length)
            np.maximum.at(target, where, values[lo:hi])

    def _unreadable(self, sectors: np.ndarray) -> None:
        self.unreadable_sectors += int(sectors.size)
        self._map(sectors, np.full(sectors.size, UNREADABLE, dtype=np.uint8))
        breaks = np.flatnonzero(np.diff(sectors) != 1) + 1
        for run in np.split(sectors, breaks):
            start = int(run[0]) * SECTOR
            end = min(self.size, (int(run[-1]) + 1) * SECTOR)
            if self.unreadable and self.unreadable[-1][0] + self.unreadable[-1][1] == start:
                offset, _ = self.unreadable[-1]
                self.unreadable[-1] = (offset, end - offset)
            elif len(self.unreadable) < MAX_UNREADABLE_RANGES:
                self.unreadable.append((start, end - start))

    def _regions(
        self,
        residual: np.ndarray,
        sectors: np.ndarray,
        sequence: np.ndarray,
        volume: np.ndarray,
        rows: np.ndarray,
        kinds: np.ndarray,
        hits: list[tuple[int, int, str, bool]],
    ) -> None:
        r_sector = sectors[residual]
        r_sequence = sequence[residual]
        r_volume = volume[residual]
        r_area = self._area_of(r_sector)
        outside = r_area < 0
        self.outside += int(outside.sum())
        if (~outside).any():
            self.inside_by_area += np.bincount(r_area[~outside], minlength=self.inside_by_area.size)
        # A residual sector continues the region of the one before it when it is close on the
        # medium or no other sector was read between them, in the same volume and area.
        prev = self._last or (-(1 << 40), -2, -1, -2)  # nothing before: a new region
        prev_sector = np.concatenate(([prev[0]], r_sector[:-1]))
        prev_sequence = np.concatenate(([prev[1]], r_sequence[:-1]))
        prev_volume = np.concatenate(([prev[2]], r_volume[:-1]))
        prev_area = np.concatenate(([prev[3]], r_area[:-1]))
        near = (r_sector - prev_sector <= MERGE_GAP_SECTORS) | (r_sequence == prev_sequence + 1)
        starts = ~near | (r_volume != prev_volume) | (r_area != prev_area)
        region_id = self.regions_total - 1 + np.cumsum(starts)
        self._last = (
            int(r_sector[-1]),
            int(r_sequence[-1]),
            int(r_volume[-1]),
            int(r_area[-1]),
        )
        # Regions never cross an area's edge, so a region is wholly inside or outside.
        self.outside_regions += int((starts & outside).sum())
        self.regions_total += int(starts.sum())
        if region_id[0] >= MAX_REGIONS:
            return
        detailed = region_id < MAX_REGIONS
        ids = region_id[detailed]
        bounds = np.flatnonzero(np.diff(ids)) + 1
        positions = np.flatnonzero(detailed)
        hit_names: dict[int, list[str]] = {}
        for row, _at, name, _promotes in hits:
            hit_names.setdefault(row, []).append(name)
        for segment in np.split(np.arange(ids.size), bounds):
            first_pos = positions[segment[0]]
            last_pos = positions[segment[-1]]
            rid = int(region_id[first_pos])
            seg_rows = residual[positions[segment]]
            kind_counts = np.bincount(kinds[seg_rows], minlength=len(KINDS))[: len(KINDS)]
            names = [n for r in seg_rows.tolist() for n in hit_names.get(r, [])]
            end = min(self.size, (int(r_sector[last_pos]) + 1) * SECTOR)
            if rid < len(self.regions):
                region = self.regions[rid]
                region.end = end
                region.sectors += segment.size
                region.kinds += kind_counts
                region.signatures.extend(n for n in names if n not in region.signatures)
                continue
            start_row = int(residual[first_pos])
            data = rows[start_row].tobytes()
            lead = len(data) - len(data.lstrip(b"\x00"))
            offset = int(r_sector[first_pos]) * SECTOR
            unique_names: list[str] = []
            for name in names:
                if name not in unique_names:
                    unique_names.append(name)
            self.regions.append(
                _OpenRegion(
                    offset=offset,
                    end=end,
                    sectors=segment.size,
                    kinds=kind_counts.astype(np.int64),
                    signatures=unique_names,
                    volume=int(r_volume[first_pos]),
                    area=int(r_area[first_pos]),
                    preview_offset=offset + lead,
                    preview=preview_text(data[lead : lead + PREVIEW_BYTES], self.reveal),
                )
            )

    # -- the result --

    def fills(self) -> tuple[Fill, ...]:
        fills: list[Fill] = []
        zero = int(self.counts[ZERO])
        if zero:
            fills.append(Fill("zero", b"\x00", zero))
        for value in np.flatnonzero(self.constant_bytes).tolist():
            fills.append(Fill("constant", bytes([value]), int(self.constant_bytes[value])))
        for unit, count in self.patterns.items():
            fills.append(Fill("pattern", unit, count))
        fills.sort(key=lambda f: -f.sectors)
        return tuple(fills[:MAX_FILLS])

    def region_records(self) -> tuple[Region, ...]:
        records = []
        for region in self.regions:
            volume = self.volumes[region.volume] if self.volumes else None
            records.append(
                Region(
                    offset=region.offset,
                    length=region.end - region.offset,
                    sectors=region.sectors,
                    kinds={KINDS[i]: int(c) for i, c in enumerate(region.kinds.tolist()) if c},
                    signatures=tuple(region.signatures),
                    volume=volume,
                    area=self.areas[region.area].name if region.area >= 0 else None,
                    preview_offset=region.preview_offset,
                    preview=region.preview,
                )
            )
        return tuple(records)


def boot_areas(layout: DiskLayout, size: int) -> tuple[Area, ...]:
    """The disk's boot area and each partition's header: where plaintext structure is expected
    even on an encrypted medium (partition tables, boot loaders, LUKS/BitLocker headers)."""
    areas = [Area("disk boot area", 0, min(size, BOOT_AREA_BYTES))]
    for volume in layout.partitions():
        length = min(volume.length, VOLUME_HEADER_BYTES)
        if length > 0:
            areas.append(Area(f"header of partition {volume.slot}", volume.offset, length))
    return tuple(areas)


def verify_wipe(
    image: Image,
    *,
    sample_percent: float | None = None,
    seed: int | None = None,
    reveal: bool = False,
    progress: Progress | None = None,
    map_width: int = 1024,
) -> WipeResult:
    """Read and classify the medium (all of it, or a sample) and judge whether it was wiped."""
    if image.size <= 0:
        raise InputError(f"{image.paths[0]} is empty: nothing to verify")
    progress = progress or Progress()
    problems = [p.message for p in image.problems]
    try:
        layout = read_layout(image)
    except ImageReadError as exc:
        problems.append(f"partition table unreadable ({exc}); the medium is read as one volume")
        layout = whole_image_layout(image)
    problems.extend(p.message for p in layout.problems)
    if sample_percent is not None and sample_percent >= 100:
        sample_percent = None  # a 100 % sample is the whole medium
    if sample_percent is not None and seed is None:
        seed = int.from_bytes(os.urandom(4), "big")
    fraction = None if sample_percent is None else sample_percent / 100
    areas = boot_areas(layout, image.size)
    tally = _Tally(image.size, layout, areas, reveal, map_width)
    reader = _Reader(image, fraction, seed)
    bytes_read = 0
    started = time.perf_counter()
    progress.start(image.size, "verifying")
    pool = ThreadPoolExecutor(1, thread_name_prefix="pfa-wipe-read")
    try:
        offsets = reader.chunks()
        pending: Future[_Batch] | None = None
        first = next(offsets, None)
        if first is not None:
            pending = pool.submit(reader.read, first)
        while pending is not None:
            batch = pending.result()
            following = next(offsets, None)
            pending = None if following is None else pool.submit(reader.read, following)
            tally.add(batch)
            bytes_read += batch.bytes_read
            progress.advance(batch.span)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        progress.stop()
    seconds = time.perf_counter() - started
    regions = tally.region_records()
    fills = tally.fills()
    counts = {name: int(tally.counts[i]) for i, name in enumerate(CLASSES)}
    inside_areas = tuple(
        areas[i].name for i in np.flatnonzero(tally.inside_by_area).tolist() if i < len(areas)
    )
    first_outside = next((r for r in regions if r.area is None), None)
    evidence = WipeEvidence(
        sectors_read=tally.sectors_read,
        zero=counts["zero"],
        constant=counts["constant"],
        pattern=counts["pattern"],
        random=counts["random"],
        structured=counts["structured"],
        table_sectors=int(tally.kinds[TABLE]),
        outside_sectors=tally.outside,
        outside_regions=tally.outside_regions,
        inside_sectors=int(tally.inside_by_area.sum()),
        inside_areas=inside_areas,
        first_outside=""
        if first_outside is None
        else f"at byte {first_outside.offset} in {first_outside.where()}",
        unreadable_sectors=tally.unreadable_sectors,
        sample_percent=sample_percent,
        fills=tuple(f.label() for f in fills if f.cls != "zero")[:4],
    )
    verdict, reasons = decide_wipe(evidence)
    return WipeResult(
        path=str(image.paths[0]),
        image_format=image.format,
        size=image.size,
        layout=layout,
        mode="full" if sample_percent is None else "sample",
        percent=100.0 if sample_percent is None else sample_percent,
        seed=seed if sample_percent is not None else None,
        sectors_total=tally.sectors_total,
        sectors_read=tally.sectors_read,
        first_and_last_read=tally.first_read and tally.last_read,
        bytes_read=bytes_read,
        seconds=seconds,
        counts=counts,
        kinds={name: int(tally.kinds[i]) for i, name in enumerate(KINDS)},
        volume_counts=tuple(
            {name: int(row[i]) for i, name in enumerate(CLASSES)}
            for row in tally.volume_counts[: len(layout.volumes)]
        ),
        fills=fills,
        areas=areas,
        regions=regions,
        regions_total=tally.regions_total,
        unreadable_sectors=tally.unreadable_sectors,
        unreadable_ranges=tuple(tally.unreadable),
        verdict=verdict,
        reasons=tuple(reasons),
        problems=tuple(problems),
        revealed=reveal,
        map=MapData(
            width=map_width,
            disk=tally.disk_bins,
            volumes=tuple(tally.volume_bins),
            signature_offsets=tuple(tally.signature_offsets),
        ),
    )


# --- the picture ---------------------------------------------------------------------------

# Colours of the map (RGB), by map code: 0 nothing read, 1 + class code, UNREADABLE.
NOT_READ_COLOUR = (190, 190, 190)
CLASS_COLOURS: dict[str, tuple[int, int, int]] = {
    "zero": (255, 255, 255),
    "constant": (158, 202, 225),
    "pattern": (49, 130, 189),
    "random": (117, 107, 177),
    "structured": (215, 48, 39),
}
UNREADABLE_COLOUR = (0, 0, 0)
REGION_MARK_COLOUR = (253, 141, 60)
SIGNATURE_MARK_COLOUR = (0, 0, 0)
BOUNDARY_COLOUR = (60, 60, 60)
BACKGROUND = (248, 248, 248)
TEXT_COLOUR = (20, 20, 20)
FRAME_COLOUR = (120, 120, 120)

MAP_LEFT = 220  # label column
MAP_RIGHT = 20
MAP_TOP = 40  # title
STRIP_HEIGHT = 28
STRIP_LABEL = 16  # label line above each strip (signature marks sit at its bottom)
STRIP_MARKS = 8  # region marks below each strip
STRIP_GAP = 12
STRIP_PITCH = STRIP_LABEL + STRIP_HEIGHT + STRIP_MARKS + STRIP_GAP
LEGEND_HEIGHT = 56
MAX_STRIPS = 33  # the whole disk and up to 32 volumes: the picture stays bounded


def _palette() -> np.ndarray:
    palette = np.zeros((UNREADABLE + 1, 3), dtype=np.uint8)
    palette[0] = NOT_READ_COLOUR
    for code, name in enumerate(CLASSES):
        palette[code + 1] = CLASS_COLOURS[name]
    palette[UNREADABLE] = UNREADABLE_COLOUR
    return palette


def map_size(result: WipeResult) -> tuple[int, int]:
    """Width and height in pixels of the map drawn for ``result``."""
    strips = min(MAX_STRIPS, 1 + len(result.layout.volumes))
    return (
        MAP_LEFT + result.map.width + MAP_RIGHT,
        MAP_TOP + strips * STRIP_PITCH + LEGEND_HEIGHT,
    )


def strip_box(index: int, width: int = 1024) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of strip ``index`` (0: the whole disk; i: volume i - 1);
    right and bottom exclusive."""
    top = MAP_TOP + index * STRIP_PITCH + STRIP_LABEL
    return MAP_LEFT, top, MAP_LEFT + width, top + STRIP_HEIGHT


def draw_map(result: WipeResult, path: Path) -> None:
    """Write a PNG of the medium: one strip for the disk, one per partition or gap."""
    from PIL import Image as PILImage  # Pillow: only when a map is asked for
    from PIL import ImageDraw

    width, height = map_size(result)
    picture = PILImage.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    palette = _palette()
    mapped = result.map
    size_text = f"{format_size(result.size)}, {result.layout.scheme} partition scheme"
    sampled = "whole medium read" if result.mode == "full" else f"{result.percent:g} % sample"
    draw.text(
        (8, 8),
        f"{Path(result.path).name}: {result.verdict} ({size_text}; {sampled})",
        fill=TEXT_COLOUR,
    )
    strips: list[tuple[str, int, int, np.ndarray]] = [("whole disk", 0, result.size, mapped.disk)]
    for volume, bins in zip(result.layout.volumes, mapped.volumes, strict=True):
        label = f"#{volume.index} {_volume_label(volume)}"
        strips.append((label, volume.offset, volume.length, bins))
    for index, (label, start, length, bins) in enumerate(strips[:MAX_STRIPS]):
        left, top, right, bottom = strip_box(index, mapped.width)
        span = f"{format_size(length)} at {start}"
        draw.text((8, top + 8), label[:34], fill=TEXT_COLOUR)
        draw.text((8, top - STRIP_LABEL + 2), span, fill=FRAME_COLOUR)
        colours = palette[bins]  # (width, 3)
        stripe = np.broadcast_to(colours[None, :, :], (STRIP_HEIGHT, mapped.width, 3))
        picture.paste(PILImage.fromarray(np.ascontiguousarray(stripe)), (left, top))
        draw.rectangle((left - 1, top - 1, right, bottom), outline=FRAME_COLOUR)

        def x_of(offset: int, start: int = start, length: int = length, left: int = left) -> int:
            return left + min(mapped.width - 1, (offset - start) * mapped.width // max(1, length))

        if index == 0:
            for volume in result.layout.volumes[1:]:
                x = x_of(volume.offset)
                draw.line((x, top, x, bottom - 1), fill=BOUNDARY_COLOUR)
        for region in result.regions:
            if region.offset + region.length <= start or region.offset >= start + length:
                continue
            x0 = x_of(max(region.offset, start))
            x1 = max(x0, x_of(min(region.offset + region.length, start + length) - 1))
            draw.rectangle((x0, bottom + 2, x1, bottom + STRIP_MARKS - 1), fill=REGION_MARK_COLOUR)
        for offset in mapped.signature_offsets:
            if start <= offset < start + length:
                x = x_of(offset)
                draw.polygon(
                    [(x - 3, top - 7), (x + 3, top - 7), (x, top - 2)], fill=SIGNATURE_MARK_COLOUR
                )
    if len(strips) > MAX_STRIPS:
        note_top = MAP_TOP + MAX_STRIPS * STRIP_PITCH - STRIP_GAP
        draw.text(
            (8, note_top),
            f"... {len(strips) - MAX_STRIPS} more volumes not drawn",
            fill=TEXT_COLOUR,
        )
    legend_top = height - LEGEND_HEIGHT + 10
    x = 8
    entries = [(name, CLASS_COLOURS[name]) for name in CLASSES]
    entries += [("not read", NOT_READ_COLOUR), ("unreadable", UNREADABLE_COLOUR)]
    for name, colour in entries:
        draw.rectangle((x, legend_top, x + 14, legend_top + 14), fill=colour, outline=FRAME_COLOUR)
        draw.text((x + 20, legend_top + 2), name, fill=TEXT_COLOUR)
        x += 30 + 8 * len(name)
    marks_top = legend_top + 24
    draw.rectangle((8, marks_top + 4, 22, marks_top + 10), fill=REGION_MARK_COLOUR)
    draw.text((28, marks_top + 2), "residual region", fill=TEXT_COLOUR)
    draw.polygon(
        [(150, marks_top + 2), (158, marks_top + 2), (154, marks_top + 10)],
        fill=SIGNATURE_MARK_COLOUR,
    )
    draw.text((164, marks_top + 2), "job signature", fill=TEXT_COLOUR)
    draw.line((270, marks_top, 270, marks_top + 12), fill=BOUNDARY_COLOUR)
    draw.text((278, marks_top + 2), "partition boundary", fill=TEXT_COLOUR)
    try:
        picture.save(path, "PNG")
    except OSError as exc:
        raise InputError(f"cannot write the map {path}: {exc.strerror or exc}") from None
