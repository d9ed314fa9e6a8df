"""MS-EMF enhanced metafiles: the header, a bounded record walk, and the text a page draws.

An EMF is one page of a Windows EMF spool file (``emfspool``) and also a file format of its own.
References: [MS-EMF] — §2.3.4.2 EMR_HEADER (§2.2.9 Header, §2.2.10/§2.2.11 extensions),
§2.3.5 drawing records (EMR_EXTTEXTOUTA/W, EMR_POLYTEXTOUTA/W, §2.3.5.37 EMR_SMALLTEXTOUT),
§2.2.5 EmrText, §2.3.7 object records (EMR_EXTCREATEFONTINDIRECTW with a §2.2.13 LogFont),
§2.3.3 comment records, §2.1.1 RecordType, §2.1.11 ExtTextOutOptions, §2.1.21 MapMode.

Text drawn with ``ETO_GLYPH_INDEX`` holds glyph ids, not characters. Core TrueType fonts (Arial,
Times New Roman, Courier New, Calibri and most fonts with a format 2 'post' table) keep the first
258 glyphs in the *standard Macintosh glyph order* (Apple TrueType Reference Manual, chapter 6,
'post' table; OpenType specification, 'post' table, "Macintosh standard order"): glyph 3 is
``space`` and glyphs 3..97 are U+0020..U+007E in order, so ``char = gid + 29``. This is a
heuristic (a font with another order gives nonsense) and such text is marked ``heuristic``.
"""

from __future__ import annotations

import array
import logging
import math
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import construct
from construct import Bytes, Float32l, Int16ul, Int32sl, Int32ul, Struct

from forensics.formats.base import (
    MAX_FIELD_CHARS,
    MAX_TEXT_CHARS,
    DecodedText,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    clean_field,
)

log = logging.getLogger(__name__)

# MS-EMF §2.1.1 RecordType values used here.
EMR_HEADER = 0x01
EMR_SETWINDOWEXTEX = 0x09
EMR_SETVIEWPORTEXTEX = 0x0B
EMR_EOF = 0x0E
EMR_SETMAPMODE = 0x11
EMR_SETWORLDTRANSFORM = 0x23
EMR_MODIFYWORLDTRANSFORM = 0x24
EMR_SELECTOBJECT = 0x25
EMR_DELETEOBJECT = 0x28
EMR_GDICOMMENT = 0x46
EMR_EXTCREATEFONTINDIRECTW = 0x52
EMR_EXTTEXTOUTA = 0x53
EMR_EXTTEXTOUTW = 0x54
EMR_POLYTEXTOUTA = 0x60
EMR_POLYTEXTOUTW = 0x61
EMR_SMALLTEXTOUT = 0x6C

# MS-EMF §2.1.11 ExtTextOutOptions.
ETO_GLYPH_INDEX = 0x0010
ETO_NO_RECT = 0x0100
ETO_SMALL_CHARS = 0x0200
ETO_PDY = 0x2000

# MS-EMF §2.3.4.2: dSignature of the header is ENHMETA_SIGNATURE, " EMF" little-endian.
ENHMETA_SIGNATURE = 0x464D4520
# MS-EMF §2.3.3: CommentIdentifier values of EMR_COMMENT records.
EMR_COMMENT_EMFSPOOL = 0x00000000
EMR_COMMENT_EMFPLUS = 0x2B464D45  # "EMF+"
EMR_COMMENT_PUBLIC = 0x43494447  # "GDIC"
# MS-EMF §2.1 EmrComment enumeration: public comment identifiers.
EMR_COMMENT_BEGINGROUP = 0x00000002
EMR_COMMENT_WINDOWS_METAFILE = 0x80000001
# MS-EMF §2.1.21 MapMode: MM_TEXT has y growing down; MM_LOMETRIC..MM_TWIPS grow up;
# MM_ISOTROPIC/MM_ANISOTROPIC follow the signs of the window and viewport extents.
MM_TEXT, MM_TWIPS, MM_ISOTROPIC, MM_ANISOTROPIC = 1, 6, 7, 8
# MS-EMF §2.1 ModifyWorldTransformMode enumeration.
MWT_IDENTITY, MWT_SET = 1, 4

MAX_EMF_RECORDS = 1_000_000  # records walked in one metafile
MAX_FONT_HANDLES = 65_536  # font objects remembered (ihFont is a 32-bit index)
MAX_POLYTEXT_STRINGS = 4_096  # EmrText entries of one EMR_POLYTEXTOUT
# Standard Macintosh glyph order: ids 3..97 are U+0020..U+007E (see module docstring).
GLYPH_ASCII_FIRST, GLYPH_ASCII_LAST, GLYPH_ASCII_SHIFT = 3, 97, 29

_RECT = Struct("left" / Int32sl, "top" / Int32sl, "right" / Int32sl, "bottom" / Int32sl)
_SIZE = Struct("cx" / Int32sl, "cy" / Int32sl)
# MS-EMF §2.3.4.2 EMR_HEADER with §2.2.9 Header object (88 bytes).
EMR_HEADER_STRUCT = Struct(
    "type" / Int32ul,
    "size" / Int32ul,
    "bounds" / _RECT,
    "frame" / _RECT,  # .01 mm units, inclusive
    "signature" / Int32ul,
    "version" / Int32ul,
    "nbytes" / Int32ul,
    "nrecords" / Int32ul,
    "nhandles" / Int16ul,
    "reserved" / Int16ul,
    "ndescription" / Int32ul,  # UTF-16 code units
    "off_description" / Int32ul,  # from the start of the record
    "npal_entries" / Int32ul,
    "device" / _SIZE,  # reference device size in pixels
    "millimeters" / _SIZE,  # reference device size in mm
)
HEADER_FIXED_SIZE = 88
# MS-EMF §2.2.11 HeaderExtension2 (after §2.2.10 HeaderExtension1 at 88): micrometres, at 100.
_MICROMETERS = Struct("x" / Int32ul, "y" / Int32ul)
MICROMETERS_OFFSET = 100
# Text records can number 10^5 on a page: their fixed fields are read with struct (a construct
# parse costs ~10 µs, struct ~0.1 µs); the layouts are spelled out beside each format string.
#
# MS-EMF §2.2.5 EmrText: Reference.x, Reference.y (PointL), Chars, offString, Options; then an
# optional Rectangle (absent under ETO_NO_RECT) and offDx. offString/offDx count from the start of
# the enclosing record.
_EMR_TEXT_HEAD = struct.Struct("<iiIII")
EMR_TEXT_HEAD_SIZE = 20
EMR_TEXT_SIZE = 40  # with the Rectangle; 24 without
# MS-EMF §2.3.5 EMR_EXTTEXTOUTA/W: Bounds (RectL, device units) at +8, iGraphicsMode,
# exScale, eyScale, then EmrText at record offset 36.
_BOUNDS = struct.Struct("<iiii")  # RectL: left, top, right, bottom
EXTTEXTOUT_TEXT_OFFSET = 36
# MS-EMF §2.3.5 EMR_POLYTEXTOUTA/W: Bounds, mode, scales, cStrings, EmrText[].
_POLYTEXTOUT = Struct(
    "bounds" / _RECT,
    "graphics_mode" / Int32ul,
    "ex_scale" / Float32l,
    "ey_scale" / Float32l,
    "count" / Int32ul,
)
POLYTEXTOUT_TEXTS_OFFSET = 40
# MS-EMF §2.3.5.37 EMR_SMALLTEXTOUT: x, y, cChars, fuOptions, iGraphicsMode, exScale, eyScale
# (at +8), then Bounds unless ETO_NO_RECT, then the string (8-bit under ETO_SMALL_CHARS).
_SMALLTEXTOUT = struct.Struct("<iiIIIff")
SMALLTEXTOUT_FIXED_SIZE = 36
# MS-EMF §2.3.7 EMR_EXTCREATEFONTINDIRECTW: ihFont, then LogFont (§2.2.13) whose lfHeight is
# first and lfFaceName (32 UTF-16 units) starts 28 bytes in.
_CREATE_FONT = Struct(
    "handle" / Int32ul,
    "height" / Int32sl,
    "skip" / Bytes(24),
    "face_name" / Bytes(64),
)
# MS-EMF §2.2 XForm object: eM11, eM12, eM21, eM22, eDx, eDy (floats).
_XFORM = Struct(
    "m11" / Float32l,
    "m12" / Float32l,
    "m21" / Float32l,
    "m22" / Float32l,
    "dx" / Float32l,
    "dy" / Float32l,
)
_RECORD_HEAD = struct.Struct("<II")  # Type, Size: MS-EMF §2.3 record header
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")


def format_dpi(x: int, y: int) -> str:
    """Resolution as the other formats write it: "600 dpi", or "600x300 dpi" when unequal."""
    return f"{x} dpi" if x == y else f"{x}x{y} dpi"


def _u16_array(raw: bytes) -> array.array[int]:
    """Little-endian 16-bit units, compact (a text record may hold millions)."""
    values = array.array("H", raw[: len(raw) - len(raw) % 2])
    if sys.byteorder == "big":
        values.byteswap()
    return values


def glyphs_to_text(glyph_ids: Sequence[int]) -> tuple[str, int]:
    """Map glyph ids by the standard Macintosh order; returns (text, number not mapped)."""
    chars: list[str] = []
    unmapped = 0
    for gid in glyph_ids:
        if GLYPH_ASCII_FIRST <= gid <= GLYPH_ASCII_LAST:
            chars.append(chr(gid + GLYPH_ASCII_SHIFT))
        elif gid in (1, 2):  # .null and nonmarkingreturn draw nothing
            continue
        else:
            chars.append("\ufffd")
            unmapped += 1
    return "".join(chars), unmapped


# --------------------------------------------------------------------------- reading order


@dataclass(frozen=True)
class TextRun:
    """One string drawn at a position; y grows downwards (callers flip y-up spaces)."""

    x: float
    y: float
    text: str
    height: float = 0.0  # glyph height in the same units, 0 if unknown
    end_x: float | None = None  # where the run ends, when the advances are known


def layout_text(runs: Sequence[TextRun]) -> str:
    """Runs in reading order: lines by y (within half a glyph height), then by x within a line."""
    ordered = sorted(enumerate(runs), key=lambda item: (item[1].y, item[1].x, item[0]))
    lines: list[list[TextRun]] = []
    anchor_y = 0.0
    anchor_height = 0.0
    for _, run in ordered:
        height = max(anchor_height, run.height)
        tolerance = height * 0.5 if height > 0 else 0.5
        if lines and abs(run.y - anchor_y) <= tolerance:
            lines[-1].append(run)
            anchor_height = height
        else:
            lines.append([run])
            anchor_y, anchor_height = run.y, run.height
    out: list[str] = []
    for line in lines:
        text = _join_line(sorted(line, key=lambda run: run.x))
        if text:
            out.append(text)
    return "\n".join(out)


def _join_line(line: Sequence[TextRun]) -> str:
    parts: list[str] = []
    previous: TextRun | None = None
    for run in line:
        if previous is not None:
            tolerance = max(previous.height, run.height)
            if run.text == previous.text and abs(run.x - previous.x) <= max(tolerance * 0.2, 1.0):
                continue  # the same string drawn twice (shadow, fake bold): keep one
            if not (parts[-1][-1:].isspace() or run.text[:1].isspace()):
                if previous.end_x is None:
                    parts.append(" ")
                else:
                    threshold = tolerance * 0.15 if tolerance > 0 else 1.0
                    if run.x - previous.end_x > threshold:
                        parts.append(" ")
        parts.append(run.text)
        previous = run
    return "".join(parts).strip()


# --------------------------------------------------------------------------- the walk


@dataclass(frozen=True)
class EmfHeader:
    """The fields of EMR_HEADER an examiner looks at."""

    nbytes: int
    nrecords: int
    application: str | None
    document: str | None
    frame: tuple[int, int, int, int]  # .01 mm
    device_px: tuple[int, int]
    device_mm: tuple[int, int]
    dpi: tuple[int, int] | None

    @property
    def page_points(self) -> tuple[int, int] | None:
        """Width and height of the frame in points (1/72 in), None when the frame is empty."""
        left, top, right, bottom = self.frame
        width, height = right - left, bottom - top
        if width <= 0 or height <= 0:
            return None
        return round(width * 72 / 2540), round(height * 72 / 2540)

    @property
    def resolution(self) -> str | None:
        return format_dpi(*self.dpi) if self.dpi else None


@dataclass
class EmfResult:
    """What ``parse_emf`` found in one metafile."""

    header: EmfHeader
    texts: list[DecodedText] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    length: int = 0  # bytes walked from the start of the header
    complete: bool = True
    records: int = 0
    text_chars: int = 0  # characters put into ``texts``


@dataclass
class _Run:
    text: str
    ref_x: float
    ref_y: float  # logical units, already flipped to grow downwards
    end_x: float | None
    height: float
    bounds: tuple[int, int, int, int] | None  # device units, when GDI filled them in


@dataclass
class _PageState:
    """The graphics state that decides where text lands (MS-EMF §3.1.1 playback state, reduced)."""

    map_mode: int = MM_TEXT
    window_y_sign: int = 1
    viewport_y_sign: int = 1
    world_y_sign: int = 1
    fonts: dict[int, tuple[float, str]] = field(default_factory=dict)
    font_height: float = 0.0
    font_face: str = ""

    def y_sign(self) -> int:
        if self.map_mode in (MM_ISOTROPIC, MM_ANISOTROPIC):
            page = self.window_y_sign * self.viewport_y_sign
        elif MM_TEXT < self.map_mode <= MM_TWIPS:
            page = -1
        else:
            page = 1
        return page * self.world_y_sign


COMMON_DPI = (72, 75, 96, 100, 120, 150, 180, 200, 240, 300, 360, 400, 600, 720, 1200, 1440, 2400)


def _snap_dpi(value: float) -> int:
    for common in COMMON_DPI:
        if abs(value - common) <= common * 0.01:
            return common
    return round(value)


def is_emf_header(buf: bytes, offset: int = 0) -> bool:
    """EMR_HEADER at ``offset``: record type 1 and " EMF" 40 bytes in (MS-EMF §2.3.4.2)."""
    if offset < 0 or len(buf) < offset + HEADER_FIXED_SIZE:
        return False
    record_type, size = _RECORD_HEAD.unpack_from(buf, offset)
    signature = _U32.unpack_from(buf, offset + 40)[0]
    return record_type == EMR_HEADER and signature == ENHMETA_SIGNATURE and size >= 88


def parse_emf_header(buf: bytes, start: int = 0, end: int | None = None) -> EmfHeader:
    """Decode EMR_HEADER at ``start``; NotThisFormat when it is not one."""
    end = len(buf) if end is None else min(end, len(buf))
    if not is_emf_header(buf, start) or end - start < HEADER_FIXED_SIZE:
        raise NotThisFormat("no EMR_HEADER")
    head = EMR_HEADER_STRUCT.parse(buf[start : start + HEADER_FIXED_SIZE])
    record_end = min(start + head.size, end)
    application = document = None
    # The description lies inside the header record (MS-EMF §2.3.4.2: offDescription is from the
    # start of the record); "nDescription" counts UTF-16 units of "app\0document\0\0".
    if head.ndescription and head.off_description >= HEADER_FIXED_SIZE:
        first = start + head.off_description
        last = first + 2 * min(head.ndescription, 4 * MAX_FIELD_CHARS)
        if last <= record_end:
            parts = buf[first:last].decode("utf-16-le", "replace").split("\x00")
            application = clean_field(parts[0]) if parts else None
            document = clean_field(parts[1]) if len(parts) > 1 else None
    dpi: tuple[int, int] | None = None
    device = (head.device.cx, head.device.cy)
    millimeters = (head.millimeters.cx, head.millimeters.cy)
    micro: tuple[int, int] | None = None
    # HeaderExtension2 exists only when the fixed part reaches 108 bytes before any description
    # (MS-EMF §2.3.4.2: the record types differ by the size of their fixed part).
    fixed_end = head.size
    if head.ndescription and head.off_description:
        fixed_end = min(fixed_end, head.off_description)
    if fixed_end >= MICROMETERS_OFFSET + 8 and start + MICROMETERS_OFFSET + 8 <= record_end:
        extension = _MICROMETERS.parse(
            buf[start + MICROMETERS_OFFSET : start + MICROMETERS_OFFSET + 8]
        )
        if extension.x > 0 and extension.y > 0:
            micro = (extension.x, extension.y)
    if device[0] > 0 and device[1] > 0:
        if micro:
            dpi = (round(device[0] * 25400 / micro[0]), round(device[1] * 25400 / micro[1]))
        elif millimeters[0] > 0 and millimeters[1] > 0:
            # Whole millimetres leave up to ~0.5 % error: snap to the usual printer resolutions.
            dpi = (
                _snap_dpi(device[0] * 25.4 / millimeters[0]),
                _snap_dpi(device[1] * 25.4 / millimeters[1]),
            )
        if dpi and not (10 <= dpi[0] <= 20000 and 10 <= dpi[1] <= 20000):
            dpi = None
    frame = (head.frame.left, head.frame.top, head.frame.right, head.frame.bottom)
    return EmfHeader(
        nbytes=head.nbytes,
        nrecords=head.nrecords,
        application=application,
        document=document,
        frame=frame,
        device_px=device,
        device_mm=millimeters,
        dpi=dpi,
    )


def parse_emf(
    buf: bytes,
    start: int = 0,
    end: int | None = None,
    *,
    page: int = 1,
    max_chars: int = MAX_TEXT_CHARS,
    source_offset: int | None = None,
) -> EmfResult:
    """Walk the EMF at ``buf[start:end]`` and collect its text; NotThisFormat without a header.

    Returns the header, the page text (``"EMF page N"``; glyph-index text separately as
    ``"EMF page N (glyph indices, heuristic)"``; group comments as ``"EMF page N (comments)"``),
    notes, and how many bytes the records covered. Never raises for damage after the header.
    """
    end = len(buf) if end is None else min(end, len(buf))
    header = parse_emf_header(buf, start, end)
    result = EmfResult(header=header)
    declared_end = start + header.nbytes
    if header.nbytes < HEADER_FIXED_SIZE:
        result.notes.append(f"EMF header gives nBytes {header.nbytes}; walking the records present")
        limit = end
    elif declared_end > end:
        result.notes.append(
            f"EMF truncated: header gives {header.nbytes} bytes, {end - start} present"
        )
        result.complete = False
        limit = end
    else:
        limit = declared_end
    collector = _PageCollector(buf, budget=max(0, max_chars))
    pos = start
    saw_eof = False
    try:
        while pos + 8 <= limit:
            record_type, size = _RECORD_HEAD.unpack_from(buf, pos)
            if size < 8 or size % 4 or pos + size > limit:
                result.notes.append(
                    f"EMF record at 0x{pos:x} (type 0x{record_type:x}) has size {size}: walk stopped"
                )
                result.complete = False
                break
            if result.records >= MAX_EMF_RECORDS:
                result.notes.append(f"EMF record limit ({MAX_EMF_RECORDS}) reached at 0x{pos:x}")
                result.complete = False
                break
            result.records += 1
            if record_type == EMR_EOF:
                pos += size
                saw_eof = True
                break
            collector.record(pos, size, record_type)
            pos += size
    except (construct.ConstructError, ValueError, IndexError, struct.error, OverflowError) as exc:
        log.debug("EMF walk failed at 0x%x", pos, exc_info=True)
        result.notes.append(
            f"EMF record at 0x{pos:x} could not be decoded ({exc.__class__.__name__})"
        )
        result.complete = False
    result.length = pos - start
    if not saw_eof and result.complete:
        result.notes.append("EMF ends without EMR_EOF")
        result.complete = False
    if saw_eof and header.nrecords and header.nrecords != result.records:
        result.notes.append(f"EMF header gives {header.nrecords} records, {result.records} walked")
    collector.finish(result, page, source_offset)
    return result


@dataclass(frozen=True)
class _EmrText:
    ref_x: int
    ref_y: int
    chars: int
    off_string: int
    options: int
    off_dx: int
    size: int  # 40, or 24 without the Rectangle


def _parse_emr_text(buf: bytes, offset: int, limit: int) -> _EmrText | None:
    """EmrText at ``offset`` (MS-EMF §2.2.5), None when it does not fit before ``limit``."""
    if offset + EMR_TEXT_HEAD_SIZE + 4 > limit:
        return None
    ref_x, ref_y, chars, off_string, options = _EMR_TEXT_HEAD.unpack_from(buf, offset)
    dx_at = offset + EMR_TEXT_HEAD_SIZE + (0 if options & ETO_NO_RECT else 16)
    if dx_at + 4 > limit:
        return None
    return _EmrText(
        ref_x=ref_x,
        ref_y=ref_y,
        chars=chars,
        off_string=off_string,
        options=options,
        off_dx=_U32.unpack_from(buf, dx_at)[0],
        size=dx_at + 4 - offset,
    )


def _xform_y_sign(buf: bytes, offset: int) -> int:
    xform = _XFORM.parse(buf[offset : offset + 24])
    return -1 if xform.m22 < 0 else 1


def _valid_bounds(buf: bytes, offset: int) -> tuple[int, int, int, int] | None:
    """RectL bounds GDI filled in (device units), None for the empty (0,0,-1,-1) or zero box."""
    left, top, right, bottom = _BOUNDS.unpack_from(buf, offset)
    if right < left or bottom < top or (left, top, right, bottom) == (0, 0, 0, 0):
        return None
    return (left, top, right, bottom)


class _PageCollector:
    """Follows the records that place text and keeps the strings of one page."""

    def __init__(self, buf: bytes, budget: int) -> None:
        self.buf = buf
        self.budget = budget  # characters still allowed
        self.state = _PageState()
        self.runs: list[_Run] = []
        self.glyph_runs: list[_Run] = []
        self.comments: list[str] = []
        self.glyph_faces: set[str] = set()
        self.bad_strings = 0
        self.unmapped_glyphs = 0
        self.dropped = 0  # strings cut or skipped at the character budget
        self.emfplus = 0
        self.spool_comments = 0
        self.wmf_comments = 0

    def record(self, pos: int, size: int, record_type: int) -> None:
        """Update the state or collect the text of one record (bounds checked by the caller)."""
        buf, state = self.buf, self.state
        body = pos + 8
        if (
            record_type in (EMR_EXTTEXTOUTW, EMR_EXTTEXTOUTA)
            and size >= EXTTEXTOUT_TEXT_OFFSET + 24
        ):
            text = _parse_emr_text(buf, pos + EXTTEXTOUT_TEXT_OFFSET, pos + size)
            if text is not None:
                self._emr_text(
                    pos, size, text, record_type == EMR_EXTTEXTOUTW, _valid_bounds(buf, body)
                )
        elif (
            record_type in (EMR_POLYTEXTOUTW, EMR_POLYTEXTOUTA) and size >= POLYTEXTOUT_TEXTS_OFFSET
        ):
            head = _POLYTEXTOUT.parse(buf[body : body + 32])
            cursor = pos + POLYTEXTOUT_TEXTS_OFFSET
            for _ in range(min(head.count, MAX_POLYTEXT_STRINGS)):
                text = _parse_emr_text(buf, cursor, pos + size)
                if text is None:
                    break
                cursor += text.size
                self._emr_text(pos, size, text, record_type == EMR_POLYTEXTOUTW, None)
        elif record_type == EMR_SMALLTEXTOUT and size >= SMALLTEXTOUT_FIXED_SIZE:
            self._small_text(pos, size)
        elif record_type == EMR_EXTCREATEFONTINDIRECTW and size >= 8 + 4 + 92:
            font = _CREATE_FONT.parse(buf[body : body + 4 + 92])
            if len(state.fonts) < MAX_FONT_HANDLES or font.handle in state.fonts:
                face = font.face_name.decode("utf-16-le", "replace").split("\x00")[0]
                state.fonts[font.handle] = (abs(float(font.height)), clean_field(face, 64) or "")
        elif record_type == EMR_SELECTOBJECT and size >= 12:
            handle = _U32.unpack_from(buf, body)[0]
            if handle in state.fonts:
                state.font_height, state.font_face = state.fonts[handle]
        elif record_type == EMR_DELETEOBJECT and size >= 12:
            state.fonts.pop(_U32.unpack_from(buf, body)[0], None)
        elif record_type == EMR_SETMAPMODE and size >= 12:
            state.map_mode = _U32.unpack_from(buf, body)[0]
        elif record_type == EMR_SETWINDOWEXTEX and size >= 16:
            state.window_y_sign = -1 if _I32.unpack_from(buf, body + 4)[0] < 0 else 1
        elif record_type == EMR_SETVIEWPORTEXTEX and size >= 16:
            state.viewport_y_sign = -1 if _I32.unpack_from(buf, body + 4)[0] < 0 else 1
        elif record_type == EMR_SETWORLDTRANSFORM and size >= 8 + 24:
            state.world_y_sign = _xform_y_sign(buf, body)
        elif record_type == EMR_MODIFYWORLDTRANSFORM and size >= 8 + 28:
            mode = _U32.unpack_from(buf, body + 24)[0]
            if mode == MWT_IDENTITY:
                state.world_y_sign = 1
            elif mode == MWT_SET:
                state.world_y_sign = _xform_y_sign(buf, body)
            else:  # left/right multiply: the product flips y when the factor does (approximation)
                state.world_y_sign *= _xform_y_sign(buf, body)
        elif record_type == EMR_GDICOMMENT and size >= 16:
            self._comment(pos, size)

    def _take(self, wanted: int) -> int:
        """How many of ``wanted`` characters fit in the budget (counting what is dropped)."""
        allowed = min(wanted, self.budget)
        if allowed < wanted:
            self.dropped += 1
        return allowed

    def _emr_text(
        self,
        pos: int,
        size: int,
        text: _EmrText,
        wide: bool,
        bounds: tuple[int, int, int, int] | None,
    ) -> None:
        """EmrText (MS-EMF §2.2.5): nChars units at offString, advances at offDx."""
        if text.chars == 0:
            return
        unit = 2 if wide else 1
        first = pos + text.off_string
        if text.off_string < 8 or first + text.chars * unit > pos + size:
            self.bad_strings += 1
            return
        count = self._take(text.chars)
        if count == 0:
            return
        raw = self.buf[first : first + count * unit]
        glyphs = wide and bool(text.options & ETO_GLYPH_INDEX)
        if glyphs:
            decoded = self._glyphs(raw)
        else:
            decoded = raw.decode("utf-16-le" if wide else "cp1252", "replace")
        advance = _sum_advances(self.buf, pos, size, text.off_dx, text.chars, text.options)
        self._add(
            decoded,
            text.ref_x,
            text.ref_y,
            None if advance is None else text.ref_x + advance,
            bounds,
            glyphs,
        )

    def _small_text(self, pos: int, size: int) -> None:
        """EMR_SMALLTEXTOUT (MS-EMF §2.3.5.37): optional Bounds, then 8- or 16-bit characters."""
        x, y, chars, options, _mode, _ex_scale, _ey_scale = _SMALLTEXTOUT.unpack_from(
            self.buf, pos + 8
        )
        bounds: tuple[int, int, int, int] | None = None
        first = pos + SMALLTEXTOUT_FIXED_SIZE
        if not options & ETO_NO_RECT:
            if first + 16 > pos + size:
                self.bad_strings += 1
                return
            bounds = _valid_bounds(self.buf, first)
            first += 16
        narrow = bool(options & ETO_SMALL_CHARS)
        unit = 1 if narrow else 2
        if chars == 0:
            return
        if first + chars * unit > pos + size:
            self.bad_strings += 1
            return
        count = self._take(chars)
        if count == 0:
            return
        raw = self.buf[first : first + count * unit]
        glyphs = not narrow and bool(options & ETO_GLYPH_INDEX)
        if glyphs:
            decoded = self._glyphs(raw)
        else:
            # ETO_SMALL_CHARS: the low bytes of UTF-16 units whose high byte is 0, i.e. Latin-1.
            decoded = raw.decode("latin-1" if narrow else "utf-16-le", "replace")
        self._add(decoded, x, y, None, bounds, glyphs)

    def _glyphs(self, raw: bytes) -> str:
        decoded, unmapped = glyphs_to_text(_u16_array(raw))
        self.unmapped_glyphs += unmapped
        if self.state.font_face and len(self.glyph_faces) < 64:
            self.glyph_faces.add(self.state.font_face)
        return decoded

    def _add(
        self,
        decoded: str,
        ref_x: int,
        ref_y: int,
        end_x: int | None,
        bounds: tuple[int, int, int, int] | None,
        glyphs: bool,
    ) -> None:
        decoded = decoded.replace("\x00", "")
        if not decoded:
            return
        self.budget -= len(decoded)
        run = _Run(
            text=decoded,
            ref_x=float(ref_x),
            ref_y=float(ref_y * self.state.y_sign()),
            end_x=None if end_x is None else float(end_x),
            height=self.state.font_height,
            bounds=bounds,
        )
        (self.glyph_runs if glyphs else self.runs).append(run)

    def _comment(self, pos: int, size: int) -> None:
        """EMR_COMMENT (MS-EMF §2.3.3): EMF+ and spool comments are counted, group names kept."""
        data_size, identifier = struct.unpack_from("<II", self.buf, pos + 8)
        if identifier == EMR_COMMENT_EMFPLUS:
            self.emfplus += 1
        elif identifier == EMR_COMMENT_EMFSPOOL:
            self.spool_comments += 1
        elif identifier == EMR_COMMENT_PUBLIC and size >= 20 and data_size >= 8:
            public = _U32.unpack_from(self.buf, pos + 16)[0]
            if public == EMR_COMMENT_WINDOWS_METAFILE:
                self.wmf_comments += 1
            elif public == EMR_COMMENT_BEGINGROUP and size >= 40:
                # MS-EMF §2.3.3 EMR_COMMENT_BEGINGROUP: Rectangle at +20, nDescription at +36,
                # the UTF-16 description at +40.
                count = _U32.unpack_from(self.buf, pos + 36)[0]
                if count and pos + 40 + 2 * count <= pos + size:
                    taken = self._take(count)
                    raw = self.buf[pos + 40 : pos + 40 + 2 * taken]
                    description = raw.decode("utf-16-le", "replace").strip("\x00 ")
                    if description:
                        self.budget -= len(description)
                        self.comments.append(description)

    def finish(self, result: EmfResult, page: int, source_offset: int | None) -> None:
        """Lay the runs out into page text and add the notes about what was left aside."""
        text = _layout_runs(self.runs)
        if text:
            result.texts.append(DecodedText(f"EMF page {page}", text, source_offset=source_offset))
            result.text_chars += len(text)
        glyph_text = _layout_runs(self.glyph_runs)
        if glyph_text:
            result.texts.append(
                DecodedText(
                    f"EMF page {page} (glyph indices, heuristic)",
                    glyph_text,
                    heuristic=True,
                    source_offset=source_offset,
                )
            )
            result.text_chars += len(glyph_text)
            faces = ", ".join(sorted(self.glyph_faces)[:8]) or "unknown"
            result.notes.append(
                f"EMF page {page}: glyph-index text mapped by the standard Macintosh glyph order "
                f"(heuristic; fonts: {faces}; {self.unmapped_glyphs} glyphs outside the ASCII range)"
            )
        if self.comments:
            joined = "\n".join(self.comments)
            result.texts.append(
                DecodedText(f"EMF page {page} (comments)", joined, source_offset=source_offset)
            )
            result.text_chars += len(joined)
        if self.bad_strings:
            result.notes.append(
                f"EMF page {page}: {self.bad_strings} text records point outside themselves"
            )
        if self.dropped:
            result.notes.append(f"EMF page {page}: text limit reached, {self.dropped} strings cut")
        if self.emfplus:
            result.notes.append(f"EMF page {page}: {self.emfplus} EMF+ comment records not decoded")
        if self.wmf_comments:
            result.notes.append(
                f"EMF page {page}: {self.wmf_comments} embedded WMF comments not decoded"
            )


def _sum_advances(
    buf: bytes, record_pos: int, record_size: int, off_dx: int, chars: int, options: int
) -> int | None:
    """Total x advance of a string from its Dx array (pairs of x,y under ETO_PDY)."""
    if not off_dx:
        return None
    step = 2 if options & ETO_PDY else 1
    first = record_pos + off_dx
    last = first + 4 * chars * step
    if off_dx < 8 or last > record_pos + record_size:
        return None
    values = array.array("i", buf[first:last])
    if sys.byteorder == "big":
        values.byteswap()
    return sum(values[::step])


def _layout_runs(runs: list[_Run]) -> str:
    """Reading order in device space when every run has GDI bounds, else in logical space."""
    if not runs:
        return ""
    if all(run.bounds is not None for run in runs):
        placed = [
            TextRun(
                x=float(run.bounds[0]),
                y=float(run.bounds[1]),
                text=run.text,
                height=float(run.bounds[3] - run.bounds[1]),
                end_x=float(run.bounds[2]),
            )
            for run in runs
            if run.bounds is not None
        ]
    else:
        placed = [
            TextRun(x=run.ref_x, y=run.ref_y, text=run.text, height=run.height, end_x=run.end_x)
            for run in runs
        ]
    return layout_text([run for run in placed if math.isfinite(run.x) and math.isfinite(run.y)])


# --------------------------------------------------------------------------- the format


class EmfParser(FormatParser):
    """A standalone enhanced metafile (.EMF), one page."""

    name = "emf"
    description = "Microsoft Enhanced Metafile (MS-EMF), standalone"
    signatures = (Signature(b"\x01\x00\x00\x00", 0), Signature(b" EMF", 40))

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        return is_emf_header(head, 0)

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        header = parse_emf_header(data)  # NotThisFormat when there is no EMR_HEADER
        job = ParsedJob(format=self.name)
        try:
            result = parse_emf(
                data, 0, len(data), page=1, max_chars=MAX_TEXT_CHARS, source_offset=0
            )
        except (construct.ConstructError, ValueError, IndexError, struct.error) as exc:
            log.debug("EMF parse failed", exc_info=True)
            job.metadata = JobMetadata(
                application=header.application, document_name=header.document
            )
            job.complete = False
            job.notes.append(f"EMF could not be decoded ({exc.__class__.__name__})")
            return job
        points = header.page_points
        job.metadata = JobMetadata(
            application=header.application,
            document_name=header.document,
            pages=1,
            resolution=header.resolution,
        )
        job.pages = [
            PageRef(
                number=1,
                offset=0,
                length=result.length,
                width=points[0] if points else None,
                height=points[1] if points else None,
                unit="pt",
                resolution=header.resolution,
            )
        ]
        job.texts = result.texts
        job.notes = result.notes
        job.complete = result.complete
        job.length = result.length
        return job

    def extent(self, buf: bytes, offset: int) -> int | None:
        """nBytes of the header when it fits, else the end of the last whole record."""
        try:
            header = parse_emf_header(buf, offset)
        except (NotThisFormat, construct.ConstructError, struct.error):
            return None
        if HEADER_FIXED_SIZE <= header.nbytes <= len(buf) - offset and header.nbytes % 4 == 0:
            return header.nbytes
        pos = offset
        records = 0
        while pos + 8 <= len(buf) and records < MAX_EMF_RECORDS:
            record_type, size = _RECORD_HEAD.unpack_from(buf, pos)
            if size < 8 or size % 4 or pos + size > len(buf):
                break
            pos += size
            records += 1
            if record_type == EMR_EOF:
                break
        return pos - offset if pos > offset else None
