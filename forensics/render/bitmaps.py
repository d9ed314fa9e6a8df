"""Jobs whose pages are bitmaps already: PWG/CUPS raster, Apple URF, TIFF faxes and JPEG scans.

Raster pages are decoded by the format's own codec (``forensics.formats.raster.decode_page``,
PWG 5102.4 §4.3 / cups/raster-stream.c); TIFF (G3/G4 fax, PackBits, LZW…) and JPEG by Pillow.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import numpy as np
from PIL import Image

from forensics.formats import raster
from forensics.formats.base import NotThisFormat
from forensics.render.base import (
    PageRenderer,
    RenderedPage,
    RenderError,
    RenderLimits,
    check_page_size,
)

log = logging.getLogger(__name__)


class RasterRenderer(PageRenderer):
    """PWG Raster, CUPS Raster v1/v2/v3 and URF pages, chunky colour orders."""

    name = "raster"
    formats = ("pwg-raster", "cups-raster", "urf")

    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        try:
            stream = raster.read_stream(data)
        except (NotThisFormat, ValueError) as exc:
            raise RenderError(str(exc)) from exc
        for page in stream.pages[: limits.max_pages]:
            if limits.expired():
                return
            try:
                check_page_size(page.width, page.height, limits)
                lines, damage = raster.decode_page_partial(data, page)
            except (RenderError, ValueError) as exc:
                log.debug("raster page %d not decoded", page.number, exc_info=True)
                yield _blank_note(page, str(exc))
                continue
            image = _raster_image(page, lines)
            if image is None:
                yield _blank_note(page, "colour order or space not supported")
                continue
            x, y = page.resolution
            yield RenderedPage(
                number=page.number,
                image=image,
                dpi=(float(x), float(y)) if x and y else None,
                renderer=self.name,
                complete=damage is None,
                notes=[f"{damage}; the rest of the page is blank"] if damage else [],
            )


def _blank_note(page: raster.RasterPage, why: str) -> RenderedPage:
    """A 1×1 placeholder so the page keeps its number and says why it is missing."""
    return RenderedPage(
        number=page.number,
        image=Image.new("L", (1, 1), 255),
        dpi=None,
        renderer="raster",
        complete=False,
        notes=[f"page {page.number} not rendered: {why}"],
    )


def _raster_image(page: raster.RasterPage, lines: np.ndarray) -> Image.Image | None:
    """A PIL image of chunky (interleaved) pages in the common colour spaces."""
    if page.color_order != 0:
        return None  # banded/planar colour orders
    size = (page.width, page.height)
    payload = lines.tobytes()
    white_is_zero = page.blank == 0x00  # K / CMY spaces: 0 = no ink
    if page.bits_per_pixel == 1:
        return Image.frombytes(
            "1", size, payload, "raw", "1;I" if white_is_zero else "1", page.bytes_per_line
        )
    if page.bits_per_pixel == 8 and page.num_colors == 1:
        gray = Image.frombytes("L", size, payload, "raw", "L", page.bytes_per_line)
        return gray.point(lambda v: 255 - v) if white_is_zero else gray
    if page.bits_per_pixel == 24 and page.num_colors == 3:
        return Image.frombytes("RGB", size, payload, "raw", "RGB", page.bytes_per_line)
    if page.bits_per_pixel == 32 and page.num_colors == 4:
        cmyk = Image.frombytes("CMYK", size, payload, "raw", "CMYK", page.bytes_per_line)
        return cmyk.convert("RGB")
    return None


class PictureRenderer(PageRenderer):
    """TIFF (every IFD a page: multi-page faxes) and JPEG, decoded by Pillow."""

    name = "picture"
    formats = ("tiff", "jpeg")

    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        try:
            with _quiet():
                picture = Image.open(io.BytesIO(data))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            raise RenderError(f"not decodable: {exc}") from exc
        with picture:
            for index in range(limits.max_pages):
                if limits.expired():
                    return
                try:
                    with _quiet():
                        picture.seek(index)  # TIFF: the next IFD; EOFError after the last
                        check_page_size(*picture.size, limits)  # before the pixels decode
                        image = (
                            picture.copy()
                            if picture.mode in ("1", "L", "RGB")
                            else picture.convert("RGB")
                        )
                        dpi = picture.info.get("dpi")
                except EOFError:
                    return
                except (OSError, ValueError, SyntaxError) as exc:
                    yield RenderedPage(index + 1, Image.new("L", (1, 1), 255), None, self.name,
                                       complete=False, notes=[f"page {index + 1}: {exc}"])  # fmt: skip
                    return
                yield RenderedPage(
                    number=index + 1,
                    image=image,
                    dpi=(float(dpi[0]), float(dpi[1])) if dpi and dpi[0] and dpi[1] else None,
                    renderer=self.name,
                )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Pillow warns (UserWarning) about damaged tags and EXIF; evidence is often damaged, and
    what matters is whether the pixels decode. Scoped to one decode step, never a yield."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
