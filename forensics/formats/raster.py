"""Page rasters sent to printers: PWG Raster, CUPS Raster v1/v2/v3 and Apple URF.

- CUPS Raster (CUPS ``cups/raster.h``): a 4-byte sync word, then per page a page header and the
  page's scanlines. The sync word also gives the byte order of the header fields, as CUPS
  writes the header in host order: ``RaSt``/``tSaR`` v1 (420-byte ``cups_page_header_t``,
  uncompressed), ``RaS2``/``2SaR`` v2 (1796-byte ``cups_page_header2_t``, compressed),
  ``RaS3``/``3SaR`` v3 (1796 bytes, uncompressed).
- PWG Raster (PWG 5102.4 §4.3): ``RaS2`` with big-endian 1796-byte headers whose first field is
  ``PwgRaster``; same layout and compression as CUPS v2.
- Apple URF (CUPS ``cups/raster-stream.c``): ``UNIRAST\\0``, a big-endian page count, and per
  page a 32-byte header, then the same compressed scanlines.

Compressed scanlines (CUPS ``_cupsRasterReadPixels``): each line starts with a repeat byte (the
line is used that many times plus one), then runs: 0-127 = the next pixel repeated n+1 times,
129-255 = 257-n literal pixels follow, 128 = the rest of the line is blank. A "pixel" is
(bits per pixel + 7) / 8 bytes for chunked colour order, (bits per colour + 7) / 8 otherwise.

``parse`` reads every page header and walks every page's data to check its length;
``decode_page`` turns one page into scanlines (bounded) for rendering later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from construct import (
    Array,
    Bytes,
    ConstructError,
    Float32b,
    Float32l,
    Int8ub,
    Int32ub,
    Int32ul,
    Struct,
)

from forensics.formats.base import (
    MAX_DECODED_BYTES,
    MAX_PARSE_BYTES,
    CarvePattern,
    FormatParser,
    JobMetadata,
    NotThisFormat,
    PageRef,
    ParseContext,
    ParsedJob,
    Signature,
    yara_hex,
)

log = logging.getLogger(__name__)

MAX_PAGES = 10_000
DECODE_MAX_PIXELS = 100_000_000  # decode_page refuses larger pages (about 1200 dpi A3)
# cups/raster-stream.c limits: _CUPS_MAX_WIDTH/_HEIGHT 0xffffff, 16 MiB per line.
MAX_DIMENSION = 0x00FFFFFF
MAX_BYTES_PER_LINE = 16 * 1024 * 1024
MAX_PAGE_PIXELS = 4_000_000_000  # beyond any printable sheet: a header this big is hostile

# cups/raster.h sync words; the byte spelling tells the header's byte order.
SYNC_V1_BE, SYNC_V1_LE = b"RaSt", b"tSaR"
SYNC_V2_BE, SYNC_V2_LE = b"RaS2", b"2SaR"
SYNC_V3_BE, SYNC_V3_LE = b"RaS3", b"3SaR"
CUPS_SYNCS = {
    SYNC_V1_BE: (1, "big"),
    SYNC_V1_LE: (1, "little"),
    SYNC_V2_BE: (2, "big"),
    SYNC_V2_LE: (2, "little"),
    SYNC_V3_BE: (3, "big"),
    SYNC_V3_LE: (3, "little"),
}
PWG_MEDIA_CLASS = b"PwgRaster\x00"  # PWG 5102.4 §4.3.1.1: MediaClass / PwgRaster
URF_MAGIC = b"UNIRAST\x00"  # cups/raster-stream.c CUPS_RASTER_SYNCapple + "AST\0"


def _page_header(u32: Any, f32: Any) -> tuple[Struct, Struct]:
    """cups_page_header_t (420 bytes) and cups_page_header2_t (1796 bytes), cups/raster.h."""
    v1_fields = (
        "MediaClass" / Bytes(64),  # PWG: "PwgRaster"
        "MediaColor" / Bytes(64),
        "MediaType" / Bytes(64),
        "OutputType" / Bytes(64),  # PWG: PrintContentOptimize
        "AdvanceDistance" / u32,
        "AdvanceMedia" / u32,
        "Collate" / u32,
        "CutMedia" / u32,
        "Duplex" / u32,
        "HWResolution" / Array(2, u32),
        "ImagingBoundingBox" / Array(4, u32),
        "InsertSheet" / u32,
        "Jog" / u32,
        "LeadingEdge" / u32,
        "Margins" / Array(2, u32),
        "ManualFeed" / u32,
        "MediaPosition" / u32,
        "MediaWeight" / u32,
        "MirrorPrint" / u32,
        "NegativePrint" / u32,
        "NumCopies" / u32,
        "Orientation" / u32,
        "OutputFaceUp" / u32,
        "PageSize" / Array(2, u32),  # points
        "Separations" / u32,
        "TraySwitch" / u32,
        "Tumble" / u32,
        "cupsWidth" / u32,
        "cupsHeight" / u32,
        "cupsMediaType" / u32,
        "cupsBitsPerColor" / u32,
        "cupsBitsPerPixel" / u32,
        "cupsBytesPerLine" / u32,
        "cupsColorOrder" / u32,
        "cupsColorSpace" / u32,
        "cupsCompression" / u32,
        "cupsRowCount" / u32,
        "cupsRowFeed" / u32,
        "cupsRowStep" / u32,
    )
    v2_fields = (
        "cupsNumColors" / u32,
        "cupsBorderlessScalingFactor" / f32,
        "cupsPageSize" / Array(2, f32),
        "cupsImagingBBox" / Array(4, f32),
        # PWG 5102.4 §4.3: [0] TotalPageCount, [1] CrossFeedTransform, [2] FeedTransform,
        # [3-6] ImageBox, [7] AlternatePrimary, [8] PrintQuality, [14] VendorIdentifier,
        # [15] VendorLength; cupsReal and cupsString hold PWG's VendorData.
        "cupsInteger" / Array(16, u32),
        "cupsReal" / Array(16, f32),
        "cupsString" / Array(16, Bytes(64)),
        "cupsMarkerType" / Bytes(64),
        "cupsRenderingIntent" / Bytes(64),
        "cupsPageSizeName" / Bytes(64),
    )
    return Struct(*v1_fields), Struct(*v1_fields, *v2_fields)


HEADER_V1_BE, HEADER_V2_BE = _page_header(Int32ub, Float32b)
HEADER_V1_LE, HEADER_V2_LE = _page_header(Int32ul, Float32l)
HEADER_V1_SIZE = HEADER_V1_BE.sizeof()  # 420
HEADER_V2_SIZE = HEADER_V2_BE.sizeof()  # 1796

URF_FILE_HEADER = Struct("magic" / Bytes(8), "page_count" / Int32ub)
URF_PAGE_HEADER = Struct(  # cups/raster-stream.c, Apple raster page header (32 bytes, BE)
    "bits_per_pixel" / Int8ub,
    "color_space" / Int8ub,
    "duplex" / Int8ub,  # 1 one-sided, 2 two-sided short edge, 3 two-sided long edge
    "quality" / Int8ub,  # IPP print-quality: 3 draft, 4 normal, 5 high (0 default)
    "media_type" / Int8ub,
    "media_position" / Int8ub,
    "reserved1" / Bytes(6),
    "width" / Int32ub,
    "height" / Int32ub,
    "resolution" / Int32ub,  # dots per inch, both directions
    "reserved2" / Bytes(8),
)
URF_PAGE_HEADER_SIZE = URF_PAGE_HEADER.sizeof()

# cups/raster.h cups_cspace_t, in order (the names CUPS prints, _cupsRasterColorSpaceString).
COLOR_SPACES = [
    "W",
    "RGB",
    "RGBA",
    "K",
    "CMY",
    "YMC",
    "CMYK",
    "YMCK",
    "KCMY",
    "KCMYcm",
    "GMCK",
    "GMCS",
    "WHITE",
    "GOLD",
    "SILVER",
    "CIEXYZ",
    "CIELab",
    "RGBW",
    "sGray",
    "sRGB",
    "AdobeRGB",
]
_ICC_BASE, _DEVICE_BASE = 32, 48  # CUPS_CSPACE_ICC1 .. ICCF, CUPS_CSPACE_DEVICE1 .. DEVICEF
# Colour spaces whose blank (code 128 "clear to end of line") is 0xFF, as CUPS reads them.
_WHITE_IS_FF = {0, 1, 17, 18, 19, 20}
# cups_cspace_t → number of colours (cups_raster_update).
_NUM_COLORS = {0: 1, 3: 1, 12: 1, 13: 1, 14: 1, 18: 1, 1: 3, 4: 3, 5: 3, 15: 3, 16: 3, 19: 3, 20: 3}
_NUM_COLORS.update({2: 4, 6: 4, 7: 4, 8: 4, 10: 4, 11: 4, 17: 4})
COLOR_ORDERS = {0: "chunked", 1: "banded", 2: "planar"}
# cups/raster-stream.c apple raster: colour space codes and media-type names.
URF_COLOR_SPACES = {0: (18, 1), 1: (19, 3), 2: (16, 3), 3: (20, 3), 4: (0, 1), 5: (1, 3), 6: (6, 4)}
URF_MEDIA_TYPES = [
    "auto",
    "stationery",
    "transparency",
    "envelope",
    "cardstock",
    "labels",
    "stationery-letterhead",
    "disc",
    "photographic-matte",
    "photographic-satin",
    "photographic-semi-gloss",
    "photographic-glossy",
    "photographic-high-gloss",
    "other",
]
URF_DUPLEX = {1: "one-sided", 2: "two-sided-short-edge", 3: "two-sided-long-edge"}
PRINT_QUALITY = {3: "draft", 4: "normal", 5: "high"}  # RFC 8011 §5.2.13


def color_space_name(code: int) -> str:
    if 0 <= code < len(COLOR_SPACES):
        return COLOR_SPACES[code]
    if _ICC_BASE <= code < _ICC_BASE + 15:
        return f"ICC{code - _ICC_BASE + 1:X}"
    if _DEVICE_BASE <= code < _DEVICE_BASE + 15:
        return f"DEVICE{code - _DEVICE_BASE + 1:X}"
    return f"colour space {code}"


def _num_colors(code: int, bits_per_pixel: int) -> int:
    if code == 9:  # KCMYcm: six colours below 8 bits per pixel
        return 6 if bits_per_pixel < 8 else 4
    if _ICC_BASE <= code < _ICC_BASE + 15:
        return 3
    if _DEVICE_BASE <= code < _DEVICE_BASE + 15:
        return code - _DEVICE_BASE + 1
    return _NUM_COLORS.get(code, 0)


def _c_string(raw: bytes) -> str:
    text = raw.split(b"\x00", 1)[0].decode("utf-8", "replace")
    return "".join(ch for ch in text if ch.isprintable()).strip()


@dataclass
class RasterPage:
    """One page's header values and where its data is."""

    number: int
    offset: int  # page header
    data_offset: int
    width: int
    height: int
    bits_per_color: int
    bits_per_pixel: int
    bytes_per_line: int
    color_order: int
    color_space: int
    num_colors: int
    compressed: bool
    resolution: tuple[int, int] = (0, 0)
    num_copies: int = 0
    page_size: tuple[int, int] = (0, 0)  # points
    page_size_name: str = ""
    media_class: str = ""
    media_color: str = ""
    media_type: str = ""
    print_content_optimize: str = ""  # OutputType
    rendering_intent: str = ""
    marker_type: str = ""
    duplex: bool = False
    tumble: bool = False
    total_page_count: int = 0
    print_quality: int = 0
    data_length: int | None = None  # None until walked, or when the data is damaged
    values: dict[str, str] = field(default_factory=dict)

    @property
    def lines(self) -> int:
        """Scanlines stored: planar order stores each colour's plane separately."""
        return self.height * (self.num_colors if self.color_order == 2 else 1)

    @property
    def pixel_bytes(self) -> int:
        bits = self.bits_per_pixel if self.color_order == 0 else self.bits_per_color
        return max(1, (bits + 7) // 8)

    @property
    def color(self) -> str:
        return f"{color_space_name(self.color_space)} {self.bits_per_pixel}-bit"

    @property
    def blank(self) -> int:
        return 0xFF if self.color_space in _WHITE_IS_FF else 0x00


def _check_geometry(page: RasterPage) -> str | None:
    """Why the page header cannot be right (cups_raster_update's checks), or None."""
    if page.bits_per_color not in (1, 2, 4, 8, 16):
        return f"bits per colour {page.bits_per_color}"
    if page.num_colors <= 0:
        return f"unknown colour space {page.color_space}"
    if page.color_order not in COLOR_ORDERS:
        return f"colour order {page.color_order}"
    if page.color_order == 0 and page.bits_per_pixel != page.bits_per_color * page.num_colors:
        return f"bits per pixel {page.bits_per_pixel} for {page.num_colors} colours"
    if page.color_order != 0 and page.bits_per_pixel != page.bits_per_color:
        return f"bits per pixel {page.bits_per_pixel}"
    if not (0 < page.width <= MAX_DIMENSION and 0 < page.height <= MAX_DIMENSION):
        return f"size {page.width}x{page.height}"
    if page.width * page.height > MAX_PAGE_PIXELS:
        return f"size {page.width}x{page.height} beyond any sheet"
    expected = (page.width * page.bits_per_pixel + 7) // 8
    if page.color_order == 1:
        expected *= page.num_colors
    if not 0 < page.bytes_per_line <= MAX_BYTES_PER_LINE or page.bytes_per_line != expected:
        return f"bytes per line {page.bytes_per_line} for width {page.width}"
    if page.bytes_per_line % page.pixel_bytes:
        return f"bytes per line {page.bytes_per_line} not whole {page.pixel_bytes}-byte pixels"
    return None


def _cups_page(fields: Any, number: int, offset: int, header_size: int, version: int) -> RasterPage:
    v2 = header_size == HEADER_V2_SIZE
    integers = list(fields.cupsInteger) if v2 else [0] * 16
    num_colors = fields.cupsNumColors if v2 and version != 1 else 0
    if not num_colors:
        num_colors = _num_colors(fields.cupsColorSpace, fields.cupsBitsPerPixel)
    page = RasterPage(
        number=number,
        offset=offset,
        data_offset=offset + header_size,
        width=fields.cupsWidth,
        height=fields.cupsHeight,
        bits_per_color=fields.cupsBitsPerColor,
        bits_per_pixel=fields.cupsBitsPerPixel,
        bytes_per_line=fields.cupsBytesPerLine,
        color_order=fields.cupsColorOrder,
        color_space=fields.cupsColorSpace,
        num_colors=num_colors,
        compressed=version == 2,
        resolution=(fields.HWResolution[0], fields.HWResolution[1]),
        num_copies=fields.NumCopies,
        page_size=(fields.PageSize[0], fields.PageSize[1]),
        page_size_name=_c_string(fields.cupsPageSizeName) if v2 else "",
        media_class=_c_string(fields.MediaClass),
        media_color=_c_string(fields.MediaColor),
        media_type=_c_string(fields.MediaType),
        print_content_optimize=_c_string(fields.OutputType),
        rendering_intent=_c_string(fields.cupsRenderingIntent) if v2 else "",
        marker_type=_c_string(fields.cupsMarkerType) if v2 else "",
        duplex=bool(fields.Duplex),
        tumble=bool(fields.Tumble),
        total_page_count=integers[0],
        print_quality=integers[8],
    )
    if integers[14]:
        page.values["vendor-identifier"] = f"0x{integers[14]:04x}"  # PWG 5102.4 VendorIdentifier
    if fields.cupsMediaType:
        page.values["cups-media-type"] = str(fields.cupsMediaType)
    return page


def _urf_page(fields: Any, number: int, offset: int) -> RasterPage:
    space, colors = URF_COLOR_SPACES.get(fields.color_space, (_DEVICE_BASE, 1))
    bits = fields.bits_per_pixel
    if bits == 1 and space == 18:
        # Apple raster defines sGray at 8 bits only; 1-bit "sGray" pages (Ghostscript's urf
        # device writes them) carry 1 = ink, as a CUPS black (K) page: blank is 0.
        space = 3
    resolution = fields.resolution
    page = RasterPage(
        number=number,
        offset=offset,
        data_offset=offset + URF_PAGE_HEADER_SIZE,
        width=fields.width,
        height=fields.height,
        bits_per_color=bits // colors if colors and bits >= colors else bits,
        bits_per_pixel=bits,
        bytes_per_line=(fields.width * bits + 7) // 8,
        color_order=0,
        color_space=space,
        num_colors=colors,
        compressed=True,
        resolution=(resolution, resolution),
        num_copies=0,
        page_size=(
            (fields.width * 72 // resolution, fields.height * 72 // resolution)
            if resolution
            else (0, 0)
        ),
        media_type=(
            URF_MEDIA_TYPES[fields.media_type]
            if fields.media_type < len(URF_MEDIA_TYPES)
            else "other"
        ),
        duplex=fields.duplex >= 2,
        tumble=fields.duplex == 2,
        print_quality=fields.quality,
    )
    page.values["urf-colour-space"] = str(fields.color_space)
    if fields.duplex in URF_DUPLEX:
        page.values["sides"] = URF_DUPLEX[fields.duplex]
    page.values["media-position"] = str(fields.media_position)
    return page


def _walk_compressed(data: bytes, page: RasterPage) -> tuple[int, str | None]:
    """Follow one page's compressed scanlines; return (end offset, problem or None).

    Every step consumes at least one byte, so the walk is bounded by the data's length.
    """
    pos = page.data_offset
    end = len(data)
    line_bytes = page.bytes_per_line
    pixel = page.pixel_bytes
    total_lines = page.lines
    line = 0
    while line < total_lines:
        if pos >= end:
            return end, f"page {page.number} data ends at line {line} of {total_lines}"
        repeat = data[pos] + 1  # CUPS: the line repeat byte counts extra copies
        pos += 1
        filled = 0
        while filled < line_bytes:
            if pos >= end:
                return end, f"page {page.number} data ends inside line {line}"
            code = data[pos]
            if code < 128:  # code + 1 copies of the next pixel
                pos += 1 + pixel
                filled += (code + 1) * pixel
            elif code > 128:  # 257 - code literal pixels (cut at the end of the line)
                count = min((257 - code) * pixel, line_bytes - filled)
                pos += 1 + count
                filled += count
            else:  # 128: the rest of the line is blank
                pos += 1
                filled = line_bytes
        line += repeat
    if pos > end:
        return end, f"page {page.number} last run goes past the end of the data"
    return pos, None


def _decode_compressed(data: bytes, page: RasterPage, out: bytearray) -> str | None:
    """Decode one page's compressed scanlines into ``out`` (lines × bytes_per_line bytes)."""
    pos = page.data_offset
    end = len(data)
    line_bytes = page.bytes_per_line
    pixel = page.pixel_bytes
    total_lines = page.lines
    blank = bytes([page.blank])
    line = 0
    while line < total_lines:
        if pos >= end:
            return f"page {page.number} data ends at line {line} of {total_lines}"
        repeat = data[pos] + 1
        pos += 1
        row_start = line * line_bytes
        filled = 0
        while filled < line_bytes:
            if pos >= end:
                return f"page {page.number} data ends inside line {line}"
            code = data[pos]
            pos += 1
            at = row_start + filled
            if code == 128:
                out[at : row_start + line_bytes] = blank * (line_bytes - filled)
                filled = line_bytes
            elif code > 128:
                count = min((257 - code) * pixel, line_bytes - filled)
                if pos + count > end:
                    return f"page {page.number} literal run past the end of the data"
                out[at : at + count] = data[pos : pos + count]
                pos += count
                filled += count
            else:
                count = min((code + 1) * pixel, line_bytes - filled)
                if pos + pixel > end:
                    return f"page {page.number} repeat run past the end of the data"
                out[at : at + count] = data[pos : pos + pixel] * (count // pixel)
                pos += pixel
                filled += count
        copies = min(repeat, total_lines - line)
        if copies > 1:
            row = bytes(out[row_start : row_start + line_bytes])
            out[row_start + line_bytes : row_start + copies * line_bytes] = row * (copies - 1)
        line += copies
    return None


@dataclass
class RasterStream:
    kind: str  # "pwg-raster", "cups-raster", "urf"
    version: int  # CUPS raster version; 0 for URF
    byte_order: str
    pages: list[RasterPage] = field(default_factory=list)
    declared_pages: int | None = None  # URF file header page count
    complete: bool = True
    notes: list[str] = field(default_factory=list)
    end: int = 0


def _identify(head: bytes) -> tuple[str, int, str] | None:
    sync = head[:4]
    if head[:8] == URF_MAGIC:
        return "urf", 0, "big"
    if sync in CUPS_SYNCS:
        version, order = CUPS_SYNCS[sync]
        kind = (
            "pwg-raster" if sync == SYNC_V2_BE and head[4:14] == PWG_MEDIA_CLASS else "cups-raster"
        )
        return kind, version, order
    return None


def read_stream(data: bytes, walk: bool = True) -> RasterStream:
    """Read every page header (and, with ``walk``, check each page's data length)."""
    identified = _identify(data)
    if identified is None:
        raise NotThisFormat("no raster sync word")
    kind, version, order = identified
    stream = RasterStream(kind, version, order)
    size = len(data)
    if kind == "urf":
        if size < URF_FILE_HEADER.sizeof() + URF_PAGE_HEADER_SIZE:
            raise NotThisFormat("URF header truncated")
        declared = URF_FILE_HEADER.parse(data[:12]).page_count
        # cups/raster-stream.c writes 0xFFFFFFFF when streaming; Ghostscript writes 0.
        stream.declared_pages = declared if declared not in (0, 0xFFFFFFFF) else None
        header_size = URF_PAGE_HEADER_SIZE
        pos = URF_FILE_HEADER.sizeof()
    else:
        header_size = HEADER_V1_SIZE if version == 1 else HEADER_V2_SIZE
        if size < 4 + header_size:
            raise NotThisFormat("raster page header truncated")
        pos = 4
    header_struct = {
        (1, "big"): HEADER_V1_BE,
        (1, "little"): HEADER_V1_LE,
    }.get((version, order), HEADER_V2_BE if order == "big" else HEADER_V2_LE)

    while pos + header_size <= size:
        number = len(stream.pages) + 1
        if number > MAX_PAGES:
            stream.complete = False
            stream.notes.append(f"more than {MAX_PAGES} pages; the rest not read")
            break
        raw = data[pos : pos + header_size]
        if kind == "urf":
            page = _urf_page(URF_PAGE_HEADER.parse(raw), number, pos)
        else:
            if kind == "pwg-raster" and raw[:10] != PWG_MEDIA_CLASS:
                # PWG 5102.4 §4.3: every page header starts PwgRaster.
                stream.notes.append(
                    f"{size - pos} bytes after page {number - 1} are not a page header"
                )
                break
            page = _cups_page(header_struct.parse(raw), number, pos, header_size, version)
        problem = _check_geometry(page)
        if problem:
            if not stream.pages:
                # The sync word matched, so this is damage after a good header: keep what the
                # header says and stop before touching any page data.
                stream.complete = False
                stream.notes.append(f"page 1 header rejected: {problem}")
                stream.pages.append(page)
                stream.end = page.data_offset
                return stream
            stream.notes.append(
                f"{size - pos} bytes after page {number - 1} are not a page header ({problem})"
            )
            break
        stream.pages.append(page)
        if not walk:
            stream.end = page.data_offset
            break
        if page.compressed:
            end, trouble = _walk_compressed(data, page)
        else:
            length = page.bytes_per_line * page.lines
            end = page.data_offset + length
            trouble = None
            if end > size:
                trouble = (
                    f"page {number} needs {length} bytes of data, {size - page.data_offset} left"
                )
                end = size
        if trouble:
            stream.complete = False
            stream.notes.append(trouble)
            stream.end = end
            return stream
        page.data_length = end - page.data_offset
        pos = end
        stream.end = end
        if kind == "urf" and stream.declared_pages is not None and number >= stream.declared_pages:
            break
    if walk and stream.complete and 0 < size - stream.end < header_size:
        stream.notes.append(f"{size - stream.end} bytes after the last page")
    if stream.declared_pages is not None and len(stream.pages) != stream.declared_pages:
        stream.notes.append(
            f"URF header says {stream.declared_pages} pages, {len(stream.pages)} found"
        )
    if not stream.pages:
        raise NotThisFormat("no raster page")
    return stream


def decode_page(data: bytes, page: RasterPage, max_bytes: int = MAX_DECODED_BYTES) -> np.ndarray:
    """The page's scanlines as a ``(lines, bytes_per_line)`` uint8 array.

    Pixels are packed as stored (1-bit rows pack 8 pixels a byte; planar pages stack the colour
    planes). Raises ValueError for a page beyond ``DECODE_MAX_PIXELS`` / ``max_bytes`` or whose
    data is damaged.
    """
    lines, problem = decode_page_partial(data, page, max_bytes)
    if problem:
        raise ValueError(problem)
    return lines


def decode_page_partial(
    data: bytes, page: RasterPage, max_bytes: int = MAX_DECODED_BYTES
) -> tuple[np.ndarray, str | None]:
    """Like ``decode_page``, but damaged data gives the lines decoded before the damage (the
    rest blank) and the reason. Pages beyond the limits still raise ValueError."""
    if page.width * page.height > DECODE_MAX_PIXELS or _check_geometry(page):
        raise ValueError(f"page {page.number}: {page.width}x{page.height} not decoded")
    size = page.lines * page.bytes_per_line
    if size > max_bytes:
        raise ValueError(f"page {page.number}: {size} bytes exceeds the output limit")
    if not page.compressed:
        raw = data[page.data_offset : page.data_offset + size]
        problem = None if len(raw) == size else f"page {page.number}: data truncated"
        out = bytearray(raw.ljust(size, bytes([page.blank])))
    else:
        out = bytearray(bytes([page.blank]) * size)
        problem = _decode_compressed(data, page, out)
    lines = np.frombuffer(bytes(out), dtype=np.uint8).reshape(page.lines, page.bytes_per_line)
    return lines, problem


def _resolution(page: RasterPage) -> str | None:
    x, y = page.resolution
    if not x or not y:
        return None
    return f"{x}x{y} dpi" if x != y else f"{x} dpi"


DOCUMENT_FORMATS = {
    "pwg-raster": "image/pwg-raster",  # PWG 5102.4 §5 (IANA registration)
    "cups-raster": "application/vnd.cups-raster",
    "urf": "image/urf",
}


class _RasterParser(FormatParser):
    """Shared parse/extent for the three raster containers."""

    kind: ClassVar[str] = ""
    pixels_only = True

    def parse(self, data: bytes, ctx: ParseContext) -> ParsedJob:
        identified = _identify(data)
        if identified is None or identified[0] != self.kind:
            raise NotThisFormat(f"not {self.kind}")
        try:
            stream = read_stream(data[:MAX_PARSE_BYTES])
        except ConstructError as error:
            log.debug("raster header not read", exc_info=True)
            raise NotThisFormat(str(error)) from error
        job = ParsedJob(format=self.name, complete=stream.complete, notes=list(stream.notes))
        if stream.complete:
            job.length = stream.end
        first = stream.pages[0]
        for page in stream.pages:
            length = None
            if page.data_length is not None:
                length = page.data_offset - page.offset + page.data_length
            job.pages.append(
                PageRef(
                    number=page.number,
                    offset=page.offset,
                    length=length,
                    width=page.width,
                    height=page.height,
                    resolution=_resolution(page),
                    color=page.color,
                    image_only=True,
                )
            )
        extra: list[tuple[str, str]] = [
            ("colour-space", color_space_name(first.color_space)),
            ("bits-per-colour", str(first.bits_per_color)),
            ("bits-per-pixel", str(first.bits_per_pixel)),
            ("colour-order", COLOR_ORDERS.get(first.color_order, str(first.color_order))),
            ("byte-order", stream.byte_order),
        ]
        if stream.kind == "cups-raster":
            extra.append(("cups-raster-version", str(stream.version)))
        named = (
            ("media-type", first.media_type),
            ("media-color", first.media_color),
            ("media-class", first.media_class if first.media_class != "PwgRaster" else ""),
            ("print-content-optimize", first.print_content_optimize),
            ("rendering-intent", first.rendering_intent),
            ("marker-type", first.marker_type),
            ("print-quality", PRINT_QUALITY.get(first.print_quality, "")),
            ("total-page-count", str(first.total_page_count) if first.total_page_count else ""),
            ("duplex", ("tumble" if first.tumble else "yes") if first.duplex else ""),
        )
        extra.extend((key, value) for key, value in named if value)
        extra.extend(first.values.items())
        if stream.declared_pages is not None:
            extra.append(("declared-pages", str(stream.declared_pages)))
        sizes = {(p.width, p.height, p.resolution) for p in stream.pages}
        if len(sizes) > 1:
            extra.append(("page-geometries", str(len(sizes))))
        media = first.page_size_name or (
            f"{first.page_size[0]}x{first.page_size[1]} pt" if all(first.page_size) else None
        )
        job.metadata = JobMetadata(
            document_format=DOCUMENT_FORMATS[stream.kind],
            pages=len(stream.pages),
            copies=first.num_copies or None,
            media=media[:1024] if media else None,
            resolution=_resolution(first),
            extra=tuple((key, value[:1024]) for key, value in extra),
        )
        return job

    def extent(self, buf: bytes, offset: int) -> int | None:
        window = bytes(buf[offset : offset + MAX_PARSE_BYTES])
        identified = _identify(window)
        if identified is None or identified[0] != self.kind:
            return None
        try:
            stream = read_stream(window)
        except (NotThisFormat, ConstructError):
            return None
        if not stream.pages or stream.pages[0].data_length is None:
            return None
        return stream.end


class PwgRasterParser(_RasterParser):
    name = "pwg-raster"
    description = "PWG Raster (PWG 5102.4): page images with PwgRaster page headers"
    signatures = (Signature(SYNC_V2_BE + PWG_MEDIA_CLASS),)
    carve_patterns = (CarvePattern(yara_hex(SYNC_V2_BE + PWG_MEDIA_CLASS)),)
    priority = 40
    kind = "pwg-raster"


class CupsRasterParser(_RasterParser):
    name = "cups-raster"
    description = "CUPS Raster v1/v2/v3 (cups/raster.h): page images for CUPS drivers"
    signatures = tuple(Signature(sync) for sync in CUPS_SYNCS)
    carve_patterns = (CarvePattern(yara_hex(*CUPS_SYNCS)),)
    priority = 50
    kind = "cups-raster"

    @classmethod
    def sniff(cls, head: bytes, name: str | None = None) -> bool:
        identified = _identify(head)
        return identified is not None and identified[0] == "cups-raster"


class UrfParser(_RasterParser):
    name = "urf"
    description = "Apple URF / UNIRAST (AirPrint raster, cups/raster-stream.c)"
    signatures = (Signature(URF_MAGIC),)
    carve_patterns = (CarvePattern(yara_hex(URF_MAGIC)),)
    priority = 40
    kind = "urf"
