"""Written page previews and thumbnails: lossless, whatever form the PNG takes."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from forensics.render.base import (
    THUMB_SIDE,
    RenderedPage,
    preview,
    render_pages,
    save_preview,
    thumbnail_png,
)

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="needs Ghostscript")
PAGE = """%!PS
/Helvetica findfont 14 scalefont setfont
72 700 moveto (Payroll 2023: account 4711, cost centre 12) show
72 680 moveto (A second line of ordinary office text.) show
72 600 moveto 300 0 rlineto 0 20 rlineto -300 0 rlineto closepath fill
showpage
"""


def ghostscript(device: str, folder: Path, *extra: str) -> bytes:
    source = folder / "page.ps"
    source.write_text(PAGE, encoding="ascii")
    target = folder / f"page.{device}"
    subprocess.run(
        ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", f"-sDEVICE={device}", *extra,
         f"-sOutputFile={target}", str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return target.read_bytes()


@needs_gs
def test_preview_of_a_mono_page_is_a_lossless_4_bit_palette(tmp_path: Path) -> None:
    pages, notes = render_pages("pcl5", ghostscript("ljet4", tmp_path, "-r300"))
    assert pages, notes
    reduced = preview(pages[0])  # 300 dpi 1-bit page, 2:1 box reduction: 5 grey levels
    written = tmp_path / "preview.png"
    save_preview(reduced, written)
    with Image.open(written) as image:
        assert image.mode == "P"
        assert image.convert("L").tobytes() == reduced.tobytes()
    assert written.read_bytes()[24] == 4  # IHDR bit depth (PNG 11.2.2)
    with Image.open(written) as image:
        thumb = Image.open(io.BytesIO(thumbnail_png(image)))
    assert thumb.mode == "L" and max(thumb.size) <= THUMB_SIDE


@needs_gs
def test_preview_of_an_anti_aliased_grey_page_stays_8_bit(tmp_path: Path) -> None:
    data = ghostscript("pnggray", tmp_path, "-r150", "-dTextAlphaBits=4")
    with Image.open(io.BytesIO(data)) as image:
        page = RenderedPage(1, image.convert("L"), (150.0, 150.0), "test")
    reduced = preview(page)
    assert reduced.getcolors(16) is None  # more grey levels than a palette of 16 holds
    written = tmp_path / "preview.png"
    save_preview(reduced, written)
    with Image.open(written) as image:
        assert image.mode == "L" and image.tobytes() == reduced.tobytes()
