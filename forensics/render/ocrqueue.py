"""The scan's OCR stage: every distinct page once, image-only pages first, within a budget.

Rendering happens while jobs are parsed (in the job workers); OCR is slow (about a second of
CPU a page) and was the default scan's cost. So pages that pass the text gate are not OCR'd
where they are rendered: each is prepared at the OCR resolution, keyed by the SHA-256 of its
pixels and spooled once as PNG (``OcrSpool``); the job keeps an ``OcrRequest``. After the job
pass the scan OCRs the distinct pages (``run_ocr``): carved copies, spool copies and retained
copies of a job give the same pages and cost one Tesseract run. Pages of jobs with no decoded
text (faxes, scans, raster jobs: OCR is the only way to read them) go first, so a budget
(``--ocr-budget``) spends itself where OCR matters most, and every page it leaves out is named.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from forensics.evidence.address import EvidenceAddress
from forensics.records import LocationClass
from forensics.render.base import RenderedPage
from forensics.render.ocr import OcrResult, OcrUnavailable, ocr_image, prepare_for_ocr

log = logging.getLogger(__name__)

# Priorities: lower goes first.
PRIORITY_IMAGE_JOB = 0  # a job with no decoded text: fax, scan, raster, bitmap-font PCL XL
PRIORITY_IMAGE_PAGE = 1  # a page with only an image on it, in a job whose parser read text
PRIORITY_WITH_TEXT = 2  # any other page: OCR adds what only the image shows


class OcrBudgetError(ValueError):
    """An ``--ocr-budget`` value that is neither seconds nor pages."""


@dataclass(frozen=True)
class OcrBudget:
    """At most ``seconds`` of OCR wall time or ``pages`` distinct pages (None: no limit)."""

    seconds: float | None = None
    pages: int | None = None

    @classmethod
    def parse(cls, text: str) -> OcrBudget:
        """``120``, ``120s``, ``10m`` or ``1h`` (time); ``500p`` or ``500pages`` (pages)."""
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|p|pages?)?\s*", text.lower())
        if match is None:
            raise OcrBudgetError(
                f"--ocr-budget {text!r}: give seconds (120, 120s, 10m, 1h) or pages (500p)"
            )
        number, unit = float(match.group(1)), match.group(2) or "s"
        if unit.startswith("p"):
            if number != int(number) or number < 0:
                raise OcrBudgetError(f"--ocr-budget {text!r}: pages must be a whole number")
            return cls(pages=int(number))
        factor = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[unit]
        return cls(seconds=number * factor)

    def describe(self) -> str:
        if self.pages is not None:
            return f"{self.pages} page{'s' if self.pages != 1 else ''}"
        if self.seconds is not None:
            return f"{self.seconds:g} s"
        return "unlimited"


@dataclass(frozen=True)
class OcrRequest:
    """One page of one job waiting for OCR, with what its findings need."""

    job_id: str
    page_number: int
    key: str  # SHA-256 of the prepared page (pixels, size and resolution)
    priority: int
    address: EvidenceAddress  # the job's address; the OCR text is a stream under it
    location_class: LocationClass
    path: str | None = None
    inode: int | None = None
    file_id: int | None = None


class OcrSpool:
    """A private folder of prepared pages, one PNG per distinct page, shared by the job
    workers (forked processes). Removed by ``close``; a spool left by a killed run is removed
    the next time a spool is made in the same folder."""

    PREFIX = ".pfa-ocr-spool-"

    def __init__(self, parent: Path | None = None) -> None:
        if parent is not None:
            for stale in parent.glob(self.PREFIX + "*"):
                shutil.rmtree(stale, ignore_errors=True)
        self.path = Path(tempfile.mkdtemp(prefix=self.PREFIX, dir=parent))  # mode 0700

    def put(self, page: RenderedPage) -> tuple[str, int]:
        """Spool the page at the OCR resolution (once per distinct page); its key and dpi."""
        image, dpi = prepare_for_ocr(page)
        digest = hashlib.sha256(f"{image.width}x{image.height}@{dpi}:".encode())
        digest.update(image.tobytes())
        key = digest.hexdigest()
        target = self._file(key, dpi)
        if not target.exists():
            partial = target.with_suffix(f".{os.getpid()}.part")
            image.save(partial, "PNG", compress_level=1)
            os.replace(partial, target)  # atomic: a worker never reads a half-written page
        return key, dpi

    def load(self, key: str) -> tuple[Image.Image, int] | None:
        for path in self.path.glob(f"{key}-*.png"):
            dpi = int(path.stem.rsplit("-", 1)[1])
            with Image.open(path) as image:
                image.load()
                return image, dpi
        return None

    def _file(self, key: str, dpi: int) -> Path:
        return self.path / f"{key}-{dpi}.png"

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


@dataclass
class OcrOutcome:
    """What the stage did with one distinct page."""

    key: str
    requests: list[OcrRequest]
    result: OcrResult | None = None
    failure: str | None = None  # OCR ran and failed, or the spooled page was missing
    skipped: bool = False  # left out by the budget


def ordered_groups(requests: list[OcrRequest]) -> list[tuple[str, list[OcrRequest]]]:
    """Distinct pages, image-only jobs first, then in the order they were met (deterministic)."""
    groups: dict[str, list[OcrRequest]] = {}
    for request in requests:
        groups.setdefault(request.key, []).append(request)
    order = sorted(
        enumerate(groups.items()), key=lambda item: (min(r.priority for r in item[1][1]), item[0])
    )
    return [group for _, group in order]


def run_ocr(
    spool: OcrSpool,
    requests: list[OcrRequest],
    language: str,
    workers: int,
    budget: OcrBudget | None = None,
    on_page: Callable[[], None] | None = None,
    ocr: Callable[[Image.Image, int, str], OcrResult] = ocr_image,
) -> Iterator[OcrOutcome]:
    """OCR each distinct page once (``workers`` Tesseract processes at once) and yield the
    outcomes in priority order; pages beyond the budget come out ``skipped``."""
    budget = budget or OcrBudget()
    started = time.monotonic()
    groups = ordered_groups(requests)
    threads = max(1, workers)

    def within_budget(submitted: int) -> bool:
        if budget.pages is not None and submitted >= budget.pages:
            return False
        return budget.seconds is None or time.monotonic() - started < budget.seconds

    def one(key: str) -> OcrResult | str | None:
        loaded = spool.load(key)
        if loaded is None:
            return "OCR failed: the prepared page is missing from the spool"
        image, dpi = loaded
        try:
            return ocr(image, dpi, language)
        except (OcrUnavailable, OSError) as exc:
            return f"OCR failed: {exc}"
        finally:
            image.close()

    with ThreadPoolExecutor(threads) as pool:
        # Tesseract runs in its own process: threads here give process parallelism. At most
        # ``threads`` pages are in flight, so the budget is checked before each page starts.
        in_flight: list[tuple[str, list[OcrRequest], Future[OcrResult | str | None]]] = []
        submitted = 0
        index = 0
        while index < len(groups) or in_flight:
            while index < len(groups) and len(in_flight) < threads:
                key, members = groups[index]
                index += 1
                if not within_budget(submitted):
                    in_flight.append((key, members, _skipped()))
                    continue
                submitted += 1
                in_flight.append((key, members, pool.submit(one, key)))
            key, members, future = in_flight.pop(0)
            outcome = OcrOutcome(key, members)
            result = future.result()
            if result is None:
                outcome.skipped = True
            elif isinstance(result, str):
                outcome.failure = result
            else:
                outcome.result = result
            if on_page is not None and not outcome.skipped:
                on_page()
            yield outcome


def _skipped() -> Future[OcrResult | str | None]:
    future: Future[OcrResult | str | None] = Future()
    future.set_result(None)  # None marks a page the budget left out
    return future
