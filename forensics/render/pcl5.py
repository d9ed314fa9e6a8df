"""PCL 5 page renderer: raster graphics (the pages drivers and Ghostscript send as bitmaps).

References: HP "PCL 5 Printer Language Technical Reference Manual" (cited "PCL5 TRM"), chapter
"Raster Graphics"; HP "PCL 5 Color Technical Reference Manual" (cited "PCL5C TRM") for simple
colour (ESC*r#U), Configure Image Data (ESC*v#W) and palettes. ghostpdl's pcl/ interpreter
(rtraster.c, rtrstcmp.c, rtgmode.c, pcindxed.c) was read to settle what the manuals leave open;
those places are noted. The command stream is read by ``forensics.formats.pcl5.iter_commands``
(the parser's own tokenizer): this module only interprets it.

What is drawn, per page, upright as the document reads (a landscape page is wider than high):
- raster graphics: ESC*r#A … ESC*rB/C blocks (and implicit ones), rows ESC*b#W and planes
  ESC*b#V in compression modes 0 (none), 1 (run length), 2 (TIFF PackBits), 3 (delta row),
  5 (adaptive) and 9 (replacement delta row); ESC*b#Y skipped rows; source width and height
  ESC*r#S/#T; raster resolution ESC*t#R; raster scaling ESC*r2A/3A with ESC*t#H/#V;
- colour: simple colour ESC*r#U (1 mono, 3 RGB, −3 CMY planes, −4 KCMY planes), Configure Image
  Data ESC*v#W (RGB or CMY; indexed by plane or pixel with 1–8 bits, direct by plane or by
  pixel with 8 bits a primary) with palette entries ESC*v#A/#B/#C/#I; source transparency
  ESC*v#N;
- the cursor, which places a raster: ESC*p#X/#Y (PCL units, ESC&u#D), ESC&a#H/#V (decipoints),
  ESC&a#C/#R (columns and rows, from HMI and VMI), CR, LF, BS, HT, text advancing by the HMI.

Not drawn: text (a text page's characters are read by the parser: a page without raster is not
yielded), rectangle fills (ESC*c#P), patterns, HP-GL/2 vectors; noted once per page where a page
has raster too.

Approximations (noted in the code): the logical page offsets from the physical page edge are
HP's printable-area figures for US and metric sizes (PCL5 TRM "Logical page"); the first line's
position is the top margin plus 3/4 of the VMI; landscape pages with presentation mode 3 are
drawn as mode 0; registration offsets (ESC&l#U/#Z) move the logical page on the upright image.

Page resolution: 300 dpi, or 600 dpi when the page's first raster is at 200 or 600 dpi (or
above 300): PCL 5 printers print at 300 or 600 dpi and scale lower raster resolutions by whole
factors (75 → 4, 100 → 3, 150 → 2), so a page at the printer's resolution shows every raster
pixel as the printer did, and a 600 dpi job keeps all of its detail. Rasters at other
resolutions on the same page are scaled into it (nearest neighbour).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from forensics.formats.pcl5 import (
    CONTROL,
    CUT,
    HPGL,
    HPGL_MARKING,
    TEXT,
    StreamItem,
    iter_commands,
)
from forensics.render.base import (
    InkPage,
    PageRenderer,
    RenderedPage,
    RenderError,
    RenderLimits,
    check_page_size,
)

log = logging.getLogger(__name__)

UEL = b"\x1b%-12345X"  # PJL TRM ch. 4: Universal Exit Language
PJL_ENTER = re.compile(rb"@PJL[ \t]+ENTER[ \t]+LANGUAGE[ \t]*=[^\n]*\n", re.IGNORECASE)
MAX_PJL_HEADER = 64 * 1024  # bytes of PJL before the PCL stream

# ESC*t#R: HP printers take the next supported resolution at or above the value (ghostpdl
# rtgmode.c rounds the same way); above 600, 600.
RASTER_RESOLUTIONS = (75, 100, 150, 200, 300, 600)
DEFAULT_RESOLUTION = 75  # PCL5 TRM "Raster Graphics Resolution": default 75 dpi
PAGE_DPIS = (300, 600)
DECIPOINTS = 720.0
DEFAULT_UNITS = 300.0  # PCL5 TRM ch. 4: PCL unit 1/300 inch unless ESC&u#D says otherwise
DEFAULT_HMI = 0.1  # inches: 10 characters per inch (Courier 12 pt)
DEFAULT_VMI = 1.0 / 6.0  # inches: 6 lines per inch
DEFAULT_TOP_MARGIN = 0.5  # inches (PCL5 TRM ch. 5 "Top Margin")
FIRST_LINE = 0.75  # the first line's base is 3/4 of a VMI below the top margin (ghostpdl)
TAB_COLUMNS = 8
MAX_CURSOR_STACK = 20  # PCL5 TRM: ESC&f#S pushes at most 20 positions
MAX_NOTES = 24
BATCH_ROWS = 256  # decoded rows drawn at once
TIME_CHECK_ROWS = 64
MIN_SCALE = 1.0 / 64.0  # raster scaling (ESC*r2A/3A): page pixels per raster pixel, bounded
MAX_SCALE = 600.0

# PCL5 TRM ch. 5 "Page Size" (ESC&l#A): width and height in inches, portrait.
MM = 1.0 / 25.4
PAGE_INCHES: dict[int, tuple[float, float]] = {
    1: (7.25, 10.5),  # executive
    2: (8.5, 11.0),  # letter
    3: (8.5, 14.0),  # legal
    6: (11.0, 17.0),  # ledger
    25: (148 * MM, 210 * MM),  # A5
    26: (210 * MM, 297 * MM),  # A4
    27: (297 * MM, 420 * MM),  # A3
    45: (182 * MM, 257 * MM),  # JIS B5
    46: (257 * MM, 364 * MM),  # JIS B4
    71: (100 * MM, 148 * MM),  # hagaki
    72: (148 * MM, 200 * MM),  # oufuku-hagaki
    80: (3.875, 7.5),  # monarch envelope
    81: (4.125, 9.5),  # COM 10 envelope
    90: (110 * MM, 220 * MM),  # DL envelope
    91: (162 * MM, 229 * MM),  # C5 envelope
    100: (176 * MM, 250 * MM),  # B5 envelope
}
LETTER = 2
US_SIZES = frozenset((1, 2, 3, 6, 80, 81))
# PCL5 TRM "Logical page": the logical page starts this far (in 1/300 inch) from the physical
# page's left edge — 75 (1/4") portrait and 60 landscape on US sizes, 71 and 59 on metric ones
# (HP's table varies by a dot or two per size; these are its letter and A4 rows).
LOGICAL_OFFSETS = {(True, False): 75, (True, True): 60, (False, False): 71, (False, True): 59}

# Pixel encodings (PCL5C TRM "Configure Image Data", byte 1).
INDEXED_BY_PLANE, INDEXED_BY_PIXEL, DIRECT_BY_PLANE, DIRECT_BY_PIXEL = 0, 1, 2, 3
CMY_SPACE = 1  # byte 0: 0 device RGB, 1 device CMY; the others are read as RGB
# The eight default colours in HP's canonical order (white, cyan, magenta, blue, yellow, green,
# red, black) and the orders in which default palettes take them (PCL5C TRM "Default palettes";
# ghostpdl pcindxed.c): RGB palettes run from black, CMY ones from white; entries beyond the
# first eight are black.
CANONICAL_COLOURS = np.array(
    [
        [255, 255, 255],
        [0, 255, 255],
        [255, 0, 255],
        [0, 0, 255],
        [255, 255, 0],
        [0, 255, 0],
        [255, 0, 0],
        [0, 0, 0],
    ],
    dtype=np.uint8,
)
DEFAULT_ORDERS = {
    (1, False): (0, 7),
    (1, True): (0, 7),
    (2, False): (7, 6, 5, 0),
    (2, True): (0, 1, 2, 7),
    (3, False): (7, 6, 5, 4, 3, 2, 1, 0),
    (3, True): (0, 1, 2, 3, 4, 5, 6, 7),
}
WHITE = (255, 255, 255)

# HP-GL/2 instructions at the start of an instruction (after a separator): marks on the page.
HPGL_MNEMONIC = re.compile(rb"(?:^|[;\s])([A-Za-z]{2})")


def default_palette(bits: int, cmy: bool) -> np.ndarray:
    """The palette Configure Image Data or Simple Color creates for ``bits`` bits an index."""
    entries = 1 << bits
    order = DEFAULT_ORDERS[(min(bits, 3), cmy)]
    palette = np.zeros((entries, 3), dtype=np.uint8)  # entries beyond the eighth: black
    palette[: len(order)] = CANONICAL_COLOURS[list(order)]
    return palette


def kcmy_palette() -> np.ndarray:
    """ESC*r-4U (DeskJet KCMY planes, PCL5C TRM "Simple Color"): plane 0 black, planes 1–3
    cyan, magenta and yellow; black ink covers the others."""
    cmy = default_palette(3, cmy=True)
    palette = np.zeros((16, 3), dtype=np.uint8)
    for index in range(16):
        palette[index] = (0, 0, 0) if index & 1 else cmy[index >> 1]
    return palette


def resolution_from(value: float) -> int:
    for resolution in RASTER_RESOLUTIONS:
        if value <= resolution:
            return resolution
    return RASTER_RESOLUTIONS[-1]


def page_dpi_for(resolution: int) -> int:
    """300 dpi unless the raster needs 600 to be drawn at whole factors (200, 600)."""
    return PAGE_DPIS[0] if PAGE_DPIS[0] % resolution == 0 else PAGE_DPIS[1]


# -- raster decompression (PCL5 TRM "Set Compression Method"; PCL5C TRM for mode 9) ------------
# Each decoder writes the row into ``seed`` (a bytearray of the row's size) as the printer does:
# modes 0, 1 and 2 replace the whole row (zero-filled past the data), modes 3 and 9 change the
# seed row (the previous row of the plane) and leave the rest as it was. Bytes beyond the row
# are dropped: a row longer than the raster is clipped.


def decode_none(seed: bytearray, data: bytes) -> None:
    size = len(seed)
    seed[:] = data[:size].ljust(size, b"\0")


def _scaled(
    pixels: np.ndarray, rows: np.ndarray | slice, columns: np.ndarray | slice
) -> np.ndarray:
    """``pixels[rows][:, columns]`` (nearest-neighbour scaling by index arrays): ``np.take``
    gathers along one axis 2-3x faster than fancy indexing does."""
    picked = _rows(pixels, rows)
    return picked[:, columns] if isinstance(columns, slice) else np.take(picked, columns, axis=1)


def _rows(pixels: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
    """``pixels[rows]``, by ``np.take`` for an index array (faster than fancy indexing)."""
    return pixels[rows] if isinstance(rows, slice) else np.take(pixels, rows, axis=0)


def decode_run_length(seed: bytearray, data: bytes) -> None:
    """Mode 1: byte pairs (repeat count − 1, value)."""
    size = len(seed)
    pairs = np.frombuffer(data, dtype=np.uint8, count=len(data) // 2 * 2)
    counts = pairs[0::2].astype(np.int64) + 1
    values = pairs[1::2]
    # Only the pairs that reach the row's end are expanded (a long payload cannot blow up).
    needed = int(np.searchsorted(np.cumsum(counts), size)) + 1
    out = np.repeat(values[:needed], counts[:needed])[:size].tobytes()
    seed[:] = out.ljust(size, b"\0")


def decode_packbits(seed: bytearray, data: bytes) -> None:
    """Mode 2 (TIFF PackBits): control byte n < 128 copies n + 1 literal bytes, n > 128
    repeats the next byte 257 − n times, 128 is a no-op."""
    size = len(seed)
    out = bytearray()
    pos, end = 0, len(data)
    while pos < end and len(out) < size:
        control = data[pos]
        pos += 1
        if control < 128:
            out += data[pos : pos + control + 1]
            pos += control + 1
        elif control > 128 and pos < end:
            out += data[pos : pos + 1] * (257 - control)
            pos += 1
    seed[:] = bytes(out[:size]).ljust(size, b"\0")


def decode_delta_row(seed: bytearray, data: bytes) -> bool:
    """Mode 3 (PCL XL's DeltaRowCompression uses the same commands): command byte = bits 7–5
    bytes to replace − 1, bits 4–0 offset from the byte after the last replaced one; offset 31
    continues in the next bytes (each added, until one is not 255). A row of no data repeats
    the seed row. Returns True when replacement bytes past the row's end were dropped."""
    size = len(seed)
    pos, end, out = 0, len(data), 0
    while pos < end:  # the hot loop of delta-row pages: few calls in it
        command = data[pos]
        pos += 1
        offset = command & 0x1F
        if offset == 31:
            while pos < end:
                extra = data[pos]
                pos += 1
                offset += extra
                if extra != 255:
                    break
        out += offset
        if out >= size:
            return pos < end  # the rest of the row's data lies past its end
        stop = pos + (command >> 5) + 1
        if stop > end:
            stop = end
        count = stop - pos
        if out + count <= size:
            seed[out : out + count] = data[pos:stop]
        else:
            seed[out:size] = data[pos : pos + size - out]
            return True
        out += count
        pos = stop
    return False


def decode_replacement_delta(seed: bytearray, data: bytes) -> None:
    """Mode 9 (PCL5C TRM "Replacement Delta Row"): bit 7 set: a run (offset in bits 6–5,
    count − 2 in bits 4–0, then the byte to repeat); clear: literal bytes (offset in bits 6–3,
    count − 1 in bits 2–0, then the bytes). Offsets of 3 (15) and counts of 33 (8) continue
    in the next bytes, each added, until one is not 255."""
    size = len(seed)
    pos, end, out = 0, len(data), 0
    while pos < end:
        command = data[pos]
        pos += 1
        run = command & 0x80
        if run:
            offset, count = (command >> 5) & 0x3, (command & 0x1F) + 2
            more_offset, more_count = offset == 3, count == 33
        else:
            offset, count = (command >> 3) & 0xF, (command & 0x7) + 1
            more_offset, more_count = offset == 15, count == 8
        while more_offset and pos < end:
            extra = data[pos]
            pos += 1
            offset += extra
            more_offset = extra == 255
        while more_count and pos < end:
            extra = data[pos]
            pos += 1
            count += extra
            more_count = extra == 255
        out += offset
        if out >= size or pos >= end:
            break
        if run:
            take = min(count, size - out)
            seed[out : out + take] = data[pos : pos + 1] * take
            pos += 1
        else:
            replacement = data[pos : pos + count]
            pos += len(replacement)
            take = min(len(replacement), size - out)
            seed[out : out + take] = replacement[:take]
        out += take


DECODERS = {
    0: decode_none,
    1: decode_run_length,
    2: decode_packbits,
    3: decode_delta_row,
    9: decode_replacement_delta,
}
DELTA_MODES = frozenset((3, 9))  # a plane not sent repeats its seed row
ADAPTIVE = 5
KNOWN_MODES = frozenset((*DECODERS, ADAPTIVE))
ADAPTIVE_EMPTY_ROWS, ADAPTIVE_DUPLICATE_ROWS = 4, 5  # mode 5 row commands beyond modes 0–3


# -- colour ---------------------------------------------------------------------------------------


@dataclass
class PixelFormat:
    """How raster data becomes colours: the encoding, its planes and bits, and the palette."""

    encoding: int = INDEXED_BY_PLANE
    bits: int = 1  # bits per index (indexed) or per primary (direct)
    cmy: bool = False
    palette: np.ndarray = field(default_factory=lambda: default_palette(1, cmy=False))
    fixed: bool = True  # simple colour palettes cannot be changed (ESC*v#I is ignored)
    planes: int = 1
    primary_max: tuple[float, float, float] = (255.0, 255.0, 255.0)  # white references

    @property
    def bits_per_plane(self) -> int:
        if self.encoding == INDEXED_BY_PIXEL:
            return self.bits
        if self.encoding == DIRECT_BY_PIXEL:
            return 3 * self.bits
        return 1

    @property
    def mono(self) -> bool:
        """One plane of one bit, 0 white and 1 black: drawn as ink on a mono page."""
        return (
            self.encoding in (INDEXED_BY_PLANE, INDEXED_BY_PIXEL)
            and self.planes == 1
            and self.bits == 1
            and self.palette.tolist() == [list(WHITE), [0, 0, 0]]
        )

    def copy(self) -> PixelFormat:
        return PixelFormat(
            self.encoding,
            self.bits,
            self.cmy,
            self.palette.copy(),
            self.fixed,
            self.planes,
            self.primary_max,
        )


def simple_colour(value: int) -> PixelFormat | None:
    """ESC*r#U (PCL5C TRM "Simple Color"): planes of one bit, plane n is bit n of the index."""
    if value in (1, -1):  # -1: the DeskJets' single black plane (PCL 3 GUI), as 1
        return PixelFormat()
    if value == 3:
        return PixelFormat(bits=3, palette=default_palette(3, cmy=False), planes=3)
    if value == -3:
        return PixelFormat(bits=3, cmy=True, palette=default_palette(3, cmy=True), planes=3)
    if value == -4:
        return PixelFormat(bits=4, cmy=True, palette=kcmy_palette(), planes=4)
    return None


def configure_image_data(payload: bytes) -> PixelFormat | None:
    """ESC*v#W (PCL5C TRM "Configure Image Data"): byte 0 colour space, 1 pixel encoding,
    2 bits per index, 3–5 bits per primary; the long form's reference values that follow are
    not used (8-bit primaries run 0–255). None for a configuration the printer refuses."""
    if len(payload) < 6:
        return None
    space, encoding, bits = payload[0], payload[1], payload[2]
    primaries = payload[3:6]
    cmy = space == CMY_SPACE
    white = (
        float(max((1 << primaries[0]) - 1, 1)),
        float(max((1 << primaries[1]) - 1, 1)),
        float(max((1 << primaries[2]) - 1, 1)),
    )
    if encoding == INDEXED_BY_PLANE and 1 <= bits <= 8:
        return PixelFormat(encoding, bits, cmy, default_palette(bits, cmy), False, bits, white)
    if encoding == INDEXED_BY_PIXEL and bits in (1, 2, 4, 8):
        return PixelFormat(encoding, bits, cmy, default_palette(bits, cmy), False, 1, white)
    if encoding == DIRECT_BY_PLANE and all(b == 1 for b in primaries):
        return PixelFormat(encoding, 1, cmy, default_palette(3, cmy), False, 3)
    if encoding == DIRECT_BY_PIXEL and all(b == 8 for b in primaries):
        return PixelFormat(encoding, 8, cmy, default_palette(3, cmy), False, 1)
    return None


def unpack_indices(rows: np.ndarray, bits: int, width: int) -> np.ndarray:
    """Indices of ``bits`` bits each, most significant first, from packed rows."""
    if bits == 8:
        return rows[:, :width]
    unpacked = np.unpackbits(rows, axis=1)
    per_row = unpacked.shape[1] // bits
    groups = unpacked[:, : per_row * bits].reshape(rows.shape[0], per_row, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
    return (groups * weights).sum(axis=2, dtype=np.uint8)[:, :width]


def decode_colours(fmt: PixelFormat, planes: list[np.ndarray], width: int) -> np.ndarray:
    """RGB pixels (rows, width, 3) of decoded rows (one packed array per plane)."""
    if fmt.encoding == DIRECT_BY_PIXEL:
        rgb = planes[0][:, : width * 3].reshape(planes[0].shape[0], width, 3)
        return 255 - rgb if fmt.cmy else rgb.copy()
    if fmt.encoding == DIRECT_BY_PLANE:
        bits = [np.unpackbits(plane, axis=1, count=width) for plane in planes]
        rgb = np.stack(bits, axis=2) * np.uint8(255)
        return 255 - rgb if fmt.cmy else rgb
    if fmt.encoding == INDEXED_BY_PIXEL:
        indices = unpack_indices(planes[0], fmt.bits, width)
    else:  # by plane: plane n gives bit n of the index (PCL5C TRM "Indexed by plane")
        indices = np.zeros((planes[0].shape[0], width), dtype=np.uint8)
        for number, plane in enumerate(planes):
            indices |= np.unpackbits(plane, axis=1, count=width) << np.uint8(number)
    palette = fmt.palette
    return palette[np.minimum(indices, len(palette) - 1)]


# -- pages ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """The page image and where the PCL logical page lies on it, in page pixels."""

    dpi: int
    width: int
    height: int
    logical_left: float
    logical_top: float
    logical_width: float


class Canvas:
    """One page being drawn: ink until something in colour is drawn, then RGB.

    Ink is kept as bits packed eight to a byte, most significant first, 1 = ink (the layout
    of PCL raster rows and of a PIL mode "1" image): a row at the page's resolution is drawn
    by shifting and OR-ing bytes, and a 600 dpi letter page is 4.2 MB, not 34 MB of bools.
    """

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = geometry
        self.ink: np.ndarray | None = np.zeros(
            (geometry.height, (geometry.width + 7) // 8), dtype=np.uint8
        )
        self.rgb: np.ndarray | None = None

    def to_rgb(self) -> np.ndarray:
        if self.rgb is None:
            assert self.ink is not None
            ink = np.unpackbits(self.ink, axis=1, count=self.geometry.width).view(bool)
            gray = np.where(ink, np.uint8(0), np.uint8(255))
            self.rgb = np.repeat(gray[:, :, None], 3, axis=2)
            self.ink = None
        return self.rgb

    def page(self, number: int, renderer: str, complete: bool, notes: list[str]) -> RenderedPage:
        dpi = (float(self.geometry.dpi), float(self.geometry.dpi))
        if self.rgb is not None:
            image = Image.fromarray(self.rgb, "RGB")
            return RenderedPage(number, image, dpi, renderer, complete, notes)
        assert self.ink is not None
        return InkPage(number, self.ink, self.geometry.width, dpi, renderer, complete, notes)


def _edge_mask(x0: int, x1: int) -> np.ndarray:
    """Per byte of page bytes x0 // 8 … (x1 − 1) // 8, the bits of page columns x0…x1 − 1."""
    first, last = x0 // 8, (x1 - 1) // 8
    mask = np.full(last - first + 1, 0xFF, dtype=np.uint8)
    mask[0] &= 0xFF >> (x0 % 8)
    mask[-1] &= (0xFF << (7 - (x1 - 1) % 8)) & 0xFF
    return mask


# Raster scales drawn by expanding bytes: 75/100/150 dpi on 300 dpi pages, 75–300 on 600 dpi.
EXPANDED_SCALES = frozenset((2.0, 3.0, 4.0, 6.0, 8.0))


def _expansion_table(factor: int) -> np.ndarray:
    """For each byte, its 8 bits each repeated ``factor`` times, packed: (256, factor) bytes."""
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)
    return np.packbits(np.repeat(bits, factor, axis=1), axis=1)


_EXPANSIONS = {int(factor): _expansion_table(int(factor)) for factor in EXPANDED_SCALES}


def expand_bits(packed: np.ndarray, factor: int) -> np.ndarray:
    """Packed rows with every bit repeated ``factor`` times (nearest-neighbour scaling of a
    raster by a whole factor, a byte at a time)."""
    return np.take(_EXPANSIONS[factor], packed, axis=0).reshape(packed.shape[0], -1)


def placed_bits(
    packed: np.ndarray, width: int, columns: np.ndarray | slice, x0: int, x1: int
) -> np.ndarray:
    """Packed raster rows (``width`` bits used of each) as page bytes x0 // 8 … (x1 − 1) // 8:
    page column x0 + i shows source column ``columns[i]``; bits outside x0…x1 − 1 are 0."""
    count = packed.shape[0]
    span = (x1 - 1) // 8 - x0 // 8 + 1
    if isinstance(columns, slice):  # one raster pixel a page pixel: shift whole bytes
        start = columns.start or 0
        src = packed[:, start // 8 : (start + x1 - x0 - 1) // 8 + 1]
        shift = x0 % 8 - start % 8
        if shift > 0:
            out = np.zeros((count, src.shape[1] + 1), dtype=np.uint8)
            out[:, :-1] = src >> shift
            out[:, 1:] |= src << (8 - shift)
        elif shift < 0:
            out = src << -shift
            out[:, :-1] |= src[:, 1:] >> (8 + shift)
        else:
            out = src.copy()
        out = out[:, :span]
        if out.shape[1] < span:
            out = np.pad(out, ((0, 0), (0, span - out.shape[1])))
        out &= _edge_mask(x0, x1)
        return out
    bits = np.unpackbits(packed, axis=1, count=width)
    picked = np.take(bits, columns, axis=1)
    lead = x0 % 8
    if lead:
        picked = np.pad(picked, ((0, 0), (lead, 0)))
    return np.packbits(picked, axis=1)


@dataclass
class RasterBlock:
    """One raster graphics block (ESC*r#A … ESC*rB) being drawn."""

    fmt: PixelFormat
    origin_x: float  # page pixels
    origin_y: float
    scale_x: float  # page pixels per raster pixel
    scale_y: float
    width: int  # raster pixels drawn of each row (clipped to the page)
    row_bytes: int
    height_limit: int | None  # ESC*r#T: rows after it are ignored
    visible_rows: int  # rows above the page's bottom edge
    start_y: float  # cursor y (inches) at the start
    seeds: list[bytearray]
    columns: tuple[int, int, np.ndarray | slice]  # page columns x0, x1 and source columns
    expand: int = 1  # page pixels a raster pixel when a whole number (bytes expanded)
    rows_done: int = 0
    plane_index: int = 0
    batch: list[list[bytes]] = field(default_factory=list)
    batch_start: int = 0

    @property
    def accepts_rows(self) -> bool:
        return self.height_limit is None or self.rows_done < self.height_limit


@dataclass
class PageState:
    number_marked: bool = False  # the parser counts this page (see Pcl5Reader._eject)
    has_text: bool = False
    canvas: Canvas | None = None
    geometry: Geometry | None = None
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(text)


class PageDamaged(Exception):
    """The data cannot be read on: the page so far is kept, incomplete."""


class Interpreter:
    """Runs the command stream and draws the raster pages."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.finished: list[RenderedPage] = []
        self.page_count = 0  # pages counted as the parser counts them
        self.rows_since_check = 0
        self.reset()
        self.page = PageState()

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        """ESC E (PCL5 TRM ch. 4 "Printer Reset"): every setting to its default."""
        self.page_size = LETTER
        self.landscape = False
        self.units = DEFAULT_UNITS
        self.hmi = DEFAULT_HMI
        self.vmi = DEFAULT_VMI
        self.top_margin = DEFAULT_TOP_MARGIN
        self.registration = (0.0, 0.0)  # ESC&l#U / #Z, inches
        self.cursor_stack: list[tuple[float, float]] = []
        self.resolution = DEFAULT_RESOLUTION
        self.compression = 0
        self.source_width: int | None = None
        self.source_height: int | None = None
        self.destination: tuple[float | None, float | None] = (None, None)  # inches
        self.presentation = 3  # PCL5 TRM "Raster Presentation Mode": default 3
        self.graphics_margin = 0.0
        self.fmt = PixelFormat()
        self.component = [0.0, 0.0, 0.0]  # ESC*v#A/#B/#C
        self.source_opaque = False  # ESC*v#N: 0 transparent (default), 1 opaque
        self.block: RasterBlock | None = None
        self.home()

    def home(self) -> None:
        self.x = 0.0
        self.y = self.top_margin + FIRST_LINE * self.vmi

    def geometry(self) -> Geometry:
        page = self.page
        if page.geometry is None:
            dpi = page_dpi_for(self.resolution)
            width_in, height_in = PAGE_INCHES.get(self.page_size, PAGE_INCHES[LETTER])
            if self.landscape:
                width_in, height_in = height_in, width_in
            offset = LOGICAL_OFFSETS[(self.page_size in US_SIZES, self.landscape)] / 300.0
            width, height = round(width_in * dpi), round(height_in * dpi)
            check_page_size(width, height, self.limits)
            page.geometry = Geometry(
                dpi,
                width,
                height,
                (offset + self.registration[0]) * dpi,
                self.registration[1] * dpi,
                (width_in - 2 * offset) * dpi,
            )
        return page.geometry

    # -- the stream --------------------------------------------------------------------------

    def run(self, data: bytes) -> Iterator[RenderedPage]:
        for item in iter_commands(data):
            self.command(item)
            if self.finished:
                yield from self.finished
                self.finished = []
            if self.limits.expired():
                self.page.complete = False
                self.page.note("time limit reached: rendering stopped")
                break
        else:
            if self.block is not None:
                self.page.complete = False
                self.page.note("the stream ends inside raster graphics (no ESC*rB)")
        self.end_block()
        self.eject(force=False)
        yield from self.finished
        self.finished = []

    def command(self, item: StreamItem) -> None:
        key = item.key
        if key == "*bW" or key == "*bV":
            self.transfer(item, end_row=key == "*bW")
        elif key in RASTER_KEYS:
            self.raster_command(key, item)
        elif key == TEXT:
            self.text(item.payload)
        elif key == CONTROL:
            self.control(item.payload[0])
        elif key in CURSOR_KEYS:
            self.end_block()
            self.move(key, item.value, item.number)
        elif key in PAGE_KEYS:
            self.page_command(key, item.number)
        elif key in COLOUR_KEYS:
            self.colour_command(key, item)
        elif key == "E":
            self.end_block()
            self.eject(force=False)
            self.reset()
        elif key == "=":  # half line feed
            self.end_block()
            self.y += self.vmi / 2
        elif key == "*cP":  # rectangle fill: marks the page (the parser counts it)
            self.page.number_marked = True
            self.page.note("rectangle fills (ESC*c#P) are not drawn")
        elif key == HPGL:
            if any(
                name.upper().decode() in HPGL_MARKING
                for name in HPGL_MNEMONIC.findall(item.payload)
            ):
                self.page.number_marked = True
                self.page.note("HP-GL/2 vector graphics are not drawn")
        elif key == CUT:
            self.page.complete = False
            self.page.note(f"the stream ends inside an escape sequence at {item.offset}")

    # -- text and cursor ---------------------------------------------------------------------

    def text(self, payload: bytes) -> None:
        self.end_block()
        self.x += len(payload) * self.hmi
        if payload.strip():
            self.page.number_marked = True
            self.page.has_text = True

    def control(self, byte: int) -> None:
        """PCL5 TRM ch. 3 "Control Codes"."""
        if byte == 0x0C:  # FF: the page is printed (even blank: the parser counts it)
            self.end_block()
            self.eject(force=True)
            return
        if byte not in (0x0D, 0x0A, 0x08, 0x09):
            return  # NUL, SO/SI and others do not move the cursor
        self.end_block()
        if byte == 0x0D:
            self.x = 0.0
        elif byte == 0x0A:
            self.y += self.vmi
        elif byte == 0x08:
            self.x = max(0.0, self.x - self.hmi)
        else:
            tab = TAB_COLUMNS * self.hmi
            self.x = (math.floor(self.x / tab + 1e-9) + 1) * tab

    def move(self, key: str, value: str, amount: float) -> None:
        relative = value[:1] in ("+", "-")
        if key == "*pX":
            self.x = (self.x if relative else 0.0) + amount / self.units
        elif key == "*pY":
            self.y = (self.y if relative else 0.0) + amount / self.units
        elif key == "&aH":
            self.x = (self.x if relative else 0.0) + amount / DECIPOINTS
        elif key == "&aV":
            self.y = (self.y if relative else 0.0) + amount / DECIPOINTS
        elif key == "&aC":  # columns of the HMI (approximation: no left margin)
            self.x = (self.x if relative else 0.0) + amount * self.hmi
        elif key == "&aR":  # rows of the VMI; row 0 is the first line (approximation)
            if relative:
                self.y += amount * self.vmi
            else:
                self.y = self.top_margin + (FIRST_LINE + amount) * self.vmi
        elif key == "&fS":  # push (0) / pop (1) the cursor position
            if amount == 0 and len(self.cursor_stack) < MAX_CURSOR_STACK:
                self.cursor_stack.append((self.x, self.y))
            elif amount == 1 and self.cursor_stack:
                self.x, self.y = self.cursor_stack.pop()

    def page_command(self, key: str, value: float) -> None:
        if key in ("&lA", "&lO", "&lH"):
            if key == "&lH" and value == 0:
                return  # "eject page" from the current tray only when not 0
            # Page size, orientation and paper source eject a marked page (PCL5 TRM ch. 5);
            # the first two start a new logical page: margins and cursor go to their defaults.
            self.end_block()
            self.eject(force=False)
            if key == "&lA":
                if int(value) in PAGE_INCHES:
                    self.page_size = int(value)
                else:
                    self.page.note(f"page size {int(value)} unknown: letter assumed")
                    self.page_size = LETTER
            elif key == "&lO":
                self.landscape = int(value) in (1, 3)
            if key != "&lH":
                self.top_margin = DEFAULT_TOP_MARGIN
                self.home()
        elif key == "&lE" and value >= 0:
            self.top_margin = value * self.vmi
        elif key == "&lU":
            self.registration = (value / DECIPOINTS, self.registration[1])
        elif key == "&lZ":
            self.registration = (self.registration[0], value / DECIPOINTS)
        elif key == "&uD" and value > 0:
            self.units = min(max(value, 96.0), 7200.0)
        elif key == "&kH" and value > 0:
            self.hmi = value / 120.0
        elif key == "&lC" and value > 0:
            self.vmi = value / 48.0
        elif key == "&lD" and value > 0:
            self.vmi = 1.0 / value
        elif key == "(sH" and value > 0:
            self.hmi = 1.0 / value

    # -- colour ------------------------------------------------------------------------------

    def colour_command(self, key: str, item: StreamItem) -> None:
        value = item.number
        if key == "*rU":
            fmt = simple_colour(int(value))
            if fmt is None:
                self.page.note(f"simple colour mode {int(value)} unknown: ignored")
            else:
                self.fmt = fmt
        elif key == "*vW":
            configured = configure_image_data(item.payload)
            if configured is None:
                self.page.note("Configure Image Data not supported: " + item.payload[:6].hex())
            else:
                self.fmt = configured
        elif key in ("*vA", "*vB", "*vC"):
            self.component["ABC".index(key[-1])] = value
        elif key == "*vI":
            fmt = self.fmt
            index = int(value)
            if not fmt.fixed and 0 <= index < len(fmt.palette):
                # Components run from 0 to the primaries' white reference (2^bits − 1).
                levels = [
                    min(max(component / maximum, 0.0), 1.0) * 255.0
                    for component, maximum in zip(self.component, fmt.primary_max, strict=True)
                ]
                if fmt.cmy:
                    levels = [255.0 - level for level in levels]
                fmt.palette = fmt.palette.copy()
                fmt.palette[index] = [round(level) for level in levels]
        elif key == "*vN":
            self.source_opaque = value == 1

    # -- raster ------------------------------------------------------------------------------

    def raster_command(self, key: str, item: StreamItem) -> None:
        value = item.number
        block = self.block
        if key == "*rA":
            if block is None:  # ignored in raster graphics (PCL5 TRM)
                self.start_block(int(value) if 0 <= value <= 3 else 0)
        elif key in ("*rB", "*rC"):
            self.end_block()
            if key == "*rC":  # also resets compression and left graphics margin (PCL5 TRM)
                self.compression = 0
                self.graphics_margin = 0.0
        elif key == "*bM":
            mode = int(value)
            if mode in KNOWN_MODES:
                self.compression = mode
            else:
                self.page.note(f"raster compression mode {mode} not supported")
                self.compression = -1
        elif key == "*bY":
            if block is not None and value > 0:
                self.zero_rows(block, int(min(value, 1_000_000)))
        elif block is not None:
            return  # resolution, size and presentation are locked during raster graphics
        elif key == "*tR" and value > 0:
            self.resolution = resolution_from(value)
        elif key == "*rS":
            self.source_width = int(min(value, 1_000_000)) if value > 0 else None
        elif key == "*rT":
            self.source_height = int(min(value, 1_000_000)) if value > 0 else None
        elif key == "*rF":
            self.presentation = 0 if value == 0 else 3
        elif key == "*tH":
            self.destination = (value / DECIPOINTS if value > 0 else None, self.destination[1])
        elif key == "*tV":
            self.destination = (self.destination[0], value / DECIPOINTS if value > 0 else None)

    def start_block(self, mode: int | None) -> RasterBlock | None:
        """ESC*r#A (mode 0–3) or an implicit start (None, a row outside raster graphics)."""
        geometry = self.geometry()
        dpi = geometry.dpi
        if mode is not None:
            # Modes 1 and 3 start at the cursor, 0 and 2 at the logical page's left edge.
            self.graphics_margin = self.x if mode in (1, 3) else 0.0
        if self.landscape and self.presentation == 3:
            self.page.note("landscape raster in presentation mode 3 drawn as mode 0")
        fmt = self.fmt.copy()
        scale_x = scale_y = dpi / self.resolution
        width_set, height_set = self.source_width, self.source_height
        if mode in (2, 3) and width_set and height_set and not fmt.fixed:
            # Raster scaling (PCL5C TRM "Raster Scaling"): to the destination size; one side
            # given scales both alike; none fits the logical page.
            dest_w, dest_h = self.destination
            if dest_w is not None:
                scale_x = dest_w * dpi / width_set
                scale_y = dest_h * dpi / height_set if dest_h is not None else scale_x
            elif dest_h is not None:
                scale_x = scale_y = dest_h * dpi / height_set
            else:
                scale_x = scale_y = min(
                    geometry.logical_width / width_set, geometry.height / height_set
                )
            scale_x = min(max(scale_x, MIN_SCALE), MAX_SCALE)
            scale_y = min(max(scale_y, MIN_SCALE), MAX_SCALE)
        origin_x = round(geometry.logical_left + self.graphics_margin * dpi)
        origin_y = round(geometry.logical_top + self.y * dpi)
        # Rows reach to the physical page's right edge (ghostpdl clips at the printable area;
        # a forensic page shows all the data the page can hold).
        room = max(0, math.ceil((geometry.width - origin_x) / scale_x))
        width = room if width_set is None else min(width_set, room)
        if width_set is not None and width_set > room + dpi / scale_x:  # an inch beyond
            self.page.note(f"raster width {width_set} clipped to the page ({room} pixels)")
        visible = max(0, math.ceil((geometry.height - origin_y) / scale_y))
        if height_set is not None and height_set > visible + 1:
            self.page.note(f"raster height {height_set} clipped to the page ({visible} rows)")
        row_bytes = (width * fmt.bits_per_plane + 7) // 8
        x0 = max(0, origin_x)
        x1 = min(geometry.width, round(origin_x + width * scale_x))
        if scale_x == 1.0:
            columns: np.ndarray | slice = slice(x0 - origin_x, x1 - origin_x)
        else:
            positions = (np.arange(x0, x1) + 0.5 - origin_x) / scale_x
            columns = np.clip(positions.astype(np.int64), 0, max(width - 1, 0))
        self.block = RasterBlock(
            fmt=fmt,
            origin_x=origin_x,
            origin_y=origin_y,
            scale_x=scale_x,
            scale_y=scale_y,
            width=width,
            row_bytes=row_bytes,
            height_limit=height_set,
            visible_rows=visible if width > 0 and x1 > x0 else 0,
            start_y=self.y,
            seeds=[bytearray(row_bytes) for _ in range(fmt.planes)],
            columns=(x0, x1, columns),
            expand=int(scale_x) if scale_x in EXPANDED_SCALES else 1,
        )
        return self.block

    def end_block(self) -> None:
        """ESC*rB/C, or anything that ends raster graphics implicitly (text, cursor moves)."""
        block = self.block
        if block is None:
            return
        self.flush(block)
        self.block = None
        self.y = block.start_y + block.rows_done * block.scale_y / self.geometry().dpi
        self.x = self.graphics_margin

    def transfer(self, item: StreamItem, end_row: bool) -> None:
        """ESC*b#V (a plane) and ESC*b#W (the last plane of a row, or a mode 5 block)."""
        self.page.number_marked = True  # the parser counts a page with rows
        payload = item.payload
        announced = int(item.number) if item.number > 0 else 0
        if len(payload) < announced:
            self.page.complete = False
            self.page.note(
                f"row data at {item.offset} cut short: {len(payload)} of {announced} bytes"
            )
        block = self.block or self.start_block(None)
        assert block is not None
        mode = self.compression
        if mode < 0:
            return  # an unsupported compression mode: rows not drawn (noted)
        if not block.accepts_rows:
            return
        if mode == ADAPTIVE:
            if end_row:
                self.adaptive(block, payload)
            else:
                self.page.note("adaptive compression on a plane (ESC*b#V) ignored")
            return
        if block.plane_index < len(block.seeds):
            DECODERS[mode](block.seeds[block.plane_index], payload)
            block.plane_index += 1
        if end_row:
            self.finish_row(block, mode)

    def finish_row(self, block: RasterBlock, mode: int) -> None:
        """The row is complete: planes not sent are empty rows in ``mode``."""
        for seed in block.seeds[block.plane_index :]:
            if mode not in DELTA_MODES:
                seed[:] = bytes(len(seed))
        block.plane_index = 0
        if block.rows_done < block.visible_rows:
            if not block.batch:
                block.batch_start = block.rows_done
            block.batch.append([bytes(seed) for seed in block.seeds])
            if len(block.batch) >= BATCH_ROWS:
                self.flush(block)
        block.rows_done += 1
        self.rows_since_check += 1
        if self.rows_since_check >= TIME_CHECK_ROWS:
            self.rows_since_check = 0
            if self.limits.expired():
                raise PageDamaged("time limit reached: rendering stopped")

    def adaptive(self, block: RasterBlock, payload: bytes) -> None:
        """Mode 5 (PCL5 TRM "Adaptive Compression"): a block of rows, each a command byte
        (0–3: a row in that mode, 4: empty rows, 5: the seed row repeated) and a two-byte
        count (bytes of the row, or rows)."""
        seed = block.seeds[0]
        pos, end = 0, len(payload)
        while pos + 3 <= end and block.accepts_rows:
            command = payload[pos]
            count = payload[pos + 1] << 8 | payload[pos + 2]
            pos += 3
            if command in DECODERS:
                row = payload[pos : pos + count]
                pos += len(row)
                DECODERS[command](seed, row)
                block.plane_index = 1
                self.finish_row(block, 0)
            elif command == ADAPTIVE_EMPTY_ROWS:
                self.zero_rows(block, count)
            elif command == ADAPTIVE_DUPLICATE_ROWS:
                repeats = count
                if block.height_limit is not None:
                    repeats = min(repeats, block.height_limit - block.rows_done)
                drawn = max(0, min(repeats, block.visible_rows - block.rows_done))
                for _ in range(drawn):
                    block.plane_index = 1
                    self.finish_row(block, 0)
                block.rows_done += repeats - drawn
            else:
                self.page.note(f"adaptive compression command {command} unknown: block ends")
                break
        # Monochrome printers clear the seed row after each block (ghostpdl rtraster.c, from
        # HP printers tested there); colour ones keep it.
        if block.fmt.mono:
            seed[:] = bytes(len(seed))

    def zero_rows(self, block: RasterBlock, count: int) -> None:
        """ESC*b#Y and mode 5 empty rows: rows of zeros, and every seed row cleared."""
        self.flush(block)
        for seed in block.seeds:
            seed[:] = bytes(len(seed))
        block.plane_index = 0
        if block.height_limit is not None:
            count = min(count, block.height_limit - block.rows_done)
        if count <= 0:
            return
        # Nothing is drawn: skipped rows leave the page as it was. ghostpdl fills them with
        # the colour of index 0 where that is not white (black in RGB simple colour), but
        # drivers for RGB devices (gs declj250) skip white rows this way, and a skipped row
        # holds no data to show.
        block.rows_done += count

    # -- drawing -----------------------------------------------------------------------------

    def flush(self, block: RasterBlock) -> None:
        """Draw the batched rows of ``block``."""
        batch = block.batch
        if not batch:
            return
        block.batch = []
        if block.width == 0 or block.row_bytes == 0:
            return
        count = len(batch)
        planes = [
            np.frombuffer(b"".join(row[number] for row in batch), dtype=np.uint8).reshape(
                count, block.row_bytes
            )
            for number in range(len(block.seeds))
        ]
        fmt = block.fmt
        if fmt.mono:
            self.paint_ink(block, block.batch_start, planes[0])
            return
        colours = decode_colours(fmt, planes, block.width)
        if self.source_opaque:
            mask = np.ones(colours.shape[:2], dtype=bool)
        else:  # source transparency: white pixels leave the page as it was
            mask = np.any(colours != 255, axis=2)
        self.paint_colour(block, block.batch_start, colours, mask)

    def canvas(self) -> Canvas:
        page = self.page
        if page.canvas is None:
            page.canvas = Canvas(self.geometry())
        return page.canvas

    def placement(
        self, block: RasterBlock, first_row: int, rows: int
    ) -> tuple[slice, np.ndarray | slice, slice, np.ndarray | slice] | None:
        """Page rows and columns the raster rows first_row… cover, and the source rows and
        columns (of those ``rows``) that each shows (nearest neighbour)."""
        geometry = self.geometry()
        top = round(block.origin_y + first_row * block.scale_y)
        bottom = round(block.origin_y + (first_row + rows) * block.scale_y)
        y0, y1 = max(top, 0), min(bottom, geometry.height)
        x0, x1, columns = block.columns
        if y0 >= y1 or x0 >= x1:
            return None
        if block.scale_y == 1.0:
            source_rows: np.ndarray | slice = slice(y0 - top, y1 - top)
        else:
            positions = (np.arange(y0, y1) + 0.5 - block.origin_y) / block.scale_y - first_row
            source_rows = np.clip(positions.astype(np.int64), 0, rows - 1)
        return slice(y0, y1), source_rows, slice(x0, x1), columns

    def paint_ink(self, block: RasterBlock, first_row: int, packed: np.ndarray) -> None:
        """Draw mono rows (packed bits, 1 = ink): OR-ed into the page, or replacing it where
        the source is opaque (ESC*v1N)."""
        place = self.placement(block, first_row, packed.shape[0])
        if place is None:
            return
        page_rows, source_rows, page_columns, source_columns = place
        canvas = self.canvas()
        if canvas.rgb is not None:
            bits = np.unpackbits(packed, axis=1, count=block.width).view(bool)
            shown = _scaled(bits, source_rows, source_columns)
            target = canvas.rgb[page_rows, page_columns]
            if self.source_opaque:
                target[...] = np.where(shown, np.uint8(0), np.uint8(255))[:, :, None]
            else:
                target[shown] = 0
            return
        assert canvas.ink is not None
        x0, x1 = page_columns.start, page_columns.stop
        # Columns are placed on the distinct raster rows, then rows are repeated as bytes.
        if block.expand > 1:  # page column x shows raster column (x − origin) // expand
            start = x0 - round(block.origin_x)
            wide = expand_bits(packed, block.expand)
            line = placed_bits(wide, wide.shape[1] * 8, slice(start, None), x0, x1)
        else:
            line = placed_bits(packed, block.width, source_columns, x0, x1)
        shown = _rows(line, source_rows)
        target = canvas.ink[page_rows, x0 // 8 : (x1 - 1) // 8 + 1]
        if self.source_opaque:
            target &= ~_edge_mask(x0, x1)
        target |= shown

    def paint_colour(
        self, block: RasterBlock, first_row: int, colours: np.ndarray, mask: np.ndarray
    ) -> None:
        place = self.placement(block, first_row, colours.shape[0])
        if place is None:
            return
        page_rows, source_rows, page_columns, source_columns = place
        shown_mask = _scaled(mask, source_rows, source_columns)
        if not shown_mask.any():
            return
        shown = _scaled(colours, source_rows, source_columns)
        target = self.canvas().to_rgb()[page_rows, page_columns]
        target[shown_mask] = shown[shown_mask]

    # -- pages -------------------------------------------------------------------------------

    def eject(self, force: bool) -> None:
        """Close the page: counted as the parser counts it (marked, or a form feed), yielded
        when raster was drawn on it."""
        page = self.page
        if page.number_marked or force:
            self.page_count += 1
        if page.canvas is not None and (page.number_marked or force):
            if page.has_text:
                page.note("the page's text is not drawn (the parser reads it)")
            self.finished.append(
                page.canvas.page(self.page_count, "pcl5", page.complete, list(page.notes))
            )
        self.page = PageState()
        self.home()

    def stop(self, reason: str) -> None:
        """Rendering cannot go on: the page so far is kept, incomplete."""
        self.page.complete = False
        self.page.note(reason)
        if self.block is not None:
            self.flush(self.block)
            self.block = None
        self.eject(force=False)


RASTER_KEYS = frozenset(
    ("*rA", "*rB", "*rC", "*bM", "*bY", "*tR", "*rS", "*rT", "*rF", "*tH", "*tV")
)
CURSOR_KEYS = frozenset(("*pX", "*pY", "&aH", "&aV", "&aC", "&aR", "&fS"))
PAGE_KEYS = frozenset(("&lA", "&lO", "&lH", "&lE", "&lU", "&lZ", "&uD", "&kH", "&lC", "&lD", "(sH"))
COLOUR_KEYS = frozenset(("*rU", "*vW", "*vA", "*vB", "*vC", "*vI", "*vN"))
DECODE_ERRORS = (ValueError, IndexError, OverflowError, MemoryError)


def pcl_start(data: bytes) -> int:
    """Where the PCL stream starts: at 0 for the parser's payload; a PJL header in front (a
    whole printer file handed over) is skipped up to its ENTER LANGUAGE line."""
    head = data[:MAX_PJL_HEADER]
    if not (head.startswith(UEL) or head.startswith(b"@PJL")):
        return 0
    enter = PJL_ENTER.search(head)
    if enter is None:
        raise RenderError("PJL job without ENTER LANGUAGE: no PCL stream found")
    return enter.end()


class Pcl5Renderer(PageRenderer):
    name = "pcl5"
    formats = ("pcl5",)

    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        start = pcl_start(data)
        interpreter = Interpreter(limits)
        stopped: str | None = None
        try:
            yield from interpreter.run(data[start:] if start else data)
        except PageDamaged as error:
            stopped = str(error)
        except DECODE_ERRORS as error:
            log.debug("PCL 5 rendering stopped", exc_info=True)
            stopped = f"rendering stopped: {type(error).__name__}: {error}"
        if stopped is not None:
            interpreter.stop(stopped)
            yield from interpreter.finished
