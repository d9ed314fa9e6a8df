"""Windows EMF spool files (.SPL, datatype "NT EMF 1.00x"): header, record chain, DEVMODE, pages.

Reference: [MS-EMFSPOOL] v13.0 — §2.2.2 Header Record, §2.2.3 data records (§2.2.3.1 page
content, §2.2.3.2 page offset, §2.2.3.5 EMRI_DEVMODE, §2.2.3.6 EMRI_PRESTARTPAGE, §2.2.3.7
EMRI_PS_JOB_DATA), §2.1.1 RecordType. Each page is an EMF metafile, decoded by ``emf``.
DEVMODE: [MS-RPRN] §2.2.2.1 _DEVMODE (the layout of wingdi.h DEVMODEW).

An .SPL spooled with the RAW datatype is plain PJL/PCL/PostScript: it has no EMFSPOOL header and
is left to those formats. Spool file names pair with shadow files: 00002.SPL ↔ 00002.SHD.
"""

from __future__ import annotations

import logging
import re
import struct
from dataclasses import dataclass

import construct
from construct import Bytes, Int16sl, Int16ul, Int32ul, Int64ul, Struct

from forensics.formats.base import (
    MAX_EMBEDDED,
    MAX_TEXT_CHARS,
    CarvePattern,
    Embedded,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    clean_field,
)
from forensics.formats.emf import EmfResult, format_dpi, is_emf_header, parse_emf

log = logging.getLogger(__name__)

# MS-EMFSPOOL §2.2.2: dwVersion MUST be 0x00010000.
EMFSPOOL_VERSION = 0x00010000
# MS-EMFSPOOL §2.1.1 RecordType.
EMRI_METAFILE = 0x01
EMRI_ENGINE_FONT = 0x02
EMRI_DEVMODE = 0x03
EMRI_TYPE1_FONT = 0x04
EMRI_PRESTARTPAGE = 0x05
EMRI_DESIGNVECTOR = 0x06
EMRI_SUBSET_FONT = 0x07
EMRI_DELTA_FONT = 0x08
EMRI_FORM_METAFILE = 0x09
EMRI_BW_METAFILE = 0x0A
EMRI_BW_FORM_METAFILE = 0x0B
EMRI_METAFILE_DATA = 0x0C
EMRI_METAFILE_EXT = 0x0D
EMRI_BW_METAFILE_EXT = 0x0E
EMRI_ENGINE_FONT_EXT = 0x0F
EMRI_TYPE1_FONT_EXT = 0x10
EMRI_DESIGNVECTOR_EXT = 0x11
EMRI_SUBSET_FONT_EXT = 0x12
EMRI_DELTA_FONT_EXT = 0x13
EMRI_PS_JOB_DATA = 0x14
EMRI_EMBED_FONT_EXT = 0x15
RECORD_NAMES = {
    EMRI_METAFILE: "EMRI_METAFILE",
    EMRI_ENGINE_FONT: "EMRI_ENGINE_FONT",
    EMRI_DEVMODE: "EMRI_DEVMODE",
    EMRI_TYPE1_FONT: "EMRI_TYPE1_FONT",
    EMRI_PRESTARTPAGE: "EMRI_PRESTARTPAGE",
    EMRI_DESIGNVECTOR: "EMRI_DESIGNVECTOR",
    EMRI_SUBSET_FONT: "EMRI_SUBSET_FONT",
    EMRI_DELTA_FONT: "EMRI_DELTA_FONT",
    EMRI_FORM_METAFILE: "EMRI_FORM_METAFILE",
    EMRI_BW_METAFILE: "EMRI_BW_METAFILE",
    EMRI_BW_FORM_METAFILE: "EMRI_BW_FORM_METAFILE",
    EMRI_METAFILE_DATA: "EMRI_METAFILE_DATA",
    EMRI_METAFILE_EXT: "EMRI_METAFILE_EXT",
    EMRI_BW_METAFILE_EXT: "EMRI_BW_METAFILE_EXT",
    EMRI_ENGINE_FONT_EXT: "EMRI_ENGINE_FONT_EXT",
    EMRI_TYPE1_FONT_EXT: "EMRI_TYPE1_FONT_EXT",
    EMRI_DESIGNVECTOR_EXT: "EMRI_DESIGNVECTOR_EXT",
    EMRI_SUBSET_FONT_EXT: "EMRI_SUBSET_FONT_EXT",
    EMRI_DELTA_FONT_EXT: "EMRI_DELTA_FONT_EXT",
    EMRI_PS_JOB_DATA: "EMRI_PS_JOB_DATA",
    EMRI_EMBED_FONT_EXT: "EMRI_EMBED_FONT_EXT",
}
# MS-EMFSPOOL §2.2.3.1: the five page content records each carry one whole EMF page.
PAGE_CONTENT_RECORDS = frozenset(
    {EMRI_METAFILE, EMRI_FORM_METAFILE, EMRI_BW_METAFILE, EMRI_BW_FORM_METAFILE, EMRI_METAFILE_DATA}
)
MONOCHROME_PAGE_RECORDS = frozenset({EMRI_BW_METAFILE, EMRI_BW_FORM_METAFILE})
# MS-EMFSPOOL §2.2.3.2: page offset records hold a backward 64-bit offset to a content record.
PAGE_OFFSET_RECORDS = frozenset({EMRI_METAFILE_EXT, EMRI_BW_METAFILE_EXT})
# MS-EMFSPOOL §2.2.3.3: font definitions (the font data itself is not decoded here).
FONT_RECORDS = frozenset(
    {EMRI_ENGINE_FONT, EMRI_TYPE1_FONT, EMRI_DESIGNVECTOR, EMRI_SUBSET_FONT, EMRI_DELTA_FONT}
)

HEADER_SIZE = 16
MAX_HEADER_SIZE = 1024 * 1024  # a header is 16 bytes plus two names
EMFSPOOL_MAGIC = b"\x00\x00\x01\x00"  # dwVersion 0x00010000, little-endian
# Header, names and a DEVMODE (with its driver-private data) sit before the first page's EMF.
CARVE_LOOKBACK = 64 * 1024
MAX_SPOOL_RECORDS = 1_000_000  # records walked in one spool file
MAX_SPOOL_PAGES = 10_000  # pages decoded (their EMF text); later pages are counted only
MAX_PS_CHUNKS = 4_096  # PostScript data records inside one EMRI_PS_JOB_DATA

# MS-EMFSPOOL §2.2.2 Header Record.
SPOOL_HEADER = Struct(
    "version" / Int32ul,
    "size" / Int32ul,  # header incl. names = offset of the first data record
    "doc_name_offset" / Int32ul,  # from the start of the file, 0 = none
    "output_offset" / Int32ul,
)
# MS-EMFSPOOL §2.2.3: every data record starts with ulID, cjSize (bytes after these 8).
RECORD_HEADER = Struct("id" / Int32ul, "size" / Int32ul)
_RECORD_HEAD = struct.Struct("<II")
_PAGE_OFFSET = Struct("offset" / Int64ul)
# MS-EMFSPOOL §2.2.3.6 EMRI_PRESTARTPAGE: ulUnused (0xFFFFFFFF), bEPS.
_PRESTARTPAGE = Struct("unused" / Int32ul, "eps" / Int32ul)
# MS-EMFSPOOL §2.2.3.7: PostScriptDataRecordSize, nEscape, nIgnore, PostScriptDataSize, data.
_PS_DATA_RECORD = Struct(
    "record_size" / Int32ul, "escape" / Int32ul, "ignore" / Int32ul, "data_size" / Int32ul
)

# --------------------------------------------------------------------------- DEVMODE

# MS-RPRN §2.2.2.1 _DEVMODE (printer part; the display-only tail after dmFormName is not needed).
DEVMODE_STRUCT = Struct(
    "device_name" / Bytes(64),  # dmDeviceName, 32 UTF-16 units
    "spec_version" / Int16ul,
    "driver_version" / Int16ul,
    "size" / Int16ul,
    "driver_extra" / Int16ul,
    "fields" / Int32ul,
    "orientation" / Int16sl,
    "paper_size" / Int16sl,
    "paper_length" / Int16sl,  # 0.1 mm
    "paper_width" / Int16sl,
    "scale" / Int16sl,
    "copies" / Int16sl,
    "default_source" / Int16sl,
    "print_quality" / Int16sl,  # dpi when positive, DMRES_* when negative
    "color" / Int16sl,
    "duplex" / Int16sl,
    "y_resolution" / Int16sl,
    "tt_option" / Int16sl,
    "collate" / Int16sl,
    "form_name" / Bytes(64),  # dmFormName, 32 UTF-16 units
)
DEVMODE_PRINTER_SIZE = 166  # bytes up to the end of dmFormName
DEVMODE_NAME_SIZE = 64
# MS-RPRN §2.2.2.1 dmFields bits.
DM_ORIENTATION = 0x00000001
DM_PAPERSIZE = 0x00000002
DM_PAPERLENGTH = 0x00000004
DM_PAPERWIDTH = 0x00000008
DM_COPIES = 0x00000100
DM_PRINTQUALITY = 0x00000400
DM_COLOR = 0x00000800
DM_DUPLEX = 0x00001000
DM_YRESOLUTION = 0x00002000
DM_COLLATE = 0x00008000
DM_FORMNAME = 0x00010000
# MS-RPRN §2.2.2.1 dmPaperSize values (wingdi.h DMPAPER_*), as lower-case media names.
PAPER_SIZES = {
    1: "letter",
    2: "letter small",
    3: "tabloid",
    4: "ledger",
    5: "legal",
    6: "statement",
    7: "executive",
    8: "a3",
    9: "a4",
    10: "a4 small",
    11: "a5",
    12: "b4 (jis)",
    13: "b5 (jis)",
    14: "folio",
    15: "quarto",
    16: "10x14in",
    17: "11x17in",
    18: "note",
    19: "envelope #9",
    20: "envelope #10",
    21: "envelope #11",
    22: "envelope #12",
    23: "envelope #14",
    24: "c sheet",
    25: "d sheet",
    26: "e sheet",
    27: "envelope dl",
    28: "envelope c5",
    29: "envelope c3",
    30: "envelope c4",
    31: "envelope c6",
    32: "envelope c65",
    33: "envelope b4",
    34: "envelope b5",
    35: "envelope b6",
    36: "envelope italy",
    37: "envelope monarch",
    38: "envelope personal",
    39: "us std fanfold",
    40: "german std fanfold",
    41: "german legal fanfold",
    42: "b4 (iso)",
    43: "japanese postcard",
    44: "9x11in",
    45: "10x11in",
    46: "15x11in",
    47: "envelope invite",
    50: "letter extra",
    51: "legal extra",
    52: "tabloid extra",
    53: "a4 extra",
    54: "letter transverse",
    55: "a4 transverse",
    56: "letter extra transverse",
    57: "super a",
    58: "super b",
    59: "letter plus",
    60: "a4 plus",
    61: "a5 transverse",
    62: "b5 (jis) transverse",
    63: "a3 extra",
    64: "a5 extra",
    65: "b5 (iso) extra",
    66: "a2",
    67: "a3 transverse",
    68: "a3 extra transverse",
    69: "japanese double postcard",
    70: "a6",
    82: "letter rotated",
    83: "a3 rotated",
    84: "a4 rotated",
    85: "a5 rotated",
    86: "b4 (jis) rotated",
    87: "b5 (jis) rotated",
    88: "japanese postcard rotated",
    90: "12x11in",
    93: "prc 16k",
    94: "prc 32k",
    95: "prc 32k big",
}
# MS-RPRN §2.2.2.1: dmPrintQuality DMRES_* values.
PRINT_QUALITY = {-1: "draft", -2: "low", -3: "medium", -4: "high"}
ORIENTATIONS = {1: "portrait", 2: "landscape"}
COLORS = {1: "monochrome", 2: "color"}
DUPLEX_MODES = {1: "simplex", 2: "duplex long edge", 3: "duplex short edge"}


@dataclass(frozen=True)
class DevMode:
    """The DEVMODE fields an examiner reads: printer, copies, paper, quality, colour, duplex."""

    device_name: str | None
    copies: int | None
    media: str | None
    form_name: str | None
    resolution: str | None
    color: str | None
    duplex: str | None
    orientation: str | None
    collate: bool | None
    driver_extra: int

    def extra(self) -> tuple[tuple[str, str], ...]:
        """Fields without a JobMetadata slot, as (name, value) pairs."""
        pairs = [
            ("form_name", self.form_name),
            ("color_mode", self.color),
            ("duplex", self.duplex),
            ("orientation", self.orientation),
            ("collate", None if self.collate is None else ("yes" if self.collate else "no")),
        ]
        return tuple((name, value) for name, value in pairs if value)


def utf16_field(raw: bytes) -> str | None:
    """A fixed-size NUL-padded UTF-16LE field, decoded and cleaned."""
    return clean_field(raw.decode("utf-16-le", "replace").split("\x00")[0])


def parse_devmode(buf: bytes, offset: int, available: int) -> tuple[DevMode | None, list[str]]:
    """DEVMODEW at ``buf[offset:offset+available]`` (MS-RPRN §2.2.2.1); (None, notes) if unusable."""
    notes: list[str] = []
    available = min(available, len(buf) - offset)
    if offset < 0 or available < DEVMODE_NAME_SIZE:
        return None, [f"DEVMODE at 0x{max(offset, 0):x} truncated ({max(available, 0)} bytes)"]
    if available < DEVMODE_PRINTER_SIZE:
        notes.append(f"DEVMODE at 0x{offset:x} truncated ({available} bytes): only the name read")
        name = utf16_field(buf[offset : offset + DEVMODE_NAME_SIZE])
        return DevMode(name, None, None, None, None, None, None, None, None, 0), notes
    dm = DEVMODE_STRUCT.parse(buf[offset : offset + DEVMODE_PRINTER_SIZE])
    if dm.size < DEVMODE_NAME_SIZE + 8 or dm.size > 4096:
        notes.append(f"DEVMODE at 0x{offset:x} gives dmSize {dm.size}")
    # dmFields says which members are meant; a zero mask (some writers) means "trust all".
    fields = dm.fields or 0xFFFFFFFF
    copies = dm.copies if fields & DM_COPIES and 1 <= dm.copies <= 9999 else None
    form_name = utf16_field(dm.form_name)
    media = None
    if fields & DM_PAPERSIZE and dm.paper_size in PAPER_SIZES:
        media = PAPER_SIZES[dm.paper_size]
    elif form_name:
        media = form_name.lower()
    elif (
        fields & DM_PAPERLENGTH and fields & DM_PAPERWIDTH and dm.paper_width > 0 < dm.paper_length
    ):
        media = f"custom {dm.paper_width / 10:g}x{dm.paper_length / 10:g}mm"  # 0.1 mm units
    elif fields & DM_PAPERSIZE and dm.paper_size > 0:
        media = f"paper size {dm.paper_size}"
    resolution = None
    if fields & DM_PRINTQUALITY:
        if dm.print_quality > 0:
            y_dpi = (
                dm.y_resolution
                if fields & DM_YRESOLUTION and dm.y_resolution > 0
                else dm.print_quality
            )
            resolution = format_dpi(dm.print_quality, y_dpi)
        else:
            resolution = PRINT_QUALITY.get(dm.print_quality)
    collate = None
    if fields & DM_COLLATE and dm.collate in (0, 1):
        collate = bool(dm.collate)
    return (
        DevMode(
            device_name=utf16_field(dm.device_name),
            copies=copies,
            media=media,
            form_name=form_name,
            resolution=resolution,
            color=COLORS.get(dm.color) if fields & DM_COLOR else None,
            duplex=DUPLEX_MODES.get(dm.duplex) if fields & DM_DUPLEX else None,
            orientation=ORIENTATIONS.get(dm.orientation) if fields & DM_ORIENTATION else None,
            collate=collate,
            driver_extra=dm.driver_extra,
        ),
        notes,
    )


# --------------------------------------------------------------------------- shared helpers

_SPOOL_NAME = re.compile(r"(?:^|[\\/])(?:FP)?(\d{5})\.(?:SPL|SHD)$", re.IGNORECASE)


def winspool_pair_key(name: str | None) -> str | None:
    """The pair key "winspool:NNNNN" of a spooler file name (00002.SPL, FP00002.SHD), or None."""
    if not name:
        return None
    match = _SPOOL_NAME.search(name)
    return f"winspool:{match.group(1)}" if match else None


def read_utf16z(buf: bytes, offset: int, max_chars: int = 1024) -> tuple[str | None, bool]:
    """NUL-terminated UTF-16LE string at ``offset``: (cleaned text, terminated within bounds)."""
    if offset < 0 or offset >= len(buf):
        return None, False
    end = min(len(buf), offset + 2 * (max_chars + 1))
    cursor = offset
    while cursor + 1 < end:
        if buf[cursor] == 0 and buf[cursor + 1] == 0:
            return clean_field(buf[offset:cursor].decode("utf-16-le", "replace")), True
        cursor += 2
    return clean_field(buf[offset:cursor].decode("utf-16-le", "replace")), False


# --------------------------------------------------------------------------- the format


def _plausible_header(head: bytes) -> bool:
    """MS-EMFSPOOL §2.2.2 checks that reject ICO files (also 00 00 01 00) and random data."""
    if len(head) < HEADER_SIZE:
        return False
    version, size, doc_offset, output_offset = struct.unpack_from("<IIII", head)
    if version != EMFSPOOL_VERSION or not HEADER_SIZE <= size <= MAX_HEADER_SIZE:
        return False
    for offset in (doc_offset, output_offset):
        if offset and not HEADER_SIZE <= offset < size:
            return False
    first = _align4(size)
    if len(head) >= first + 8:
        record_id = _RECORD_HEAD.unpack_from(head, first)[0]
        unaligned = _RECORD_HEAD.unpack_from(head, size)[0] if len(head) >= size + 8 else 0
        return record_id in RECORD_NAMES or unaligned in RECORD_NAMES
    return True


def _align4(value: int) -> int:
    return (value + 3) & ~3


class _Walk:
    """The record chain of one spool file, with page and DEVMODE results (bounded)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.records: list[tuple[int, int, int]] = []  # (offset, id, data size)
        self.end = 0
        self.notes: list[str] = []
        self.complete = True

    def run(self, first: int) -> None:
        data = self.data
        pos = first
        while pos + 8 <= len(data):
            if len(self.records) >= MAX_SPOOL_RECORDS:
                self.notes.append(f"record limit ({MAX_SPOOL_RECORDS}) reached at 0x{pos:x}")
                self.complete = False
                break
            record_id, size = _RECORD_HEAD.unpack_from(data, pos)
            if record_id not in RECORD_NAMES:
                self._stop_at(pos, record_id)
                break
            self.records.append((pos, record_id, size))
            following = pos + 8 + size
            if following > len(data):
                self.notes.append(
                    f"{RECORD_NAMES[record_id]} at 0x{pos:x} gives {size} bytes, "
                    f"{len(data) - pos - 8} present: spool file truncated"
                )
                self.complete = False
                pos = len(data)
                break
            pos = self._next(following)
        self.end = min(pos, len(data))

    def _next(self, following: int) -> int:
        """Records are padded to 4 bytes (§2.2.1); accept writers whose cjSize omits the pad."""
        if following % 4 == 0 or following + 8 > len(self.data):
            return following
        if _RECORD_HEAD.unpack_from(self.data, following)[0] in RECORD_NAMES:
            return following
        return _align4(following)

    def _stop_at(self, pos: int, record_id: int) -> None:
        rest = len(self.data) - pos
        if self.data.count(0, pos) == rest:
            self.notes.append(f"zero fill from 0x{pos:x} to the end ({rest} bytes)")
        else:
            self.notes.append(f"unknown record type 0x{record_id:x} at 0x{pos:x}: walk stopped")
            self.complete = False


class EmfSpoolParser(FormatParser):
    """EMF spool file (.SPL) as written by the Windows spooler for EMF-datatype jobs."""

    name = "emfspool"
    description = "Windows EMF spool file (MS-EMFSPOOL), one EMF per page"
    signatures = (Signature(b"\x00\x00\x01\x00", 0),)
    priority = 50  # more specific than anything else starting 00 00 01 00
    # The spool header (MS-EMFSPOOL §2.2.2, version 00 00 01 00) is a poor search key: zeros
    # and small integers are everywhere, and a zero-led pattern slows YARA down on zeroed disks.
    # The first page's EMF header signature " EMF" + version 0x10000 (MS-EMF §2.2.9) is a good
    # one; the spool header is then found a short way before it.
    carve_patterns = (CarvePattern("{ 20 45 4D 46 00 00 01 00 }"),)

    @classmethod
    def carve_start(cls, buf: bytes, match: int, pattern: CarvePattern) -> int | None:
        """The nearest plausible spool header before the first page's EMF header."""
        floor = max(0, match - CARVE_LOOKBACK)
        position = match
        while True:
            position = buf.rfind(EMFSPOOL_MAGIC, floor, position)
            if position < 0:
                return None
            if _plausible_header(buf[position : position + CARVE_LOOKBACK]):
                return position

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        return _plausible_header(head)

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        if not _plausible_header(data[: MAX_HEADER_SIZE + 8]):
            raise NotThisFormat("no EMFSPOOL header")
        header = SPOOL_HEADER.parse(data[:HEADER_SIZE])
        job = ParsedJob(format=self.name, pair_key=winspool_pair_key(ctx.name))
        document, document_ok = self._header_string(data, header.doc_name_offset)
        output, output_ok = self._header_string(data, header.output_offset)
        if not (document_ok and output_ok):
            job.notes.append("a header name is not NUL-terminated")
        first = header.size
        if first > len(data):
            job.notes.append(f"header record of {first} bytes, file of {len(data)}: truncated")
            job.complete = False
        if first + 8 <= len(data) and _RECORD_HEAD.unpack_from(data, first)[0] not in RECORD_NAMES:
            first = _align4(first)
        walk = _Walk(data)
        try:
            walk.run(first)
            summary = self._read_records(data, walk, job, ctx)
        except (construct.ConstructError, ValueError, IndexError, struct.error) as exc:
            log.debug("EMFSPOOL parse failed", exc_info=True)
            job.notes.append(f"spool record could not be decoded ({exc.__class__.__name__})")
            job.complete = False
            summary = _Summary()
        job.notes[:0] = walk.notes
        job.complete = job.complete and walk.complete
        job.length = walk.end if walk.records else min(first, len(data))
        devmode = summary.devmode
        extra: list[tuple[str, str]] = []
        if devmode is not None:
            extra.extend(devmode.extra())
        if summary.emf_document and summary.emf_document != document:
            extra.append(("emf_document_name", summary.emf_document))
        if summary.fonts:
            extra.append(("embedded_fonts", str(summary.fonts)))
        if summary.eps is not None:
            extra.append(("eps_printing", "yes" if summary.eps else "no"))
        job.metadata = JobMetadata(
            document_name=document,
            port=output,
            printer=devmode.device_name if devmode else None,
            application=summary.application,
            copies=devmode.copies if devmode else None,
            media=devmode.media if devmode else None,
            resolution=(devmode.resolution if devmode else None) or summary.resolution,
            pages=summary.pages,
            extra=tuple(extra),
        )
        return job

    @staticmethod
    def _header_string(data: bytes, offset: int) -> tuple[str | None, bool]:
        if not offset:
            return None, True
        return read_utf16z(data, offset)

    def _read_records(
        self, data: bytes, walk: _Walk, job: ParsedJob, ctx: ParseContext
    ) -> _Summary:
        summary = _Summary()
        budget = min(MAX_TEXT_CHARS, max(0, ctx.max_output))
        page_starts: set[int] = set()
        offset_records = 0
        for pos, record_id, size in walk.records:
            body = pos + 8
            available = min(size, len(data) - body)
            if record_id in PAGE_CONTENT_RECORDS:
                page_starts.add(pos)
                summary.pages += 1
                if summary.pages > MAX_SPOOL_PAGES:
                    continue
                budget -= self._page(data, pos, record_id, available, summary, job, budget)
            elif record_id in PAGE_OFFSET_RECORDS:
                offset_records += 1
                if available >= 8:
                    back = _PAGE_OFFSET.parse(data[body : body + 8]).offset
                    if pos - back not in page_starts:
                        job.notes.append(
                            f"{RECORD_NAMES[record_id]} at 0x{pos:x} points back {back} bytes, "
                            "not to a page record"
                        )
            elif record_id == EMRI_DEVMODE:
                devmode, notes = parse_devmode(data, body, available)
                job.notes.extend(notes)
                if devmode is not None and summary.devmode is None:
                    summary.devmode = devmode
                elif devmode is not None and devmode != summary.devmode:
                    summary.devmode_changes += 1
            elif record_id in FONT_RECORDS:
                summary.fonts += 1
            elif record_id == EMRI_PRESTARTPAGE and available >= 8:
                summary.eps = _PRESTARTPAGE.parse(data[body : body + 8]).eps != 0
            elif record_id == EMRI_PS_JOB_DATA:
                self._postscript(data, pos, available, job)
        if summary.pages > MAX_SPOOL_PAGES:
            job.notes.append(
                f"{summary.pages} pages: text decoded for the first {MAX_SPOOL_PAGES} only"
            )
        if summary.devmode_changes:
            job.notes.append(f"DEVMODE changes {summary.devmode_changes} times within the job")
        if offset_records and offset_records != summary.pages:
            job.notes.append(
                f"{summary.pages} page records but {offset_records} page offset records"
            )
        return summary

    def _page(
        self,
        data: bytes,
        pos: int,
        record_id: int,
        available: int,
        summary: _Summary,
        job: ParsedJob,
        budget: int,
    ) -> int:
        """Decode one page content record; returns the characters of text it produced."""
        number = summary.pages
        body = pos + 8
        color = "monochrome" if record_id in MONOCHROME_PAGE_RECORDS else None
        if not is_emf_header(data, body) or available < 88:
            job.notes.append(f"page {number} at 0x{pos:x}: no EMF header in the page record")
            job.complete = False
            job.pages.append(PageRef(number=number, offset=body, length=available, color=color))
            return 0
        result: EmfResult = parse_emf(
            data, body, body + available, page=number, max_chars=budget, source_offset=body
        )
        header = result.header
        if summary.application is None:
            summary.application = header.application
            summary.emf_document = header.document
            summary.resolution = header.resolution
        points = header.page_points
        job.pages.append(
            PageRef(
                number=number,
                offset=body,
                length=available,
                width=points[0] if points else None,
                height=points[1] if points else None,
                unit="pt",
                resolution=header.resolution,
                color=color,
                image_only=not result.texts,
            )
        )
        job.texts.extend(result.texts)
        job.notes.extend(
            note if note.startswith("EMF page") else f"page {number}: {note}"
            for note in result.notes
        )
        if not result.complete:
            job.complete = False
        return result.text_chars

    def _postscript(self, data: bytes, pos: int, available: int, job: ParsedJob) -> None:
        """EMRI_PS_JOB_DATA (§2.2.3.7): injected PostScript, handed on as one payload."""
        chunks: list[bytes] = []
        cursor = pos + 8
        end = cursor + available
        while cursor + 16 <= end and len(chunks) < MAX_PS_CHUNKS:
            record = _PS_DATA_RECORD.parse(data[cursor : cursor + 16])
            if record.record_size < 16 or cursor + record.record_size > end:
                break
            size = min(record.data_size, record.record_size - 16)
            chunks.append(data[cursor + 16 : cursor + 16 + size])
            cursor += _align4(record.record_size)
        payload = b"".join(chunks)
        job.notes.append(f"EMRI_PS_JOB_DATA at 0x{pos:x}: {len(payload)} bytes of PostScript")
        if payload and len(job.embedded) < MAX_EMBEDDED:
            job.embedded.append(
                Embedded(
                    name="EMRI_PS_JOB_DATA injected PostScript",
                    offset=pos,
                    length=available + 8,
                    data=payload,
                )
            )

    def extent(self, buf: bytes, offset: int) -> int | None:
        """End of the record chain: the header, then records until one is not an EMRI_* record."""
        if offset < 0 or not _plausible_header(buf[offset : offset + MAX_HEADER_SIZE + 8]):
            return None
        first = offset + struct.unpack_from("<I", buf, offset + 4)[0]
        if first + 8 <= len(buf) and _RECORD_HEAD.unpack_from(buf, first)[0] not in RECORD_NAMES:
            first = offset + _align4(first - offset)
        walk = _Walk(buf)
        walk.run(first)
        return walk.end - offset if walk.records else None


@dataclass
class _Summary:
    """What the record walk found beyond pages and texts (kept in ParsedJob directly)."""

    pages: int = 0
    devmode: DevMode | None = None
    devmode_changes: int = 0
    fonts: int = 0
    eps: bool | None = None
    application: str | None = None
    emf_document: str | None = None
    resolution: str | None = None
