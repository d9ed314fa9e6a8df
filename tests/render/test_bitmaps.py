"""Raster and picture pages (PWG/CUPS raster, TIFF, JPEG): real producers and samples render;
hostile headers are refused before any pixel is allocated; damage keeps what decodes."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from fixtures.tools import ghostscript
from forensics.render.base import RenderLimits, render_pages
from tests.render.cost import measured

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
PAGE = (
    "%!PS\n/Helvetica findfont 14 scalefont setfont 72 700 moveto (Fax cover sheet) show showpage\n"
)

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="make setup installs gs")

# PWG 5102.4 §4.3: the page header follows the 4-byte sync word; big-endian unsigned integers.
PWG_WIDTH, PWG_HEIGHT, PWG_BYTES_PER_LINE = 4 + 372, 4 + 376, 4 + 392


@needs_gs
def test_pwg_raster_page_at_its_resolution(tmp_path: Path) -> None:
    data = ghostscript("pwgraster", PAGE, tmp_path, "-r100", "-sPAPERSIZE=letter")
    (page,), notes = render_pages("pwg-raster", data)
    assert not notes and page.complete
    assert page.dpi == (100.0, 100.0)
    assert page.image.size == (850, 1100)  # letter at 100 dpi
    assert page.has_ink()


@needs_gs
def test_huge_pwg_header_refused_before_allocation(tmp_path: Path) -> None:
    data = bytearray(ghostscript("pwgraster", PAGE, tmp_path, "-r50"))
    struct.pack_into(">I", data, PWG_WIDTH, 100_000)
    struct.pack_into(">I", data, PWG_HEIGHT, 100_000)
    struct.pack_into(">I", data, PWG_BYTES_PER_LINE, 100_000)  # 8-bit gray
    (pages, notes), elapsed, peak = measured(lambda: render_pages("pwg-raster", bytes(data)))
    assert elapsed < 2 and peak < 32 * 1024 * 1024
    assert all(p.image.size == (1, 1) and not p.complete for p in pages)
    assert notes or any(p.notes for p in pages)


@needs_gs
def test_truncated_raster_keeps_page_number_and_says_why(tmp_path: Path) -> None:
    data = ghostscript("pwgraster", PAGE, tmp_path, "-r100")
    header_end = 4 + 1796  # sync word + PWG page header (PWG 5102.4 §4.3)
    cut = header_end + (len(data) - header_end) // 2  # half of the page's compressed lines
    pages, _ = render_pages("pwg-raster", data[:cut])
    assert [p.number for p in pages] == [1]
    assert not pages[0].complete and "the rest of the page is blank" in pages[0].notes[0]
    assert pages[0].has_ink()  # the text line near the top decoded before the cut


@needs_gs
def test_multi_page_g3_fax(tmp_path: Path) -> None:
    data = ghostscript("tiffg3", PAGE + PAGE.replace("%!PS", ""), tmp_path, "-r204x98")
    pages, notes = render_pages("tiff", data)
    assert [p.number for p in pages] == [1, 2] and not notes
    assert pages[0].dpi == (204.0, 98.0)


def test_page_cap_and_garbage() -> None:
    pages, notes = render_pages("tiff", b"II*\x00" + b"\xff" * 64)
    assert pages == [] and notes and "not rendered" in notes[0]
    pages, notes = render_pages("jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 10)
    assert pages == [] and notes


@needs_gs
def test_page_limit(tmp_path: Path) -> None:
    data = ghostscript("tiffg4", PAGE + PAGE.replace("%!PS", "") * 4, tmp_path, "-r50")
    pages, notes = render_pages("tiff", data, RenderLimits(max_pages=2))
    assert len(pages) == 2 and any("page cap" in n for n in notes)


def test_cups_sample_pwg_renders() -> None:
    sample = SAMPLES / "cups" / "onepage-letter-300-black-1.pwg"
    if not sample.is_file():
        pytest.skip("../shared/samples not present")
    (page,), notes = render_pages("pwg-raster", sample.read_bytes())
    assert not notes and page.complete and page.image.mode == "1"
    assert page.image.size == (2550, 3300) and page.dpi == (300.0, 300.0)
