"""HP PCL XL (PCL 6): binary token stream, pages and media, comments, fonts and text.

References: HP "PCL XL Feature Reference, Protocol Class 2.0" (and the 2.1 / 3.0 supplements),
cited as "PCL XL FR"; tag, attribute and enumeration numbers as in ghostpdl base/gdevpxop.h,
gdevpxat.h and gdevpxen.h. A stream starts with an ASCII stream header
``<binding> HP-PCL XL;<class>;<revision>;<comment><LF>`` (PCL XL FR §4 "Stream Header"), binding
``)`` = binary little-endian, ``(`` = binary big-endian, ``'`` = ASCII. Then tokens (PCL XL FR §5
"Binary Stream Syntax"): data values (scalars 0xC0–0xC5, arrays 0xC8–0xCD, xy pairs 0xD0–0xD5,
boxes 0xE0–0xE5), attribute ids (0xF8 one byte, 0xF9 two bytes) naming the value before them,
operators (0x41–0xBF) taking the attributes before them, and embedded data (0xFA uint32 length,
0xFB ubyte length) after operators that read data.

Text: ``Text``/``TextPath`` carry ``TextData`` character codes of the current font. For printer-
resident fonts those are codes of the selected symbol set. For downloaded fonts
(``BeginFontHeader``/``ReadFontHeader``/``BeginChar``/``ReadChar``) they are whatever the driver
assigned: when the font header holds a TrueType ``cmap`` the glyph ids of the characters are
mapped back to Unicode; otherwise codes are read in the font's symbol set only where they look
like text, and the result is marked heuristic. Ghostscript's pxlmono/pxlcolor devices download
bitmap glyphs in a font named "@" whose codes are slots of a glyph cache (gdevpx.c), so their
text cannot be recovered from the stream (that is reported, not guessed).
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from construct import Array, Bytes, ConstructError, Int8ub, Int16ub, Int32ub, Struct

from forensics.formats.base import (
    MAX_EMBEDDED,
    MAX_FIELD_CHARS,
    MAX_PARSE_BYTES,
    MAX_TEXT_CHARS,
    CarvePattern,
    DecodedText,
    Embedded,
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
from forensics.formats.pcl5 import TextLayout

log = logging.getLogger(__name__)

UEL = b"\x1b%-12345X"
HEADER_MAGIC = b" HP-PCL XL"
MAX_HEADER_BYTES = 1024
MAX_PENDING_ATTRIBUTES = 256  # attributes before one operator (the FR defines < 100)
MAX_FONTS = 1024
MAX_FONT_BYTES = 16 * 1024 * 1024  # header data kept per font
MAX_CHARS_PER_FONT = 65536
MAX_TEXT_EVENTS = 2_000_000
MAX_STREAM_BYTES = 16 * 1024 * 1024  # user-defined streams kept (all together)
MAX_STREAM_DEPTH = 2  # ExecStream inside ExecStream
MAX_STREAM_TOKENS = 1_000_000  # tokens run from executed streams, all together (no blow-up)
MAX_PASSTHROUGH_BYTES = 16 * 1024 * 1024
MAX_COMMENTS = 1024
MAX_NOTES_PER_KIND = 5

# Tags (PCL XL FR §5; gdevpxop.h).
WHITESPACE = frozenset((0x00, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20))
ESC = 0x1B
ATTR_UBYTE, ATTR_UINT16 = 0xF8, 0xF9
DATA_LENGTH, DATA_LENGTH_BYTE = 0xFA, 0xFB
ARRAY_TAGS = range(0xC8, 0xCE)
SCALAR_TAGS = range(0xC0, 0xC6)
XY_TAGS = range(0xD0, 0xD6)
BOX_TAGS = range(0xE0, 0xE6)
OPERATOR_TAGS = range(0x41, 0xC0)

# Element types 0..5 = ubyte, uint16, uint32, sint16, sint32, real32 (low 3 bits of the tag).
ELEMENT_SIZES = (1, 2, 4, 2, 4, 4)
ELEMENT_FORMATS = ("B", "H", "I", "h", "i", "f")

# Operators (gdevpxop.h).
OPERATORS: dict[int, str] = {
    0x41: "BeginSession",
    0x42: "EndSession",
    0x43: "BeginPage",
    0x44: "EndPage",
    0x47: "Comment",
    0x48: "OpenDataSource",
    0x49: "CloseDataSource",
    0x4F: "BeginFontHeader",
    0x50: "ReadFontHeader",
    0x51: "EndFontHeader",
    0x52: "BeginChar",
    0x53: "ReadChar",
    0x54: "EndChar",
    0x55: "RemoveFont",
    0x56: "SetCharAttributes",
    0x5B: "BeginStream",
    0x5C: "ReadStream",
    0x5D: "EndStream",
    0x5E: "ExecStream",
    0x5F: "RemoveStream",
    0x60: "PopGS",
    0x61: "PushGS",
    0x6A: "SetColorSpace",
    0x6B: "SetCursor",
    0x6C: "SetCursorRel",
    0x6F: "SetFont",
    0xA8: "Text",
    0xA9: "TextPath",
    0xB0: "BeginImage",
    0xB1: "ReadImage",
    0xB2: "EndImage",
    0xB3: "BeginRastPattern",
    0xB4: "ReadRastPattern",
    0xB5: "EndRastPattern",
    0xB6: "BeginScan",
    0xB8: "EndScan",
    0xB9: "ScanLineRel",
    0xBF: "PassThrough",
}
# Every other tag in 0x41–0xBF is a graphics operator without interest here; tags of 0x40–0xBF
# that the FR leaves undefined are still read as operators (ghostpdl does the same) and counted.
DEFINED_OPERATORS = frozenset(
    (
        *OPERATORS,
        *range(0x60, 0x70),
        *range(0x70, 0x7E),
        *(0x7F, 0x80, 0x81, 0x84, 0x85, 0x86, 0x91, 0x93, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9B),
        *(0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2, 0xA3),
    )
)

# Attribute ids (gdevpxat.h).
A_COLOR_SPACE = 3
A_MEDIA_SIZE = 37
A_MEDIA_SOURCE = 38
A_MEDIA_TYPE = 39
A_ORIENTATION = 40
A_CUSTOM_MEDIA_SIZE = 47
A_CUSTOM_MEDIA_SIZE_UNITS = 48
A_PAGE_COPIES = 49
A_DUPLEX_PAGE_MODE = 53
A_POINT = 76
A_COMMENT_DATA = 129
A_MEASURE = 134
A_UNITS_PER_MEASURE = 137
A_STREAM_NAME = 139
A_PCL_SELECT_FONT = 141
A_CHAR_CODE = 162
A_CHAR_SIZE = 166
A_FONT_NAME = 168
A_SYMBOL_SET = 170
A_TEXT_DATA = 171
A_X_SPACING = 175

# MediaSize enumeration (gdevpxen.h pxeMediaSize_t, px_enumerate_media; sizes at 300 dpi).
MEDIA_SIZES: dict[int, tuple[str, int, int]] = {
    0: ("letter", 2550, 3300),
    1: ("legal", 2550, 4200),
    2: ("a4", 2480, 3507),
    3: ("executive", 2175, 3150),
    4: ("ledger", 3300, 5100),
    5: ("a3", 3507, 4960),
    6: ("com10", 1237, 2850),
    7: ("monarch", 1162, 2250),
    8: ("c5", 1913, 2704),
    9: ("dl", 1299, 2598),
    10: ("jis-b4", 3035, 4299),
    11: ("jis-b5", 2150, 3035),
    12: ("b5-envelope", 2078, 2952),
    13: ("b5", 2150, 3035),
    14: ("jpostcard", 1181, 1748),
    15: ("jdoublepostcard", 2362, 1748),
    16: ("a5", 1748, 2480),
    17: ("a6", 1240, 1748),
    18: ("jis-b6", 1512, 2150),
    19: ("jis8k", 3154, 4606),
    20: ("jis16k", 2303, 3154),
    21: ("jis-exec", 2551, 3898),
    96: ("default", 0, 0),
}
ORIENTATIONS = {0: "portrait", 1: "landscape", 2: "reverse portrait", 3: "reverse landscape"}
MEDIA_SOURCES = {
    0: "default",
    1: "auto",
    2: "manual feed",
    3: "multipurpose tray",
    4: "upper cassette",
    5: "lower cassette",
    6: "envelope tray",
    7: "third cassette",
}
MEASURE_PER_INCH = {0: 1.0, 1: 25.4, 2: 254.0}  # eInch, eMillimeter, eTenthsOfAMillimeter
MEASURE_NAMES = {0: "inch", 1: "mm", 2: "0.1 mm"}
DUPLEX_MODES = {0: "duplex horizontal binding", 1: "duplex vertical binding"}
MAX_PAGES = 100_000  # PageRefs kept
COLOR_SPACES = {1: "gray", 2: "rgb", 6: "srgb", 7: "gray"}

# PCL symbol set ids (PCL5 TRM "Symbol Set Tables": number × 32 + letter − 64) → codecs.
SYMBOL_SET_CODECS: dict[int, str] = {
    21: "ascii",  # 0U
    277: "hp_roman8",  # 8U
    341: "cp437",  # 10U PC-8
    405: "cp850",  # 12U
    14: "latin-1",  # 0N
    78: "iso8859-2",  # 2N
    174: "iso8859-9",  # 5N
    302: "iso8859-15",  # 9N
    629: "cp1252",  # 19U Windows 3.1 Latin 1
    293: "cp1250",  # 9E
    590: "unicode",  # 18N: codes are Unicode scalar values
}

# PCL XL FR Appendix "Font Header Format": 8-byte descriptor, then segments (big-endian).
FontDescriptor = Struct(
    "format" / Int8ub,  # 0
    "orientation" / Int8ub,
    "mapping" / Int16ub,  # symbol set id of the char codes
    "technology" / Int8ub,  # 1 TrueType, 254 bitmap
    "variety" / Int8ub,
    "char_count" / Int16ub,
)
SegmentHeader = Struct("id" / Bytes(2), "size" / Int32ub)
# TrueType sfnt table directory (Apple TrueType Reference, "The 'sfnt' table directory").
SfntHeader = Struct(
    "version" / Int32ub,
    "num_tables" / Int16ub,
    "search_range" / Int16ub,
    "entry_selector" / Int16ub,
    "range_shift" / Int16ub,
)
TableRecord = Struct("tag" / Bytes(4), "checksum" / Int32ub, "offset" / Int32ub, "length" / Int32ub)
CmapHeader = Struct("version" / Int16ub, "num_tables" / Int16ub)
CmapRecord = Struct("platform" / Int16ub, "encoding" / Int16ub, "offset" / Int32ub)
CmapFormat4Head = Struct(
    "format" / Int16ub,
    "length" / Int16ub,
    "language" / Int16ub,
    "seg_count_x2" / Int16ub,
    "search_range" / Int16ub,
    "entry_selector" / Int16ub,
    "range_shift" / Int16ub,
)
CmapFormat0 = Struct(
    "format" / Int16ub, "length" / Int16ub, "language" / Int16ub, "glyphs" / Array(256, Int8ub)
)
# PCL XL FR "Character Format": byte 0 format (0 bitmap, 1 TrueType), byte 1 class; TrueType
# glyph id at byte 4 (class 0), 8 (class 1: + LSB, advance), 10 (class 2: + TSB).
CharPrefix = Struct("format" / Int8ub, "char_class" / Int8ub)
TRUETYPE_GLYPH_ID_AT = {0: 4, 1: 8, 2: 10}
MAX_CMAP_SEGMENTS = 8192


@dataclass(frozen=True)
class XlArray:
    """An array value: element type (0..5) and its raw bytes."""

    element: int
    raw: bytes
    big_endian: bool

    def values(self) -> list[float]:
        size = ELEMENT_SIZES[self.element]
        count = len(self.raw) // size
        order = ">" if self.big_endian else "<"
        return list(struct.unpack(f"{order}{count}{ELEMENT_FORMATS[self.element]}", self.raw))

    def text(self) -> str:
        return self.raw.decode("latin-1") if self.element == 0 else ""


Value = float | tuple[float, ...] | XlArray


@dataclass
class Token:
    offset: int
    kind: str  # "value", "attribute", "operator", "data", "end", "error"
    tag: int = 0
    value: Value | None = None
    attribute: int = 0
    data: bytes = b""
    message: str = ""


def iter_tokens(
    data: bytes, pos: int, big_endian: bool, size: int | None = None
) -> Iterator[Token]:
    """The binary tokens of ``data[pos:size]`` (PCL XL FR §5); stops at the end, a UEL or a bad
    tag."""
    order = ">" if big_endian else "<"
    scalars = [struct.Struct(order + fmt) for fmt in ELEMENT_FORMATS]
    uint16 = struct.Struct(order + "H")
    uint32 = struct.Struct(order + "I")
    size = len(data) if size is None else min(size, len(data))
    while pos < size:
        tag = data[pos]
        if tag in WHITESPACE:
            pos += 1
            continue
        if tag in OPERATOR_TAGS:
            yield Token(pos, "operator", tag)
            pos += 1
            continue
        if tag in SCALAR_TAGS or tag in XY_TAGS or tag in BOX_TAGS:
            element = tag & 0x07
            count = 1 if tag < 0xC8 else (2 if tag < 0xE0 else 4)
            width = ELEMENT_SIZES[element]
            end = pos + 1 + width * count
            if end > size:
                yield Token(pos, "error", tag, message="value cut off by the end of the data")
                return
            unpack = scalars[element].unpack_from
            items = tuple(unpack(data, pos + 1 + i * width)[0] for i in range(count))
            yield Token(pos, "value", tag, value=items[0] if count == 1 else items)
            pos = end
            continue
        if tag in ARRAY_TAGS:
            # PCL XL FR §5.3: array = type tag, length as a ubyte or uint16 value, elements.
            if pos + 2 >= size:
                yield Token(pos, "error", tag, message="array cut off")
                return
            length_tag = data[pos + 1]
            if length_tag == 0xC0:
                count, start = data[pos + 2], pos + 3
            elif length_tag == 0xC1 and pos + 4 <= size:
                count, start = uint16.unpack_from(data, pos + 2)[0], pos + 4
            else:
                yield Token(pos, "error", tag, message=f"array length tag 0x{length_tag:02x}")
                return
            element = tag & 0x07
            end = start + count * ELEMENT_SIZES[element]
            if end > size:
                yield Token(pos, "error", tag, message="array cut off by the end of the data")
                return
            yield Token(pos, "value", tag, value=XlArray(element, data[start:end], big_endian))
            pos = end
            continue
        if tag in (ATTR_UBYTE, ATTR_UINT16):
            width = 1 if tag == ATTR_UBYTE else 2
            if pos + 1 + width > size:
                yield Token(pos, "error", tag, message="attribute id cut off")
                return
            attribute = data[pos + 1] if width == 1 else uint16.unpack_from(data, pos + 1)[0]
            yield Token(pos, "attribute", tag, attribute=attribute)
            pos += 1 + width
            continue
        if tag in (DATA_LENGTH, DATA_LENGTH_BYTE):
            width = 4 if tag == DATA_LENGTH else 1
            if pos + 1 + width > size:
                yield Token(pos, "error", tag, message="data length cut off")
                return
            length = uint32.unpack_from(data, pos + 1)[0] if width == 4 else data[pos + 1]
            start = pos + 1 + width
            if start + length > size:
                yield Token(
                    pos,
                    "error",
                    tag,
                    data=data[start:size],
                    message=f"embedded data of {length} bytes at {pos}, {size - start} remain",
                )
                return
            yield Token(pos, "data", tag, data=data[start : start + length])
            pos = start + length
            continue
        if tag == ESC and data.startswith(UEL, pos):
            yield Token(pos, "end", tag)
            return
        yield Token(pos, "error", tag, message=f"illegal tag 0x{tag:02x} at {pos}")
        return


@dataclass
class FontInfo:
    """A downloaded font: header bytes, and char code → glyph id from its characters."""

    name: str
    header: bytearray = field(default_factory=bytearray)
    mapping: int | None = None  # symbol set id from the descriptor
    technology: int | None = None
    glyph_of_code: dict[int, int] = field(default_factory=dict)
    unicode_of_glyph: dict[int, int] = field(default_factory=dict)


@dataclass
class TextRun:
    font: str
    codes: list[int]
    wide: bool  # uint16 codes
    symbol_set: int | None
    char_size: float | None  # user units
    advance: float | None  # sum of XSpacingData, user units


@dataclass
class CursorMove:
    x: float  # user units
    y: float
    relative: bool


@dataclass
class PageBreak:
    pass


@dataclass
class PageInfo:
    number: int
    start: int
    media: str | None = None
    orientation: int | None = None
    width_pt: int | None = None
    height_pt: int | None = None
    color: str | None = None
    source: str | None = None
    media_type: str | None = None
    duplex: str | None = None


def decode_header(data: bytes) -> tuple[str, bool | None, str, str, int]:
    """(binding char, big_endian or None for ASCII, protocol, comment, offset after the LF)."""
    if len(data) < len(HEADER_MAGIC) + 1 or data[1 : 1 + len(HEADER_MAGIC)] != HEADER_MAGIC:
        raise NotThisFormat("no PCL XL stream header")
    binding = chr(data[0])
    if binding not in ")('":
        raise NotThisFormat("unknown PCL XL binding")
    line_end = data.find(b"\n", 0, MAX_HEADER_BYTES)
    if line_end < 0:
        line_end = min(len(data), MAX_HEADER_BYTES)
    header = data[1 + len(HEADER_MAGIC) : line_end].decode("latin-1")
    parts = header.lstrip(";").split(";", 2)
    protocol = ".".join(part.strip() for part in parts[:2] if part.strip().isdigit())
    comment = parts[2] if len(parts) > 2 else ""
    big_endian = {")": False, "(": True}.get(binding)
    return binding, big_endian, protocol, clean_field(comment) or "", line_end + 1


def as_float(value: Value | None) -> float | None:
    """A finite scalar, or None (real32 values may be NaN or infinite)."""
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def as_int(value: Value | None) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and abs(number) < 2**31 else None


def number_pair(value: Value | None) -> tuple[float, float] | None:
    if isinstance(value, tuple) and len(value) == 2:
        first, second = as_float(value[0]), as_float(value[1])
        if first is not None and second is not None:
            return first, second
    return None


class XlReader:
    """Interprets the token stream (one pass) and collects pages, fonts, comments and text."""

    def __init__(self, data: bytes, big_endian: bool, limit: int) -> None:
        self.data = data
        self.big_endian = big_endian
        self.limit = limit
        self.notes: list[str] = []
        self.note_counts: dict[str, int] = {}
        self.complete = True
        self.end: int | None = None
        self.operators = 0
        self.unknown_operators = 0
        self.pages: list[PageInfo] = []
        self.page: PageInfo | None = None
        self.pages_ended = 0
        self.copies: int | None = None
        self.units_per_inch: tuple[float, float] = (600.0, 600.0)
        self.units_note: str | None = None
        self.comments: list[str] = []
        self.fonts: dict[str, FontInfo] = {}
        self.font_order: list[str] = []
        self.current_font_header: FontInfo | None = None
        self.current_char: tuple[FontInfo, int] | None = None
        self.font_name = ""
        self.font_symbol_set: int | None = None
        self.char_size: float | None = None
        self.events: list[TextRun | CursorMove | PageBreak] = []  # in stream order
        self.event_codes = 0
        self.streams: dict[str, bytearray] = {}
        self.stream_bytes = 0
        self.reading_stream: str | None = None
        self.passthrough = bytearray()
        self.color: str | None = None
        self.last_operator = 0
        self.depth = 0
        self.page_ends: dict[int, int] = {}
        self.stream_tokens = 0
        self.char_font: FontInfo | None = None

    def note(self, kind: str, message: str) -> None:
        count = self.note_counts.get(kind, 0) + 1
        self.note_counts[kind] = count
        if count <= MAX_NOTES_PER_KIND:
            self.notes.append(message)

    def run(self, data: bytes, pos: int, top_level: bool = True) -> None:
        attributes: dict[int, Value] = {}
        pending: Value | None = None
        after_session: int | None = None  # offset after an EndSession with nothing since
        for token in iter_tokens(data, pos, self.big_endian):
            if not top_level:
                self.stream_tokens += 1
                if self.stream_tokens > MAX_STREAM_TOKENS:
                    self.note("streams", "executed streams exceed the token budget")
                    self.complete = False
                    return
            if token.kind == "value":
                pending = token.value
            elif token.kind == "attribute":
                if pending is None:
                    self.note(
                        "attr", f"attribute {token.attribute} without a value at {token.offset}"
                    )
                elif len(attributes) < MAX_PENDING_ATTRIBUTES:
                    attributes[token.attribute] = pending
                pending = None
            elif token.kind == "operator":
                self.operators += 1
                self.last_operator = token.tag
                if token.tag not in DEFINED_OPERATORS:
                    self.unknown_operators += 1
                self.operator(token.tag, attributes, token.offset)
                attributes = {}
                pending = None
                after_session = token.offset + 1 if token.tag == 0x42 else None
            elif token.kind == "data":
                self.embedded_data(token.data)
            elif token.kind == "end":
                if top_level:
                    self.end = token.offset
                return
            else:
                if top_level and after_session is not None:
                    # Bytes that are no tokens after EndSession (PCL XL FR §5: the session
                    # ends the stream's content) are not part of this stream: carving slack.
                    self.end = after_session
                    self.notes.append(
                        f"{len(data) - after_session} bytes after EndSession at {after_session} "
                        "are not PCL XL: ignored"
                    )
                    return
                if token.data:
                    self.embedded_data(token.data)
                self.note("error", f"PCL XL stream damaged: {token.message}")
                self.complete = False
                return
        if top_level:
            self.end = len(data)

    # -- operators ---------------------------------------------------------------------------

    def operator(self, tag: int, attrs: dict[int, Value], offset: int) -> None:
        name = OPERATORS.get(tag)
        if name is None:
            return
        if name == "BeginSession":
            self.begin_session(attrs)
        elif name == "BeginPage":
            self.begin_page(attrs, offset)
        elif name == "EndPage":
            self.end_page(attrs, offset)
        elif name == "Comment":
            text = self.string(attrs.get(A_COMMENT_DATA))
            if text and len(self.comments) < MAX_COMMENTS:
                self.comments.append(text)
        elif name == "SetFont":
            self.set_font(attrs)
        elif name in ("SetCursor", "SetCursorRel"):
            point = number_pair(attrs.get(A_POINT))
            if point and len(self.events) < MAX_TEXT_EVENTS:
                self.events.append(CursorMove(*point, relative=name == "SetCursorRel"))
        elif name in ("Text", "TextPath"):
            self.text(attrs)
        elif name == "BeginFontHeader":
            font_name = self.string(attrs.get(A_FONT_NAME), strip=False)
            self.current_font_header = self.font(font_name) if font_name is not None else None
        elif name == "EndFontHeader":
            if self.current_font_header is not None:
                self.parse_font_header(self.current_font_header)
            self.current_font_header = None
        elif name == "BeginChar":
            font_name = self.string(attrs.get(A_FONT_NAME), strip=False)
            self.current_char = None
            self.char_font = self.font(font_name) if font_name is not None else None
        elif name == "ReadChar":
            code = as_int(attrs.get(A_CHAR_CODE))
            font = self.char_font
            if code is not None and font is not None:
                self.current_char = (font, code)
        elif name == "EndChar":
            self.current_char = None
        elif name == "BeginStream":
            stream_name = self.string(attrs.get(A_STREAM_NAME), strip=False)
            self.reading_stream = stream_name
            if stream_name is not None and len(self.streams) < MAX_FONTS:
                self.streams[stream_name] = bytearray()
        elif name == "EndStream":
            self.reading_stream = None
        elif name == "ExecStream":
            self.exec_stream(attrs)
        elif name == "SetColorSpace" and self.page is not None:
            space = as_int(attrs.get(A_COLOR_SPACE))
            if space is not None:
                self.page.color = COLOR_SPACES.get(space, self.page.color)

    def begin_session(self, attrs: dict[int, Value]) -> None:
        units = number_pair(attrs.get(A_UNITS_PER_MEASURE))
        measure = as_int(attrs.get(A_MEASURE))
        per_inch = MEASURE_PER_INCH.get(measure if measure is not None else 0, 1.0)
        if units and units[0] > 0 and units[1] > 0:
            self.units_per_inch = (units[0] * per_inch, units[1] * per_inch)
            unit = MEASURE_NAMES.get(measure if measure is not None else 0, "inch")
            self.units_note = f"{units[0]:g}x{units[1]:g} per {unit}"

    def begin_page(self, attrs: dict[int, Value], offset: int) -> None:
        if self.page is not None:
            self.note("page", f"BeginPage at {offset} inside a page")
            self.close_page(offset)
        page = PageInfo(number=len(self.pages) + 1, start=offset)
        media = attrs.get(A_MEDIA_SIZE)
        media_code = as_int(media)
        if media_code is not None:
            name, width, height = MEDIA_SIZES.get(media_code, (f"media {media_code}", 0, 0))
            page.media = name
            if width and height:  # px_enumerate_media gives the size at 300 dpi
                page.width_pt, page.height_pt = round(width * 72 / 300), round(height * 72 / 300)
        elif isinstance(media, XlArray):  # PCL XL FR 2.0: media may be named by a string
            page.media = clean_field(media.text(), 64)
        custom = number_pair(attrs.get(A_CUSTOM_MEDIA_SIZE))
        if custom and 0 < custom[0] < 1e6 and 0 < custom[1] < 1e6:
            units = as_int(attrs.get(A_CUSTOM_MEDIA_SIZE_UNITS))
            per_inch = MEASURE_PER_INCH.get(units if units is not None else 0, 1.0)
            page.width_pt = round(custom[0] / per_inch * 72)
            page.height_pt = round(custom[1] / per_inch * 72)
            page.media = page.media or "custom"
        page.orientation = as_int(attrs.get(A_ORIENTATION))
        source = as_int(attrs.get(A_MEDIA_SOURCE))
        if source is not None:
            page.source = MEDIA_SOURCES.get(source, f"source {source}")
        media_type = attrs.get(A_MEDIA_TYPE)
        if isinstance(media_type, XlArray):
            page.media_type = clean_field(media_type.text(), 64)
        duplex = as_int(attrs.get(A_DUPLEX_PAGE_MODE))
        if duplex is not None:
            page.duplex = DUPLEX_MODES.get(duplex, f"duplex {duplex}")
        self.page = page
        if len(self.pages) < MAX_PAGES:
            self.pages.append(page)

    def end_page(self, attrs: dict[int, Value], offset: int) -> None:
        copies = as_int(attrs.get(A_PAGE_COPIES))
        if copies is not None and copies >= 1:
            self.copies = max(self.copies or 0, min(copies, 65535))
        self.pages_ended += 1
        self.close_page(offset + 1)

    def close_page(self, end: int) -> None:
        if self.page is not None:
            self.page_ends[self.page.number] = end
        self.page = None
        self.events.append(PageBreak())

    def set_font(self, attrs: dict[int, Value]) -> None:
        name = self.string(attrs.get(A_FONT_NAME), strip=False)
        select = attrs.get(A_PCL_SELECT_FONT)
        if name is not None:
            self.font_name = name
        elif isinstance(select, XlArray):
            self.font_name = "PCL:" + select.text()[:64]
        self.font_symbol_set = as_int(attrs.get(A_SYMBOL_SET))
        size = as_float(attrs.get(A_CHAR_SIZE))
        if size is not None and 0 < size < 1e6:
            self.char_size = size

    def text(self, attrs: dict[int, Value]) -> None:
        data = attrs.get(A_TEXT_DATA)
        if not isinstance(data, XlArray) or data.element not in (0, 1):
            return
        if self.event_codes >= self.limit or len(self.events) >= MAX_TEXT_EVENTS:
            self.note("textcap", "text output cap reached")
            self.complete = False
            return
        codes = [int(code) for code in data.values()][: self.limit - self.event_codes]
        self.event_codes += len(codes)
        spacing = attrs.get(A_X_SPACING)
        advance = sum(spacing.values()) if isinstance(spacing, XlArray) else None
        self.events.append(
            TextRun(
                font=self.font_name,
                codes=codes,
                wide=data.element == 1,
                symbol_set=self.font_symbol_set,
                char_size=self.char_size,
                advance=advance,
            )
        )

    def exec_stream(self, attrs: dict[int, Value]) -> None:
        name = self.string(attrs.get(A_STREAM_NAME), strip=False)
        body = self.streams.get(name or "")
        if body is None or self.depth >= MAX_STREAM_DEPTH:
            return
        data = bytes(body)
        start = 0
        # A stream's data begins with its own stream header (PCL XL FR §7 "User Defined Streams").
        if len(data) > 11 and data[1:11] == HEADER_MAGIC:
            newline = data.find(b"\n", 0, MAX_HEADER_BYTES)
            start = newline + 1 if newline >= 0 else 0
        self.depth += 1
        try:
            self.run(data, start, top_level=False)
        finally:
            self.depth -= 1

    # -- embedded data -----------------------------------------------------------------------

    def embedded_data(self, block: bytes) -> None:
        name = OPERATORS.get(self.last_operator)
        if name == "ReadFontHeader" and self.current_font_header is not None:
            font = self.current_font_header
            room = MAX_FONT_BYTES - len(font.header)
            font.header.extend(block[: max(room, 0)])
        elif name == "ReadChar" and self.current_char is not None:
            font, code = self.current_char
            if len(font.glyph_of_code) < MAX_CHARS_PER_FONT:
                glyph = self.glyph_id(block)
                if glyph is not None:
                    font.glyph_of_code[code] = glyph
                else:
                    font.glyph_of_code.setdefault(code, -1)
        elif name == "ReadStream" and self.reading_stream is not None:
            target = self.streams.get(self.reading_stream)
            room = MAX_STREAM_BYTES - self.stream_bytes
            if target is not None and room > 0:
                target.extend(block[:room])
                self.stream_bytes += min(len(block), room)
        elif name == "PassThrough":
            room = MAX_PASSTHROUGH_BYTES - len(self.passthrough)
            self.passthrough.extend(block[: max(room, 0)])

    @staticmethod
    def glyph_id(block: bytes) -> int | None:
        try:
            prefix = CharPrefix.parse(block)
        except ConstructError:
            return None
        at = TRUETYPE_GLYPH_ID_AT.get(prefix.char_class)
        if prefix.format != 1 or at is None or len(block) < at + 2:
            return None
        return int.from_bytes(block[at : at + 2], "big")

    # -- fonts -------------------------------------------------------------------------------

    def font(self, name: str) -> FontInfo | None:
        font = self.fonts.get(name)
        if font is None:
            if len(self.fonts) >= MAX_FONTS:
                self.note("fonts", f"more than {MAX_FONTS} downloaded fonts")
                return None
            font = FontInfo(name=name)
            self.fonts[name] = font
            self.font_order.append(name)
        return font

    def parse_font_header(self, font: FontInfo) -> None:
        header = bytes(font.header)
        try:
            descriptor = FontDescriptor.parse(header)
        except ConstructError:
            self.note("font", f"font {font.name!r}: header shorter than its descriptor")
            return
        font.mapping = descriptor.mapping
        font.technology = descriptor.technology
        pos = FontDescriptor.sizeof()
        for _ in range(256):
            if pos + SegmentHeader.sizeof() > len(header):
                break
            segment = SegmentHeader.parse(header[pos:])
            body_start = pos + SegmentHeader.sizeof()
            body = header[body_start : body_start + segment.size]
            if segment.id == b"GT":
                font.unicode_of_glyph = parse_sfnt_cmap(body)
            if segment.id == b"\xff\xff" or segment.size > len(header) - body_start:
                break
            pos = body_start + segment.size

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def string(value: Value | None, strip: bool = True) -> str | None:
        if not isinstance(value, XlArray):
            return None
        if value.element == 0:
            text = value.raw.decode("latin-1")
        else:
            text = "".join(chr(int(code)) for code in value.values() if 0 < code < 0x110000)
        return clean_field(text) if strip else text[:MAX_FIELD_CHARS]


def parse_sfnt_cmap(sfnt: bytes) -> dict[int, int]:
    """Glyph id → Unicode from the 'cmap' table of a TrueType table directory, if present."""
    glyphs: dict[int, int] = {}
    try:
        head = SfntHeader.parse(sfnt)
        table: bytes | None = None
        pos = SfntHeader.sizeof()
        for _ in range(min(head.num_tables, 64)):
            record = TableRecord.parse(sfnt[pos:])
            pos += TableRecord.sizeof()
            if record.tag == b"cmap":
                table = sfnt[record.offset : record.offset + record.length]
                break
        if not table:
            return glyphs
        cmap = CmapHeader.parse(table)
        subtables = []
        pos = CmapHeader.sizeof()
        for _ in range(min(cmap.num_tables, 32)):
            record = CmapRecord.parse(table[pos:])
            pos += CmapRecord.sizeof()
            subtables.append(record)
        # Prefer Unicode (platform 0, or 3/1 Windows BMP), then 3/0 symbol, then Mac Roman.
        subtables.sort(
            key=lambda r: {(3, 1): 0, (0, 3): 1, (3, 0): 2, (1, 0): 3}.get(
                (r.platform, r.encoding), 4
            )
        )
        for record in subtables:
            body = table[record.offset :]
            if len(body) < 2:
                continue
            kind = int.from_bytes(body[:2], "big")
            if kind == 4:
                cmap_format4(body, glyphs)
            elif kind == 0:
                sub = CmapFormat0.parse(body)
                for code, glyph in enumerate(sub.glyphs):
                    glyphs.setdefault(
                        glyph,
                        code if record.platform != 1 else ord(bytes([code]).decode("mac_roman")),
                    )
            if glyphs:
                break
    except (ConstructError, ValueError, IndexError, UnicodeDecodeError):
        log.debug("TrueType cmap unreadable", exc_info=True)
    glyphs.pop(0, None)  # .notdef
    return glyphs


def cmap_format4(body: bytes, glyphs: dict[int, int]) -> None:
    """TrueType cmap format 4 (segment mapping to delta values)."""
    head = CmapFormat4Head.parse(body)
    segments = min(head.seg_count_x2 // 2, MAX_CMAP_SEGMENTS)
    base = CmapFormat4Head.sizeof()

    def u16(index: int) -> int:
        return int.from_bytes(body[index : index + 2], "big")

    ends = base
    starts = ends + 2 * segments + 2
    deltas = starts + 2 * segments
    offsets = deltas + 2 * segments
    if offsets + 2 * segments > len(body):
        return
    for seg in range(segments):
        end, start = u16(ends + 2 * seg), u16(starts + 2 * seg)
        delta, range_offset = u16(deltas + 2 * seg), u16(offsets + 2 * seg)
        if start > end or (end == 0xFFFF and start == 0xFFFF):
            continue
        for code in range(start, min(end, 0xFFFE) + 1):
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = offsets + 2 * seg + range_offset + 2 * (code - start)
                if at + 2 > len(body):
                    break
                glyph = u16(at)
                if glyph:
                    glyph = (glyph + delta) & 0xFFFF
            if glyph:
                glyphs.setdefault(glyph, code)
            if len(glyphs) >= MAX_CHARS_PER_FONT:
                return


def plausible_text(codes: list[int]) -> bool:
    """Codes that read as text in an 8-bit set: mostly printable ASCII / Latin-1, some letters."""
    if not codes:
        return False
    printable = sum(1 for code in codes if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF)
    letters = sum(1 for code in codes if 0x41 <= code <= 0x5A or 0x61 <= code <= 0x7A)
    return printable >= 0.9 * len(codes) and letters >= 0.3 * len(codes)


def decode_code(code: int, codec: str | None, wide: bool) -> str:
    if codec == "unicode" or (codec is None and wide and code > 0xFF):
        return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"
    if code > 0xFF:
        return "\ufffd"
    try:
        return bytes([code]).decode(codec or "latin-1")
    except UnicodeDecodeError:
        return "\ufffd"


class PclXlParser(FormatParser):
    name = "pclxl"
    description = "HP PCL XL (PCL 6) stream: pages, media, comments, fonts, text"
    signatures = (
        Signature(b") HP-PCL XL;"),
        Signature(b"( HP-PCL XL;"),
        Signature(b"' HP-PCL XL;"),
    )
    # PCL XL Feature Reference §5.1: stream header, binding byte then " HP-PCL XL;".
    carve_patterns = (CarvePattern(yara_hex(b") HP-PCL XL;", b"( HP-PCL XL;", b"' HP-PCL XL;")),)
    priority = 20

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        data = data[:MAX_PARSE_BYTES]
        _binding, big_endian, protocol, comment, start = decode_header(data)
        job = ParsedJob(format=self.name)
        extra: list[tuple[str, str]] = []
        if protocol:
            extra.append(("protocol_class", protocol))
        if comment:
            extra.append(("stream_comment", comment))
        if big_endian is None:
            job.complete = False
            job.notes.append("ASCII binding (') stream: operators were not decoded")
            job.metadata = JobMetadata(application=comment or None, extra=tuple(extra))
            return job
        limit = min(MAX_TEXT_CHARS, ctx.max_output)
        reader = XlReader(data, big_endian, limit)
        try:
            reader.run(data, start)
        except (ConstructError, ValueError, IndexError, struct.error, OverflowError) as error:
            log.debug("PCL XL parse failed", exc_info=True)
            reader.complete = False
            reader.notes.append(f"PCL XL parse stopped: {type(error).__name__}: {error}")
        try:
            self._finish(job, reader, extra, comment)
        except (ConstructError, ValueError, IndexError, struct.error, OverflowError) as error:
            log.debug("PCL XL result assembly failed", exc_info=True)
            job.complete = False
            job.notes.append(f"PCL XL results incomplete: {type(error).__name__}: {error}")
        return job

    def extent(self, buf: bytes, offset: int) -> int | None:
        """The stream runs to the UEL that ends it (or to EndSession when none follows)."""
        try:
            _binding, big_endian, _protocol, _comment, start = decode_header(
                buf[offset : offset + MAX_HEADER_BYTES]
            )
        except NotThisFormat:
            return None
        if big_endian is None:
            return None
        last_end_session = None
        size = offset + MAX_PARSE_BYTES  # tokens are read in place: no copy of the buffer
        for token in iter_tokens(buf, offset + start, big_endian, size):
            if token.kind == "end":
                return token.offset - offset
            if token.kind == "error":
                break
            if token.kind == "operator" and token.tag == 0x42:  # EndSession
                last_end_session = token.offset + 1 - offset
        return last_end_session

    def _finish(
        self, job: ParsedJob, reader: XlReader, extra: list[tuple[str, str]], comment: str
    ) -> None:
        job.length = reader.end
        job.complete = reader.complete
        job.notes.extend(reader.notes)
        suppressed = sum(
            max(count - MAX_NOTES_PER_KIND, 0) for count in reader.note_counts.values()
        )
        if suppressed:
            job.notes.append(f"{suppressed} further stream problems not listed")
        if reader.page is not None:
            job.notes.append(f"page {reader.page.number} has no EndPage (truncated?)")
            job.complete = False
        if reader.unknown_operators:
            job.notes.append(f"{reader.unknown_operators} undefined operator tags")
        for page in reader.pages:
            width, height = page.width_pt, page.height_pt
            if page.orientation in (1, 3) and width and height:
                width, height = height, width
            end = reader.page_ends.get(page.number)
            job.pages.append(
                PageRef(
                    number=page.number,
                    offset=page.start,
                    length=(end - page.start) if end is not None else None,
                    width=width,
                    height=height,
                    unit="pt",
                    color=page.color,
                )
            )
        first = reader.pages[0] if reader.pages else None
        orientation = (
            ORIENTATIONS.get(first.orientation) if first and first.orientation is not None else None
        )
        if orientation:
            extra.append(("orientation", orientation))
        if first and first.source:
            extra.append(("media_source", first.source))
        if first and first.media_type:
            extra.append(("media_type", first.media_type))
        if first and first.duplex:
            extra.append(("duplex", first.duplex))
        if reader.units_note:
            extra.append(("units_per_measure", reader.units_note))
        if reader.font_order:
            extra.append(
                (
                    "downloaded_fonts",
                    ", ".join(clean_field(n, 64) or "?" for n in reader.font_order[:32])[
                        :MAX_FIELD_CHARS
                    ],
                )
            )
        resident = sorted(
            {
                run.font
                for run in reader.events
                if isinstance(run, TextRun) and run.font not in reader.fonts
            }
        )
        if resident:
            extra.append(
                (
                    "resident_fonts",
                    ", ".join(clean_field(n, 64) or "?" for n in resident[:32])[:MAX_FIELD_CHARS],
                )
            )
        for index, text in enumerate(reader.comments[:8]):
            extra.append((f"comment {index + 1}", text[:MAX_FIELD_CHARS]))
        job.metadata = JobMetadata(
            application=comment or None,
            pages=len(reader.pages) or None,
            copies=reader.copies,
            media=first.media if first else None,
            document_format="application/vnd.hp-PCLXL",
            extra=tuple(extra),
        )
        if reader.comments:
            job.texts.append(DecodedText(name="PCL XL comments", text="\n".join(reader.comments)))
        self._text(job, reader)
        if reader.passthrough and len(job.embedded) < MAX_EMBEDDED:
            job.embedded.append(
                Embedded(
                    name="PCL XL PassThrough PCL 5",
                    offset=0,
                    length=0,
                    format_hint="pcl5",
                    data=bytes(reader.passthrough),
                )
            )

    def _text(self, job: ParsedJob, reader: XlReader) -> None:
        """Lay the text runs out in order; decide per font how its codes can be read."""
        by_font: dict[str, list[int]] = {}
        for event in reader.events:
            if isinstance(event, TextRun):
                codes = by_font.setdefault(event.font, [])
                if len(codes) < 100_000:
                    codes.extend(event.codes[: 100_000 - len(codes)])
        readers: dict[str, tuple[dict[int, str] | str | None, bool]] = {}
        unreadable: list[str] = []
        for font_name, codes in by_font.items():
            font = reader.fonts.get(font_name)
            if font is None:  # printer-resident font: codes in its symbol set
                readers[font_name] = ("symbol-set", False)
                continue
            if font.unicode_of_glyph and font.glyph_of_code:
                table = {
                    code: chr(font.unicode_of_glyph[glyph])
                    for code, glyph in font.glyph_of_code.items()
                    if glyph in font.unicode_of_glyph
                }
                if table:
                    readers[font_name] = (table, True)
                    continue
            if plausible_text(codes):
                readers[font_name] = (SYMBOL_SET_CODECS.get(font.mapping or 0, "latin-1"), True)
            else:
                readers[font_name] = (None, True)
                kind = (
                    "bitmap"
                    if font.technology == 254
                    else "TrueType"
                    if font.technology == 1
                    else "downloaded"
                )
                unreadable.append(
                    f"{len(codes)} character codes in {kind} font {clean_field(font_name, 64) or '?'!r} "
                    "are driver-assigned glyph slots with no character mapping in the stream: "
                    "that text is not recoverable without glyph recognition"
                )
        job.notes.extend(unreadable)
        per_x, per_y = reader.units_per_inch
        layout = TextLayout(limit=reader.limit, pitch=None)
        heuristic = False
        for event in reader.events:
            if isinstance(event, PageBreak):
                layout.page_break()
                continue
            if isinstance(event, CursorMove):
                if event.relative:
                    layout.move(dx=event.x / per_x, dy=event.y / per_y)
                else:
                    layout.move(x=event.x / per_x, y=event.y / per_y)
                continue
            reading, guessed = readers.get(event.font, (None, True))
            if reading is None:
                continue
            if event.char_size:
                layout.point_size = event.char_size / per_y * 72
            if isinstance(reading, dict):
                text = "".join(reading.get(code, "\ufffd") for code in event.codes)
            else:
                codec = (
                    SYMBOL_SET_CODECS.get(event.symbol_set or 0)
                    if reading == "symbol-set"
                    else reading
                )
                text = "".join(decode_code(code, codec, event.wide) for code in event.codes)
            heuristic = heuristic or guessed
            start_x = layout.x
            layout.text(text)
            if event.advance is not None:
                layout.x = start_x + event.advance / per_x
        result = layout.result()
        if result.strip():
            job.texts.append(DecodedText(name="text", text=result, heuristic=heuristic))
        if layout.full:
            job.notes.append("text output cap reached")
            job.complete = False
