"""Page images of jobs whose pages are bitmaps already: PWG/CUPS raster, URF, TIFF faxes, JPEG.

Rendering print languages (PCL, PCL XL, PostScript) into pages is separate work; this module only
turns stored bitmaps into pictures, within fixed limits on pages and pixels.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageSequence

from forensics.formats import raster

log = logging.getLogger(__name__)

MAX_PAGES = 64
MAX_PIXELS = 100_000_000  # per page; a hostile header cannot make a gigapixel picture
MAX_SIDE = 6000  # pixels of the longest side of a written page (larger pages are scaled down)

RASTER_FORMATS = ("pwg-raster", "cups-raster", "urf")
PICTURE_FORMATS = ("tiff", "jpeg")


def page_images(fmt: str, data: bytes) -> Iterator[tuple[int, Image.Image]]:
    """(page number, image) for each page that decodes; damaged pages are skipped (logged)."""
    if fmt in RASTER_FORMATS:
        yield from _raster_pages(data)
    elif fmt in PICTURE_FORMATS:
        yield from _picture_pages(data)


def _bounded(image: Image.Image) -> Image.Image:
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _raster_pages(data: bytes) -> Iterator[tuple[int, Image.Image]]:
    stream = raster.read_stream(data)
    for page in stream.pages[:MAX_PAGES]:
        if page.width * page.height > MAX_PIXELS:
            continue
        try:
            lines = raster.decode_page(data, page)
        except ValueError:
            log.debug("raster page %d not decoded", page.number, exc_info=True)
            continue
        image = _raster_image(page, lines)
        if image is not None:
            yield page.number, _bounded(image)


def _raster_image(page: raster.RasterPage, lines: np.ndarray) -> Image.Image | None:
    """A PIL image of chunky (interleaved) pages in the common colour spaces."""
    if page.color_order != 0:
        return None  # banded/planar colour: left to the page renderer
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
        return Image.frombytes("CMYK", size, payload, "raw", "CMYK", page.bytes_per_line).convert(
            "RGB"
        )
    return None


def _picture_pages(data: bytes) -> Iterator[tuple[int, Image.Image]]:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            for index, frame in enumerate(ImageSequence.Iterator(picture)):
                if index >= MAX_PAGES:
                    break
                if frame.size[0] * frame.size[1] > MAX_PIXELS:
                    continue
                yield (
                    index + 1,
                    _bounded(
                        frame.convert("RGB")
                        if frame.mode not in ("1", "L", "RGB")
                        else frame.copy()
                    ),
                )
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        log.debug("picture pages not decoded", exc_info=True)
