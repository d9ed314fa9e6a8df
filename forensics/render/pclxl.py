"""PCL XL (PCL 6) page renderer: raster images, raster patterns, downloaded bitmap fonts, fills.

References: HP "PCL XL Feature Reference, Protocol Class 2.0" and the 2.1 supplement (cited as
"PCL XL FR"); attribute and enumeration numbers as in ghostpdl base/gdevpxat.h and gdevpxen.h;
ghostpdl's pxl/ interpreter (pximage.c, pxfont.c, pxink.c) was read to settle what the FR leaves
open (noted where it matters). The token stream is read with ``forensics.formats.pclxl``'s
``iter_tokens``: this module only interprets it.

What is drawn, per page (BeginPage … EndPage), at the session's resolution (UnitsPerMeasure, at
most ``MAX_DPI``):
- images (BeginImage/ReadImage/EndImage): gray, RGB and indexed colour, 1/4/8 bits, compression
  none, RLE (PackBits), JPEG (Pillow) and delta row; nearest-neighbour scaling to
  DestinationSize at the cursor;
- raster patterns (BeginRastPattern…) used as a brush;
- text in downloaded bitmap fonts (BeginFontHeader…, BeginChar…, SetFont, Text with
  X/YSpacingData) in the brush colour; text in printer-resident or TrueType fonts cannot be drawn
  without the font and is noted;
- rectangles, ellipses, line and Bézier paths filled with the brush (PaintPath, Rectangle, …),
  stroked with the pen at its width. Arcs, chords, pies, scan lines, clipping and most raster
  operations are not modelled (noted once per page).

Pages are drawn upright as the document reads: a landscape page is wider than high.
"""

from __future__ import annotations

import io
import logging
import math
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
from construct import ConstructError, Int8ub, Int16sb, Int16ub, Struct
from PIL import Image, ImageDraw

from forensics.formats.base import NotThisFormat
from forensics.formats.pclxl import (
    A_CHAR_CODE,
    A_COLOR_SPACE,
    A_CUSTOM_MEDIA_SIZE,
    A_CUSTOM_MEDIA_SIZE_UNITS,
    A_FONT_NAME,
    A_MEASURE,
    A_MEDIA_SIZE,
    A_ORIENTATION,
    A_POINT,
    A_STREAM_NAME,
    A_TEXT_DATA,
    A_UNITS_PER_MEASURE,
    A_X_SPACING,
    HEADER_MAGIC,
    MAX_HEADER_BYTES,
    MEASURE_PER_INCH,
    MEDIA_SIZES,
    FontDescriptor,
    SegmentHeader,
    Value,
    XlArray,
    as_float,
    as_int,
    decode_header,
    iter_tokens,
    number_pair,
)
from forensics.render.base import (
    PageRenderer,
    RenderedPage,
    RenderError,
    RenderLimits,
    check_page_size,
)
from forensics.render.pcl5 import decode_delta_row

log = logging.getLogger(__name__)

MAX_DPI = 600.0  # pages are drawn at the session resolution, at most this (and at least MIN_DPI)
MIN_DPI = 72.0
DEFAULT_PAGE_INCHES = (8.5, 11.0)  # US letter when BeginPage names no (known) media
MAX_GSTATE_DEPTH = 64  # PushGS nesting
MAX_FONTS = 1024
MAX_FONT_HEADER_BYTES = 1024 * 1024  # a bitmap font header is a few dozen bytes
MAX_FONT_BYTES = 64 * 1024 * 1024  # glyph bitmaps kept, all fonts together
MAX_GLYPH_SIDE = 16384
MAX_GLYPH_PIXELS = 4 * 1024 * 1024
MAX_PATTERNS = 256
MAX_PATTERN_PIXELS = 4 * 1024 * 1024
MAX_STREAMS = 256
MAX_STREAM_BYTES = 16 * 1024 * 1024  # user-defined streams kept, all together
MAX_STREAM_DEPTH = 2  # ExecStream inside ExecStream
MAX_STREAM_TOKENS = 2_000_000  # tokens run from streams, all together (no blow-up)
MAX_PATH_POINTS = 1_000_000  # points of one path
MAX_SOURCE_SIDE = 65535  # SourceWidth/SourceHeight are uint16 (PCL XL FR "BeginImage")
CHUNK_BYTES = 8 * 1024 * 1024  # decoded image rows are drawn in chunks of about this size
BEZIER_STEPS = 16  # line segments per cubic Bézier curve
ELLIPSE_STEPS = 96
TOKENS_PER_TIME_CHECK = 512
MAX_NOTES = 24

# Operator tags (PCL XL FR §5; ghostpdl base/gdevpxop.h).
OP_BEGIN_SESSION, OP_END_SESSION, OP_BEGIN_PAGE, OP_END_PAGE = 0x41, 0x42, 0x43, 0x44
OP_BEGIN_FONT_HEADER, OP_READ_FONT_HEADER, OP_END_FONT_HEADER = 0x4F, 0x50, 0x51
OP_BEGIN_CHAR, OP_READ_CHAR, OP_END_CHAR, OP_REMOVE_FONT = 0x52, 0x53, 0x54, 0x55
OP_BEGIN_STREAM, OP_READ_STREAM, OP_END_STREAM, OP_EXEC_STREAM = 0x5B, 0x5C, 0x5D, 0x5E
OP_REMOVE_STREAM = 0x5F
OP_POP_GS, OP_PUSH_GS, OP_SET_BRUSH_SOURCE = 0x60, 0x61, 0x63
OP_SET_COLOR_SPACE, OP_SET_CURSOR, OP_SET_CURSOR_REL = 0x6A, 0x6B, 0x6C
OP_SET_FILL_MODE, OP_SET_FONT = 0x6E, 0x6F
OP_SET_PAGE_DEFAULT_CTM, OP_SET_PAGE_ORIGIN, OP_SET_PAGE_ROTATION = 0x74, 0x75, 0x76
OP_SET_PAGE_SCALE, OP_SET_PAINT_TX_MODE, OP_SET_PEN_SOURCE = 0x77, 0x78, 0x79
OP_SET_PEN_WIDTH, OP_SET_ROP, OP_SET_SOURCE_TX_MODE = 0x7A, 0x7B, 0x7C
OP_CLOSE_SUB_PATH, OP_NEW_PATH, OP_PAINT_PATH = 0x84, 0x85, 0x86
OP_ARC_PATH, OP_BEZIER_PATH, OP_BEZIER_REL_PATH = 0x91, 0x93, 0x95
OP_CHORD, OP_CHORD_PATH, OP_ELLIPSE, OP_ELLIPSE_PATH = 0x96, 0x97, 0x98, 0x99
OP_LINE_PATH, OP_LINE_REL_PATH, OP_PIE, OP_PIE_PATH = 0x9B, 0x9D, 0x9E, 0x9F
OP_RECTANGLE, OP_RECTANGLE_PATH = 0xA0, 0xA1
OP_ROUND_RECTANGLE, OP_ROUND_RECTANGLE_PATH = 0xA2, 0xA3
OP_TEXT, OP_TEXT_PATH = 0xA8, 0xA9
OP_BEGIN_IMAGE, OP_READ_IMAGE, OP_END_IMAGE = 0xB0, 0xB1, 0xB2
OP_BEGIN_RAST_PATTERN, OP_READ_RAST_PATTERN, OP_END_RAST_PATTERN = 0xB3, 0xB4, 0xB5
OP_BEGIN_SCAN, OP_END_SCAN, OP_SCAN_LINE_REL = 0xB6, 0xB8, 0xB9

# Attribute ids (ghostpdl base/gdevpxat.h) not already named by the format module.
A_PALETTE_DEPTH = 2
A_NULL_BRUSH, A_NULL_PEN, A_PALETTE_DATA = 4, 5, 6
A_PATTERN_SELECT_ID, A_GRAY_LEVEL, A_RGB_COLOR = 8, 9, 11
A_PATTERN_ORIGIN, A_NEW_DESTINATION_SIZE, A_PRIMARY_ARRAY = 12, 13, 14
A_PAGE_ANGLE, A_PAGE_ORIGIN, A_PAGE_SCALE, A_ROP3, A_TX_MODE = 41, 42, 43, 44, 45
A_BOUNDING_BOX, A_END_POINT, A_FILL_MODE, A_PEN_WIDTH = 66, 69, 70, 75
A_NUMBER_OF_POINTS, A_POINT_TYPE, A_CONTROL_POINT_1, A_CONTROL_POINT_2 = 77, 80, 81, 82
A_COLOR_DEPTH, A_BLOCK_HEIGHT, A_COLOR_MAPPING, A_COMPRESS_MODE = 98, 99, 100, 101
A_DESTINATION_BOX, A_DESTINATION_SIZE = 102, 103
A_PATTERN_DEFINE_ID = 105
A_SOURCE_HEIGHT, A_SOURCE_WIDTH, A_START_LINE, A_PAD_BYTES_MULTIPLE = 107, 108, 109, 110
A_Y_SPACING = 176

# Enumerations (gdevpxen.h).
COLOR_DEPTH_BITS = {0: 1, 1: 4, 2: 8}  # e1Bit, e4Bit, e8Bit
INDEXED_PIXEL = 1  # ColorMapping eIndexedPixel (eDirectPixel = 0)
GRAY_SPACES = frozenset((1, 7))  # eGray, eGraySub; eRGB = 2, eSRGB = 6
NO_COMPRESSION, RLE_COMPRESSION, JPEG_COMPRESSION, DELTA_ROW_COMPRESSION = 0, 1, 2, 3
EVEN_ODD = 1  # FillMode eEvenOdd (eNonZeroWinding = 0)
TX_TRANSPARENT = 1
LANDSCAPE_ORIENTATIONS = frozenset((1, 3))
BITMAP_TECHNOLOGY = 254  # font descriptor "technology" (PCL XL FR "Font Header Format")
# PointType of embedded path points (pxeDataType): eUByte, eSByte, eUInt16, eSInt16.
POINT_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h"}
# PCL XL FR 2.0 lets MediaSize be a string; the names HP documents, as MediaSize numbers.
MEDIA_NAMES = {
    "LETTER": 0,
    "LEGAL": 1,
    "A4": 2,
    "EXEC": 3,
    "LEDGER": 4,
    "A3": 5,
    "COM10": 6,
    "MONARCH": 7,
    "C5": 8,
    "DL": 9,
    "JB4": 10,
    "JB5": 11,
    "B5": 12,
    "JPOST": 14,
    "JPOSTD": 15,
    "A5": 16,
    "A6": 17,
    "JB6": 18,
}
MEDIA_SIZE_DPI = 300  # MEDIA_SIZES gives sizes in dots at 300 dpi (px_enumerate_media)

# Raster operations (PCL XL FR "ROP3") modelled for images; the rest draw as a copy.
ROP_SOURCE_AND_DEST = 136  # DSa: ink accumulates (white source leaves the page as it was)
ROP_SOURCE_OR_DEST = 238  # DSo
ROP_SOURCE_XOR_DEST = 102  # DSx

# PCL XL FR "Bitmap Character Format": format 0, class 0, then the glyph's box (big-endian).
BitmapCharHeader = Struct(
    "format" / Int8ub,
    "char_class" / Int8ub,
    "left_offset" / Int16sb,
    "top_offset" / Int16sb,
    "width" / Int16ub,
    "height" / Int16ub,
)
# Font header segment "BR" (bitmap resolution): x and y dots per inch.
BitmapResolution = Struct("x" / Int16ub, "y" / Int16ub)

DECODE_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    struct.error,
    OverflowError,
    ZeroDivisionError,
    ConstructError,
    OSError,
    EOFError,
    MemoryError,
    Image.DecompressionBombError,
)

Rgb = tuple[int, int, int]
Point = tuple[float, float]
Pixels = np.ndarray  # uint8 (rows, cols) gray or (rows, cols, 3) RGB


class PageDamaged(Exception):
    """The stream cannot be followed further; the page drawn so far is kept."""


# -- geometry -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Affine:
    """x' = a·x + c·y + e, y' = b·x + d·y + f (user units → device pixels)."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    d: float = 1.0
    e: float = 0.0
    f: float = 0.0

    def apply(self, x: float, y: float) -> Point:
        return self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f

    def distance(self, dx: float, dy: float) -> Point:
        return self.a * dx + self.c * dy, self.b * dx + self.d * dy

    def pre(self, other: Affine) -> Affine:
        """``other`` applied first, in user space (how SetPageOrigin/Scale/Rotation compose)."""
        return Affine(
            other.a * self.a + other.b * self.c,
            other.a * self.b + other.b * self.d,
            other.c * self.a + other.d * self.c,
            other.c * self.b + other.d * self.d,
            other.e * self.a + other.f * self.c + self.e,
            other.e * self.b + other.f * self.d + self.f,
        )


def finite(*values: float) -> bool:
    return all(math.isfinite(value) for value in values)


def axis_map(
    start: float, extent: float, count: int, first: int, stop: int, limit: int
) -> tuple[int, np.ndarray] | None:
    """Device pixels along one axis covered by source cells ``first:stop`` of ``count`` cells
    spread over ``start … start + extent`` (a negative extent mirrors): the first device pixel
    and, per device pixel, its source cell (nearest neighbour: the cell under its centre).
    Clipped to ``0 … limit``, so the work is bounded by the page whatever the data says."""
    if count <= 0 or stop <= first or not finite(start, extent) or abs(extent) < 1e-9:
        return None
    edge_a = start + extent * first / count
    edge_b = start + extent * stop / count
    low, high = min(edge_a, edge_b), max(edge_a, edge_b)
    if high <= 0 or low >= limit:
        return None
    device_first = max(math.ceil(low - 0.5), 0)
    device_stop = min(math.ceil(high - 0.5), limit)
    if device_stop <= device_first:
        return None
    centres = np.arange(device_first, device_stop, dtype=np.float64) + 0.5
    cells = np.floor((centres - start) * (count / extent)).astype(np.int64)
    np.clip(cells, first, stop - 1, out=cells)
    return device_first, cells


def as_box(value: Value | None) -> tuple[float, float, float, float] | None:
    if isinstance(value, tuple) and len(value) == 4 and finite(*value):
        return float(value[0]), float(value[1]), float(value[2]), float(value[3])
    return None


def array_values(value: Value | None, limit: int) -> list[float] | None:
    """The first ``limit`` values of an array attribute (non-finite reals read as 0)."""
    if not isinstance(value, XlArray):
        return None
    return [v if math.isfinite(v) else 0.0 for v in value.values()[:limit]]


def fraction(value: Value | None, tag: int, element: int | None = None) -> float | None:
    """A colour component as 0…1: reals as given, integers over their type's maximum (ghostpdl
    pxink.c does the same; the FR defines 0…255 for ubyte values)."""
    number = as_float(value)
    if number is None:
        return None
    kind = element if element is not None else tag & 0x07
    if kind == 5:
        return min(max(number, 0.0), 1.0)
    top = {0: 255.0, 1: 65535.0, 2: 4294967295.0, 3: 32767.0, 4: 2147483647.0}.get(kind, 255.0)
    return min(max(number / top, 0.0), 1.0)


# -- paint and pixels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """A raster pattern: its pixels (gray or RGB) and its size on the page in user units."""

    pixels: Pixels
    destination: Point


@dataclass(frozen=True)
class Paint:
    """A brush or pen: a colour, or a pattern tiled from ``origin`` (device pixels)."""

    rgb: Rgb = (0, 0, 0)
    pattern: Pattern | None = None
    origin: Point = (0.0, 0.0)
    tile: Point = (1.0, 1.0)  # device size of one pattern tile

    @property
    def gray(self) -> bool:
        if self.pattern is not None:
            return self.pattern.pixels.ndim == 2
        return self.rgb[0] == self.rgb[1] == self.rgb[2]


BLACK = Paint()


def is_gray(pixels: Pixels) -> bool:
    if pixels.ndim == 2:
        return True
    return bool(
        np.array_equal(pixels[..., 0], pixels[..., 1])
        and np.array_equal(pixels[..., 1], pixels[..., 2])
    )


class Canvas:
    """One page: gray until something coloured is drawn, then RGB (memory for colour only when
    the page has colour)."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.pixels: Pixels = np.full((height, width), 255, dtype=np.uint8)

    @property
    def rgb(self) -> bool:
        return self.pixels.ndim == 3

    def promote(self) -> None:
        if not self.rgb:
            self.pixels = np.repeat(self.pixels[:, :, None], 3, axis=2)

    def _matching(self, values: Pixels) -> Pixels:
        """``values`` in the canvas's colour model (promoting the canvas for colour)."""
        if values.ndim == 3 and not self.rgb:
            if is_gray(values):
                return values[..., 0]
            self.promote()
        if values.ndim == 2 and self.rgb:
            return np.repeat(values[..., None], 3, axis=2)
        return values

    def texture(self, paint: Paint, top: int, left: int, rows: int, cols: int) -> Pixels:
        """The paint's pixels over a device rectangle (a colour, or the pattern tiled)."""
        if paint.pattern is None:
            if paint.gray:
                return np.full((rows, cols), paint.rgb[0], dtype=np.uint8)
            return np.broadcast_to(np.array(paint.rgb, dtype=np.uint8), (rows, cols, 3))
        source = paint.pattern.pixels
        tile_w, tile_h = paint.tile
        ys = np.arange(top, top + rows, dtype=np.float64) + 0.5 - paint.origin[1]
        xs = np.arange(left, left + cols, dtype=np.float64) + 0.5 - paint.origin[0]
        row_cells = (np.floor(np.mod(ys, tile_h) / tile_h * source.shape[0])).astype(np.int64)
        col_cells = (np.floor(np.mod(xs, tile_w) / tile_w * source.shape[1])).astype(np.int64)
        np.clip(row_cells, 0, source.shape[0] - 1, out=row_cells)
        np.clip(col_cells, 0, source.shape[1] - 1, out=col_cells)
        return source[np.ix_(row_cells, col_cells)]

    def paint_mask(self, top: int, left: int, mask: np.ndarray, paint: Paint) -> None:
        """Paint where ``mask`` is set (glyphs, filled shapes) with the brush or pen."""
        rows, cols = mask.shape
        if not paint.gray:
            self.promote()
        target = self.pixels[top : top + rows, left : left + cols]
        if paint.pattern is None:
            value: Rgb | int = paint.rgb if self.rgb else paint.rgb[0]
            target[mask] = value
        else:
            values = self._matching(self.texture(paint, top, left, rows, cols))
            target = self.pixels[top : top + rows, left : left + cols]
            target[mask] = values[mask]

    def fill_rect(self, top: int, left: int, bottom: int, right: int, paint: Paint) -> None:
        top, left = max(top, 0), max(left, 0)
        bottom, right = min(bottom, self.height), min(right, self.width)
        if bottom <= top or right <= left:
            return
        if paint.pattern is None:
            if not paint.gray:
                self.promote()
            self.pixels[top:bottom, left:right] = paint.rgb if self.rgb else paint.rgb[0]
            return
        mask = np.ones((bottom - top, right - left), dtype=bool)
        self.paint_mask(top, left, mask, paint)

    def put(self, top: int, left: int, values: Pixels, rop: int, transparent: bool) -> None:
        """Image pixels onto the page (raster operation and source transparency applied)."""
        values = self._matching(values)
        rows, cols = values.shape[:2]
        target = self.pixels[top : top + rows, left : left + cols]
        if transparent:  # PCL XL FR "SourceTxMode": white source pixels leave the page alone
            keep = values != 255 if values.ndim == 2 else np.any(values != 255, axis=2)
            if rop == ROP_SOURCE_AND_DEST:
                target[keep] = np.minimum(target[keep], values[keep])
            else:
                target[keep] = values[keep]
        elif rop == ROP_SOURCE_AND_DEST:
            np.minimum(target, values, out=target)
        elif rop == ROP_SOURCE_OR_DEST:
            np.maximum(target, values, out=target)
        elif rop == ROP_SOURCE_XOR_DEST:
            np.bitwise_xor(target, values, out=target)
        else:
            target[...] = values

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB" if self.rgb else "L")


@dataclass(frozen=True)
class Placement:
    """Where a raster lands: its top-left corner and the device vectors of its full width and
    full height (the CTM applied to DestinationSize)."""

    origin: Point
    across: Point
    down: Point


def pixel_origin(x0: float, y0: float) -> bool:
    """An origin ``place_unscaled`` can take: finite, and within 10^9 device pixels."""
    return finite(x0, y0) and abs(x0) < 1e9 and abs(y0) < 1e9


def place_unscaled(
    canvas: Canvas, x0: float, y0: float, source: np.ndarray
) -> tuple[int, int, np.ndarray] | None:
    """One source cell per device pixel (glyphs at the font's own resolution, unscaled
    images), the cells' top-left corner at (x0, y0): the part of ``source`` on the page as
    (top, left, pixels), the same cells as axis_map gives, by slicing alone."""
    rows, width = source.shape[:2]
    left = math.ceil(x0 - 0.5)
    top = math.ceil(y0 - 0.5)
    skip_cols, skip_rows = max(-left, 0), max(-top, 0)
    cols = min(width, canvas.width - left) - skip_cols
    rows_here = min(rows, canvas.height - top) - skip_rows
    if cols <= 0 or rows_here <= 0:
        return None
    window = source[skip_rows : skip_rows + rows_here, skip_cols : skip_cols + cols]
    return top + skip_rows, left + skip_cols, window


def place(
    canvas: Canvas,
    where: Placement,
    source: np.ndarray,
    first_row: int,
    total: tuple[int, int],
) -> tuple[int, int, np.ndarray] | None:
    """The part of ``source`` (rows ``first_row…`` of a raster of ``total`` = (width, height)
    cells) that lands on the page, resampled to device pixels: (top, left, pixels). Axis-aligned
    and quarter-turned placements only; None when nothing lands (or the placement is skewed)."""
    width, height = total
    rows = source.shape[0]
    (x0, y0), (ux, uy), (vx, vy) = where.origin, where.across, where.down
    stop = first_row + rows
    tiny = 1e-9
    if (
        abs(uy) < tiny
        and abs(vx) < tiny
        and abs(ux - width) < 1e-6
        and abs(vy - height) < 1e-6
        and pixel_origin(x0, y0)
    ):
        return place_unscaled(canvas, x0, y0 + first_row, source[:, :width])
    if abs(uy) < tiny and abs(vx) < tiny:
        cols_map = axis_map(x0, ux, width, 0, width, canvas.width)
        rows_map = axis_map(y0, vy, height, first_row, stop, canvas.height)
        if cols_map is None or rows_map is None:
            return None
        (left, col_cells), (top, row_cells) = cols_map, rows_map
        return top, left, take(source, row_cells - first_row, col_cells)
    if abs(ux) < tiny and abs(vy) < tiny:  # quarter turn: source rows run across the page
        cols_map = axis_map(x0, vx, height, first_row, stop, canvas.width)
        rows_map = axis_map(y0, uy, width, 0, width, canvas.height)
        if cols_map is None or rows_map is None:
            return None
        (left, row_cells), (top, col_cells) = cols_map, rows_map
        return top, left, take(source, row_cells - first_row, col_cells).swapaxes(0, 1)
    return None


def take(source: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``source[rows][:, cols]``, by slicing when the cells are a plain run (scale 1)."""

    def run(cells: np.ndarray) -> slice | None:
        if cells.size and cells[-1] - cells[0] == cells.size - 1 and cells[-1] >= cells[0]:
            return slice(int(cells[0]), int(cells[-1]) + 1)
        return None

    row_run, col_run = run(rows), run(cols)
    if row_run is not None and col_run is not None:
        return source[row_run, col_run]
    return source[np.ix_(rows, cols)]


# -- decoders -----------------------------------------------------------------------------------


def packbits_chunks(
    data: bytes, row_bytes: int, rows: int, chunk_rows: int
) -> Iterator[np.ndarray]:
    """RLECompression rows (PCL XL FR §6 "RLE": TIFF PackBits; ghostpdl reads it with its
    RunLengthDecode filter, 128 being a no-op), padding included, ``chunk_rows`` at a time. Runs
    may cross rows. Stops early when the data runs out (the caller counts the rows it got)."""
    out = bytearray()
    want = chunk_rows * row_bytes
    done = 0
    pos, size = 0, len(data)
    while pos < size and done + len(out) // row_bytes < rows:
        header = data[pos]
        pos += 1
        if header < 128:
            out += data[pos : pos + header + 1]
            pos += header + 1
        elif header > 128:
            if pos >= size:
                break
            out += data[pos : pos + 1] * (257 - header)
            pos += 1
        while len(out) >= want and done < rows:
            count = min(chunk_rows, rows - done)
            used = count * row_bytes
            yield np.frombuffer(bytes(out[:used]), dtype=np.uint8).reshape(count, row_bytes)
            del out[:used]
            done += count
    whole = min(len(out) // row_bytes, rows - done)
    if whole > 0:
        yield np.frombuffer(bytes(out[: whole * row_bytes]), dtype=np.uint8).reshape(
            whole, row_bytes
        )


@dataclass
class DeltaRowState:
    """The seed row of DeltaRowCompression: zeros at BeginImage, kept across ReadImage blocks
    (ghostpdl pximage.c keeps it for the whole image)."""

    seed: bytearray
    overflows: int = 0


def delta_row_chunks(
    data: bytes, state: DeltaRowState, rows: int, chunk_rows: int
) -> Iterator[np.ndarray]:
    """DeltaRowCompression rows (PCL XL FR 2.1 §6 "Delta Row": per row a uint16 byte count,
    low byte first as ghostpdl reads it, then commands as PCL 5 mode 3: bits 7–5 = bytes to
    replace − 1, bits 4–0 = offset from the last replaced byte, 31 = more offset bytes follow,
    each added, until one is not 255). A count of 0 repeats the seed row. Rows are not padded."""
    seed = state.seed
    row_bytes = len(seed)
    chunk = bytearray()
    in_chunk = 0
    pos, size = 0, len(data)
    for _ in range(rows):
        if pos + 2 > size:
            break
        count = data[pos] | (data[pos + 1] << 8)
        pos += 2
        end = pos + count
        if end > size:
            break
        if decode_delta_row(seed, data[pos:end]):
            state.overflows += 1  # bytes past the row's end are dropped
        pos = end
        chunk += seed
        in_chunk += 1
        if in_chunk == chunk_rows:
            yield np.frombuffer(bytes(chunk), dtype=np.uint8).reshape(in_chunk, row_bytes)
            chunk = bytearray()
            in_chunk = 0
    if in_chunk:
        yield np.frombuffer(bytes(chunk), dtype=np.uint8).reshape(in_chunk, row_bytes)


# -- fonts --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Glyph:
    left: int  # font dots from the cursor to the bitmap's left edge
    top: int  # font dots from the cursor up to the bitmap's top edge
    mask: np.ndarray  # bool (height, width)


@dataclass
class Font:
    name: bytes
    header: bytearray = field(default_factory=bytearray)
    technology: int | None = None
    resolution: Point = (300.0, 300.0)
    orientation: int = 0
    glyphs: dict[int, Glyph] = field(default_factory=dict)
    outline_chars: int = 0  # TrueType characters (not drawn)

    @property
    def bitmap(self) -> bool:
        return self.technology == BITMAP_TECHNOLOGY


# -- graphics state -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphicsState:
    ctm: Affine
    brush: Paint | None = BLACK
    pen: Paint | None = BLACK
    gray_space: bool = True
    palette: np.ndarray | None = None  # (entries, components) uint8
    pen_width: float = 1.0  # user units
    even_odd: bool = False
    rop: int = 252
    source_transparent: bool = False
    font: bytes | None = None


@dataclass
class ImageJob:
    """The image (or raster pattern) between Begin… and End…."""

    width: int
    height: int
    depth: int
    indexed: bool
    gray: bool
    palette: np.ndarray | None
    placement: Placement | None  # None for a pattern
    next_line: int = 0
    delta: DeltaRowState | None = None
    rows: list[np.ndarray] = field(default_factory=list)  # a pattern's pixels, block by block
    pattern_id: int | None = None
    destination: Point = (0.0, 0.0)

    @property
    def components(self) -> int:
        return 1 if self.gray or self.indexed else 3

    @property
    def row_bytes(self) -> int:
        return (self.width * self.depth * self.components + 7) // 8

    def pixels(self, rows: np.ndarray) -> Pixels:
        """Decoded row bytes → gray (n, width) or RGB (n, width, 3) pixels."""
        count = self.width * self.components
        if self.depth == 8:
            values = rows[:, :count]
        elif self.depth == 4:
            values = np.stack((rows >> 4, rows & 0x0F), axis=2).reshape(rows.shape[0], -1)
            values = values[:, :count]
        else:
            values = np.unpackbits(rows, axis=1)[:, :count]
        if self.indexed:
            palette = self.palette
            if palette is None:
                palette = np.linspace(0, 255, 1 << self.depth).astype(np.uint8)[:, None]
            out = palette[np.minimum(values, palette.shape[0] - 1)]
            return out[..., 0] if out.shape[2] == 1 else out
        if self.depth == 1:
            values = values * np.uint8(255)
        elif self.depth == 4:
            values = values * np.uint8(17)
        values = np.ascontiguousarray(values, dtype=np.uint8)
        return values if self.components == 1 else values.reshape(rows.shape[0], self.width, 3)


@dataclass
class PageState:
    number: int
    canvas: Canvas
    dpi: Point
    notes: list[str] = field(default_factory=list)
    complete: bool = True

    def note(self, message: str) -> None:
        if message not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(message)


@dataclass
class SubPath:
    points: list[Point]
    closed: bool = False


# -- the interpreter ----------------------------------------------------------------------------


class Interpreter:
    """Runs the operators of one job, drawing pages one at a time."""

    def __init__(self, big_endian: bool, limits: RenderLimits) -> None:
        self.big_endian = big_endian
        self.limits = limits
        self.units: Point = (600.0, 600.0)  # user units per inch (BeginSession)
        self.fonts: dict[bytes, Font] = {}
        self.font_bytes = 0
        self.patterns: dict[int, Pattern] = {}
        self.streams: dict[bytes, bytearray] = {}
        self.stream_bytes = 0
        self.stream_tokens = 0
        self.reading_stream: bytes | None = None
        self.header_font: Font | None = None
        self.char_font: Font | None = None
        self.page: PageState | None = None
        self.pages_begun = 0
        self.finished: list[RenderedPage] = []
        self.gs = GraphicsState(ctm=Affine())
        self.base_ctm = Affine()
        self.stack: list[GraphicsState] = []
        self.cursor: Point = (0.0, 0.0)  # device pixels
        self.path: list[SubPath] = []
        self.path_size = 0  # points in the path
        self.image_job: ImageJob | None = None
        self.pattern_job: ImageJob | None = None
        self.on_data: Callable[[bytes], None] | None = None
        self.tokens = 0
        self.damage: str | None = None

    # -- the token loop ---------------------------------------------------------------------------

    def run(self, data: bytes, pos: int, depth: int = 0) -> Iterator[RenderedPage]:
        attributes: dict[int, Value] = {}
        tags: dict[int, int] = {}
        pending: Value | None = None
        pending_tag = 0
        for token in iter_tokens(data, pos, self.big_endian):
            self.tokens += 1
            if depth:
                self.stream_tokens += 1
                if self.stream_tokens > MAX_STREAM_TOKENS:
                    self.note("executed streams exceed the token budget; the rest is skipped")
                    return
            if self.tokens % TOKENS_PER_TIME_CHECK == 0 and self.limits.expired():
                raise PageDamaged(f"time cap of {self.limits.max_seconds:.0f} s reached")
            if token.kind == "value":
                pending, pending_tag = token.value, token.tag
            elif token.kind == "attribute":
                if pending is not None and len(attributes) < 256:
                    attributes[token.attribute] = pending
                    tags[token.attribute] = pending_tag
                pending = None
            elif token.kind == "operator":
                self.on_data = None
                if token.tag == OP_EXEC_STREAM:
                    yield from self.exec_stream(attributes, depth)
                else:
                    self.operator(token.tag, attributes, tags)
                attributes, tags, pending = {}, {}, None
                while self.finished:
                    yield self.finished.pop(0)
            elif token.kind == "data":
                handler, self.on_data = self.on_data, None
                if handler is not None:
                    handler(token.data)
            elif token.kind == "end":
                return
            else:
                handler, self.on_data = self.on_data, None
                if handler is not None and token.data:
                    handler(token.data)  # what arrived of a cut-off block is still drawn
                if depth == 0:
                    raise PageDamaged(f"stream damaged: {token.message}")
                self.note(f"executed stream damaged: {token.message}")
                return

    def note(self, message: str) -> None:
        if self.page is not None:
            self.page.note(message)

    # -- operators ------------------------------------------------------------------------------

    def operator(self, tag: int, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        handler = OPERATOR_HANDLERS.get(tag)
        if handler is not None:
            handler(self, attrs, tags)
            return
        if self.page is not None and tag in NOT_DRAWN:
            self.note(f"vector graphics not drawn: {NOT_DRAWN[tag]}")

    def begin_session(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        units = number_pair(attrs.get(A_UNITS_PER_MEASURE))
        measure = as_int(attrs.get(A_MEASURE))
        per_inch = MEASURE_PER_INCH.get(measure if measure is not None else 0, 1.0)
        if units and 0 < units[0] < 1e6 and 0 < units[1] < 1e6:
            self.units = (units[0] * per_inch, units[1] * per_inch)

    def begin_page(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        if self.page is not None:
            self.page.note("BeginPage before EndPage: the page ends here")
            self.page.complete = False
            self.finish_page()
        inches = media_inches(attrs)
        orientation = as_int(attrs.get(A_ORIENTATION))
        if orientation in LANDSCAPE_ORIENTATIONS:
            inches = (inches[1], inches[0])
        dpi = (
            min(max(self.units[0], MIN_DPI), MAX_DPI),
            min(max(self.units[1], MIN_DPI), MAX_DPI),
        )
        width, height = round(inches[0] * dpi[0]), round(inches[1] * dpi[1])
        check_page_size(width, height, self.limits)  # before any pixel is allocated
        self.pages_begun += 1
        self.page = PageState(self.pages_begun, Canvas(width, height), dpi)
        if orientation in LANDSCAPE_ORIENTATIONS:
            self.page.note("landscape page drawn as it reads (wider than high)")
        self.base_ctm = Affine(a=dpi[0] / self.units[0], d=dpi[1] / self.units[1])
        self.gs = GraphicsState(ctm=self.base_ctm)
        self.stack = []
        self.cursor = (0.0, 0.0)
        self.clear_path()
        self.image_job = None

    def end_page(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        if self.page is not None:
            self.finish_page()

    def finish_page(self) -> None:
        page = self.page
        if page is None:
            return
        if self.image_job is not None:
            page.note("image without EndImage")
            self.image_job = None
        self.finished.append(
            RenderedPage(
                number=page.number,
                image=page.canvas.image(),
                dpi=page.dpi,
                renderer=PclXlRenderer.name,
                complete=page.complete,
                notes=list(page.notes),
            )
        )
        self.page = None

    def push_gs(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        if len(self.stack) < MAX_GSTATE_DEPTH:
            self.stack.append(self.gs)

    def pop_gs(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        if self.stack:
            self.gs = self.stack.pop()

    # -- page transformation (PCL XL FR "SetPageOrigin", "SetPageRotation", "SetPageScale") ------

    def set_page_origin(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        origin = number_pair(attrs.get(A_PAGE_ORIGIN))
        if origin:
            self.gs = replace(self.gs, ctm=self.gs.ctm.pre(Affine(e=origin[0], f=origin[1])))

    def set_page_rotation(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        angle = as_float(attrs.get(A_PAGE_ANGLE))
        if angle is None:
            return
        turn = math.radians(angle)
        cos, sin = math.cos(turn), math.sin(turn)
        if abs(cos) < 1e-12:
            cos = 0.0
        if abs(sin) < 1e-12:
            sin = 0.0
        self.gs = replace(self.gs, ctm=self.gs.ctm.pre(Affine(a=cos, b=sin, c=-sin, d=cos)))

    def set_page_scale(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        scale = number_pair(attrs.get(A_PAGE_SCALE))
        units = number_pair(attrs.get(A_UNITS_PER_MEASURE))
        if scale is None and units and units[0] > 0 and units[1] > 0:
            # The new user unit in Measure units: scale = session units / new units.
            measure = as_int(attrs.get(A_MEASURE))
            per_inch = MEASURE_PER_INCH.get(measure if measure is not None else 0, 1.0)
            scale = (self.units[0] / (units[0] * per_inch), self.units[1] / (units[1] * per_inch))
        if scale and 0 < abs(scale[0]) < 1e6 and 0 < abs(scale[1]) < 1e6:
            self.gs = replace(self.gs, ctm=self.gs.ctm.pre(Affine(a=scale[0], d=scale[1])))

    def set_page_default_ctm(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.gs = replace(self.gs, ctm=self.base_ctm)

    # -- colour ---------------------------------------------------------------------------------

    def set_color_space(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        space = as_int(attrs.get(A_COLOR_SPACE))
        gray = self.gs.gray_space if space is None else space in GRAY_SPACES
        palette = None
        data = attrs.get(A_PALETTE_DATA)
        if isinstance(data, XlArray):
            components = 1 if gray else 3
            values = np.frombuffer(data.raw, dtype=np.uint8)
            if data.element != 0:  # PaletteData is ubyte in the FR; read others as fractions
                raw = array_values(data, 256 * components) or []
                element = data.element
                values = np.array(
                    [round((fraction(v, 0, element) or 0.0) * 255) for v in raw], dtype=np.uint8
                )
            values = values[: 256 * components]
            entries = len(values) // components
            if entries:
                palette = values[: entries * components].reshape(entries, components).copy()
        self.gs = replace(self.gs, gray_space=gray, palette=palette)

    def paint_from(self, attrs: dict[int, Value], tags: dict[int, int], null: int) -> Paint | None:
        """The paint that SetBrushSource/SetPenSource selects (unchanged when unreadable)."""
        current = self.gs.brush if null == A_NULL_BRUSH else self.gs.pen
        if null in attrs:
            return None
        rgb_value = attrs.get(A_RGB_COLOR)
        primary = attrs.get(A_PRIMARY_ARRAY)
        if isinstance(rgb_value, XlArray) or isinstance(primary, XlArray):
            array = rgb_value if isinstance(rgb_value, XlArray) else primary
            assert isinstance(array, XlArray)
            values = array_values(array, 3) or []
            shares = [fraction(v, 0, array.element) or 0.0 for v in values]
            if len(shares) >= 3:
                red, green, blue = (round(share * 255) for share in shares[:3])
                return Paint(rgb=(red, green, blue))
            if len(shares) == 1:
                level = round(shares[0] * 255)
                return Paint(rgb=(level, level, level))
            return current
        if A_GRAY_LEVEL in attrs:
            share = fraction(attrs.get(A_GRAY_LEVEL), tags.get(A_GRAY_LEVEL, 0xC0))
            if share is None:
                return current
            level = round(share * 255)
            return Paint(rgb=(level, level, level))
        pattern_id = as_int(attrs.get(A_PATTERN_SELECT_ID))
        if pattern_id is not None:
            pattern = self.patterns.get(pattern_id)
            if pattern is None:
                self.note(f"pattern {pattern_id} selected but never defined: drawn black")
                return BLACK
            size = number_pair(attrs.get(A_NEW_DESTINATION_SIZE)) or pattern.destination
            origin = number_pair(attrs.get(A_PATTERN_ORIGIN)) or (0.0, 0.0)
            tile = self.gs.ctm.distance(size[0], size[1])
            if not finite(*tile) or abs(tile[0]) < 1 or abs(tile[1]) < 1:
                return BLACK
            return Paint(
                pattern=pattern,
                origin=self.gs.ctm.apply(*origin),
                tile=(abs(tile[0]), abs(tile[1])),
            )
        return current

    def set_brush_source(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.gs = replace(self.gs, brush=self.paint_from(attrs, tags, A_NULL_BRUSH))

    def set_pen_source(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.gs = replace(self.gs, pen=self.paint_from(attrs, tags, A_NULL_PEN))

    def set_pen_width(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        width = as_float(attrs.get(A_PEN_WIDTH))
        if width is not None and 0 <= width < 1e6:
            self.gs = replace(self.gs, pen_width=width)

    def set_fill_mode(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        mode = as_int(attrs.get(A_FILL_MODE))
        if mode is not None:
            self.gs = replace(self.gs, even_odd=mode == EVEN_ODD)

    def set_rop(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        rop = as_int(attrs.get(A_ROP3))
        if rop is not None and 0 <= rop <= 255:
            self.gs = replace(self.gs, rop=rop)

    def set_source_tx_mode(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        mode = as_int(attrs.get(A_TX_MODE))
        if mode is not None:
            self.gs = replace(self.gs, source_transparent=mode == TX_TRANSPARENT)

    # -- cursor and paths -----------------------------------------------------------------------

    def set_cursor(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        point = number_pair(attrs.get(A_POINT))
        if point:
            self.move_to(self.gs.ctm.apply(*point))

    def set_cursor_rel(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        point = number_pair(attrs.get(A_POINT))
        if point:
            dx, dy = self.gs.ctm.distance(*point)
            self.move_to((self.cursor[0] + dx, self.cursor[1] + dy))

    def move_to(self, point: Point) -> None:
        if finite(*point):
            self.cursor = point
            if self.path and len(self.path[-1].points) == 1:
                self.path_size -= 1  # a moveto followed by another moveto draws nothing
                self.path.pop()
            self.add_subpath(SubPath([point]))

    def clear_path(self) -> None:
        self.path = []
        self.path_size = 0

    def add_subpath(self, sub: SubPath) -> None:
        if self.path_size + len(sub.points) <= MAX_PATH_POINTS:
            self.path.append(sub)
            self.path_size += len(sub.points)

    def line_to(self, points: list[Point]) -> None:
        if not self.path or self.path[-1].closed:
            self.add_subpath(SubPath([self.cursor]))
        room = MAX_PATH_POINTS - self.path_size
        good = [p for p in points[: max(room, 0)] if finite(*p)]
        if not self.path or not good:
            return
        self.path[-1].points.extend(good)
        self.path_size += len(good)
        self.cursor = good[-1]

    def new_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.clear_path()

    def close_sub_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        if self.path and self.path[-1].points:
            self.path[-1].closed = True
            self.cursor = self.path[-1].points[0]

    def embedded_points(
        self, attrs: dict[int, Value], handle: Callable[[list[Point]], None]
    ) -> None:
        """Points in the data block after a path operator (PCL XL FR "LinePath": NumberOfPoints
        and PointType, then x/y pairs in the stream's byte order)."""
        count = as_int(attrs.get(A_NUMBER_OF_POINTS))
        kind = POINT_FORMATS.get(as_int(attrs.get(A_POINT_TYPE)) or 0)
        if count is None or count <= 0 or kind is None:
            return
        order = ">" if self.big_endian else "<"

        def read(block: bytes) -> None:
            width = struct.calcsize(kind) * 2
            usable = min(count, len(block) // width, MAX_PATH_POINTS)
            values = struct.unpack(f"{order}{usable * 2}{kind}", block[: usable * width])
            handle([(float(values[i]), float(values[i + 1])) for i in range(0, len(values), 2)])

        self.on_data = read

    def line_path(self, attrs: dict[int, Value], tags: dict[int, int], relative: bool) -> None:
        def add(points: list[Point]) -> None:
            device: list[Point] = []
            x, y = self.cursor
            for px, py in points:
                if relative:
                    dx, dy = self.gs.ctm.distance(px, py)
                    x, y = x + dx, y + dy
                else:
                    x, y = self.gs.ctm.apply(px, py)
                device.append((x, y))
            self.line_to(device)

        end = number_pair(attrs.get(A_END_POINT))
        if end is not None:
            add([end])
        else:
            self.embedded_points(attrs, add)

    def line_path_absolute(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.line_path(attrs, tags, relative=False)

    def line_path_relative(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.line_path(attrs, tags, relative=True)

    def bezier_path(self, attrs: dict[int, Value], tags: dict[int, int], relative: bool) -> None:
        def add(points: list[Point]) -> None:
            for index in range(0, len(points) - 2, 3):
                start = self.cursor
                controls = []
                for px, py in points[index : index + 3]:
                    if relative:
                        dx, dy = self.gs.ctm.distance(px, py)
                        controls.append((start[0] + dx, start[1] + dy))
                    else:
                        controls.append(self.gs.ctm.apply(px, py))
                self.line_to(flatten_bezier(start, controls[0], controls[1], controls[2]))

        first = number_pair(attrs.get(A_CONTROL_POINT_1))
        second = number_pair(attrs.get(A_CONTROL_POINT_2))
        end = number_pair(attrs.get(A_END_POINT))
        if first and second and end:
            add([first, second, end])
        else:
            self.embedded_points(attrs, add)

    def bezier_path_absolute(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.bezier_path(attrs, tags, relative=False)

    def bezier_path_relative(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.bezier_path(attrs, tags, relative=True)

    def box_corners(self, attrs: dict[int, Value]) -> list[Point] | None:
        box = as_box(attrs.get(A_BOUNDING_BOX))
        if box is None:
            return None
        x1, y1, x2, y2 = box
        ctm = self.gs.ctm
        return [ctm.apply(x1, y1), ctm.apply(x2, y1), ctm.apply(x2, y2), ctm.apply(x1, y2)]

    def rectangle_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        corners = self.box_corners(attrs)
        if corners is not None and finite(*(c for p in corners for c in p)):
            self.add_subpath(SubPath(corners, closed=True))

    def round_rectangle_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.note("rounded rectangles drawn with square corners")
        self.rectangle_path(attrs, tags)

    def ellipse_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        box = as_box(attrs.get(A_BOUNDING_BOX))
        if box is None:
            return
        x1, y1, x2, y2 = box
        cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, abs(x2 - x1) / 2, abs(y2 - y1) / 2
        angles = np.linspace(0, 2 * math.pi, ELLIPSE_STEPS, endpoint=False)
        points = [self.gs.ctm.apply(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in angles]
        if finite(*(c for p in points for c in p)):
            self.add_subpath(SubPath(points, closed=True))

    def rectangle(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.clear_path()
        corners = self.box_corners(attrs)
        if corners is None:
            return
        brush = self.gs.brush
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        axis_aligned = (
            self.page is not None
            and brush is not None
            and finite(*xs, *ys)
            and (
                (corners[0][1] == corners[1][1] and corners[1][0] == corners[2][0])
                or (corners[0][0] == corners[1][0] and corners[1][1] == corners[2][1])
            )
        )
        if axis_aligned and self.page is not None and brush is not None:
            left, right = round(max(min(xs), -1.0)), round(min(max(xs), 1e7))
            top, bottom = round(max(min(ys), -1.0)), round(min(max(ys), 1e7))
            self.page.canvas.fill_rect(top, left, bottom, right, brush)
            self.clear_path()
            self.add_subpath(SubPath(corners, closed=True))
            if self.gs.pen is not None:
                self.stroke()
            return
        self.rectangle_path(attrs, tags)
        self.paint_path(attrs, tags)

    def round_rectangle(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.clear_path()
        self.round_rectangle_path(attrs, tags)
        self.paint_path(attrs, tags)

    def ellipse(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.clear_path()
        self.ellipse_path(attrs, tags)
        self.paint_path(attrs, tags)

    def paint_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        """Fill the current path with the brush, then stroke it with the pen (PCL XL FR
        "PaintPath"); the path stays current."""
        if self.page is None:
            return
        if self.gs.brush is not None:
            self.fill()
        if self.gs.pen is not None:
            self.stroke()

    def path_window(self, pad: float) -> tuple[int, int, int, int] | None:
        """The device rectangle the current path can touch, clipped to the page."""
        if self.page is None:
            return None
        points = [p for sub in self.path for p in sub.points]
        if not points:
            return None
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        canvas = self.page.canvas
        left = max(math.floor(min(xs) - pad), 0)
        top = max(math.floor(min(ys) - pad), 0)
        right = min(math.ceil(max(xs) + pad) + 1, canvas.width)
        bottom = min(math.ceil(max(ys) + pad) + 1, canvas.height)
        if right <= left or bottom <= top:
            return None
        return left, top, right, bottom

    def fill(self) -> None:
        window = self.path_window(0)
        if window is None or self.page is None or self.gs.brush is None:
            return
        left, top, right, bottom = window
        width, height = right - left, bottom - top
        winding = np.zeros((height, width), dtype=np.int16)
        for sub in self.path:
            if len(sub.points) < 3:
                continue
            shifted = [(x - left, y - top) for x, y in sub.points]
            mask_image = Image.new("1", (width, height), 0)
            ImageDraw.Draw(mask_image).polygon(clamp_points(shifted, width, height), fill=1)
            mask = np.asarray(mask_image, dtype=bool)
            if self.gs.even_odd:
                winding ^= mask.astype(np.int16)
            else:
                winding += mask.astype(np.int16) * (1 if signed_area(shifted) >= 0 else -1)
        inside = winding != 0
        if inside.any():
            self.page.canvas.paint_mask(top, left, inside, self.gs.brush)

    def stroke(self) -> None:
        pen = self.gs.pen
        if self.page is None or pen is None:
            return
        scale = math.hypot(*self.gs.ctm.distance(1.0, 0.0))
        width = max(1, round(self.gs.pen_width * scale)) if finite(scale) else 1
        width = min(width, 4096)
        window = self.path_window(width)
        if window is None:
            return
        left, top, right, bottom = window
        mask_image = Image.new("1", (right - left, bottom - top), 0)
        draw = ImageDraw.Draw(mask_image)
        for sub in self.path:
            points = [(x - left, y - top) for x, y in sub.points]
            if sub.closed and len(points) > 2:
                points.append(points[0])
            if len(points) >= 2:
                draw.line(clamp_points(points, right - left, bottom - top), fill=1, width=width)
        mask = np.asarray(mask_image, dtype=bool)
        if mask.any():
            self.page.canvas.paint_mask(top, left, mask, pen)

    # -- fonts ----------------------------------------------------------------------------------

    def font_named(self, attrs: dict[int, Value]) -> bytes | None:
        name = attrs.get(A_FONT_NAME)
        if isinstance(name, XlArray):
            return name.raw[:512]
        return None

    def begin_font_header(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = self.font_named(attrs)
        self.header_font = None
        if name is None or len(self.fonts) >= MAX_FONTS:
            return
        font = Font(name=name)
        self.fonts[name] = font  # a font of the same name is replaced
        self.header_font = font

    def read_font_header(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        font = self.header_font

        def read(block: bytes) -> None:
            if font is not None:
                room = MAX_FONT_HEADER_BYTES - len(font.header)
                font.header.extend(block[: max(room, 0)])

        self.on_data = read

    def end_font_header(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        font, self.header_font = self.header_font, None
        if font is None:
            return
        header = bytes(font.header)
        try:
            descriptor = FontDescriptor.parse(header)
        except ConstructError:
            return
        font.technology = descriptor.technology
        font.orientation = descriptor.orientation
        pos = FontDescriptor.sizeof()
        for _ in range(256):  # segments (PCL XL FR "Font Header Format"), ending at 0xFFFF
            if pos + SegmentHeader.sizeof() > len(header):
                break
            segment = SegmentHeader.parse(header[pos:])
            body = header[
                pos + SegmentHeader.sizeof() : pos + SegmentHeader.sizeof() + segment.size
            ]
            if segment.id == b"BR" and len(body) >= BitmapResolution.sizeof():
                resolution = BitmapResolution.parse(body)
                if resolution.x > 0 and resolution.y > 0:
                    font.resolution = (float(resolution.x), float(resolution.y))
            if segment.id == b"\xff\xff":
                break
            pos += SegmentHeader.sizeof() + segment.size

    def begin_char(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = self.font_named(attrs)
        self.char_font = self.fonts.get(name) if name is not None else None

    def read_char(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        font = self.char_font
        code = as_int(attrs.get(A_CHAR_CODE))
        if font is None or code is None:
            return

        def read(block: bytes) -> None:
            glyph = bitmap_glyph(block)
            if glyph is None:
                if block[:1] == b"\x01":
                    font.outline_chars += 1
                return
            old = font.glyphs.get(code)
            self.font_bytes += glyph.mask.size - (old.mask.size if old else 0)
            if self.font_bytes > MAX_FONT_BYTES:
                self.font_bytes -= glyph.mask.size
                self.note("downloaded glyphs exceed the memory budget; later ones not kept")
                return
            font.glyphs[code] = glyph

        self.on_data = read

    def remove_font(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = self.font_named(attrs)
        font = self.fonts.pop(name, None) if name is not None else None
        if font is not None:
            self.font_bytes -= sum(glyph.mask.size for glyph in font.glyphs.values())

    def set_font(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = self.font_named(attrs)
        if name is None:
            name = b"PCL font selection"  # PCLSelectFont: a printer-resident font
        self.gs = replace(self.gs, font=name)

    def text(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        """Glyphs at the cursor, the cursor advanced by X/YSpacingData (PCL XL FR "Text")."""
        page = self.page
        data = attrs.get(A_TEXT_DATA)
        if page is None or not isinstance(data, XlArray) or data.element not in (0, 1):
            return
        codes = [int(code) for code in data.values()]
        x_spacing = array_values(attrs.get(A_X_SPACING), len(codes))
        y_spacing = array_values(attrs.get(A_Y_SPACING), len(codes))
        name = self.gs.font
        font = self.fonts.get(name) if name is not None else None
        shown = name.decode("latin-1").strip() if name else "no font"
        if font is None or not font.bitmap:
            kind = "TrueType" if font is not None else "printer-resident"
            page.note(f"text in {kind} font {shown!r} not drawn (no bitmap glyphs in the job)")
        elif font.orientation:
            # Bitmaps of a rotated font are stored turned (ghostpdl pxfont.c turns them back
            # with the page); such jobs have not been seen, so they are drawn as stored.
            page.note(f"bitmap font {shown!r} of orientation {font.orientation} drawn unrotated")
        brush = self.gs.brush
        scale_x = page.dpi[0] / font.resolution[0] if font else 1.0
        scale_y = page.dpi[1] / font.resolution[1] if font else 1.0
        missing = 0
        for index, code in enumerate(codes):
            glyph = font.glyphs.get(code) if font is not None and font.bitmap else None
            if glyph is not None and brush is not None:
                self.draw_glyph(glyph, scale_x, scale_y, brush)
            elif font is not None and font.bitmap:
                missing += 1
            dx = x_spacing[index] if x_spacing and index < len(x_spacing) else None
            dy = y_spacing[index] if y_spacing and index < len(y_spacing) else 0.0
            if dx is None:  # no spacing given: the bitmap's width is the best guess
                advance_x = glyph.mask.shape[1] * scale_x if glyph is not None else 0.0
                ddx, ddy = self.gs.ctm.distance(0.0, dy)
                self.cursor = (self.cursor[0] + advance_x + ddx, self.cursor[1] + ddy)
            else:
                ddx, ddy = self.gs.ctm.distance(dx, dy)
                self.cursor = (self.cursor[0] + ddx, self.cursor[1] + ddy)
        if missing:
            page.note(f"characters without a downloaded glyph in font {shown!r} not drawn")

    def draw_glyph(self, glyph: Glyph, scale_x: float, scale_y: float, brush: Paint) -> None:
        if self.page is None:
            return
        height, width = glyph.mask.shape
        x, y = self.cursor
        canvas = self.page.canvas
        if scale_x == 1.0 and scale_y == 1.0:
            # A glyph at the page's resolution (the common case: drivers download fonts at the
            # job's resolution): what place() does for it, without building a Placement.
            x0, y0 = x + glyph.left, y - glyph.top
            landed = place_unscaled(canvas, x0, y0, glyph.mask) if pixel_origin(x0, y0) else None
        else:
            where = Placement(
                origin=(x + glyph.left * scale_x, y - glyph.top * scale_y),
                across=(width * scale_x, 0.0),
                down=(0.0, height * scale_y),
            )
            landed = place(canvas, where, glyph.mask, 0, (width, height))
        if landed is not None:
            top, left, mask = landed
            canvas.paint_mask(top, left, mask, brush)

    # -- images and raster patterns ---------------------------------------------------------------

    def bitmap_job(self, attrs: dict[int, Value], what: str) -> ImageJob | None:
        """The parameters BeginImage and BeginRastPattern share (PCL XL FR "BeginImage")."""
        depth = COLOR_DEPTH_BITS.get(as_int(attrs.get(A_COLOR_DEPTH)) or 0)
        width = as_int(attrs.get(A_SOURCE_WIDTH))
        height = as_int(attrs.get(A_SOURCE_HEIGHT))
        indexed = as_int(attrs.get(A_COLOR_MAPPING)) == INDEXED_PIXEL
        if depth is None or width is None or height is None:
            self.note(f"{what} without its size or colour depth: not drawn")
            return None
        if not (0 < width <= MAX_SOURCE_SIDE and 0 < height <= MAX_SOURCE_SIDE):
            self.note(f"{what} of {width}x{height} source pixels: not drawn")
            return None
        if width * height > self.limits.max_pixels:
            self.note(f"{what} of {width}x{height} pixels exceeds the pixel limit: not drawn")
            return None
        palette = None
        if indexed:
            palette = self.gs.palette
            if palette is None:
                self.note(f"indexed {what} without a palette: drawn as gray levels")
            elif palette.shape[1] != (1 if self.gs.gray_space else 3):
                palette = None
        return ImageJob(
            width=width,
            height=height,
            depth=depth,
            indexed=indexed,
            gray=self.gs.gray_space,
            palette=palette,
            placement=None,
        )

    def begin_image(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.image_job = None
        if self.page is None:
            return
        job = self.bitmap_job(attrs, "image")
        if job is None:
            return
        size = number_pair(attrs.get(A_DESTINATION_SIZE))
        box = as_box(attrs.get(A_DESTINATION_BOX))
        origin = self.cursor
        if size is None and box is not None:  # PCL XL FR 1.1 named the box instead
            origin = self.gs.ctm.apply(box[0], box[1])
            size = (box[2] - box[0], box[3] - box[1])
        if size is None:
            size = (float(job.width), float(job.height))
        job.placement = Placement(
            origin=origin,
            across=self.gs.ctm.distance(size[0], 0.0),
            down=self.gs.ctm.distance(0.0, size[1]),
        )
        across, down = job.placement.across, job.placement.down
        if not (abs(across[1]) < 1e-9 and abs(down[0]) < 1e-9) and not (
            abs(across[0]) < 1e-9 and abs(down[1]) < 1e-9
        ):
            self.note("image on a rotated or skewed page transform: not drawn")
            return
        self.image_job = job

    def read_image(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        job = self.image_job
        if job is None:
            return
        self.on_data = lambda block: self.image_block(job, attrs, block, pattern=False)

    def end_image(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.image_job = None

    def begin_rast_pattern(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.pattern_job = None
        job = self.bitmap_job(attrs, "raster pattern")
        pattern_id = as_int(attrs.get(A_PATTERN_DEFINE_ID))
        if job is None or pattern_id is None:
            return
        if job.width * job.height > MAX_PATTERN_PIXELS:
            self.note("raster pattern too large to keep: not used")
            return
        job.pattern_id = pattern_id
        job.destination = number_pair(attrs.get(A_DESTINATION_SIZE)) or (
            float(job.width),
            float(job.height),
        )
        self.pattern_job = job

    def read_rast_pattern(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        job = self.pattern_job
        if job is None:
            return
        self.on_data = lambda block: self.image_block(job, attrs, block, pattern=True)

    def end_rast_pattern(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        job, self.pattern_job = self.pattern_job, None
        if job is None or job.pattern_id is None or not job.rows:
            return
        pixels = np.concatenate(job.rows, axis=0)[: job.height]
        if pixels.shape[0] < job.height:  # rows never sent are white
            pad = np.full((job.height - pixels.shape[0], *pixels.shape[1:]), 255, np.uint8)
            pixels = np.concatenate((pixels, pad), axis=0)
        if len(self.patterns) < MAX_PATTERNS or job.pattern_id in self.patterns:
            self.patterns[job.pattern_id] = Pattern(pixels, job.destination)

    def image_block(
        self, job: ImageJob, attrs: dict[int, Value], block: bytes, pattern: bool
    ) -> None:
        """One ReadImage/ReadRastPattern data block: decode it and draw (or keep) its rows."""
        start = as_int(attrs.get(A_START_LINE))
        start = job.next_line if start is None or not 0 <= start < job.height else start
        rows = as_int(attrs.get(A_BLOCK_HEIGHT))
        rows = job.height - start if rows is None else min(max(rows, 0), job.height - start)
        mode = as_int(attrs.get(A_COMPRESS_MODE)) or NO_COMPRESSION
        pad = as_int(attrs.get(A_PAD_BYTES_MULTIPLE))
        pad = pad if pad is not None and 1 <= pad <= 64 else 4  # PCL XL FR: rows pad to 4 bytes
        row_bytes = job.row_bytes
        padded = -(-row_bytes // pad) * pad
        chunk_rows = max(1, CHUNK_BYTES // max(padded, 1))
        if rows <= 0:
            return
        if mode == NO_COMPRESSION:
            chunks: Iterator[np.ndarray] = raw_chunks(block, padded, rows, chunk_rows)
        elif mode == RLE_COMPRESSION:
            chunks = packbits_chunks(block, padded, rows, chunk_rows)
        elif mode == DELTA_ROW_COMPRESSION:
            if job.delta is None:
                job.delta = DeltaRowState(bytearray(row_bytes))
            # Smaller chunks: the time cap is checked between them, and delta rows cost
            # Python work per command (up to 64 KB of commands per row).
            chunks = delta_row_chunks(block, job.delta, rows, min(chunk_rows, 4096))
        elif mode == JPEG_COMPRESSION:
            chunks = self.jpeg_chunks(block, job, rows)
        else:
            self.note(f"image compression {mode} unknown: not drawn")
            return
        line = start
        for chunk in chunks:
            if self.limits.expired():
                raise PageDamaged(f"time cap of {self.limits.max_seconds:.0f} s reached")
            count = min(chunk.shape[0], job.height - line)
            if count <= 0:
                break
            pixels = job.pixels(np.ascontiguousarray(chunk[:count, :row_bytes]))
            if pattern:
                job.rows.append(pixels.copy())
            else:
                self.draw_rows(job, pixels, line)
            line += count
        job.next_line = line
        if line < start + rows:
            self.note(f"image data ended after {line - start} of {rows} rows of a block")
            if self.page is not None:
                self.page.complete = False
        if job.delta is not None and job.delta.overflows:
            self.note("delta row commands ran past the end of the row: the excess was dropped")

    def jpeg_chunks(self, block: bytes, job: ImageJob, rows: int) -> Iterator[np.ndarray]:
        """A JPEGCompression block is a whole JPEG image (PCL XL FR 2.0 §6; ghostpdl pximage.c
        decodes it unpadded), here in the job's row-byte layout."""
        try:
            with Image.open(io.BytesIO(block)) as image:
                if image.width * image.height > self.limits.max_pixels:
                    self.note("JPEG image block beyond the pixel limit: not drawn")
                    return
                decoded = image.convert("L" if job.components == 1 else "RGB")
        except DECODE_ERRORS as error:
            self.note(f"JPEG image block not decoded: {type(error).__name__}")
            return
        if job.depth != 8 or job.indexed:
            self.note("JPEG image block with a depth other than 8 bits: not drawn")
            return
        array = np.asarray(decoded, dtype=np.uint8)
        array = array[:rows, : job.width]
        if array.shape[1] < job.width:
            pad_shape = (array.shape[0], job.width - array.shape[1], *array.shape[2:])
            array = np.concatenate((array, np.full(pad_shape, 255, np.uint8)), axis=1)
        yield array.reshape(array.shape[0], -1)

    def draw_rows(self, job: ImageJob, pixels: Pixels, first_row: int) -> None:
        if self.page is None or job.placement is None:
            return
        canvas = self.page.canvas
        landed = place(canvas, job.placement, pixels, first_row, (job.width, job.height))
        if landed is None:
            return
        top, left, values = landed
        canvas.put(top, left, values, self.gs.rop, self.gs.source_transparent)

    # -- user-defined streams (PCL XL FR §7) ------------------------------------------------------

    def begin_stream(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = attrs.get(A_STREAM_NAME)
        self.reading_stream = None
        if isinstance(name, XlArray) and len(self.streams) < MAX_STREAMS:
            self.reading_stream = name.raw[:512]
            self.streams[self.reading_stream] = bytearray()

    def read_stream(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = self.reading_stream

        def read(block: bytes) -> None:
            target = self.streams.get(name) if name is not None else None
            room = MAX_STREAM_BYTES - self.stream_bytes
            if target is not None and room > 0:
                target.extend(block[:room])
                self.stream_bytes += min(len(block), room)

        self.on_data = read

    def end_stream(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.reading_stream = None

    def remove_stream(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        name = attrs.get(A_STREAM_NAME)
        if isinstance(name, XlArray):
            removed = self.streams.pop(name.raw[:512], None)
            if removed is not None:
                self.stream_bytes -= len(removed)

    def exec_stream(self, attrs: dict[int, Value], depth: int) -> Iterator[RenderedPage]:
        name = attrs.get(A_STREAM_NAME)
        body = self.streams.get(name.raw[:512]) if isinstance(name, XlArray) else None
        if body is None or depth >= MAX_STREAM_DEPTH:
            self.note("ExecStream of an unknown stream (or nested too deep): skipped")
            return
        data = bytes(body)
        start = 0
        # A stream's data begins with its own stream header (PCL XL FR §7 "User Defined Streams").
        if data[1 : 1 + len(HEADER_MAGIC)] == HEADER_MAGIC:
            newline = data.find(b"\n", 0, MAX_HEADER_BYTES)
            start = newline + 1 if newline >= 0 else len(data)
        yield from self.run(data, start, depth + 1)

    def text_path(self, attrs: dict[int, Value], tags: dict[int, int]) -> None:
        self.note("TextPath (text as an outline path) not drawn")


def raw_chunks(data: bytes, padded: int, rows: int, chunk_rows: int) -> Iterator[np.ndarray]:
    """NoCompression rows, each padded to ``padded`` bytes; only whole rows (a cut-off last row
    is dropped, and counted missing by the caller)."""
    available = min(rows, len(data) // padded)
    view = np.frombuffer(data, dtype=np.uint8, count=available * padded).reshape(available, padded)
    for first in range(0, available, chunk_rows):
        yield view[first : first + chunk_rows]


def bitmap_glyph(block: bytes) -> Glyph | None:
    """A format 0 (bitmap) character (PCL XL FR "Bitmap Character Format"): rows of
    ⌈width/8⌉ bytes, most significant bit leftmost, 1 = ink. None for other formats."""
    try:
        head = BitmapCharHeader.parse(block)
    except ConstructError:
        return None
    if head.format != 0 or head.width == 0 or head.height == 0:
        return None
    if head.width > MAX_GLYPH_SIDE or head.height > MAX_GLYPH_SIDE:
        return None
    if head.width * head.height > MAX_GLYPH_PIXELS:
        return None
    row_bytes = (head.width + 7) // 8
    body = block[BitmapCharHeader.sizeof() :]
    rows = min(head.height, len(body) // row_bytes)
    bits = np.zeros((head.height, row_bytes), dtype=np.uint8)
    if rows:
        bits[:rows] = np.frombuffer(body, dtype=np.uint8, count=rows * row_bytes).reshape(
            rows, row_bytes
        )
    mask = np.unpackbits(bits, axis=1)[:, : head.width].astype(bool)
    return Glyph(left=head.left_offset, top=head.top_offset, mask=mask)


def media_inches(attrs: dict[int, Value]) -> Point:
    """The page size in inches from BeginPage (CustomMediaSize first, then MediaSize)."""
    custom = number_pair(attrs.get(A_CUSTOM_MEDIA_SIZE))
    if custom is not None:
        units = as_int(attrs.get(A_CUSTOM_MEDIA_SIZE_UNITS))
        per_inch = MEASURE_PER_INCH.get(units if units is not None else 0, 1.0)
        return custom[0] / per_inch, custom[1] / per_inch
    media = attrs.get(A_MEDIA_SIZE)
    code = as_int(media)
    if isinstance(media, XlArray) and media.element == 0:
        code = MEDIA_NAMES.get(media.raw.decode("latin-1").strip().upper())
    if code is not None:
        _name, width, height = MEDIA_SIZES.get(code, ("", 0, 0))
        if width and height:
            return width / MEDIA_SIZE_DPI, height / MEDIA_SIZE_DPI
    return DEFAULT_PAGE_INCHES


def flatten_bezier(start: Point, first: Point, second: Point, end: Point) -> list[Point]:
    steps = np.linspace(0.0, 1.0, BEZIER_STEPS + 1)[1:]
    inverse = 1.0 - steps
    weights = np.stack((inverse**3, 3 * inverse**2 * steps, 3 * inverse * steps**2, steps**3))
    controls = np.array((start, first, second, end), dtype=np.float64)  # (4, 2)
    curve = weights.T @ controls  # (BEZIER_STEPS, 2)
    return [(float(x), float(y)) for x, y in curve]


def signed_area(points: list[Point]) -> float:
    area = 0.0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
        area += x1 * y2 - x2 * y1
    return area


def clamp_points(points: list[Point], width: int, height: int) -> list[Point]:
    """Points far off the drawing window pulled in (the shape inside is unchanged; PIL is not
    handed coordinates it cannot hold)."""
    reach_x, reach_y = 4.0 * width + 16, 4.0 * height + 16
    return [(min(max(x, -reach_x), reach_x), min(max(y, -reach_y), reach_y)) for x, y in points]


Handler = Callable[[Interpreter, dict[int, Value], dict[int, int]], None]

OPERATOR_HANDLERS: dict[int, Handler] = {
    OP_BEGIN_SESSION: Interpreter.begin_session,
    OP_BEGIN_PAGE: Interpreter.begin_page,
    OP_END_PAGE: Interpreter.end_page,
    OP_BEGIN_FONT_HEADER: Interpreter.begin_font_header,
    OP_READ_FONT_HEADER: Interpreter.read_font_header,
    OP_END_FONT_HEADER: Interpreter.end_font_header,
    OP_BEGIN_CHAR: Interpreter.begin_char,
    OP_READ_CHAR: Interpreter.read_char,
    OP_REMOVE_FONT: Interpreter.remove_font,
    OP_BEGIN_STREAM: Interpreter.begin_stream,
    OP_READ_STREAM: Interpreter.read_stream,
    OP_END_STREAM: Interpreter.end_stream,
    OP_REMOVE_STREAM: Interpreter.remove_stream,
    OP_POP_GS: Interpreter.pop_gs,
    OP_PUSH_GS: Interpreter.push_gs,
    OP_SET_BRUSH_SOURCE: Interpreter.set_brush_source,
    OP_SET_COLOR_SPACE: Interpreter.set_color_space,
    OP_SET_CURSOR: Interpreter.set_cursor,
    OP_SET_CURSOR_REL: Interpreter.set_cursor_rel,
    OP_SET_FILL_MODE: Interpreter.set_fill_mode,
    OP_SET_FONT: Interpreter.set_font,
    OP_SET_PAGE_DEFAULT_CTM: Interpreter.set_page_default_ctm,
    OP_SET_PAGE_ORIGIN: Interpreter.set_page_origin,
    OP_SET_PAGE_ROTATION: Interpreter.set_page_rotation,
    OP_SET_PAGE_SCALE: Interpreter.set_page_scale,
    OP_SET_PEN_SOURCE: Interpreter.set_pen_source,
    OP_SET_PEN_WIDTH: Interpreter.set_pen_width,
    OP_SET_ROP: Interpreter.set_rop,
    OP_SET_SOURCE_TX_MODE: Interpreter.set_source_tx_mode,
    OP_CLOSE_SUB_PATH: Interpreter.close_sub_path,
    OP_NEW_PATH: Interpreter.new_path,
    OP_PAINT_PATH: Interpreter.paint_path,
    OP_BEZIER_PATH: Interpreter.bezier_path_absolute,
    OP_BEZIER_REL_PATH: Interpreter.bezier_path_relative,
    OP_ELLIPSE: Interpreter.ellipse,
    OP_ELLIPSE_PATH: Interpreter.ellipse_path,
    OP_LINE_PATH: Interpreter.line_path_absolute,
    OP_LINE_REL_PATH: Interpreter.line_path_relative,
    OP_RECTANGLE: Interpreter.rectangle,
    OP_RECTANGLE_PATH: Interpreter.rectangle_path,
    OP_ROUND_RECTANGLE: Interpreter.round_rectangle,
    OP_ROUND_RECTANGLE_PATH: Interpreter.round_rectangle_path,
    OP_TEXT: Interpreter.text,
    OP_TEXT_PATH: Interpreter.text_path,
    OP_BEGIN_IMAGE: Interpreter.begin_image,
    OP_READ_IMAGE: Interpreter.read_image,
    OP_END_IMAGE: Interpreter.end_image,
    OP_BEGIN_RAST_PATTERN: Interpreter.begin_rast_pattern,
    OP_READ_RAST_PATTERN: Interpreter.read_rast_pattern,
    OP_END_RAST_PATTERN: Interpreter.end_rast_pattern,
}
NOT_DRAWN = {
    OP_ARC_PATH: "arcs",
    OP_CHORD: "chords",
    OP_CHORD_PATH: "chords",
    OP_PIE: "pie segments",
    OP_PIE_PATH: "pie segments",
    OP_BEGIN_SCAN: "scan lines",
    OP_SCAN_LINE_REL: "scan lines",
}


def payload_start(data: bytes) -> int:
    """Where the stream header is: at 0 for the parser's payload; a PJL wrapper in front (a
    whole printer file handed over) is skipped."""
    if data[1 : 1 + len(HEADER_MAGIC)] == HEADER_MAGIC:
        return 0
    found = data.find(HEADER_MAGIC + b";", 0, 64 * 1024)
    if found < 1:
        raise RenderError("no PCL XL stream header")
    return found - 1


class PclXlRenderer(PageRenderer):
    name = "pclxl"
    formats = ("pclxl",)

    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        start = payload_start(data)
        try:
            _binding, big_endian, _protocol, _comment, offset = decode_header(data[start:])
        except NotThisFormat as error:
            raise RenderError(str(error)) from None
        if big_endian is None:
            raise RenderError("ASCII-bound PCL XL streams are not rendered")
        interpreter = Interpreter(big_endian, limits)
        stopped: str | None = None
        refused: RenderError | None = None
        try:
            yield from interpreter.run(data, start + offset)
        except PageDamaged as error:
            stopped = str(error)
        except RenderError as error:  # a page beyond the limits: the pages before it stand
            refused = error
        except DECODE_ERRORS as error:
            log.debug("PCL XL rendering stopped", exc_info=True)
            stopped = f"rendering stopped: {type(error).__name__}: {error}"
        yield from interpreter.finished
        interpreter.finished = []
        if refused is not None:
            raise refused
        page = interpreter.page
        if page is not None:
            page.complete = False
            page.note(stopped or "the stream ends inside the page (no EndPage)")
            interpreter.finish_page()
            yield from interpreter.finished
        if interpreter.pages_begun == 0:
            raise RenderError(stopped or "the stream has no pages")
