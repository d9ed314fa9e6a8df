"""The PCL 5 renderer (forensics/render/pcl5.py).

Page content comes from real producers: Ghostscript's ``ljet4`` (300 and 600 dpi, compression
modes 2 and 3), ``laserjet``/``ljetplus`` (mode 0), the colour devices ``cljet5c`` (Configure
Image Data, 24-bit direct pixels, mode 3), ``cdj500`` (CMY planes, mode 9) and ``pjxl300`` (CMY
planes behind PJL), and the samples gimp.pcl (PRET) and testfile.pcl (CUPS, text only). Pages are
compared with Ghostscript's own rendering of the same PostScript (``pnggray``/``png16m`` at the
same resolution) and read back with Tesseract. What the devices never write (modes 1, 5 and 9
for the same picture, indexed palettes, hostile sizes, cut data) is built from the PCL 5 TRM
with the small encoders below.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from forensics.formats.base import ParseContext
from forensics.formats.pcl5 import CONTROL, CUT, HPGL, MALFORMED, TEXT, Pcl5Parser, Pcl5Reader
from forensics.formats.pcl5 import iter_commands as pcl5_commands
from forensics.render.base import RenderedPage, RenderLimits, render_pages
from forensics.render.pcl5 import (
    decode_delta_row,
    decode_packbits,
    decode_replacement_delta,
    decode_run_length,
)
from tests.render.cost import measured

SENTENCE = "Patient Name: Jane Example, SSN 536-22-8714"
ESC = b"\x1b"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr")

# Text and solid black shapes only: ljet4 halftones gray, pnggray does not, so a gray image would
# differ by design; black ink is rasterised identically by both devices.
PAGE = f"""%!PS
/Helvetica findfont 14 scalefont setfont
72 700 moveto ({SENTENCE}) show
72 200 200 50 rectfill
/Times-Roman findfont 11 scalefont setfont
72 150 moveto (Referral for cardiology review, ward 4 east) show
showpage
"""
COLOR_PAGE = f"""%!PS
/Helvetica findfont 14 scalefont setfont
72 700 moveto ({SENTENCE}) show
1 0 0 setrgbcolor 72 200 200 50 rectfill
0 0 1 setrgbcolor 300 200 100 50 rectfill
0 0.6 0 setrgbcolor 72 150 moveto (Green text here) show
showpage
"""
MULTI_PAGE = "%!PS\n/Helvetica findfont 14 scalefont setfont\n" + "".join(
    f"72 700 moveto (Page {n} of the referral letter) show showpage\n" for n in (1, 2, 3)
)


def ghostscript(device: str, source: str, folder: Path, dpi: int = 300, *extra: str) -> bytes:
    name = f"{device}-{dpi}-{abs(hash((source, extra)))}"
    src = folder / f"{name}.ps"
    out = folder / f"{name}.out"
    src.write_text(source)
    subprocess.run(
        [
            *("gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", f"-sDEVICE={device}", f"-r{dpi}"),
            *("-sPAPERSIZE=letter", *extra, f"-sOutputFile={out}", str(src)),
        ],
        check=True,
        timeout=120,
    )
    return out.read_bytes()


@pytest.fixture(scope="module")
def gs_jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    if shutil.which("gs") is None:
        pytest.skip("Ghostscript is needed (make setup)")
    folder = tmp_path_factory.mktemp("pcl5")
    return {
        "ljet4-300": ghostscript("ljet4", PAGE, folder, 300),
        "ljet4-600": ghostscript("ljet4", PAGE, folder, 600),
        "ref-300": ghostscript("pnggray", PAGE, folder, 300),
        "ref-600": ghostscript("pnggray", PAGE, folder, 600),
        "laserjet": ghostscript("laserjet", PAGE, folder),
        "ljetplus": ghostscript("ljetplus", PAGE, folder),
        "ljet4pjl": ghostscript("ljet4pjl", PAGE, folder),
        "multi": ghostscript("ljet4", MULTI_PAGE, folder),
        "multi-ref": ghostscript(
            "pnggray", MULTI_PAGE, folder, 300, "-dFirstPage=2", "-dLastPage=2"
        ),
        "cljet5c": ghostscript("cljet5c", COLOR_PAGE, folder),
        "cdj500": ghostscript("cdj500", COLOR_PAGE, folder),
        "pjxl300": ghostscript("pjxl300", COLOR_PAGE, folder),
        "color-ref": ghostscript("png16m", COLOR_PAGE, folder),
    }


def render(data: bytes, limits: RenderLimits | None = None) -> tuple[list[RenderedPage], list[str]]:
    return render_pages("pcl5", data, limits)


def png(data: bytes) -> Image.Image:
    import io

    return Image.open(io.BytesIO(data))


def ink(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L")) < 128


def shifted(array: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``array`` moved by (dy, dx): out[y, x] = array[y + dy, x + dx] (zero outside)."""
    out = np.zeros_like(array)
    height, width = array.shape[:2]
    ys, xs = (
        slice(max(0, -dy), min(height, height - dy)),
        slice(max(0, -dx), min(width, width - dx)),
    )
    out[ys, xs] = array[ys.start + dy : ys.stop + dy, xs.start + dx : xs.stop + dx]
    return out


def ink_iou(ours: np.ndarray, reference: np.ndarray) -> float:
    """Intersection over union of the ink (pixels darker than mid-gray) of two pages.

    Ghostscript's PCL devices rasterise the page with the same engine as its pnggray device, so a
    faithful rendering of their raster is the reference pixel for pixel (measured: 1.0); a shift
    by one pixel already drops the IoU to 0.96 (300 dpi) or 0.98 (600 dpi). 0.99 therefore
    asserts placement to the pixel and fails on a missing, doubled, shifted or mirrored row or
    glyph — IoU rather than the share of matching pixels, which a blank page passes at 98 %."""
    union = np.logical_or(ours, reference).sum()
    return float(np.logical_and(ours, reference).sum() / union) if union else 1.0


def alignment(ours: np.ndarray, reference: np.ndarray) -> tuple[int, int]:
    """The (dy, dx) that moves our ink onto the reference's: from the ink bounding boxes."""
    ys, xs = np.nonzero(ours)
    ry, rx = np.nonzero(reference)
    return int(ys.min() - ry.min()), int(xs.min() - rx.min())


def ocr(image: Image.Image, tmp_path: Path) -> str:
    path = tmp_path / "ocr.png"
    image.save(path)
    result = subprocess.run(
        ["tesseract", str(path), "-", "--psm", "6"], capture_output=True, timeout=120, check=True
    )
    return re.sub(r"\s+", " ", result.stdout.decode("utf-8", "replace"))


# -- real producers -----------------------------------------------------------------------------


@pytest.mark.parametrize("dpi", [300, 600])
def test_ljet4_page_matches_ghostscript(gs_jobs: dict[str, bytes], dpi: int) -> None:
    job = gs_jobs[f"ljet4-{dpi}"]
    assert b"\x1b*b2M" in job and b"\x1b*b3M" in job  # gs uses TIFF PackBits and delta rows
    pages, notes = render(job)
    assert notes == [] and len(pages) == 1
    page = pages[0]
    assert page.complete and page.notes == [], page.notes
    assert page.number == 1 and page.renderer == "pcl5"
    assert page.dpi == (float(dpi), float(dpi))
    assert page.image.mode == "1"
    assert page.image.size == (round(8.5 * dpi), 11 * dpi)  # letter at the job's resolution
    ours, reference = ink(page.image), ink(png(gs_jobs[f"ref-{dpi}"]))
    # ljet4 writes ESC&l-180u36Z (gdevdjet.c): its raster starts at the physical left edge and
    # the printer moves the logical page down by 36 decipoints, 0.05 inch — which we draw.
    assert alignment(ours, reference) == (dpi // 20, 0)
    assert ink_iou(shifted(ours, dpi // 20, 0), reference) >= 0.99


@needs_tesseract
def test_ljet4_page_reads_back_with_ocr(gs_jobs: dict[str, bytes], tmp_path: Path) -> None:
    page = render(gs_jobs["ljet4-300"])[0][0]
    assert SENTENCE in ocr(page.image, tmp_path)


@pytest.mark.parametrize("device", ["laserjet", "ljetplus"])
def test_mode_0_raster_of_early_laserjets(gs_jobs: dict[str, bytes], device: str) -> None:
    job = gs_jobs[device]
    assert b"\x1b*b0M" in job and not re.search(rb"\x1b\*b[1-9]M", job)
    pages, notes = render(job)
    assert notes == [] and len(pages) == 1 and pages[0].complete
    ours, reference = ink(pages[0].image), ink(png(gs_jobs["ref-300"]))
    # These drivers position their raster for the LaserJet II's printable area (their margins
    # in gdevdjet.c), not for the PCL 5 logical page: the page is offset by under 1/4 inch.
    dy, dx = alignment(ours, reference)
    assert abs(dy) <= 75 and abs(dx) <= 75
    assert ink_iou(shifted(ours, dy, dx), reference) >= 0.99


def test_multi_page_job(gs_jobs: dict[str, bytes]) -> None:
    pages, notes = render(gs_jobs["multi"])
    assert notes == []
    assert [page.number for page in pages] == [1, 2, 3]
    assert all(page.complete and page.has_ink() for page in pages)
    second, reference = ink(pages[1].image), ink(png(gs_jobs["multi-ref"]))
    assert ink_iou(shifted(second, 15, 0), reference) >= 0.99
    # Each page has its own line: page 1 and page 2 differ only in the digit.
    first = ink(pages[0].image)
    assert 0 < np.logical_xor(first, second).sum() < 0.2 * first.sum()


def test_pjl_wrapped_job_renders_the_same(gs_jobs: dict[str, bytes]) -> None:
    wrapped = gs_jobs["ljet4pjl"]  # UEL, @PJL ENTER LANGUAGE = PCL, the stream, UEL
    assert wrapped.startswith(b"\x1b%-12345X")
    pages, notes = render(wrapped)
    assert notes == [] and len(pages) == 1
    bare = render(gs_jobs["ljet4-300"])[0][0]
    assert np.array_equal(np.asarray(pages[0].image), np.asarray(bare.image))


def colours_at(image: Image.Image, points: dict[str, tuple[int, int]]) -> dict[str, tuple]:
    pixels = np.asarray(image.convert("RGB"))
    return {name: tuple(int(v) for v in pixels[y, x]) for name, (y, x) in points.items()}


# Centres of the red (72…272 × 200…250 pt) and blue (300…400 × 200…250 pt) rectangles, at
# 300 dpi on letter (792 pt high).
RECTANGLES = {"red": (2362, 716), "blue": (2362, 1458)}


def test_cljet5c_direct_colour_matches_ghostscript(gs_jobs: dict[str, bytes]) -> None:
    """Configure Image Data (ESC*v6W: RGB, direct by pixel, 8 bits a primary), mode 3."""
    job = gs_jobs["cljet5c"]
    assert b"\x1b*v6W\x00\x03\x00\x08\x08\x08" in job and b"\x1b*b3M" in job
    pages, notes = render(job)
    assert notes == [] and len(pages) == 1 and pages[0].complete
    image = pages[0].image
    assert image.mode == "RGB" and image.size == (2550, 3300)
    ours = np.asarray(image, dtype=np.int16)
    reference = np.asarray(png(gs_jobs["color-ref"]).convert("RGB"), dtype=np.int16)
    dy, dx = alignment(ink(image), ink(png(gs_jobs["color-ref"])))
    assert abs(dy) <= 75 and abs(dx) <= 75  # the device's own page offsets (gdevcljc.c)
    moved = np.stack([shifted(ours[:, :, c], dy, dx) for c in range(3)], axis=2)
    outside = ~shifted(np.ones(ours.shape[:2], dtype=bool), dy, dx)
    moved[outside] = 255  # what the shift brought in from beyond the page is paper
    differing = np.abs(moved - reference).max(axis=2) > 64
    assert differing.mean() < 0.001
    found = colours_at(Image.fromarray(moved.astype(np.uint8)), RECTANGLES)
    assert found == {"red": (255, 0, 0), "blue": (0, 0, 255)}


@pytest.mark.parametrize("device", ["cdj500", "pjxl300"])
def test_cmy_planes_keep_their_colours(gs_jobs: dict[str, bytes], device: str) -> None:
    """Simple colour ESC*r-3U: cyan, magenta and yellow planes (ESC*b#V … ESC*b#W); cdj500
    compresses in mode 9, pjxl300 in modes 2 and 3 behind a PJL header."""
    job = gs_jobs[device]
    assert b"-3u" in job.lower() and b"v" in job
    pages, notes = render(job)
    assert notes == [] and len(pages) == 1 and pages[0].complete
    image = pages[0].image
    assert image.mode == "RGB"
    reference = png(gs_jobs["color-ref"])
    dy, dx = alignment(ink(image), ink(reference))
    assert abs(dy) <= 75 and abs(dx) <= 75
    points = {name: (y + dy, x + dx) for name, (y, x) in RECTANGLES.items()}
    assert colours_at(image, points) == {"red": (255, 0, 0), "blue": (0, 0, 255)}
    # The black sentence is black ink where Ghostscript put it.
    band = slice(300 + dy, 420 + dy)
    ours = ink(image)[band]
    assert ink_iou(ours, shifted(ink(reference), -dy, -dx)[band]) >= 0.9


def test_gimp_sample_renders_its_drawing() -> None:
    path = SAMPLES / "pret" / "gimp.pcl"
    if not path.exists():
        pytest.skip("sample gimp.pcl not present")
    pages, notes = render(path.read_bytes())
    assert notes == [] and len(pages) == 1
    page = pages[0]
    assert page.complete and page.image.mode == "RGB" and page.dpi == (300.0, 300.0)
    # A 400 × 600 raster at 75 dpi (ESC*r400s600T, ESC*t75R) drawn 4× on a letter page.
    drawn = np.asarray(page.image.convert("L")) < 200  # a gray pencil line
    ys, xs = np.nonzero(drawn)
    assert len(ys) > 2000
    assert xs.max() - xs.min() <= 1600 and ys.max() - ys.min() <= 2400


def test_text_only_jobs_yield_no_pages(tmp_path: Path) -> None:
    """A page without raster is text, which the parser reads: nothing to render, no note."""
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    source = tmp_path / "doc.ms"
    source.write_text(f".PP\n{SENTENCE}\n.bp\n.PP\nSecond page.\n")
    groff = subprocess.run(
        ["groff", "-ms", "-Tlj4", str(source)], capture_output=True, check=True, timeout=60
    ).stdout
    assert render(groff) == ([], [])
    cups = SAMPLES / "cups" / "testfile.pcl"
    if cups.exists():
        assert render(cups.read_bytes()) == ([], [])


def test_page_numbers_follow_the_parser(gs_jobs: dict[str, bytes]) -> None:
    """A text page, then a raster page: the raster page is page 2, as the parser lists it."""
    raster = gs_jobs["ljet4-300"]
    job = b"\x1bE" + b"A text-only cover page\r\n\x0c" + raster
    pages, notes = render(job)
    assert notes == [] and [page.number for page in pages] == [2]
    assert pages[0].complete and pages[0].notes == []
    # Text on a raster page is not drawn, and the page says so.
    mixed = raster.replace(b"\x1b*r1A", b"Cover note\r\x1b*r1A", 1)
    page = render(mixed)[0][0]
    assert page.number == 1 and page.notes == ["the page's text is not drawn (the parser reads it)"]
    parsed = Pcl5Parser().parse(job, ParseContext())
    assert [ref.number for ref in parsed.pages if ref.image_only] == [2]


# -- streams built from the manual ----------------------------------------------------------------


def cmd(text: str, data: bytes = b"") -> bytes:
    return ESC + text.encode() + data


def row(data: bytes, letter: str = "W") -> bytes:
    return cmd(f"*b{len(data)}{letter}", data)


def encode_rle(line: bytes) -> bytes:
    """Mode 1: (count − 1, byte) pairs."""
    out = bytearray()
    pos = 0
    while pos < len(line):
        run = 1
        while pos + run < len(line) and line[pos + run] == line[pos] and run < 256:
            run += 1
        out += bytes((run - 1, line[pos]))
        pos += run
    return bytes(out)


def encode_packbits(line: bytes) -> bytes:
    """Mode 2: runs of 3+ as repeats, the rest as literals of up to 128."""
    out = bytearray()
    literal = bytearray()
    pos = 0
    while pos < len(line):
        run = 1
        while pos + run < len(line) and line[pos + run] == line[pos] and run < 128:
            run += 1
        if run >= 3:
            if literal:
                out += bytes((len(literal) - 1,)) + literal
                literal.clear()
            out += bytes((257 - run, line[pos]))
            pos += run
            continue
        literal.append(line[pos])
        pos += 1
        if len(literal) == 128:
            out += bytes((127,)) + literal
            literal.clear()
    if literal:
        out += bytes((len(literal) - 1,)) + literal
    return bytes(out)


def encode_delta(line: bytes, seed: bytes) -> bytes:
    """Mode 3: each changed byte replaced one at a time (offsets past 30 extended)."""
    out = bytearray()
    last = 0
    for pos, (new, old) in enumerate(zip(line, seed, strict=True)):
        if new == old:
            continue
        offset = pos - last
        if offset < 31:
            out.append(offset)
        else:
            out.append(31)
            offset -= 31
            while offset >= 255:
                out.append(255)
                offset -= 255
            out.append(offset)
        out.append(new)
        last = pos + 1
    return bytes(out)


def encode_delta9(line: bytes, seed: bytes) -> bytes:
    """Mode 9: each changed byte as a one-byte literal (offsets past 14 extended)."""
    out = bytearray()
    last = 0
    for pos, (new, old) in enumerate(zip(line, seed, strict=True)):
        if new == old:
            continue
        offset = pos - last
        if offset < 15:
            out.append(offset << 3)
        else:
            out.append(15 << 3)
            offset -= 15
            while offset >= 255:
                out.append(255)
                offset -= 255
            out.append(offset)
        out.append(new)
        last = pos + 1
    return bytes(out)


def picture(rows: int = 40, row_bytes: int = 30) -> list[bytes]:
    """A test picture: diagonal stripes, a block of solid rows, repeats and blank rows."""
    lines = []
    for y in range(rows):
        if 10 <= y < 14:
            lines.append(b"\xff" * row_bytes)
        elif 20 <= y < 24:
            lines.append(bytes(row_bytes))
        else:
            lines.append(
                bytes(((x * 7 + y * 3) % 256) & 0xF0 | (y & 0x0F) for x in range(row_bytes))
            )
    return lines


def raster_job(body: bytes, header: bytes = b"") -> bytes:
    return (
        cmd("E") + header + cmd("*t300R") + cmd("*p300x300Y") + cmd("*r1A") + body + cmd("*rB")
        + b"\x0c"
    )  # fmt: skip


def encoded(lines: list[bytes], mode: int) -> bytes:
    body = bytearray(cmd(f"*b{mode}M"))
    seed = bytes(len(lines[0]))
    if mode == 5:
        block = bytearray()
        for line in lines:
            packed = encode_packbits(line)
            block += bytes((2, len(packed) >> 8, len(packed) & 0xFF)) + packed
        return bytes(body + row(bytes(block)))
    for line in lines:
        if mode == 0:
            body += row(line)
        elif mode == 1:
            body += row(encode_rle(line))
        elif mode == 2:
            body += row(encode_packbits(line))
        elif mode == 3:
            body += row(encode_delta(line, seed))
        elif mode == 9:
            body += row(encode_delta9(line, seed))
        seed = line
    return bytes(body)


def page_ink(data: bytes) -> np.ndarray:
    pages, notes = render(data)
    assert notes == [] and len(pages) == 1, notes
    return ink(pages[0].image)


def test_every_compression_mode_draws_the_same_picture() -> None:
    lines = picture()
    expected = page_ink(raster_job(encoded(lines, 0)))
    # The picture at the cursor (300, 300) PCL units plus the logical page's 1/4 inch offset.
    bits = np.unpackbits(np.frombuffer(b"".join(lines), np.uint8).reshape(len(lines), -1), axis=1)
    assert np.array_equal(expected[300 : 300 + len(lines), 375 : 375 + bits.shape[1]], bits > 0)
    assert expected.sum() == bits.sum()
    for mode in (1, 2, 3, 5, 9):
        assert np.array_equal(page_ink(raster_job(encoded(lines, mode))), expected), mode


def test_decoders_follow_the_manual() -> None:
    # PCL5 TRM mode 2 example (the TIFF PackBits example).
    seed = bytearray(24)
    decode_packbits(seed, bytes.fromhex("FEAA0280002AFDAA0380002A22F7AA"))
    assert seed.hex() == "aaaaaa80002aaaaaaaaa80002a22" + "aa" * 10
    seed = bytearray(6)
    decode_run_length(seed, bytes((2, 0x11, 0, 0x22)))
    assert seed == bytes((0x11, 0x11, 0x11, 0x22, 0, 0))
    # Mode 3: replace 2 bytes at offset 1, then 1 byte 31 + 2 bytes further (extended offset).
    seed = bytearray(40)
    decode_delta_row(seed, bytes((0x21, 0xAA, 0xBB, 0x1F, 0x02, 0xCC)))
    assert seed[1:3] == b"\xaa\xbb" and seed[36] == 0xCC and sum(seed) == 0xAA + 0xBB + 0xCC
    # Mode 9: a run of 4 × 0x55 at offset 2, then 2 literal bytes right after.
    seed = bytearray(10)
    decode_replacement_delta(seed, bytes((0x80 | (2 << 5) | 2, 0x55, 0x01, 0x66, 0x77)))
    assert seed == bytes((0, 0, 0x55, 0x55, 0x55, 0x55, 0x66, 0x77, 0, 0))


def test_adaptive_compression_rows_repeats_and_blanks() -> None:
    """Mode 5: a mode 0 row, 3 repeats of it, 2 empty rows, a mode 1 row."""
    line = b"\xf0" * 8
    block = (
        bytes((0, 0, 8)) + line + bytes((5, 0, 3)) + bytes((4, 0, 2))
        + bytes((1, 0, 2, 7, 0x0F))
    )  # fmt: skip
    drawn = page_ink(raster_job(cmd("*b5M") + row(block)))
    window = drawn[300:307, 375:439]
    expected_row = np.unpackbits(np.frombuffer(line, np.uint8)) > 0
    for index in range(4):
        assert np.array_equal(window[index], expected_row)
    assert not window[4:6].any()
    assert np.array_equal(window[6], np.unpackbits(np.frombuffer(b"\x0f" * 8, np.uint8)) > 0)


def test_raster_resolution_and_left_margin() -> None:
    """A 75 dpi raster (the default) is drawn 4× on the 300 dpi page; ESC*r0A starts at the
    logical page's left edge, ESC*r1A at the cursor."""
    body = cmd("*b0M") + row(b"\x80")
    at_margin = page_ink(cmd("E") + cmd("*p600x300Y") + cmd("*r0A") + body + cmd("*rB"))
    ys, xs = np.nonzero(at_margin)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (300, 303, 75, 78)
    at_cursor = page_ink(cmd("E") + cmd("*p600x300Y") + cmd("*r1A") + body + cmd("*rB"))
    ys, xs = np.nonzero(at_cursor)
    assert (ys.min(), xs.min(), xs.max()) == (300, 675, 678)


@pytest.mark.parametrize(
    ("page_dpi", "resolution"),
    [(300, 300), (300, 150), (300, 100), (300, 75), (600, 600), (600, 200), (600, 100), (600, 75)],
)
@pytest.mark.parametrize("opaque", [False, True])
def test_mono_rows_land_on_the_right_pixels_at_every_bit_offset(
    page_dpi: int, resolution: int, opaque: bool
) -> None:
    """Pages are drawn as packed bits (shifted and expanded bytes, not pixel arrays): rows
    placed at each of 16 cursor positions (every bit offset within a byte of the page, and of
    the source row clipped at the left edge), over an earlier raster, show the pixels a
    pixel-by-pixel drawing of the same rows shows — OR-ed with what is there (transparent)
    or replacing it (opaque, ESC*v1N)."""
    rng = np.random.default_rng(resolution)
    rows = [bytes(rng.integers(0, 256, 5, dtype=np.uint8)) for _ in range(6)]
    # The first raster sets the page's resolution; ESC&u#D makes a PCL unit a page pixel.
    under = cmd(f"&u{page_dpi}D") + cmd("*p0x0Y") + cmd(f"*t{page_dpi}R") + cmd("*r0A")
    under += row(b"\xff" * 200) * 12 + cmd("*rB")
    scale = page_dpi // resolution
    margin = page_dpi // 4  # the logical page starts 1/4 inch from the page's left edge
    for x in range(-margin - 5, -margin + 11):
        opacity = cmd("*v1N") if opaque else b""
        # ESC*r40S: 40 pixels a row (without it, rows reach the page's right edge)
        body = cmd(f"*p{x}x0Y") + cmd(f"*t{resolution}R") + cmd("*r40S") + cmd("*r1A")
        body += b"".join(row(data) for data in rows) + cmd("*rB")
        page = page_ink(cmd("E") + under + opacity + body + b"\x0c")
        assert page.shape[1] == round(8.5 * page_dpi)
        expected = np.zeros_like(page)
        expected[:12, margin : margin + 1600] = True  # the earlier raster: 12 rows, 1600 pixels
        left = margin + x
        bits = np.unpackbits(np.frombuffer(b"".join(rows), np.uint8).reshape(6, 5), axis=1)
        drawn = np.repeat(np.repeat(bits > 0, scale, axis=0), scale, axis=1)
        shown = drawn[:, max(0, -left) :]
        area = expected[: shown.shape[0], max(0, left) : max(0, left) + shown.shape[1]]
        if opaque:
            area[...] = shown
        else:
            area |= shown
        assert np.array_equal(page, expected), x


def test_landscape_and_a4_pages() -> None:
    raster = cmd("*t300R") + cmd("*p0x0Y") + cmd("*r1A") + row(b"\xff") + cmd("*rB")
    pages, _ = render(cmd("E") + cmd("&l26A") + raster)
    assert pages[0].image.size == (2480, 3508)  # A4 at 300 dpi
    pages, _ = render(cmd("E") + cmd("&l1O") + raster)
    assert pages[0].image.size == (3300, 2550)  # letter, landscape: upright, wider than high


def test_indexed_and_planar_colour() -> None:
    # Configure Image Data: RGB, indexed by pixel, 8 bits, primaries 8 bits; index 5 := orange.
    palette = cmd("*v255a128b0c5I")
    body = cmd("*v6W", bytes((0, 1, 8, 8, 8, 8))) + palette + cmd("*t300R") + cmd("*p0x0Y")
    body += cmd("*r2S") + cmd("*r1A") + row(bytes((5, 7))) + cmd("*rB")
    pages, notes = render(cmd("E") + body)
    assert notes == [] and pages[0].image.mode == "RGB"
    pixels = np.asarray(pages[0].image)
    assert tuple(pixels[0, 75]) == (255, 128, 0)
    assert tuple(pixels[0, 76]) == (255, 255, 255)  # index 7 of an RGB default palette: white
    # Simple colour -3 (CMY planes): cyan + yellow = green, all three planes = black.
    body = cmd("*r-3U") + cmd("*t300R") + cmd("*p0x0Y") + cmd("*r1A")
    body += row(b"\xc0", "V") + row(b"\x40", "V") + row(b"\xc0") + cmd("*rB")
    pixels = np.asarray(render(cmd("E") + body)[0][0].image)
    assert tuple(pixels[0, 75]) == (0, 255, 0)  # c + y
    assert tuple(pixels[0, 76]) == (0, 0, 0)  # c + m + y
    # KCMY (-4): the black plane wins.
    body = cmd("*r-4U") + cmd("*t300R") + cmd("*p0x0Y") + cmd("*r1A")
    body += row(b"\x80", "V") + row(b"\xc0", "V") + row(b"\x00", "V") + row(b"\x00") + cmd("*rB")
    pixels = np.asarray(render(cmd("E") + body)[0][0].image)
    assert tuple(pixels[0, 75]) == (0, 0, 0) and tuple(pixels[0, 76]) == (0, 255, 255)


# -- hostile and damaged input --------------------------------------------------------------------


def test_row_longer_than_the_page_is_clipped() -> None:
    data = raster_job(cmd("*b0M") + row(b"\xff" * 10_000))
    pages, notes = render(data)
    assert notes == [] and len(pages) == 1 and pages[0].complete
    drawn = ink(pages[0].image)
    assert drawn.shape == (3300, 2550)
    assert drawn[300, 375:].all() and drawn[300].sum() == 2550 - 375


def test_row_longer_than_the_source_width_is_clipped() -> None:
    data = raster_job(cmd("*r16S") + cmd("*r1A") + row(b"\xff" * 10), cmd("*r16S"))
    drawn = page_ink(data)
    assert drawn[300].sum() == 16


def test_delta_row_before_any_seed_row() -> None:
    """Mode 3 as the first row: the seed row is all zeros (PCL5 TRM: seed rows start blank)."""
    data = raster_job(cmd("*b3M") + row(bytes((0x02, 0xFF))) + row(b""))
    drawn = page_ink(data)
    assert drawn[300, 375 + 16 : 375 + 24].all() and drawn[300].sum() == 8
    assert np.array_equal(drawn[301], drawn[300])  # an empty delta row repeats the seed


def test_huge_raster_is_clipped_cheaply() -> None:
    header = cmd("*r100000S") + cmd("*r100000T")
    body = cmd("*b2M") + row(bytes((257 - 128, 0xFF))) * 3 + cmd("*b100000Y")
    data = raster_job(body, header)
    (pages, notes), elapsed, peak = measured(lambda: render(data))
    assert elapsed < 2
    assert peak < 40_000_000  # the page (8.4 M ink pixels) and its image; no 10^10 raster
    assert notes == [] and len(pages) == 1
    page = pages[0]
    assert page.image.size == (2550, 3300)
    assert any("clipped to the page" in note for note in page.notes)
    assert ink(page.image)[300:303, 375 : 375 + 1024].all()


def test_page_beyond_the_pixel_limit_is_refused() -> None:
    data = raster_job(cmd("*b0M") + row(b"\xff"))
    pages, notes = render(data, RenderLimits(max_pixels=1_000_000))
    assert pages == [] and len(notes) == 1 and "exceeds" in notes[0]


def test_truncated_job_gives_a_partial_page(gs_jobs: dict[str, bytes]) -> None:
    job = gs_jobs["ljet4-300"]
    cut = job[: len(job) * 2 // 3]
    started = time.monotonic()
    pages, notes = render(cut)
    assert time.monotonic() - started < 5
    assert notes == [] and len(pages) == 1
    page = pages[0]
    assert not page.complete and page.notes
    full = ink(render(job)[0][0].image)
    partial = ink(page.image)
    # The sentence (near the top) was drawn before the cut; what follows the cut is not.
    assert np.array_equal(partial[:500], full[:500]) and partial[:500].sum() > 1000
    assert partial.sum() < full.sum()


def test_cut_inside_a_row_is_noted() -> None:
    data = raster_job(cmd("*b0M") + row(b"\xff" * 4))[:-12] + cmd("*b40W") + b"\xff" * 3
    pages, notes = render(data)
    assert notes == [] and len(pages) == 1
    assert not pages[0].complete
    assert any("cut short" in note for note in pages[0].notes)


@dataclass(frozen=True)
class ExpiringLimits(RenderLimits):
    """Limits whose time runs out after ``checks`` calls of expired()."""

    checks: list[int] = field(default_factory=lambda: [40])

    def expired(self) -> bool:
        self.checks[0] -= 1
        return self.checks[0] < 0


def test_time_limit_stops_with_a_partial_page() -> None:
    data = raster_job(cmd("*b0M") + row(b"\xff" * 8) * 5000)
    pages, _ = render(data, ExpiringLimits())
    assert len(pages) == 1 and not pages[0].complete
    assert any("time limit" in note for note in pages[0].notes)
    drawn = ink(pages[0].image)
    assert 0 < drawn.sum() < 64 * 3000  # some rows, not all of them


# -- the parser's command stream ------------------------------------------------------------------


def test_command_stream_reads_as_the_parser_does(gs_jobs: dict[str, bytes]) -> None:
    """iter_commands yields one item for each command Pcl5Reader counts."""
    combined = cmd("*r2400s-3u0A") + cmd("*b9m3v", b"abc") + b"4w" + b"defg" + cmd("*rB")
    streams = [*gs_jobs.values(), combined, cmd("E") + b"text\r\n" + cmd("%0B") + b"PD;LBx\x03"]
    for stream in streams:
        reader = Pcl5Reader(stream, 1000)
        reader.run()
        items = list(pcl5_commands(stream))
        commands = [i for i in items if i.key not in (TEXT, CONTROL, HPGL, MALFORMED, CUT)]
        assert len(commands) == reader.commands
    items = list(pcl5_commands(combined))
    assert [(i.key, i.value, i.payload) for i in items[3:6]] == [
        ("*bM", "9", b""),
        ("*bV", "3", b"abc"),
        ("*bW", "4", b"defg"),
    ]


# -- fuzzing ------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKENS = [
    cmd("E"),
    cmd("*r1A"),
    cmd("*r0A"),
    cmd("*rB"),
    cmd("*r-3U"),
    cmd("*r3U"),
    cmd("*r-4U"),
    cmd("*r16S"),
    cmd("*r99999T"),
    cmd("*t75R"),
    cmd("*t600R"),
    cmd("*b0M"),
    cmd("*b1M"),
    cmd("*b2M"),
    cmd("*b3M"),
    cmd("*b5M"),
    cmd("*b9M"),
    cmd("*b7M"),
    cmd("*b5Y"),
    cmd("*p+30Y"),
    cmd("*p-9999X"),
    cmd("&l1O"),
    cmd("&l26A"),
    cmd("*v6W", bytes((0, 1, 8, 8, 8, 8))),
    cmd("*v6W", bytes((1, 0, 3, 8, 8, 8))),
    cmd("*v6W", bytes((0, 3, 8, 8, 8, 8))),
    cmd("*v9I"),
    cmd("*r2A"),
    cmd("*t720H"),
    b"\x0c",
    b"text",
    b"\r\n",
]


@st.composite
def pcl_jobs(draw: st.DrawFn) -> bytes:
    parts = []
    for _ in range(draw(st.integers(1, 24))):
        if draw(st.booleans()):
            parts.append(draw(st.sampled_from(TOKENS)))
        else:
            payload = draw(st.binary(max_size=48))
            letter = draw(st.sampled_from("WWWV"))
            announced = len(payload) + draw(st.integers(-2, 2))
            parts.append(cmd(f"*b{max(announced, 0)}{letter}", payload))
    return b"".join(parts)


@FUZZ
@given(pcl_jobs())
def test_fuzz_built_jobs(data: bytes) -> None:
    pages, _ = render(data, RenderLimits(max_seconds=10.0))
    for page in pages:
        assert page.image.mode in ("1", "RGB") and page.number >= 1


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(body: bytes) -> None:
    render(cmd("E") + cmd("*r1A") + body, RenderLimits(max_seconds=10.0))
