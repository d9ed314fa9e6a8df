"""OCR of rendered pages with Tesseract (Debian ``tesseract-ocr``), when it is installed.

Tesseract runs as a subprocess per page (a crash or hang in it cannot take the scan down; a
time-out stops it). The page goes in as PNG on stdin at ``OCR_DPI`` (scanned and faxed pages are
often 600 dpi or more; Tesseract reads 300 dpi text as well and four times faster); TSV comes
out, from which the text is rebuilt line by line and the mean word confidence taken.

OCR confuses letters and digits (O/0, l/1, S/5, B/8). ``digit_variant`` maps those letters to
digits inside number-like tokens only; findings from that variant are kept only for validators
whose checksum or structure still has to confirm the value (``OCR_TOLERANT_VALIDATORS``).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from forensics.render.base import RenderedPage

log = logging.getLogger(__name__)

OCR_DPI = 300
OCR_TIMEOUT_SECONDS = 120
MAX_OCR_SIDE = 7000  # pixels; larger page images are scaled down first
DEFAULT_LANGUAGE = "eng"
MAX_TEXT_COVERAGE = 0.40  # share of dark pixels above which a page is a picture, not text
# The line-structure gate (``_text_line_rows``) looks at the page at about this resolution.
GATE_DPI = 150
GATE_MIN_BAND_ROWS = 6  # an inked band lower than this (~1 mm) is a rule, not a line of text
GATE_BAND_ROWS = 24  # taller bands are resampled to this height, the height of small text
# In a line of text nearly every pair of neighbouring pixel rows differs (glyphs curve, stems
# start and end); bars, rules, barcodes and repeated raster rows repeat rows unchanged.
GATE_MIN_CHANGING_ROWS = 0.8
GATE_MAX_BAND_COVERAGE = 0.6  # bold display type covers ~45 % of its box; solid fills more

# Validators whose own rules re-check a value read from a digit-corrected OCR text: checksums
# (Luhn, IBAN mod 97, ABA) and the SSN area/group/serial rules.
OCR_TOLERANT_VALIDATORS = frozenset({"luhn", "iban", "aba", "ssn"})

_CONFUSED = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1",
                           "|": "1", "i": "1", "S": "5", "s": "5", "B": "8", "Z": "2",
                           "z": "2", "G": "6", "g": "9"})  # fmt: skip
# A token that is mostly digits with a few look-alike letters (and separators).
_NUMBERISH = re.compile(r"[0-9OoDQIl|iSsBZzGg][0-9OoDQIl|iSsBZzGg \-./]{6,}[0-9OoDQIl|iSsBZzGg]")


@dataclass(frozen=True)
class OcrResult:
    text: str
    confidence: float  # mean word confidence, 0–100
    words: int
    language: str


class OcrUnavailable(Exception):
    """Tesseract or the requested language is not installed."""


@lru_cache(maxsize=1)
def tesseract_path() -> str | None:
    return shutil.which("tesseract")


@lru_cache(maxsize=8)
def languages() -> frozenset[str]:
    """Languages the installed Tesseract has trained data for."""
    path = tesseract_path()
    if path is None:
        return frozenset()
    try:
        listed = subprocess.run(
            [path, "--list-langs"], capture_output=True, timeout=30, check=False, env=_env()
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in listed.splitlines()[1:] if line.strip())


def check_available(language: str = DEFAULT_LANGUAGE) -> None:
    """Raise OcrUnavailable with what to install."""
    if tesseract_path() is None:
        raise OcrUnavailable(
            "OCR is off: tesseract is not installed (Debian/Ubuntu: apt install tesseract-ocr)"
        )
    missing = [lang for lang in language.split("+") if lang not in languages()]
    if missing:
        raise OcrUnavailable(
            f"OCR is off: no Tesseract language data for {', '.join(missing)} "
            f"(apt install {' '.join('tesseract-ocr-' + m for m in missing)})"
        )


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TESSDATA_PREFIX")}
    env["OMP_THREAD_LIMIT"] = "1"  # pages run in parallel processes: no threads inside each
    env["LC_ALL"] = "C"
    return env


def prepare_for_ocr(page: RenderedPage) -> tuple[Image.Image, int]:
    """The page in gray at about OCR_DPI (never enlarged past 2×), and the dpi to tell."""
    image = page.image.convert("L") if page.image.mode != "L" else page.image
    dpi = page.dpi[1] if page.dpi else OCR_DPI
    scale = min(1.0, OCR_DPI / dpi) if dpi > OCR_DPI else min(2.0, OCR_DPI / dpi)
    scale = min(scale, MAX_OCR_SIDE / max(image.size))
    if abs(scale - 1.0) > 0.05:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        dpi = dpi * scale
    return image, max(70, round(dpi))


def text_likely(page: RenderedPage) -> tuple[bool, str]:
    """Whether a page may hold text worth OCR (cheap: a few numpy passes at GATE_DPI).

    Printed and scanned text covers a few to ~25 % of a page with dark ink; a blank page none;
    a photograph, a halftone or random raster data half or more. And text comes in lines whose
    pixel rows keep changing; bar graphics, rules and repeated raster rows do not. Tesseract
    spends about a second on such a page and reads nothing, so it is left out with a note."""
    dark = _dark_pixels(page)
    rows = np.flatnonzero(dark.any(axis=1))
    if rows.size == 0:
        return False, "blank page: not OCR'd"
    cols = np.flatnonzero(dark.any(axis=0))
    # Coverage inside the inked area: a small picture on a text page does not hide the text,
    # and a page that is only a picture or raster noise is judged by the picture.
    inked = dark[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    share = float(inked.mean())
    if share > MAX_TEXT_COVERAGE:
        return (
            False,
            f"{share:.0%} of the inked area is dark (a picture or raster data?): not OCR'd",
        )
    if _text_line_rows(dark) == 0:
        return False, "no lines of text (bars, rules or repeated raster rows): not OCR'd"
    return True, ""


def _dark_pixels(page: RenderedPage) -> np.ndarray:
    """Dark pixels of the page at about GATE_DPI (never enlarged), as a boolean array."""
    image = page.image.convert("L") if page.image.mode != "L" else page.image
    if page.dpi:
        scale_x = min(1.0, GATE_DPI / max(page.dpi[0], 1.0))
        scale_y = min(1.0, GATE_DPI / max(page.dpi[1], 1.0))
    else:  # resolution unknown: taken as a letter/A4 page, 1754 pixels high at GATE_DPI
        scale_x = scale_y = min(1.0, 1754 / max(image.size))
    size = (max(1, round(image.width * scale_x)), max(1, round(image.height * scale_y)))
    if size != image.size:
        image = image.resize(size, Image.Resampling.BOX)
    return np.asarray(image) < 128


def _text_line_rows(dark: np.ndarray) -> int:
    """Rows of the page in bands (runs of inked rows) that look like lines of text."""
    inked_rows = dark.any(axis=1).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], inked_rows, [0]))))
    text_rows = 0
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < GATE_MIN_BAND_ROWS:
            continue
        band = dark[start:end]
        cols = np.flatnonzero(band.any(axis=0))
        band = band[:, cols[0] : cols[-1] + 1]
        if band.mean() > GATE_MAX_BAND_COVERAGE:
            continue
        if band.shape[0] > GATE_BAND_ROWS:
            # Large type or lines that touch: judge the band at the height of small text, so a
            # 72 pt heading's long stems count as what they are at 10 pt.
            gray = Image.fromarray(band.astype(np.uint8) * 255)
            band = np.asarray(gray.resize((gray.width, GATE_BAND_ROWS), Image.Resampling.BOX))
            band = band >= 128
        changing = float((band[1:] != band[:-1]).any(axis=1).mean())
        if changing >= GATE_MIN_CHANGING_ROWS:
            text_rows += end - start
    return text_rows


def ocr_page(page: RenderedPage, language: str = DEFAULT_LANGUAGE) -> OcrResult:
    """Text and confidence of one page. Raises OcrUnavailable, or OSError on a failed run."""
    image, dpi = prepare_for_ocr(page)
    return ocr_image(image, dpi, language)


def ocr_image(image: Image.Image, dpi: int, language: str = DEFAULT_LANGUAGE) -> OcrResult:
    """OCR a page prepared by ``prepare_for_ocr``. Raises OcrUnavailable or OSError."""
    check_available(language)
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)  # a pipe, not storage: speed over size
    path = tesseract_path()
    assert path is not None
    try:
        run = subprocess.run(
            [path, "stdin", "stdout", "-l", language, "--dpi", str(dpi), "--psm", "3", "tsv"],
            input=png.getvalue(),
            capture_output=True,
            timeout=OCR_TIMEOUT_SECONDS,
            check=False,
            env=_env(),
        )
    except subprocess.TimeoutExpired as exc:
        raise OSError(f"tesseract timed out after {OCR_TIMEOUT_SECONDS} s") from exc
    if run.returncode != 0:
        raise OSError(f"tesseract failed: {run.stderr.decode('utf-8', 'replace').strip()[:200]}")
    return parse_tsv(run.stdout.decode("utf-8", "replace"), language)


def parse_tsv(tsv: str, language: str = DEFAULT_LANGUAGE) -> OcrResult:
    """Rebuild the text from Tesseract's TSV (level 5 rows are words) and average confidence."""
    lines: dict[tuple[int, int, int, int], list[str]] = {}
    confidences: list[float] = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5":
            continue
        word = cells[11].strip()
        try:
            confidence = float(cells[10])
            key = (int(cells[1]), int(cells[2]), int(cells[3]), int(cells[4]))
        except ValueError:
            continue
        if not word or confidence < 0:
            continue
        lines.setdefault(key, []).append(word)
        confidences.append(confidence)
    text = "\n".join(" ".join(words) for _, words in sorted(lines.items()))
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return OcrResult(text=text, confidence=round(mean, 1), words=len(confidences),
                     language=language)  # fmt: skip


def digit_variant(text: str) -> str | None:
    """``text`` with digit look-alikes replaced inside number-like tokens (same length, so
    offsets still match); None when nothing changes."""
    changed = False

    def fix(match: re.Match[str]) -> str:
        nonlocal changed
        token = match.group(0)
        # Whole words at either end without a digit ("ok" after a card number) are words.
        parts = token.split(" ")
        while parts and not any(ch.isdigit() for ch in parts[-1]):
            parts.pop()
        lead = 0
        while lead < len(parts) and not any(ch.isdigit() for ch in parts[lead]):
            lead += 1
        core = " ".join(parts[lead:])
        if not core:
            return token
        start = token.index(core)
        digits = sum(ch.isdigit() for ch in core)
        letters = sum(ch.isalpha() for ch in core)
        if digits < 5 or letters > max(1, digits // 3):
            return token  # a word with digits in it, not a number with letters in it
        fixed = core.translate(_CONFUSED)
        changed = changed or fixed != core
        return token[:start] + fixed + token[start + len(core) :]

    variant = _NUMBERISH.sub(fix, text)
    return variant if changed else None
