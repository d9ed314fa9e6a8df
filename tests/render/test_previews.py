"""Written page previews and thumbnails: lossless, whatever form the PNG takes."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensics.render.base import (
    THUMB_SIDE,
    InkPage,
    RenderedPage,
    preview,
    reduce_ink,
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


# -- previews made from packed ink bits (InkPage, the PCL 5 renderer's pages) --------------------


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_reduce_from_ink_bits_gives_what_pillow_gives(factor: int) -> None:
    """Box edges included (sizes that are not multiples of the factor): the same grey values
    as Pillow's ``reduce`` of the page image, pixel for pixel."""
    rng = np.random.default_rng(factor)
    for _ in range(150):
        width, height = int(rng.integers(1, 90)), int(rng.integers(1, 40))
        bits = rng.random((height, width)) < rng.random()
        page = InkPage(1, np.packbits(bits, axis=1), width, (600.0, 600.0), "test")
        image = Image.fromarray(~bits)  # mode "1", True = white
        assert page.image.tobytes() == image.tobytes()
        assert page.size == image.size
        expected = np.asarray(image.convert("L").reduce(factor))
        assert np.array_equal(reduce_ink(page.ink, width, factor), expected), (width, height)


@needs_gs
@pytest.mark.parametrize("dpi", [300, 600])
def test_preview_of_a_pcl5_page_matches_the_page_image(tmp_path: Path, dpi: int) -> None:
    """The PCL 5 renderer's pages are previewed from their bits; the preview is what reducing
    the full page image gives."""
    job = ghostscript("ljet4", tmp_path, f"-r{dpi}")
    pages, notes = render_pages("pcl5", job)
    assert notes == [] and len(pages) == 1 and isinstance(pages[0], InkPage)
    page = pages[0]
    from_bits = preview(page)
    from_image = preview(RenderedPage(1, page.image, page.dpi, "pcl5"))
    assert from_bits.mode == from_image.mode == "L"
    assert (
        from_bits.size == from_image.size == tuple(-(-side // (dpi // 150)) for side in page.size)
    )
    assert from_bits.tobytes() == from_image.tobytes()
    assert from_bits.getextrema() == (0, 255)
