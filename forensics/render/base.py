"""The page model and the renderer plug-in contract.

A renderer turns the bytes of one job (exactly the bytes its format parser was given) into page
images. Defining a ``PageRenderer`` subclass with ``formats`` registers it for those format
names; nothing else is edited when a renderer is added.

Rules every renderer follows (the same as parsers'):
- input it cannot render → raise ``RenderError`` early and cheaply (a 100000×100000 page header
  is refused before any pixel is allocated: ``check_page_size``);
- damage after a good start → yield what was drawn, ``complete=False``, a note saying why;
- every length and count from the data is bounded; ``limits`` caps pages, pixels and time
  (``limits.expired()`` is checked between rows/operators, never less often than once a page).
"""

from __future__ import annotations

import functools
import io
import logging
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

MAX_PAGES = 64  # pages rendered per job
MAX_PAGE_PIXELS = 120_000_000  # a letter page at 1200 dpi is 134 M: refused; at 600 dpi 34 M
MAX_RENDER_SECONDS = 60.0  # per job, all pages
PREVIEW_DPI = 150  # written page previews are at most this resolution
MAX_PREVIEW_SIDE = 2400  # and at most this many pixels on their longer side
# zlib level of written previews: 4 gives files within ~6 % of the default (6) on text pages in
# two thirds of the time (13 ms instead of 21 ms for a 150 dpi letter page)
PREVIEW_PNG_LEVEL = 4
# Grey previews are deflated with zlib's run-length strategy (matches at distance 1 only):
# a page is mostly runs of white, and with the same pixels it is 30-37 % faster than the
# default strategy (300 dpi ljet4 man page 10.7 -> 7.6 ms a page, 46.2 -> 44.7 KB; 600 dpi
# reduced 4:1 17.6 -> 11.8 ms, 70 -> 73 KB). Colour previews keep the default strategy.
GREY_PREVIEW_STRATEGY = zlib.Z_RLE
THUMB_SIDE = 160  # pixels, longest side of the page thumbnails shown in report.html


class RenderError(Exception):
    """The job cannot be rendered (unsupported, malformed, beyond a limit)."""


@dataclass(frozen=True)
class RenderLimits:
    max_pages: int = MAX_PAGES
    max_pixels: int = MAX_PAGE_PIXELS
    max_seconds: float = MAX_RENDER_SECONDS
    started: float = field(default_factory=time.monotonic)

    def expired(self) -> bool:
        return time.monotonic() - self.started > self.max_seconds


@dataclass
class RenderedPage:
    """One page image of a job.

    ``image`` is mode "1", "L" or "RGB" at ``dpi`` (x, y) when the format says it (None when it
    does not, e.g. a JPEG without density). ``number`` is 1-based, in the job's page order.
    """

    number: int
    image: Image.Image
    dpi: tuple[float, float] | None
    renderer: str
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.size

    def reduced(self, factor: int) -> Image.Image | None:
        """The page as grey reduced by a whole ``factor`` when the renderer can make it
        without the full page image (see InkPage); None: reduce ``image``."""
        return None

    def has_ink(self) -> bool:
        """False for a blank page (nothing to see, nothing to OCR)."""
        gray = self.image.convert("L")
        return gray.point(lambda v: 255 if v < 250 else 0).getbbox() is not None


class InkPage(RenderedPage):
    """A mono page held as packed ink bits (rows of ``ceil(width / 8)`` bytes, most
    significant bit first, 1 = ink), as the PCL 5 renderer draws it.

    ``image`` (mode "1") is built only when something asks for it: PIL keeps a mode "1"
    image at a byte a pixel, so a 600 dpi letter page costs ~30 ms and 35 MB to build. Most
    pages are only previewed, and ``reduced`` makes the preview from the bits.
    """

    def __init__(
        self,
        number: int,
        ink: np.ndarray,
        width: int,
        dpi: tuple[float, float] | None,
        renderer: str,
        complete: bool = True,
        notes: list[str] | None = None,
    ) -> None:
        self.ink = ink
        self.width = width
        self._image: Image.Image | None = None
        super().__init__(number, None, dpi, renderer, complete, notes or [])  # type: ignore[arg-type]

    @property  # type: ignore[override]
    def image(self) -> Image.Image:
        if self._image is None:
            size = (self.width, self.ink.shape[0])
            self._image = Image.frombytes("1", size, self.ink, "raw", "1;I")  # 1 bit = black
        return self._image

    @image.setter
    def image(self, value: Image.Image | None) -> None:
        self._image = value

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.ink.shape[0]

    def __repr__(self) -> str:  # the generated one would build the image to show it
        return f"InkPage(number={self.number}, size={self.size}, dpi={self.dpi})"

    def reduced(self, factor: int) -> Image.Image | None:
        if factor not in _BIT_GROUPS:
            return None
        return Image.fromarray(reduce_ink(self.ink, self.width, factor), "L")


def _bit_group_counts(bits: int) -> np.ndarray:
    """For each byte value, the ink (set bits) in each group of ``bits`` bits, high first,
    one count a byte lane of one word (uint32, uint16 or uint8): words of rows can then be
    added before they are split, as no lane exceeds 64."""
    values = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1)
    lanes = values.reshape(256, 8 // bits, bits).sum(axis=2, dtype=np.uint8)
    return np.ascontiguousarray(lanes).view(f"u{8 // bits}").ravel()


_BIT_GROUPS = {factor: _bit_group_counts(factor) for factor in (2, 4, 8)}


@functools.cache
def _reduce_table(area: int) -> np.ndarray:
    """The grey value of a box of ``area`` pixels holding 0…area ink pixels, rounded as
    Pillow's ``reduce`` rounds (libImaging Reduce.c): the sum of the box plus ``area // 2``,
    times a 32-bit multiplier computed in single precision, shifted right by 24 bits."""
    multiplier = int(np.float32(4294967296.0) / np.float32(256 * area))
    paper = 255 * (area - np.arange(area + 1, dtype=np.uint64))
    return (((paper + area // 2) * multiplier & 0xFFFFFFFF) >> 24).astype(np.uint8)


def reduce_ink(ink: np.ndarray, width: int, factor: int) -> np.ndarray:
    """``Image.reduce(factor)`` of the page as grey (ink 0, paper 255), from packed ink bits:
    the same values, boxes at the right and bottom edges included, without the page image."""
    height = ink.shape[0]
    columns, rows = -(-width // factor), -(-height // factor)
    words = np.take(_BIT_GROUPS[factor], ink)  # (height, bytes) words of per-box lanes
    full_rows = height // factor
    summed = np.empty((rows, ink.shape[1]), dtype=words.dtype)
    summed[:full_rows] = words[0 : full_rows * factor : factor]
    for offset in range(1, factor):
        summed[:full_rows] += words[offset : full_rows * factor : factor]
    if rows > full_rows:
        summed[-1] = words[full_rows * factor :].sum(axis=0, dtype=words.dtype)
    counts = summed.view(np.uint8)[:, :columns]
    out = np.take(_reduce_table(factor * factor), counts)
    last_width = width - factor * (columns - 1)
    last_height = height - factor * (rows - 1)
    if last_width != factor:
        out[:, -1] = _reduce_table(last_width * factor)[counts[:, -1]]
    if last_height != factor:
        out[-1] = _reduce_table(last_height * factor)[counts[-1]]
        out[-1, -1] = _reduce_table(last_width * last_height)[counts[-1, -1]]
    return out


def check_page_size(width: int, height: int, limits: RenderLimits) -> None:
    """Refuse a page before allocating it: non-positive or beyond ``limits.max_pixels``."""
    if width <= 0 or height <= 0:
        raise RenderError(f"page size {width}x{height} is not a page")
    if width * height > limits.max_pixels:
        raise RenderError(
            f"page size {width}x{height} exceeds {limits.max_pixels} pixels; not rendered"
        )


class PageRenderer(ABC):
    """Base of every renderer; subclasses with ``formats`` register themselves."""

    name: ClassVar[str] = ""
    formats: ClassVar[tuple[str, ...]] = ()
    registry: ClassVar[dict[str, type[PageRenderer]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for fmt in cls.formats:
            if fmt in PageRenderer.registry:
                raise ValueError(f"format {fmt!r} has two renderers")
            PageRenderer.registry[fmt] = cls

    @classmethod
    def available(cls) -> bool:
        """False when an external tool the renderer needs is missing (Ghostscript)."""
        return True

    @abstractmethod
    def render(self, data: bytes, limits: RenderLimits) -> Iterator[RenderedPage]:
        """Pages of one job; raise RenderError when nothing can be rendered."""


def renderer_for(fmt: str) -> PageRenderer | None:
    _load_all()
    cls = PageRenderer.registry.get(fmt)
    if cls is None or not cls.available():
        return None
    return cls()


def iter_pages(
    fmt: str, data: bytes, notes: list[str], limits: RenderLimits | None = None
) -> Iterator[RenderedPage]:
    """Every page of a job that renders, within the limits, one at a time (a caller that
    keeps only what it needs of each page holds one page image, not a job's worth); notes on
    what did not render are appended to ``notes``."""
    limits = limits or RenderLimits()
    renderer = renderer_for(fmt)
    if renderer is None:
        return
    count = 0
    try:
        for page in renderer.render(data, limits):
            count += 1
            yield page
            if count >= limits.max_pages:
                notes.append(f"page cap: only the first {limits.max_pages} pages rendered")
                break
            if limits.expired():
                notes.append(f"time cap: rendering stopped after {limits.max_seconds:.0f} s")
                break
    except RenderError as exc:
        notes.append(f"{fmt} pages not rendered: {exc}")
    except (ValueError, IndexError, KeyError, OSError, MemoryError, Image.DecompressionBombError):
        log.debug("%s renderer failed", fmt, exc_info=True)
        notes.append(f"{fmt} renderer failed after {count} page(s); see --debug")


def render_pages(
    fmt: str, data: bytes, limits: RenderLimits | None = None
) -> tuple[list[RenderedPage], list[str]]:
    """Every page of a job that renders, within the limits, and notes on what did not."""
    notes: list[str] = []
    pages = list(iter_pages(fmt, data, notes, limits))
    return pages, notes


def preview(page: RenderedPage, dpi: int = PREVIEW_DPI) -> Image.Image:
    """The page scaled down to at most ``dpi`` and MAX_PREVIEW_SIDE pixels (never up)."""
    width, height = page.size
    scale = 1.0
    if page.dpi:
        scale = min(scale, dpi / max(page.dpi[0], 1), dpi / max(page.dpi[1], 1))
    scale = min(scale, MAX_PREVIEW_SIDE / max(width, height))
    if scale >= 1.0:
        return page.image.copy()
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    factor = 1 / scale
    whole = abs(factor - round(factor)) < 0.01
    if whole and (reduced := page.reduced(round(factor))) is not None:
        return reduced
    image = page.image
    source = image.convert("L") if image.mode == "1" else image
    if whole:
        # 300 or 600 dpi to 150: a box reduction by a whole factor is what Lanczos gives
        # there, in ~3 ms instead of ~35 ms for a letter page.
        return source.reduce(round(factor))
    return source.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


PALETTE_LEVELS = 16  # 4-bit PNG palette: the largest below 8 bits (PNG 11.2.2: 1, 2, 4, 8)


def save_preview(image: Image.Image, path: Path) -> None:
    """Write a page preview as PNG, losslessly.

    A grey preview with at most PALETTE_LEVELS grey levels (a 1-bit page reduced by a whole
    factor has 5 of them at 2:1 and 17 at 4:1) is written as a 4-bit palette image: the
    same pixels in half the encoding time of 8-bit grey (fewer bytes to filter and deflate),
    and a smaller file.
    """
    if image.mode == "L":
        counted = image.getcolors(PALETTE_LEVELS)
        if counted is not None:
            levels = sorted(level for _, level in counted if isinstance(level, int))
            index = [0] * 256
            for number, level in enumerate(levels):
                index[level] = number
            indexed = image.point(index)
            indexed.putpalette([channel for level in levels for channel in (level,) * 3])
            indexed.save(
                path,
                "PNG",
                bits=4,
                compress_level=PREVIEW_PNG_LEVEL,
                compress_type=GREY_PREVIEW_STRATEGY,
            )
            return
        image.save(
            path, "PNG", compress_level=PREVIEW_PNG_LEVEL, compress_type=GREY_PREVIEW_STRATEGY
        )
        return
    image.save(path, "PNG", compress_level=PREVIEW_PNG_LEVEL)


def _grey_palette(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3))


def thumbnail_png(image: Image.Image) -> bytes:
    """A PNG of ``image`` scaled to at most THUMB_SIDE pixels a side (grey or RGB)."""
    if image.mode == "P":  # a preview written by save_preview: scaled as grey, not by index
        image = image.convert("L" if _grey_palette(image) else "RGB")
    small = image.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    small.convert("L" if small.mode in ("1", "L") else "RGB").save(out, "PNG", optimize=True)
    return out.getvalue()


_loaded = False


def _load_all() -> None:
    """Import every module of this package once, so each renderer registers itself."""
    global _loaded
    if _loaded:
        return
    import forensics.render as package
    from forensics.plugins import import_submodules

    import_submodules(package, skip=("base", "ocr"))
    _loaded = True
