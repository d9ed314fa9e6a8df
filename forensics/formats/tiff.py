"""TIFF images, the container of received and sent faxes (TIFF-F, RFC 2306) and many scans.

The IFD walker here is also used for EXIF in JPEG (``forensics.formats.jpeg``): an EXIF block
is a TIFF structure whose offsets count from its own header. Layout (TIFF 6.0 §2): an 8-byte
header (``II*\\0`` little-endian or ``MM\\0*`` big-endian, then the first IFD's offset); each IFD
is a 2-byte entry count, 12-byte entries (tag, type, count, value or offset) and the next IFD's
offset. Every IFD is one page/subfile. Counts, offsets and loops are bounded here: IFD offsets
already visited end the chain.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from construct import Bytes, Const, ConstructError, Int16ub, Int16ul, Int32ub, Int32ul, Struct

from forensics.formats.base import (
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    clean_field,
    yara_hex,
)

log = logging.getLogger(__name__)

MAX_IFDS = 4096  # pages of one TIFF (a long fax is a few hundred)
MAX_ENTRIES = 1024  # entries per IFD; TIFF 6.0 allows 65535, real files use < 100
MAX_ARRAY_ITEMS = 65_536  # values read from one entry (strip offsets of a tall page)
MAX_STRING_BYTES = 64 * 1024
MAX_DECODE_PAGES = 64  # pages Pillow decodes to check they are readable
DECODE_MAX_PIXELS = 100_000_000  # one page (A3 at 600 dpi is 70 MP)
DECODE_TOTAL_PIXELS = 300_000_000  # all pages of one file together

# TIFF 6.0 §2 image file header.
TIFF_HEADER_LE = Struct("order" / Const(b"II"), "magic" / Const(42, Int16ul), "ifd" / Int32ul)
TIFF_HEADER_BE = Struct("order" / Const(b"MM"), "magic" / Const(42, Int16ub), "ifd" / Int32ub)
# TIFF 6.0 §2 IFD entry: tag, field type, count, value (or offset to it when over 4 bytes).
IFD_ENTRY_LE = Struct("tag" / Int16ul, "type" / Int16ul, "count" / Int32ul, "value" / Bytes(4))
IFD_ENTRY_BE = Struct("tag" / Int16ub, "type" / Int16ub, "count" / Int32ub, "value" / Bytes(4))
ENTRY_SIZE = 12

# TIFF 6.0 §2 field types (1-12) and TIFF Technical Note 1 IFD (13): size, struct code.
FIELD_TYPES: dict[int, tuple[int, str]] = {
    1: (1, "B"),  # BYTE
    2: (1, "s"),  # ASCII
    3: (2, "H"),  # SHORT
    4: (4, "I"),  # LONG
    5: (8, "II"),  # RATIONAL
    6: (1, "b"),  # SBYTE
    7: (1, "s"),  # UNDEFINED
    8: (2, "h"),  # SSHORT
    9: (4, "i"),  # SLONG
    10: (8, "ii"),  # SRATIONAL
    11: (4, "f"),  # FLOAT
    12: (8, "d"),  # DOUBLE
    13: (4, "I"),  # IFD
}
TYPE_ASCII, TYPE_UNDEFINED, TYPE_BYTE = 2, 7, 1

# Tags (TIFF 6.0 §8 baseline, §9-§11 extensions; Exif 2.32 §4.6).
TAG_NAMES: dict[int, str] = {
    254: "NewSubfileType",
    256: "ImageWidth",
    257: "ImageLength",
    258: "BitsPerSample",
    259: "Compression",
    262: "PhotometricInterpretation",
    266: "FillOrder",
    269: "DocumentName",
    270: "ImageDescription",
    271: "Make",
    272: "Model",
    273: "StripOffsets",
    277: "SamplesPerPixel",
    278: "RowsPerStrip",
    279: "StripByteCounts",
    282: "XResolution",
    283: "YResolution",
    285: "PageName",
    292: "T4Options",  # TIFF 6.0 §11
    293: "T6Options",
    296: "ResolutionUnit",
    297: "PageNumber",
    305: "Software",
    306: "DateTime",
    315: "Artist",
    316: "HostComputer",
    322: "TileWidth",
    323: "TileLength",
    324: "TileOffsets",
    325: "TileByteCounts",
    326: "BadFaxLines",  # TIFF-F, RFC 2306 §2.2.4
    327: "CleanFaxData",
    328: "ConsecutiveBadFaxLines",
    513: "JPEGInterchangeFormat",
    514: "JPEGInterchangeFormatLength",
    700: "XMP",
    33432: "Copyright",
    34665: "ExifIFD",
    34853: "GPSIFD",
    36867: "DateTimeOriginal",
    36868: "DateTimeDigitized",
    36880: "OffsetTime",  # Exif 2.31
    36881: "OffsetTimeOriginal",
    36882: "OffsetTimeDigitized",
    37510: "UserComment",
    40965: "InteropIFD",
    42016: "ImageUniqueID",
    42032: "CameraOwnerName",
    42033: "BodySerialNumber",
}
TAG_EXIF_IFD, TAG_GPS_IFD, TAG_INTEROP_IFD = 34665, 34853, 40965
SUB_IFDS = {TAG_EXIF_IFD: "exif", TAG_GPS_IFD: "gps", TAG_INTEROP_IFD: "interop"}

# TIFF 6.0 §3 and TIFF Technical Notes / libtiff tiff.h compression codes.
COMPRESSIONS = {
    1: "none",
    2: "CCITT modified Huffman (RLE)",
    3: "CCITT T.4 (G3 fax)",
    4: "CCITT T.6 (G4 fax)",
    5: "LZW",
    6: "JPEG (old-style)",
    7: "JPEG",
    8: "Deflate",
    9: "JBIG (T.85)",
    10: "JBIG (T.43)",
    32771: "CCITT RLEW",
    32773: "PackBits",
    32946: "Deflate (PKZIP)",
    34661: "JBIG",
    34712: "JPEG 2000",
    50000: "ZSTD",
    50001: "WebP",
}
PHOTOMETRIC = {
    0: "WhiteIsZero",
    1: "BlackIsZero",
    2: "RGB",
    3: "palette",
    4: "mask",
    5: "CMYK",
    6: "YCbCr",
    8: "CIELab",
}
RESOLUTION_UNITS = {1: "", 2: "dpi", 3: "dpcm"}  # TIFF 6.0 §8 ResolutionUnit


@dataclass
class TiffEntry:
    tag: int
    type: int
    count: int
    values: tuple[Any, ...] | str | bytes
    truncated: bool = False

    @property
    def first(self) -> Any:
        if isinstance(self.values, tuple):
            return self.values[0] if self.values else None
        return self.values

    @property
    def text(self) -> str | None:
        return self.values if isinstance(self.values, str) else None


@dataclass
class Ifd:
    offset: int  # absolute offset in the data
    entries: dict[int, TiffEntry] = field(default_factory=dict)

    def get(self, tag: int) -> TiffEntry | None:
        return self.entries.get(tag)

    def number(self, tag: int) -> float | None:
        entry = self.entries.get(tag)
        if entry is None or not isinstance(entry.values, tuple) or not entry.values:
            return None
        value = entry.values[0]
        return value if isinstance(value, int | float) else None

    def integers(self, tag: int) -> list[int]:
        entry = self.entries.get(tag)
        if entry is None or not isinstance(entry.values, tuple):
            return []
        return [v for v in entry.values if isinstance(v, int)]

    def text(self, tag: int) -> str | None:
        entry = self.entries.get(tag)
        return entry.text if entry is not None else None


@dataclass
class TiffStructure:
    byte_order: str  # "<" or ">"
    base: int  # offset of the TIFF header in the data
    ifds: list[Ifd] = field(default_factory=list)  # the main chain: one per page
    sub_ifds: dict[str, Ifd] = field(default_factory=dict)  # exif / gps / interop of IFD 0
    complete: bool = True
    notes: list[str] = field(default_factory=list)
    end: int = 0  # last byte (exclusive) any structure or strip reaches, absolute


def _ascii(raw: bytes) -> str:
    text = raw.rstrip(b"\x00")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = text.decode("latin-1")
    # Several NUL-separated strings (TIFF 6.0 §2 allows it) become "; "-joined.
    return "; ".join(part for part in decoded.split("\x00") if part)


class _Walker:
    def __init__(self, data: bytes | memoryview, base: int, limit: int) -> None:
        self.data = data
        self.base = base
        self.limit = limit  # absolute end of the bytes we may read
        head = bytes(data[base : base + 8])
        if head[:2] == b"II":
            header = TIFF_HEADER_LE.parse(head)
            self.order = "<"
            self.entry_struct = IFD_ENTRY_LE
        elif head[:2] == b"MM":
            header = TIFF_HEADER_BE.parse(head)
            self.order = ">"
            self.entry_struct = IFD_ENTRY_BE
        else:
            raise NotThisFormat("no TIFF byte order mark")
        self.first_ifd = header.ifd
        self.structure = TiffStructure(self.order, base, end=base + 8)
        self.visited: set[int] = set()

    def note(self, text: str) -> None:
        self.structure.complete = False
        if len(self.structure.notes) < 32:
            self.structure.notes.append(text)

    def reach(self, end: int) -> None:
        self.structure.end = max(self.structure.end, min(end, self.limit))

    def read_entry(self, raw: bytes, where: int) -> TiffEntry | None:
        fields = self.entry_struct.parse(raw)
        spec = FIELD_TYPES.get(fields.type)
        if spec is None:
            return None  # TIFF 6.0 §2: readers skip unknown field types
        size, code = spec
        count = fields.count
        truncated = False
        if fields.type in (TYPE_ASCII, TYPE_UNDEFINED, TYPE_BYTE):
            wanted = min(count, MAX_STRING_BYTES)
        else:
            wanted = min(count, MAX_ARRAY_ITEMS)
        truncated = wanted < count
        total = count * size
        if total <= 4:
            blob = bytes(fields.value[: wanted * size])
        else:
            value_offset = int.from_bytes(fields.value, "little" if self.order == "<" else "big")
            start = self.base + value_offset
            if start + wanted * size > self.limit:
                self.note(
                    f"tag {fields.tag} at offset {where}: value at {value_offset} is outside the file"
                )
                return None
            blob = bytes(self.data[start : start + wanted * size])
            self.reach(start + total)
        values: tuple[Any, ...] | str | bytes
        if fields.type == TYPE_ASCII:
            values = _ascii(blob)
        elif fields.type in (TYPE_UNDEFINED, TYPE_BYTE) and fields.tag not in (258, 297):
            values = blob
        else:
            numbers = struct.unpack(f"{self.order}{wanted * len(code)}{code[0]}", blob)
            if len(code) == 2:  # rationals: numerator / denominator pairs
                pairs = zip(numbers[0::2], numbers[1::2], strict=True)
                values = tuple(n / d if d else 0.0 for n, d in pairs)
            else:
                values = tuple(numbers)
        return TiffEntry(fields.tag, fields.type, count, values, truncated)

    def read_ifd(self, relative: int) -> tuple[Ifd | None, int]:
        """Read the IFD at ``relative`` (from the TIFF header); return it and the next offset."""
        start = self.base + relative
        if relative in self.visited:
            self.note(f"IFD offset {relative} seen before: loop in the IFD chain")
            return None, 0
        if relative < 8 or start + 2 > self.limit:
            self.note(f"IFD offset {relative} outside the file")
            return None, 0
        self.visited.add(relative)
        fmt = f"{self.order}H"
        count = struct.unpack(fmt, bytes(self.data[start : start + 2]))[0]
        if count == 0:
            self.note(f"IFD at {relative} has no entries")
            return None, 0
        readable = min(count, MAX_ENTRIES, max(0, (self.limit - start - 2) // ENTRY_SIZE))
        if readable < count:
            self.note(f"IFD at {relative}: {readable} of {count} entries read")
        ifd = Ifd(start)
        for index in range(readable):
            at = start + 2 + index * ENTRY_SIZE
            entry = self.read_entry(bytes(self.data[at : at + ENTRY_SIZE]), at)
            if entry is not None:
                ifd.entries.setdefault(entry.tag, entry)
        self.reach_image_data(ifd)
        next_at = start + 2 + count * ENTRY_SIZE
        self.reach(next_at + 4)
        if readable < count or next_at + 4 > self.limit:
            return ifd, 0
        next_offset = struct.unpack(f"{self.order}I", bytes(self.data[next_at : next_at + 4]))[0]
        return ifd, next_offset

    def reach_image_data(self, ifd: Ifd) -> None:
        """Extend ``end`` over the strips/tiles/thumbnail the IFD points at."""
        for offsets_tag, counts_tag in ((273, 279), (324, 325), (513, 514)):
            offsets = ifd.integers(offsets_tag)
            counts = ifd.integers(counts_tag)
            for offset, count in zip(offsets, counts, strict=False):
                if offset and count and self.base + offset + count <= self.limit:
                    self.reach(self.base + offset + count)

    def walk(self, follow_sub_ifds: bool = True) -> TiffStructure:
        relative = self.first_ifd
        while relative:
            if len(self.structure.ifds) >= MAX_IFDS:
                self.note(f"more than {MAX_IFDS} IFDs; the rest not read")
                break
            ifd, relative = self.read_ifd(relative)
            if ifd is None:
                break
            self.structure.ifds.append(ifd)
        if follow_sub_ifds and self.structure.ifds:
            self.follow(self.structure.ifds[0])
        return self.structure

    def follow(self, ifd: Ifd) -> None:
        pending = [ifd]
        while pending:
            current = pending.pop()
            for tag, label in SUB_IFDS.items():
                pointer = current.number(tag)
                if pointer is None or label in self.structure.sub_ifds:
                    continue
                sub, _ = self.read_ifd(int(pointer))
                if sub is not None:
                    self.structure.sub_ifds[label] = sub
                    pending.append(sub)


def walk_tiff(
    data: bytes | memoryview, base: int = 0, limit: int | None = None, follow_sub_ifds: bool = True
) -> TiffStructure:
    """Walk the TIFF structure whose header is at ``data[base]`` (offsets count from there)."""
    end = len(data) if limit is None else min(limit, len(data))
    if end - base < 8:
        raise NotThisFormat("TIFF header truncated")
    try:
        walker = _Walker(data, base, end)
    except ConstructError as error:
        raise NotThisFormat("not a TIFF header") from error
    try:
        return walker.walk(follow_sub_ifds)
    except (ConstructError, struct.error, ValueError, IndexError, OverflowError):
        log.debug("TIFF structure not fully read", exc_info=True)
        walker.note("TIFF structure damaged; walk stopped")
        return walker.structure


def exif_datetime(text: str | None, offset: str | None = None) -> tuple[str | None, bool]:
    """``YYYY:MM:DD HH:MM:SS`` (TIFF 6.0 §8 DateTime, Exif DateTimeOriginal) to ISO.

    With an Exif 2.31 OffsetTime (``+02:00``) the result is UTC and the flag True; without one
    the zone is unknown, the wall-clock time is returned as if it were UTC and the flag is False.
    """
    if not text:
        return None, False
    match = re.match(r"\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})", text)
    if not match:
        return None, False
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        stamp = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None, False
    known = False
    zone = re.fullmatch(r"\s*([+-])(\d{2}):(\d{2})\s*", offset or "")
    if zone:
        delta = timedelta(hours=int(zone.group(2)), minutes=int(zone.group(3)))
        stamp = stamp - delta if zone.group(1) == "+" else stamp + delta
        known = True
    if not 1980 <= stamp.year <= 2100:
        return None, False
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), known


def resolution_text(ifd: Ifd) -> str | None:
    x = ifd.number(282)
    y = ifd.number(283)
    if not x or not y:
        return None
    unit = RESOLUTION_UNITS.get(int(ifd.number(296) or 2), "")
    xs, ys = f"{x:g}", f"{y:g}"
    text = xs if xs == ys else f"{xs}x{ys}"
    return f"{text} {unit}".strip()


def tag_lines(ifd: Ifd, prefix: str = "") -> list[str]:
    """Every text-valued tag of the IFD as ``Name: value`` lines."""
    lines = []
    for tag, entry in ifd.entries.items():
        if entry.text:
            name = TAG_NAMES.get(tag, f"Tag{tag}")
            lines.append(f"{prefix}{name}: {entry.text[:MAX_STRING_BYTES]}")
    return lines


def _verify_pages(data: bytes, pages: list[Ifd], notes: list[str]) -> int:
    """Decode up to MAX_DECODE_PAGES pages with Pillow; return how many decoded."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        notes.append("Pillow not available: pages not decoded")
        return 0
    decoded = 0
    budget = DECODE_TOTAL_PIXELS
    saved_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = DECODE_MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about every odd tag of a damaged file
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                for index, ifd in enumerate(pages[:MAX_DECODE_PAGES]):
                    width = int(ifd.number(256) or 0)
                    height = int(ifd.number(257) or 0)
                    if width * height > min(DECODE_MAX_PIXELS, budget):
                        notes.append(
                            f"page {index + 1}: {width}x{height} not decoded (pixel limit)"
                        )
                        continue
                    budget -= width * height
                    try:
                        image.seek(index)
                        image.load()
                        decoded += 1
                    except Exception:  # Pillow raises many types on bad data
                        log.debug("TIFF page %d not decoded", index + 1, exc_info=True)
                        notes.append(f"page {index + 1} does not decode")
    except Exception:  # Pillow raises many types on bad data
        log.debug("TIFF not opened by Pillow", exc_info=True)
        notes.append("Pillow could not open the TIFF; pages not decoded")
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit
    if len(pages) > MAX_DECODE_PAGES:
        notes.append(f"only the first {MAX_DECODE_PAGES} pages decoded")
    return decoded


class TiffParser(FormatParser):
    name = "tiff"
    pixels_only = True
    description = "TIFF image (fax G3/G4, scans): IFD tags, pages"
    signatures = (Signature(b"II*\x00"), Signature(b"MM\x00*"))
    carve_patterns = (CarvePattern(yara_hex(b"II*\x00", b"MM\x00*")),)  # TIFF 6.0 §2 header
    priority = 60

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        if data[:4] not in (b"II*\x00", b"MM\x00*"):
            raise NotThisFormat("no TIFF header")
        window = memoryview(data)[:MAX_PARSE_BYTES]
        structure = walk_tiff(window)
        if not structure.ifds:
            raise NotThisFormat("TIFF header without a readable IFD")
        job = ParsedJob(format=self.name, complete=structure.complete, notes=list(structure.notes))
        try:
            self._describe(data, structure, job)
        except (ValueError, TypeError, IndexError, OverflowError):
            log.debug("TIFF fields not all read", exc_info=True)
            job.complete = False
            job.notes.append("TIFF fields not all read (malformed values)")
        return job

    def _describe(self, data: bytes, structure: TiffStructure, job: ParsedJob) -> None:
        first = structure.ifds[0]
        extra: list[tuple[str, str]] = []
        compressions = []
        for number, ifd in enumerate(structure.ifds, 1):
            compression = int(ifd.number(259) or 1)
            compressions.append(compression)
            offsets = ifd.integers(273) or ifd.integers(324)
            counts = ifd.integers(279) or ifd.integers(325)
            start = min(offsets) if offsets else None
            length = None
            if offsets and counts and len(offsets) == len(counts):
                length = max(o + c for o, c in zip(offsets, counts, strict=True)) - min(offsets)
            bits = ifd.integers(258)
            photometric = ifd.number(262)
            colour = " ".join(
                part
                for part in (
                    PHOTOMETRIC.get(int(photometric)) if photometric is not None else None,
                    f"{sum(bits)}-bit" if bits else None,
                )
                if part
            )
            job.pages.append(
                PageRef(
                    number=number,
                    offset=start,
                    length=length,
                    width=int(ifd.number(256) or 0) or None,
                    height=int(ifd.number(257) or 0) or None,
                    resolution=resolution_text(ifd),
                    color=colour or None,
                    image_only=True,
                )
            )
        names = sorted({COMPRESSIONS.get(c, f"compression {c}") for c in compressions})
        extra.append(("compression", ", ".join(names)))
        extra.append(("compression-code", ", ".join(str(c) for c in sorted(set(compressions)))))
        for tag, key in (
            (271, "make"),
            (272, "model"),
            (270, "image-description"),
            (285, "page-name"),
            (33432, "copyright"),
        ):
            value = clean_field(first.text(tag))
            if value:
                extra.append((key, value))
        page_number = first.integers(297)
        if len(page_number) == 2 and page_number[1]:
            extra.append(("page-number", f"{page_number[0] + 1} of {page_number[1]}"))
        x, y = first.number(282), first.number(283)
        if x and y and round(x) == 204 and round(y) in (98, 196):  # ITU-T T.4 fax resolutions
            extra.append(("fax-resolution", "fine" if round(y) == 196 else "standard"))
        for tag in (326, 327, 328):
            count = first.number(tag)
            if count is not None:
                extra.append((TAG_NAMES[tag], f"{count:g}"))
        known = {269, 270, 271, 272, 285, 305, 306, 315, 316, 33432}
        for tag, entry in first.entries.items():
            if entry.text and tag not in known:
                value = clean_field(entry.text)
                if value:
                    extra.append((TAG_NAMES.get(tag, f"tag-{tag}"), value))
        raw_time = clean_field(first.text(306))
        created, zone_known = exif_datetime(raw_time)
        if raw_time:
            extra.append(("datetime-raw", raw_time))
            if created and not zone_known:
                job.notes.append("TIFF DateTime has no time zone; shown as if UTC")
        if "gps" in structure.sub_ifds:
            extra.append(("gps", "present"))

        text_lines: list[str] = []
        for number, ifd in enumerate(structure.ifds, 1):
            lines = tag_lines(ifd)
            if lines:
                text_lines.append(f"[page {number}]")
                text_lines.extend(lines)
        for label, sub in structure.sub_ifds.items():
            lines = tag_lines(sub)
            if lines:
                text_lines.append(f"[{label}]")
                text_lines.extend(lines)
        xmp = first.get(700)
        if xmp is not None and isinstance(xmp.values, bytes):
            job.texts.append(
                DecodedText("XMP", xmp.values.decode("utf-8", "replace")[:MAX_TEXT_CHARS])
            )
        if text_lines:
            job.texts.insert(0, DecodedText("TIFF tags", "\n".join(text_lines)[:MAX_TEXT_CHARS]))

        decoded = _verify_pages(data[: structure.end or len(data)], structure.ifds, job.notes)
        extra.append(("pages-decoded", str(decoded)))
        job.metadata = JobMetadata(
            user=clean_field(first.text(315)),
            host=clean_field(first.text(316)),
            document_name=clean_field(first.text(269)),
            application=clean_field(first.text(305)),
            created=created,
            pages=len(structure.ifds),
            resolution=resolution_text(first),
            document_format="image/tiff",
            extra=tuple(extra),
        )
        job.length = structure.end if structure.complete else None

    def extent(self, buf: bytes, offset: int) -> int | None:
        if buf[offset : offset + 4] not in (b"II*\x00", b"MM\x00*"):
            return None
        limit = min(len(buf), offset + MAX_PARSE_BYTES)
        try:
            structure = walk_tiff(memoryview(buf), offset, limit)
        except NotThisFormat:
            return None
        if not structure.ifds:
            return None
        return structure.end - offset
