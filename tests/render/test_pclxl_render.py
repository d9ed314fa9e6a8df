"""The PCL XL renderer (forensics/render/pclxl.py).

Page content comes from a real producer: Ghostscript's ``pxlmono`` and ``pxlcolor`` devices print
a PostScript page, the renderer draws the PCL XL they write, and the result is compared with
Ghostscript's own rendering of the same PostScript (``pnggray``/``png16m`` at the same 300 dpi)
and read back with Tesseract. Edge cases the devices never write (4-bit palettes, raster
patterns, delta rows that overrun, hostile sizes) are built token by token from the Feature
Reference (PCL XL FR §5 binary stream syntax) with the small writer below.
"""

from __future__ import annotations

import io
import re
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fixtures.tools import ghostscript as run_ghostscript
from forensics.render.base import RenderedPage, RenderLimits, render_pages
from tests.render.cost import measured

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
UEL = b"\x1b%-12345X"

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript (make setup)")

# A gray ramp image: 16 × 8 samples, 0x00…0xF0 then 0x0F…0xFF, repeated.
RAMP = "00102030405060708090a0b0c0d0e0f0 0f1f2f3f4f5f6f7f8f9fafbfcfdfefff " * 4
PAGE = f"""%!PS
/Helvetica findfont 14 scalefont setfont
72 700 moveto ({SENTENCE}) show
gsave 100 400 translate 200 100 scale
16 8 8 [16 0 0 -8 0 8] {{<{RAMP}>}} image
grestore
1 0 0 setrgbcolor 72 200 200 50 rectfill
72 150 moveto (Red text here) show
showpage
"""
# Three pages, each with its own line (the page count and page order are checked).
MULTI_PAGE = "%!PS\n/Helvetica findfont 14 scalefont setfont\n" + "".join(
    f"72 700 moveto (Page {n} of the referral letter) show showpage\n" for n in (1, 2, 3)
)
# A colour image (64 × 64 RGB ramps) and a gray 8 × 8 image with long runs, for the
# compression modes: CompressMode 1 = RLE, 2 = JPEG, 3 = delta row (gdevpx.c).
IMAGES = """%!PS
gsave 72 300 translate 400 300 scale
/s 192 string def
64 64 8 [64 0 0 -64 0 64] { 0 1 63 { dup 3 mul s exch 2 index 4 mul 255 and put
  dup 3 mul 1 add s exch 2 index 7 mul 255 and put 3 mul 2 add s exch 128 put } for s }
false 3 colorimage
grestore
gsave 72 100 translate 200 100 scale
8 8 8 [8 0 0 -8 0 8] {<000000000000000000000000ffffffffffffffffffffffff
00000000000000000000000000000000000000000000000000000000000000000000000000000000>} image
grestore
showpage
"""
# The same for the gray device, with gray images only (gs's pxlmono converts colour images to
# gray its own way, not as pnggray does; JPEG it writes for colour images only).
GRAY_IMAGES = """%!PS
gsave 72 300 translate 400 300 scale
/s 64 string def
64 64 8 [64 0 0 -64 0 64] { 0 1 63 { s exch dup 16 idiv 60 mul 255 and put } for s } image
grestore
gsave 72 100 translate 200 100 scale
8 8 8 [8 0 0 -8 0 8] {<000000000000000000000000ffffffffffffffffffffffff
00000000000000000000000000000000000000000000000000000000000000000000000000000000>} image
grestore
showpage
"""


def ghostscript(device: str, source: str, folder: Path, *extra: str) -> bytes:
    return run_ghostscript(device, source, folder, "-r300", *extra)


def payload(stream: bytes) -> bytes:
    """The PCL XL job as the PJL parser hands it on: from the stream header to the UEL."""
    start = stream.index(b") HP-PCL XL;")
    end = stream.find(UEL, start)
    return stream[start : end if end >= 0 else len(stream)]


def render(data: bytes, limits: RenderLimits | None = None) -> tuple[list[RenderedPage], list[str]]:
    return render_pages("pclxl", data, limits)


def gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.int16)


def common(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both pages cut to their common size (gs rounds A4 to 2479 × 3508 dots at 300 dpi, the
    PCL XL media table says 2480 × 3507)."""
    rows, cols = min(first.shape[0], second.shape[0]), min(first.shape[1], second.shape[1])
    return first[:rows, :cols], second[:rows, :cols]


def ink_iou(ours: Image.Image, reference: Image.Image) -> float:
    """Intersection over union of the ink (pixels darker than mid-gray) of two pages.

    Ghostscript rasterises the glyphs itself before writing them as PCL XL bitmap characters,
    so a faithful rendering matches its own rendering almost pixel for pixel; IoU of the ink
    (not the fraction of matching pixels, which a blank page would pass at 98 %) is the strict
    measure. 0.95 leaves room for one-pixel rounding of glyph positions and image edges and
    still fails on a shifted, scaled, missing or mirrored line of text."""
    a, b = common(gray(ours) < 128, gray(reference) < 128)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def ocr(image: Image.Image, tmp_path: Path) -> str:
    path = tmp_path / "ocr.png"
    image.save(path)
    result = subprocess.run(
        ["tesseract", str(path), "-", "--psm", "6"], capture_output=True, timeout=120, check=True
    )
    return re.sub(r"\s+", " ", result.stdout.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def gs_jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if shutil.which("gs") is None:
        pytest.skip("Ghostscript is needed (make setup)")
    folder = tmp_path_factory.mktemp("pxl")
    jobs = {
        "mono": ghostscript("pxlmono", PAGE, folder),
        "color": ghostscript("pxlcolor", PAGE, folder),
        "multi": ghostscript("pxlmono", MULTI_PAGE, folder),
        "ref-gray": ghostscript("pnggray", PAGE, folder),
        "ref-rgb": ghostscript("png16m", PAGE, folder),
        "multi-ref": ghostscript("pnggray", MULTI_PAGE, folder, "-dFirstPage=2", "-dLastPage=2"),
        "images-ref-rgb": ghostscript("png16m", IMAGES, folder),
        "images-ref-gray": ghostscript("pnggray", GRAY_IMAGES, folder),
    }
    for mode in (1, 2, 3):
        for device, source in (("pxlmono", GRAY_IMAGES), ("pxlcolor", IMAGES)):
            jobs[f"images-{device}-{mode}"] = ghostscript(
                device, source, folder, f"-dCompressMode={mode}"
            )
    return jobs


def png(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# -- real producers -----------------------------------------------------------------------------


def test_pxlmono_page_matches_ghostscript(gs_jobs: dict[str, bytes]) -> None:
    pages, notes = render(payload(gs_jobs["mono"]))
    assert notes == [] and len(pages) == 1
    page = pages[0]
    assert page.complete and page.notes == [], page.notes
    assert page.number == 1 and page.renderer == "pclxl"
    assert page.dpi == (300.0, 300.0)
    assert page.image.mode == "L"  # a gray device's page stays gray
    assert page.image.size == (2480, 3507)  # A4 at 300 dpi (gs's default paper here)
    assert ink_iou(page.image, png(gs_jobs["ref-gray"])) >= 0.95


def test_pxlmono_gray_image_levels(gs_jobs: dict[str, bytes]) -> None:
    """The ramp image keeps its gray levels (an 8-bit indexed image with a gray palette)."""
    page = render(payload(gs_jobs["mono"]))[0][0]
    ours, reference = common(gray(page.image), gray(png(gs_jobs["ref-gray"])))
    # The image sits at 100…300 × 400…500 pt: rows 1417…1833, columns 417…1250 at 300 dpi.
    window = (slice(1430, 1820), slice(430, 1240))
    assert np.abs(ours[window] - reference[window]).mean() < 2.0
    assert ours[window].min() < 20 and ours[window].max() > 235


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr (make setup)")
def test_pxlmono_page_reads_back_with_ocr(gs_jobs: dict[str, bytes], tmp_path: Path) -> None:
    page = render(payload(gs_jobs["mono"]))[0][0]
    # The sentence's band of the page: Tesseract's single-block mode on the whole page would
    # also try to read the gray ramp as text.
    band = page.image.crop((0, 500, page.image.width, 700))
    text = ocr(band, tmp_path)
    assert SENTENCE in text, text


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr (make setup)")
def test_whole_pxlmono_page_ocr_finds_the_ssn(gs_jobs: dict[str, bytes], tmp_path: Path) -> None:
    page = render(payload(gs_jobs["mono"]))[0][0]
    text = ocr(page.image, tmp_path)
    assert "536-22-8714" in text and "Jane Example" in text, text


def test_pxlcolor_page_is_rgb_and_red_stays_red(gs_jobs: dict[str, bytes]) -> None:
    pages, notes = render(payload(gs_jobs["color"]))
    assert notes == [] and len(pages) == 1 and pages[0].complete
    image = pages[0].image
    assert image.mode == "RGB"
    pixels = np.asarray(image, dtype=np.int16)
    # The red rectangle: 72…272 × 200…250 pt → columns 300…1133, rows 2467…2675.
    assert tuple(pixels[2570, 700]) == (255, 0, 0)
    # "Red text here" at 72,150 pt: its ink (rows 2800…2890) is red, none of it black or gray.
    band = pixels[2800:2890, 290:700]
    ink = band[np.any(band < 200, axis=2)]
    assert len(ink) > 500
    assert np.all(ink[:, 0] > 200) and np.all(ink[:, 1] < 60) and np.all(ink[:, 2] < 60)
    # And the whole page agrees with Ghostscript's own colour rendering.
    ours, reference = common(pixels, np.asarray(png(gs_jobs["ref-rgb"]).convert("RGB"), np.int16))
    differing = np.abs(ours - reference).max(axis=2) > 64
    assert differing.mean() < 0.001


def test_multi_page_job(gs_jobs: dict[str, bytes]) -> None:
    pages, notes = render(payload(gs_jobs["multi"]))
    assert notes == []
    assert [page.number for page in pages] == [1, 2, 3]
    assert all(page.complete and page.has_ink() for page in pages)
    assert ink_iou(pages[1].image, png(gs_jobs["multi-ref"])) >= 0.95
    # Each page has its own line: page 1 and page 2 differ only in the digit.
    first, second = gray(pages[0].image) < 128, gray(pages[1].image) < 128
    assert 0 < np.logical_xor(first, second).sum() < 0.2 * first.sum()


@pytest.mark.parametrize("mode", [1, 2, 3], ids=["rle", "jpeg", "delta-row"])
@pytest.mark.parametrize("device", ["pxlmono", "pxlcolor"])
def test_image_compression_modes(gs_jobs: dict[str, bytes], device: str, mode: int) -> None:
    """gs writes each image with the CompressMode asked for where it saves bytes (gdevpx.c;
    JPEG for colour images only, RLE in its place for gray); every mode decodes to
    Ghostscript's own rendering (JPEG within its loss)."""
    job = payload(gs_jobs[f"images-{device}-{mode}"])
    pages, notes = render(job)
    assert notes == [] and len(pages) == 1 and pages[0].complete, pages[0].notes
    if device == "pxlcolor":
        ours = np.asarray(pages[0].image.convert("RGB"), np.int16)
        reference = np.asarray(png(gs_jobs["images-ref-rgb"]).convert("RGB"), np.int16)
    else:
        ours, reference = gray(pages[0].image), gray(png(gs_jobs["images-ref-gray"]))
    ours, reference = common(ours, reference)
    assert np.abs(ours - reference).mean() < (1.0 if mode != 2 else 2.0)


def test_compression_modes_are_really_used(gs_jobs: dict[str, bytes]) -> None:
    """The test above covers the decoders only if gs used them: ReadImage's CompressMode
    attribute (0xC0 mode 0xF8 0x65) is in the streams."""
    for mode in (1, 2, 3):
        assert bytes([0xC0, mode, 0xF8, 0x65]) in gs_jobs[f"images-pxlcolor-{mode}"]
    for mode in (1, 3):
        assert bytes([0xC0, mode, 0xF8, 0x65]) in gs_jobs[f"images-pxlmono-{mode}"]


def test_pjl_wrapped_job_renders_the_same(gs_jobs: dict[str, bytes]) -> None:
    whole = gs_jobs["mono"]  # UEL, @PJL lines, ENTER LANGUAGE, the stream, UEL
    assert whole.startswith(UEL)
    wrapped, _ = render(whole)
    bare, _ = render(payload(whole))
    assert len(wrapped) == 1
    assert np.array_equal(np.asarray(wrapped[0].image), np.asarray(bare[0].image))


def test_truncated_job_gives_a_partial_page(gs_jobs: dict[str, bytes]) -> None:
    job = payload(gs_jobs["mono"])
    # Cut inside the ramp image's data block: the text before it is drawn, the page is partial.
    image_data = job.index(bytes([0x65, 0xB1])) + 2  # CompressMode attribute, ReadImage
    cut = job[: image_data + 64]
    started = time.monotonic()
    pages, notes = render(cut)
    assert time.monotonic() - started < 5
    assert notes == [] and len(pages) == 1
    page = pages[0]
    assert not page.complete and page.notes
    assert page.has_ink()
    text_rows = gray(page.image)[540:620] < 128
    assert text_rows.sum() > 1000  # the sentence was drawn before the cut


# -- a PCL XL token writer (PCL XL FR §5: data types, attribute ids, operators, data blocks) ------


class Xl:
    def __init__(self, big_endian: bool = False, units: int = 300) -> None:
        self.order = ">" if big_endian else "<"
        binding = b"(" if big_endian else b")"
        self.out = bytearray(binding + b" HP-PCL XL;2;1;Comment test writer\n")
        self.xy(units, units, 137).ubyte(0, 134).ubyte(0, 143).op(0x41)  # BeginSession
        self.ubyte(0, 136).ubyte(1, 130).op(0x48)  # OpenDataSource

    def pack(self, fmt: str, *values: float) -> bytes:
        return struct.pack(self.order + fmt, *values)

    def attr(self, attr: int) -> Xl:
        self.out += bytes([0xF8, attr])
        return self

    def ubyte(self, value: int, attr: int) -> Xl:
        self.out += bytes([0xC0, value])
        return self.attr(attr)

    def uint16(self, value: int, attr: int) -> Xl:
        self.out += b"\xc1" + self.pack("H", value)
        return self.attr(attr)

    def real32(self, value: float, attr: int) -> Xl:
        self.out += b"\xc5" + self.pack("f", value)
        return self.attr(attr)

    def xy(self, x: int, y: int, attr: int) -> Xl:
        self.out += b"\xd3" + self.pack("hh", x, y)  # sint16 pair
        return self.attr(attr)

    def real_xy(self, x: float, y: float, attr: int) -> Xl:
        self.out += b"\xd5" + self.pack("ff", x, y)
        return self.attr(attr)

    def box(self, x1: int, y1: int, x2: int, y2: int, attr: int) -> Xl:
        self.out += b"\xe3" + self.pack("hhhh", x1, y1, x2, y2)
        return self.attr(attr)

    def ubytes(self, raw: bytes, attr: int) -> Xl:
        self.out += b"\xc8\xc1" + self.pack("H", len(raw)) + raw
        return self.attr(attr)

    def sint16s(self, values: list[int], attr: int) -> Xl:
        body = b"".join(self.pack("h", v) for v in values)
        self.out += b"\xcb\xc1" + self.pack("H", len(values)) + body
        return self.attr(attr)

    def op(self, tag: int) -> Xl:
        self.out.append(tag)
        return self

    def data(self, raw: bytes) -> Xl:
        self.out += b"\xfa" + self.pack("I", len(raw)) + raw
        return self

    # -- composite operations --

    def begin_page(self, media: int = 0, orientation: int = 0) -> Xl:
        return self.ubyte(orientation, 40).ubyte(media, 37).op(0x43)

    def custom_page(self, width: float, height: float) -> Xl:
        """CustomMediaSize in inches (CustomMediaSizeUnits eInch)."""
        return self.ubyte(0, 40).real_xy(width, height, 47).ubyte(0, 48).op(0x43)

    def end_page(self) -> Xl:
        return self.uint16(1, 49).op(0x44)

    def cursor(self, x: int, y: int) -> Xl:
        return self.xy(x, y, 76).op(0x6B)

    def gray_brush(self, level: int) -> Xl:
        return self.ubyte(level, 9).op(0x63)

    def rgb_brush(self, rgb: bytes) -> Xl:
        return self.ubytes(rgb, 11).op(0x63)

    def color_space(self, space: int, palette: bytes | None = None, depth: int = 2) -> Xl:
        self.ubyte(space, 3)
        if palette is not None:
            self.ubyte(depth, 2).ubytes(palette, 6)
        return self.op(0x6A)

    def image(
        self,
        width: int,
        height: int,
        destination: tuple[int, int],
        blocks: list[tuple[int, int, bytes]],
        depth: int = 2,
        indexed: bool = False,
        compression: int = 0,
    ) -> Xl:
        """BeginImage, one ReadImage per (start line, block height, data), EndImage."""
        self.ubyte(depth, 98).ubyte(1 if indexed else 0, 100)
        self.uint16(width, 108).uint16(height, 107).xy(*destination, 103).op(0xB0)
        for start, rows, raw in blocks:
            self.uint16(start, 109).uint16(rows, 99).ubyte(compression, 101).op(0xB1).data(raw)
        return self.op(0xB2)

    def rectangle(self, x1: int, y1: int, x2: int, y2: int) -> Xl:
        return self.box(x1, y1, x2, y2, 66).op(0xA0)

    def null_pen(self) -> Xl:
        return self.ubyte(0, 5).op(0x79)

    def bitmap_font(self, name: bytes, resolution: int = 300) -> Xl:
        """A format 0 bitmap font header (PCL XL FR "Font Header Format"): descriptor, "BR"
        segment (resolution), null segment; big-endian whatever the stream's binding."""
        header = struct.pack(">BBHBBH", 0, 0, 590, 254, 0, 1)
        header += b"BR" + struct.pack(">I", 4) + struct.pack(">HH", resolution, resolution)
        header += b"\xff\xff" + struct.pack(">I", 0)
        self.ubytes(name, 168).ubyte(0, 169).op(0x4F)
        self.uint16(len(header), 167).op(0x50).data(header)
        return self.op(0x51)

    def bitmap_char(self, name: bytes, code: int, rows: list[str], left: int, top: int) -> Xl:
        """A format 0 class 0 character: box (big-endian), then rows of '#'/'.' as bits."""
        width = len(rows[0])
        body = b"".join(
            int(row.replace("#", "1").replace(".", "0").ljust(-(-width // 8) * 8, "0"), 2).to_bytes(
                -(-width // 8), "big"
            )
            for row in rows
        )
        char = struct.pack(">BBhhHH", 0, 0, left, top, width, len(rows)) + body
        self.ubytes(name, 168).op(0x52)
        self.uint16(code, 162).uint16(len(char), 163).op(0x53).data(char)
        return self.op(0x54)

    def set_font(self, name: bytes) -> Xl:
        return self.ubytes(name, 168).real32(1.0, 166).uint16(590, 170).op(0x6F)

    def text(self, codes: bytes, spacing: list[int] | None = None) -> Xl:
        self.ubytes(codes, 171)
        if spacing is not None:
            self.sint16s(spacing, 175)
        return self.op(0xA8)

    def end(self) -> bytes:
        self.op(0x49).op(0x42)  # CloseDataSource, EndSession
        return bytes(self.out)


def small_page() -> Xl:
    """A 1 × 1 inch page at 300 units per inch (300 × 300 pixels)."""
    return Xl().custom_page(1.0, 1.0)


def pixels_of(data: bytes) -> tuple[np.ndarray, RenderedPage]:
    pages, notes = render(data)
    assert notes == [] and len(pages) == 1, notes
    return np.asarray(pages[0].image), pages[0]


# -- images built from the spec -----------------------------------------------------------------


def test_indexed_4_bit_rgb_palette_image() -> None:
    """4-bit indexed pixels through an RGB palette; rows padded to 4 bytes (PCL XL FR
    "ReadImage": default PadBytesMultiple 4)."""
    palette = bytes([255, 255, 255, 255, 0, 0, 0, 0, 255]) + bytes(3 * 13)  # white, red, blue
    xl = small_page().color_space(2, palette, depth=1)
    rows = bytes([0x01, 0x20, 0, 0]) * 2  # pixels 0 1 2 0 per row, 2 pad bytes
    xl.cursor(100, 100).image(4, 2, (40, 20), [(0, 2, rows)], depth=1, indexed=True)
    pixels, page = pixels_of(xl.end_page().end())
    assert page.image.mode == "RGB"
    assert tuple(pixels[105, 105]) == (255, 255, 255)
    assert tuple(pixels[105, 115]) == (255, 0, 0)  # 10 units per source pixel
    assert tuple(pixels[115, 125]) == (0, 0, 255)
    assert tuple(pixels[115, 135]) == (255, 255, 255)


def test_direct_1_bit_gray_image_and_block_start_lines() -> None:
    """1-bit direct gray (0 = black), two blocks placed by StartLine."""
    xl = small_page().cursor(0, 0)
    first = bytes([0b10101010, 0, 0, 0])  # a row: black at odd columns
    second = bytes([0x00, 0, 0, 0])  # all black
    xl.image(8, 2, (80, 20), [(1, 1, second), (0, 1, first)], depth=0)
    pixels, _ = pixels_of(xl.end_page().end())
    assert pixels[5, 5] == 255 and pixels[5, 15] == 0  # row 0: white, black, …
    assert np.all(pixels[15, :80] == 0)  # row 1 drawn although its block came first
    assert np.all(pixels[25:, :] == 255)


def test_rle_runs_cross_rows() -> None:
    """RLECompression is one PackBits stream over the block: a repeat run may span rows."""
    xl = small_page().cursor(0, 0)
    # 4 × 2 8-bit gray, 4 bytes per row: 6 × 0x00 then a literal 0x80 0xFF.
    rle = bytes([256 - 5, 0x00, 1, 0x80, 0xFF])
    xl.image(4, 2, (4, 2), [(0, 2, rle)], compression=1)
    pixels, _ = pixels_of(xl.end_page().end())
    assert list(pixels[0, :4]) == [0, 0, 0, 0]
    assert list(pixels[1, :4]) == [0, 0, 0x80, 0xFF]


def test_delta_row_overrun_and_repeat() -> None:
    """Delta row (PCL XL FR 2.1): the seed row starts as zeros; a command whose bytes run past
    the row's end keeps what fits; a byte count of 0 repeats the row."""
    xl = small_page().cursor(0, 0)
    row_1 = bytes([0xE0 | 2]) + b"\xff" * 8  # 8 bytes at offset 2 of a 4-byte row
    data = struct.pack("<H", len(row_1)) + row_1  # row 0: 00 00 FF FF
    data += struct.pack("<H", 0)  # row 1: the same
    data += struct.pack("<H", 2) + bytes([0x00, 0x80])  # row 2: first byte → 0x80
    xl.image(4, 3, (4, 3), [(0, 3, data)], compression=3)
    pages, _ = render(xl.end_page().end())
    pixels = np.asarray(pages[0].image)
    assert list(pixels[0, :4]) == [0, 0, 255, 255]
    assert list(pixels[1, :4]) == [0, 0, 255, 255]
    assert list(pixels[2, :4]) == [0x80, 0, 255, 255]
    assert any("past the end of the row" in note for note in pages[0].notes)


def test_jpeg_block_from_pillow() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 8), (0, 160, 0)).save(buffer, "JPEG", quality=95)
    xl = small_page().color_space(2).cursor(10, 10)
    xl.image(16, 8, (160, 80), [(0, 8, buffer.getvalue())], compression=2)
    pixels, page = pixels_of(xl.end_page().end())
    assert page.image.mode == "RGB"
    red, green, blue = (int(v) for v in pixels[50, 90])
    assert red < 20 and 140 < green < 180 and blue < 20


def test_image_far_wider_than_the_page_is_clipped_cheaply() -> None:
    """A row (and its destination) far longer than the page: drawn up to the page's edge."""
    xl = small_page().cursor(0, 0)
    xl.image(2000, 2, (30000, 20), [(0, 2, bytes(2000 * 2))])
    started = time.monotonic()
    pixels, page = pixels_of(xl.end_page().end())
    assert time.monotonic() - started < 2
    assert page.image.size == (300, 300)
    assert np.all(pixels[:20, :] == 0) and np.all(pixels[20:, :] == 255)


def test_image_rows_beyond_the_data_mark_the_page_incomplete() -> None:
    xl = small_page().cursor(0, 0)
    xl.image(8, 10, (8, 10), [(0, 10, bytes(8 * 3))])  # 3 of 10 rows sent
    pixels, page = pixels_of(xl.end_page().end())
    assert not page.complete
    assert np.all(pixels[:3, :8] == 0) and np.all(pixels[3:10, :8] == 255)


# -- fonts, text, fills -------------------------------------------------------------------------

GLYPH_I = ["###", ".#.", ".#.", "###"]


def test_bitmap_font_text_with_spacing() -> None:
    """Glyphs land at the cursor + left offset, top offset above it (PCL XL FR "Bitmap
    Character Format"); XSpacingData advances the cursor between characters."""
    xl = small_page().bitmap_font(b"F1").bitmap_char(b"F1", 0x49, GLYPH_I, left=1, top=3)
    xl.set_font(b"F1").cursor(50, 100).text(b"II", spacing=[10, 10])
    pixels, page = pixels_of(xl.end_page().end())
    ink = np.argwhere(pixels < 128)
    assert page.notes == []
    assert ink[:, 0].min() == 97 and ink[:, 0].max() == 100  # rows 100 − 3 … 100
    assert sorted(set(ink[:, 1].tolist())) == [51, 52, 53, 61, 62, 63]


def test_bitmap_font_at_another_resolution_is_scaled() -> None:
    """A 150 dpi font on a 300 dpi page is drawn twice as large (ghostpdl pxfont.c scales
    bitmaps to the device, disregarding CharSize)."""
    xl = small_page().bitmap_font(b"F2", resolution=150)
    xl.bitmap_char(b"F2", 0x49, GLYPH_I, left=0, top=0).set_font(b"F2").cursor(10, 10)
    pixels, _ = pixels_of(xl.text(b"I", spacing=[0]).end_page().end())
    ink = np.argwhere(pixels < 128)
    assert (ink[:, 0].min(), ink[:, 0].max()) == (10, 17)
    assert (ink[:, 1].min(), ink[:, 1].max()) == (10, 15)


def test_colour_text_uses_the_brush() -> None:
    xl = small_page().bitmap_font(b"F3").bitmap_char(b"F3", 65, GLYPH_I, left=0, top=0)
    xl.color_space(2).rgb_brush(bytes([0, 0, 255])).set_font(b"F3").cursor(20, 20)
    pixels, page = pixels_of(xl.text(b"A", spacing=[4]).end_page().end())
    assert page.image.mode == "RGB" and tuple(pixels[20, 20]) == (0, 0, 255)


def test_resident_font_text_is_noted_not_drawn() -> None:
    xl = small_page().set_font(b"Courier         ").cursor(20, 50).text(b"hello")
    pixels, page = pixels_of(xl.end_page().end())
    assert page.complete and np.all(pixels == 255)
    assert any("printer-resident" in note and "Courier" in note for note in page.notes)


def test_rectangle_ellipse_and_path_fills() -> None:
    xl = small_page().null_pen().gray_brush(0).rectangle(10, 10, 50, 30)
    xl.box(100, 100, 200, 200, 66).op(0x98)  # Ellipse
    # A triangle path: NewPath, SetCursor, LinePath with embedded sint16 points, PaintPath.
    xl.op(0x85).cursor(200, 20)
    points = struct.pack("<hhhh", 280, 20, 240, 90)
    xl.uint16(2, 77).ubyte(3, 80).op(0x9B).data(points).op(0x86)
    pixels, _ = pixels_of(xl.end_page().end())
    assert np.all(pixels[10:30, 10:50] == 0) and pixels[35, 30] == 255
    assert pixels[150, 150] == 0 and pixels[105, 105] == 255  # ellipse centre in, corner out
    assert pixels[40, 240] == 0 and pixels[80, 210] == 255  # inside / outside the triangle


def test_raster_pattern_brush() -> None:
    """BeginRastPattern … EndRastPattern, then SetBrushSource PatternSelectID: a 2 × 2
    checkerboard of 8-bit gray tiled over a rectangle at its DestinationSize."""
    xl = small_page().ubyte(2, 98).ubyte(0, 100).uint16(2, 108).uint16(2, 107)
    xl.xy(20, 20, 103).uint16(7, 105).ubyte(0, 104).op(0xB3)  # BeginRastPattern, id 7
    xl.uint16(0, 109).uint16(2, 99).ubyte(0, 101).op(0xB4).data(bytes([0, 255, 0, 0, 255, 0, 0, 0]))
    xl.op(0xB5).null_pen().uint16(7, 8).op(0x63).rectangle(0, 0, 40, 40)
    pixels, _ = pixels_of(xl.end_page().end())
    assert pixels[5, 5] == 0 and pixels[5, 15] == 255 and pixels[15, 5] == 255
    assert pixels[15, 15] == 0 and pixels[25, 25] == 0 and pixels[25, 35] == 255


def test_page_scale_and_gstate_stack() -> None:
    xl = small_page().null_pen().op(0x61)  # PushGS
    xl.real_xy(2.0, 2.0, 43).op(0x77).rectangle(0, 0, 10, 10)  # SetPageScale ×2
    xl.op(0x60).rectangle(100, 100, 110, 110)  # PopGS: scale 1 again
    pixels, _ = pixels_of(xl.end_page().end())
    assert pixels[19, 19] == 0 and pixels[21, 21] == 255
    assert pixels[109, 109] == 0 and pixels[111, 111] == 255


def test_landscape_page_is_wider_than_high() -> None:
    xl = Xl().begin_page(media=0, orientation=1)
    _, page = pixels_of(xl.end_page().end())
    assert page.image.size == (3300, 2550)
    assert any("landscape" in note for note in page.notes)


def test_big_endian_binding() -> None:
    xl = Xl(big_endian=True).custom_page(1.0, 1.0).null_pen().rectangle(10, 10, 20, 20)
    pixels, _ = pixels_of(xl.end_page().end())
    assert pixels[15, 15] == 0 and pixels[25, 25] == 255


def test_unsupported_vector_graphics_noted_once() -> None:
    xl = small_page().box(0, 0, 50, 50, 66).op(0x9E).box(0, 0, 50, 50, 66).op(0x9E)  # Pie × 2
    _, page = pixels_of(xl.end_page().end())
    assert page.notes.count("vector graphics not drawn: pie segments") == 1


# -- hostile input ------------------------------------------------------------------------------


def test_huge_page_header_is_refused_before_allocation() -> None:
    data = Xl().custom_page(100000.0, 100000.0).end_page().end()
    render(b"")  # the renderer modules are imported once, outside the measurement
    (pages, notes), elapsed, peak = measured(lambda: render(data))
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024
    assert pages == [] and any("exceeds" in note for note in notes), notes


def test_huge_page_after_a_good_one_keeps_the_good_one() -> None:
    xl = small_page().null_pen().rectangle(0, 0, 10, 10).end_page()
    pages, notes = render(xl.custom_page(100000.0, 100000.0).end_page().end())
    assert len(pages) == 1 and pages[0].has_ink()
    assert any("exceeds" in note for note in notes)


def test_huge_image_header_is_not_drawn() -> None:
    xl = small_page().cursor(0, 0)
    xl.image(65535, 65535, (300, 300), [(0, 65535, bytes([0x00, 0x00]) * 4)], compression=3)
    started = time.monotonic()
    _, page = pixels_of(xl.end_page().end())
    assert time.monotonic() - started < 2
    assert any("pixel limit" in note for note in page.notes)


def test_delta_rows_repeated_without_data_are_bounded() -> None:
    """A delta-row block of 7000 rows × 16000 bytes (112 M pixels, just inside the pixel limit)
    from 14 KB of zero byte counts, an expansion of 8000×, draws in bounded time and memory:
    the rows are decoded and drawn in chunks."""
    xl = small_page().cursor(0, 0)
    xl.image(16000, 7000, (300, 300), [(0, 7000, bytes(2 * 7000))], compression=3)
    data = xl.end_page().end()
    (pixels, page), elapsed, peak = measured(lambda: pixels_of(data))
    assert elapsed < 20
    assert peak < 64 * 1024 * 1024
    assert page.complete and np.all(pixels == 0)  # zero seed rows: black gray pixels


def test_ascii_binding_is_not_rendered() -> None:
    pages, notes = render(b"' HP-PCL XL;2;0;\nBeginSession\n")
    assert pages == [] and any("ASCII" in note for note in notes)


def test_not_pclxl() -> None:
    pages, notes = render(b"%!PS-Adobe-3.0\n")
    assert pages == [] and notes and "not rendered" in notes[0]


def test_stream_without_pages() -> None:
    pages, notes = render(Xl().end())
    assert pages == [] and any("no pages" in note for note in notes)


def test_page_without_end_page_is_partial() -> None:
    xl = small_page().null_pen().rectangle(0, 0, 10, 10)
    pages, _ = render(bytes(xl.out))
    assert len(pages) == 1 and not pages[0].complete and pages[0].has_ink()
    assert any("no EndPage" in note for note in pages[0].notes)


def test_exec_stream_runs_a_user_defined_stream_once_per_call() -> None:
    body = Xl()
    body.out = bytearray(b") HP-PCL XL;2;1;\n")
    body.null_pen().rectangle(0, 0, 10, 10)
    xl = small_page().ubytes(b"S1", 139).op(0x5B)  # BeginStream
    xl.uint16(len(body.out), 140).op(0x5C).data(bytes(body.out)).op(0x5D)  # ReadStream, End
    xl.ubytes(b"S1", 139).op(0x5E)  # ExecStream
    pixels, _ = pixels_of(xl.end_page().end())
    assert pixels[5, 5] == 0 and pixels[15, 15] == 255


# -- fuzzing ------------------------------------------------------------------------------------


def seed_job() -> bytes:
    """A job using most of what the renderer draws, on a small page (fast to fuzz)."""
    xl = small_page().bitmap_font(b"F").bitmap_char(b"F", 65, GLYPH_I, left=0, top=2)
    xl.set_font(b"F").cursor(20, 20).text(b"AA", spacing=[5, 5])
    xl.color_space(2, bytes([0, 0, 0, 255, 0, 0]), depth=2).cursor(30, 30)
    xl.image(4, 2, (40, 20), [(0, 2, bytes([0, 1, 1, 0, 1, 0, 0, 1]))], indexed=True)
    xl.color_space(1).cursor(0, 100)
    xl.image(4, 2, (80, 40), [(0, 2, bytes([256 - 7, 0x40]))], compression=1)
    delta = struct.pack("<H", 3) + bytes([0x21, 9, 9]) + struct.pack("<H", 0)
    xl.cursor(100, 100).image(4, 2, (40, 40), [(0, 2, delta)], compression=3)
    xl.gray_brush(128).rectangle(150, 150, 250, 200).box(10, 200, 90, 290, 66).op(0x98)
    xl.end_page()
    xl.custom_page(0.5, 0.5).rgb_brush(bytes([255, 0, 0])).rectangle(0, 0, 100, 100)
    return xl.end_page().end()


FUZZ_LIMITS = RenderLimits(max_pixels=400_000, max_seconds=10.0)


def check_no_escape(data: bytes) -> None:
    started = time.monotonic()
    pages, notes = render_pages(
        "pclxl", data, RenderLimits(max_pixels=FUZZ_LIMITS.max_pixels, max_seconds=10.0)
    )
    assert time.monotonic() - started < 15
    for page in pages:
        assert page.image.mode in ("1", "L", "RGB")
        assert page.image.width * page.image.height <= FUZZ_LIMITS.max_pixels
    assert all(isinstance(note, str) for note in notes)


def test_seed_job_renders() -> None:
    pages, notes = render(seed_job())
    assert notes == [] and len(pages) == 2
    assert all(page.complete and page.has_ink() for page in pages)


@st.composite
def mutated_jobs(draw: st.DrawFn) -> bytes:
    data = bytearray(seed_job())
    header = data.index(b"\n") + 1
    for _ in range(draw(st.integers(1, 6))):
        size = len(data)
        if size <= header + 1:
            break
        where = draw(st.integers(header, size - 1))
        action = draw(st.sampled_from(["flip", "byte", "insert", "delete", "truncate", "dup"]))
        if action == "flip":
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif action == "byte":
            data[where] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0xC1, 0xFA, 0xB1]))
        elif action == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[where : where + draw(st.integers(1, 16))]
        elif action == "truncate":
            del data[where:]
        else:
            length = draw(st.integers(1, 64))
            data[where:where] = data[where : where + length]
    return bytes(data)


FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutated_jobs())
def test_fuzz_mutated_jobs(data: bytes) -> None:
    check_no_escape(data)


@settings(FUZZ, max_examples=100)
@given(st.binary(max_size=600))
def test_fuzz_arbitrary_tokens(body: bytes) -> None:
    check_no_escape(b") HP-PCL XL;2;1;\n" + body)
